"""Tool calls through `warden serve` with the official SDKs: every call the model proposes is judged
before the agent sees it.

Each test runs over Chat Completions, Responses and Messages, non-streaming, raw `stream=True`
iteration and the SDK's stream helper with its accumulated final object. The mock provider's
replies are in data/gateway-script.yaml; the decisions come from policies/baseline.
"""

import json
import re

import pytest

from gateway_harness import (  # noqa: F401  (fixtures)
    API_MODES,
    chat_request,
    gateway,
    messages_request,
    responses_request,
    run_turn,
    tool_payloads,
    upstream,
    user,
)

REC_ID = re.compile(r"\brec_[0-9a-f]{8,}\b")
DENIED_COMMAND = "rm -rf /"
GITHUB_TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
HELLO = "Hello! I am the Warden mock provider. How can I help?"
AFTER_TOOL = "Done. The tool ran and I have its result."


def assert_blocked_text(text, tool, rule):
    """The replacement text names the tool, the outcome, the rule and the ledger record."""
    assert tool in text, f"tool {tool!r} not named in {text!r}"
    assert "deny" in text, f"outcome not named in {text!r}"
    assert rule in text, f"rule {rule!r} not named in {text!r}"
    assert REC_ID.search(text), f"no rec_ id in {text!r}"


def assert_never_delivered(turn, fragment):
    """No tool call anywhere in what the SDK returned (every chunk, event and final object)
    carries `fragment` in its arguments."""
    assert all(fragment not in json.dumps(c.arguments) for c in turn.calls), turn.calls
    leaked = [p for p in tool_payloads(turn.events) if fragment in p]
    assert leaked == [], f"denied arguments reached the agent: {leaked}"


@pytest.mark.parametrize("api,mode", API_MODES)
def test_allowed_call_is_delivered_unchanged(gateway, api, mode):
    turn = run_turn(gateway, api, mode, "please list the logs")
    assert [(c.name, c.arguments) for c in turn.calls] == [("bash", {"command": "ls -la /var/log"})]
    assert turn.calls[0].id
    assert turn.finish == "tool_calls"
    assert turn.text == "Listing the logs."
    assert turn.order_problems == []


@pytest.mark.parametrize("api,mode", API_MODES)
def test_denied_call_is_replaced_by_text_naming_the_decision(gateway, api, mode):
    turn = run_turn(gateway, api, mode, "please clean up the disk")
    assert turn.calls == []
    assert_never_delivered(turn, DENIED_COMMAND)
    assert turn.text.startswith("Cleaning up."), turn.text
    assert_blocked_text(turn.text, "bash", "shell-destructive")
    assert turn.finish == "stop"
    assert turn.order_problems == []


@pytest.mark.parametrize("api,mode", API_MODES)
def test_remediated_query_is_delivered_with_a_row_limit(gateway, api, mode):
    turn = run_turn(gateway, api, mode, "please list the customers")
    assert [(c.name, c.arguments) for c in turn.calls] == [("query", {"sql": "SELECT * FROM customers LIMIT 1000"})]
    assert turn.finish == "tool_calls"
    assert turn.order_problems == []


@pytest.mark.parametrize("api,mode", API_MODES)
def test_parallel_calls_are_judged_each_on_its_own(gateway, api, mode):
    turn = run_turn(gateway, api, mode, "please tidy up")
    assert [(c.name, c.arguments) for c in turn.calls] == [("bash", {"command": "ls -la /tmp"})]
    assert_never_delivered(turn, DENIED_COMMAND)
    assert turn.text.startswith("Tidying up."), turn.text
    assert_blocked_text(turn.text, "bash", "shell-destructive")
    assert turn.finish == "tool_calls"
    assert turn.order_problems == []


@pytest.mark.parametrize("api,mode", API_MODES)
def test_calls_after_a_denied_one_keep_consistent_indexes(gateway, api, mode):
    turn = run_turn(gateway, api, mode, "please sweep the box")
    assert [(c.name, c.arguments) for c in turn.calls] == [
        ("bash", {"command": "ls -la /var/log"}),
        ("query", {"sql": "SELECT * FROM customers LIMIT 1000"}),
    ]
    assert len({c.id for c in turn.calls}) == 2
    assert_never_delivered(turn, DENIED_COMMAND)
    assert_blocked_text(turn.text, "bash", "shell-destructive")
    assert turn.finish == "tool_calls"
    assert turn.order_problems == []


