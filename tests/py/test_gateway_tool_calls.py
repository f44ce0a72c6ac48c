"""Tool calls through `warden serve` with the official SDKs: every call the model proposes is judged
before the agent sees it.

Each test runs over Chat Completions, Responses and Messages, non-streaming, raw `stream=True`
iteration and the SDK's stream helper with its accumulated final object. The mock provider's
replies are in data/gateway-script.yaml; the decisions come from policies/baseline.
"""

import json
import re

import pytest

from gateway_harness import API_MODES, gateway, run_turn, tool_payloads, upstream  # noqa: F401  (fixtures)

REC_ID = re.compile(r"\brec_[0-9a-f]{8,}\b")
DENIED_COMMAND = "rm -rf /"


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
    assert turn.text == "Hello! I am the Warden mock provider. How can I help?"
    assert turn.calls == []
    assert turn.finish == "stop"
    assert turn.order_problems == []