@pytest.mark.parametrize("api,mode", API_MODES)
def test_call_with_a_secret_in_its_arguments_is_denied_without_showing_it(gateway, api, mode):
    turn = run_turn(gateway, api, mode, "please check my github user")
    assert turn.calls == []
    assert_never_delivered(turn, GITHUB_TOKEN)
    assert GITHUB_TOKEN not in json.dumps(turn.events), "the secret reached the agent"
    assert_blocked_text(turn.text, "bash", "secrets-in-arguments")
    assert turn.finish == "stop"


@pytest.mark.parametrize("api,mode", API_MODES)
def test_unknown_tool_is_denied_by_the_bundle_default(gateway, api, mode):
    turn = run_turn(gateway, api, mode, "weather in both cities")
    assert turn.calls == []
    assert_never_delivered(turn, "Paris")
    assert_never_delivered(turn, "Tokyo")
    assert turn.text.startswith("Let me check both cities."), turn.text
    assert turn.text.count("get_weather") >= 2, turn.text
    assert len(set(REC_ID.findall(turn.text))) == 2, f"expected one record id per denied call in {turn.text!r}"
    assert "deny" in turn.text
    assert turn.finish == "stop"
    assert turn.order_problems == []


@pytest.mark.parametrize("api,mode", API_MODES)
def test_text_only_reply_passes_through(gateway, api, mode):
    turn = run_turn(gateway, api, mode, "hi")
    assert turn.text == HELLO
    assert turn.calls == []
    assert turn.finish == "stop"
    assert turn.order_problems == []


def test_agent_loops_carry_on_after_the_tool_result(gateway):
    """The delivered call's id goes back with its result; the model's next turn comes through."""
    chat = gateway.client("chat").chat.completions
    first = chat.create(**chat_request("please list the logs"))
    [call] = first.choices[0].message.tool_calls
    history = user("please list the logs") + [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "total 0"},
    ]
    second = chat.create(**{**chat_request(""), "messages": history})
    assert second.choices[0].message.content == AFTER_TOOL

    responses = gateway.client("responses").responses
    first = responses.create(**responses_request("please list the logs"))
    [item] = [i for i in first.output if i.type == "function_call"]
    second = responses.create(
        **{
            **responses_request(""),
            "input": [
                {"role": "user", "content": "please list the logs"},
                item.model_dump(exclude_none=True),
                {"type": "function_call_output", "call_id": item.call_id, "output": "total 0"},
            ],
        }
    )
    assert second.output_text == AFTER_TOOL

    messages = gateway.client("messages").messages
    first = messages.create(**messages_request("please list the logs"))
    [use] = [b for b in first.content if b.type == "tool_use"]
    history = user("please list the logs") + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "total 0"}]},
    ]
    second = messages.create(**{**messages_request(""), "messages": history})
    assert second.content[0].text == AFTER_TOOL


@pytest.mark.parametrize("api", ["chat", "messages"])
def test_agent_loops_carry_on_after_a_blocked_call(gateway, api):
    """The replacement text is an ordinary assistant turn the agent can send back."""
    turn = run_turn(gateway, api, "create", "please clean up the disk")
    history = user("please clean up the disk") + [
        {"role": "assistant", "content": turn.text},
        {"role": "user", "content": "ok, then say hi"},
    ]
    if api == "chat":
        reply = gateway.client(api).chat.completions.create(**{**chat_request(""), "messages": history})
        assert reply.choices[0].message.content == HELLO
    else:
        reply = gateway.client(api).messages.create(**{**messages_request(""), "messages": history})
        assert reply.content[0].text == HELLO


def test_chat_stream_usage_survives_a_blocked_call(gateway):
    """With `include_usage`, the final usage chunk still arrives after a call was replaced."""
    stream = gateway.client("chat").chat.completions.create(
        **chat_request("please tidy up"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and usage[0].total_tokens == usage[0].prompt_tokens + usage[0].completion_tokens > 0
    assert chunks[-1].usage is not None and chunks[-1].choices == []
