"""The official `openai` and `anthropic` SDKs parse everything `warden mock-provider` sends.

Starts `$WARDEN_BIN mock-provider` on a free port with examples/mock-provider/script.yaml and drives
Chat Completions, Responses and Messages through the SDKs, streaming and not, checking that text
and tool calls come back exactly as scripted and that scripted faults raise the SDKs' usual
exceptions.
"""

import json
import os
import pathlib
import select
import subprocess

import anthropic
import httpx2
import openai
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
WARDEN = os.environ.get("WARDEN_BIN", str(REPO / "target/debug/warden"))
SCRIPT = REPO / "examples/mock-provider/script.yaml"
KEY = "mock-provider-key"

HELLO = "Hello! I am the Warden mock provider. How can I help?"
PARIS = {"city": "Paris", "unit": "celsius"}
TOKYO = {"city": "Tokyo", "unit": "celsius"}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}
RESPONSES_TOOL = {"type": "function", "name": "get_weather", "parameters": WEATHER_TOOL["function"]["parameters"], "strict": False}
ANTHROPIC_TOOL = {"name": "get_weather", "description": "Current weather.", "input_schema": WEATHER_TOOL["function"]["parameters"]}


@pytest.fixture(scope="module")
def mock_url():
    proc = subprocess.Popen(
        [WARDEN, "mock-provider", "--script", str(SCRIPT), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "mock-provider printed no address within 30 s"
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on http://"), f"unexpected first line {first!r}: {proc.stderr.read() if proc.poll() is not None else ''}"
        yield first.removeprefix("listening on ")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.fixture()
def oai(mock_url):
    return openai.OpenAI(base_url=mock_url + "/v1", api_key=KEY, max_retries=0, timeout=10)


@pytest.fixture()
def claude(mock_url):
    return anthropic.Anthropic(base_url=mock_url, api_key=KEY, max_retries=0, timeout=10)


def user(text):
    return [{"role": "user", "content": text}]


# --- OpenAI Chat Completions ---------------------------------------------------------------


def test_chat_text(oai):
    completion = oai.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
    choice = completion.choices[0]
    assert choice.message.content == HELLO
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_chat_single_tool_call(oai):
    completion = oai.chat.completions.create(
        model="gpt-4o-mini", messages=user("what is the weather in Paris?"), tools=[WEATHER_TOOL]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == PARIS


def test_chat_stream_parallel_tool_calls_with_usage(oai):
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=user("weather in both cities"),
        tools=[WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, calls, finish, usage = "", {}, None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": call.id, "name": call.function.name, "arguments": ""})
                entry["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    assert text == "Let me check both cities."
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_weather"]
    assert [json.loads(calls[i]["arguments"]) for i in sorted(calls)] == [PARIS, TOKYO]
    assert calls[0]["id"] != calls[1]["id"]
    assert finish == "tool_calls"
    assert usage is not None and usage.total_tokens > 0


def test_chat_stream_helper_accumulates_the_final_completion(oai):
    with oai.chat.completions.stream(
        model="gpt-4o-mini", messages=user("weather in both cities"), tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Let me check both cities."
    assert [json.loads(c.function.arguments) for c in message.tool_calls] == [PARIS, TOKYO]
    assert final.choices[0].finish_reason == "tool_calls"


def test_chat_agent_loop_wraps_up_after_the_tool_result(oai):
    first = oai.chat.completions.create(model="gpt-4o-mini", messages=user("clean up the disk"), tools=[WEATHER_TOOL])
    [call] = first.choices[0].message.tool_calls
    assert call.function.name == "bash"
    assert json.loads(call.function.arguments) == {"command": "rm -rf /"}
    messages = user("clean up the disk") + [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "done"},
    ]
    second = oai.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert second.choices[0].message.content == "Done. The tool ran and I have its result."


def test_models_list(oai):
    ids = [m.id for m in oai.models.list()]
    assert ids == ["gpt-4o-mini", "gpt-4.1", "claude-haiku-4-5", "claude-opus-4-1"]


# --- OpenAI Responses ----------------------------------------------------------------------


def test_responses_text(oai):
    response = oai.responses.create(model="gpt-4o-mini", input="hi")
    assert response.status == "completed"
    assert response.output_text == HELLO
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_responses_sql_tool_call(oai):
    response = oai.responses.create(model="gpt-4o-mini", input="list the customers", tools=[RESPONSES_TOOL])
    [call] = [item for item in response.output if item.type == "function_call"]
    assert call.name == "query"
    assert json.loads(call.arguments) == {"sql": "SELECT * FROM customers"}
    assert call.call_id.startswith("call_")


def test_responses_stream_parallel_tool_calls(oai):
    stream = oai.responses.create(model="gpt-4o-mini", input="weather in both cities", tools=[RESPONSES_TOOL], stream=True)
    events = list(stream)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Let me check both cities."
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [json.loads(e.arguments) for e in done] == [PARIS, TOKYO]
    final = events[-1].response
    assert final.output_text == "Let me check both cities."
    assert [i.name for i in final.output if i.type == "function_call"] == ["get_weather", "get_weather"]


def test_responses_stream_helper_final_response(oai):
    with oai.responses.stream(model="gpt-4o-mini", input="what is the weather?", tools=[RESPONSES_TOOL]) as stream:
        final = stream.get_final_response()
    [call] = final.output
    assert call.type == "function_call"
    assert json.loads(call.arguments) == PARIS


# --- Anthropic Messages --------------------------------------------------------------------


def test_messages_text(claude):
    message = claude.messages.create(model="claude-haiku-4-5", max_tokens=256, messages=user("hi"))
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == HELLO
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0


def test_messages_parallel_tool_use(claude):
    message = claude.messages.create(
        model="claude-haiku-4-5", max_tokens=256, messages=user("weather in both cities"), tools=[ANTHROPIC_TOOL]
    )
    assert message.stop_reason == "tool_use"
    assert message.content[0].text == "Let me check both cities."
    uses = [b for b in message.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [("get_weather", PARIS), ("get_weather", TOKYO)]
    assert uses[0].id.startswith("toolu_") and uses[0].id != uses[1].id


def test_messages_raw_stream(claude):
    stream = claude.messages.create(
        model="claude-haiku-4-5", max_tokens=256, messages=user("clean up the disk"), tools=[ANTHROPIC_TOOL], stream=True
    )
    events = list(stream)
    assert [e.type for e in events[:3]] == ["message_start", "content_block_start", "content_block_delta"]
    assert events[-2].type == "message_delta" and events[-2].delta.stop_reason == "tool_use"
    assert events[-1].type == "message_stop"
    partial = "".join(e.delta.partial_json for e in events if e.type == "content_block_delta")
    assert json.loads(partial) == {"command": "rm -rf /"}


def test_messages_stream_helper_final_message(claude):
    with claude.messages.stream(
        model="claude-haiku-4-5", max_tokens=256, messages=user("weather in both cities"), tools=[ANTHROPIC_TOOL]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Let me check both cities."
    assert final.stop_reason == "tool_use"
    assert [(b.name, b.input) for b in final.content if b.type == "tool_use"] == [("get_weather", PARIS), ("get_weather", TOKYO)]
    assert final.usage.output_tokens > 1


# --- Keys and faults -----------------------------------------------------------------------


def test_wrong_key_raises_authentication_errors(mock_url):
    bad_openai = openai.OpenAI(base_url=mock_url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_openai.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
    bad_claude = anthropic.Anthropic(base_url=mock_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad_claude.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=user("hi"))


def test_status_faults_raise_the_sdk_exceptions(oai, claude):
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(model="gpt-4o-mini", messages=user("mock:error-500"))
    with pytest.raises(openai.RateLimitError):
        oai.responses.create(model="gpt-4o-mini", input="mock:rate-limited")
    with pytest.raises(anthropic.InternalServerError):
        claude.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=user("mock:error-500"))
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        claude.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=user("mock:unavailable"), stream=True)
    assert overloaded.value.status_code == 503


def test_status_fault_selected_by_header(oai):
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(
            model="gpt-4o-mini", messages=user("hi"), extra_headers={"Warden-Mock-Reply": "error-500"}
        )


def test_reset_mid_stream_raises_a_connection_error(oai, claude):
    with pytest.raises(openai.APIConnectionError) as raised:
        for _ in oai.chat.completions.create(model="gpt-4o-mini", messages=user("mock:reset"), stream=True):
            pass
    assert isinstance(raised.value.__cause__, httpx2.RemoteProtocolError)
    assert "incomplete chunked read" in str(raised.value.__cause__)
    # The Anthropic SDK hands the transport's error through while a stream is being read.
    with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
        with claude.messages.stream(model="claude-haiku-4-5", max_tokens=10, messages=user("mock:reset")) as stream:
            stream.get_final_message()


def test_malformed_sse_raises(oai, claude):
    with pytest.raises(json.JSONDecodeError):
        for _ in oai.chat.completions.create(model="gpt-4o-mini", messages=user("mock:malformed"), stream=True):
            pass
    with pytest.raises(json.JSONDecodeError):
        for _ in claude.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=user("mock:malformed"), stream=True):
            pass


def test_truncated_tool_call_leaves_unparseable_arguments(oai):
    arguments, finish = "", None
    for chunk in oai.chat.completions.create(model="gpt-4o-mini", messages=user("mock:truncated"), stream=True):
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                arguments += call.function.arguments or ""
            finish = choice.finish_reason or finish
    assert finish is None
    assert '{"command":"ls -la /var/log"}'.startswith(arguments) and arguments
    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments)


def test_slow_headers_trip_the_client_timeout(mock_url):
    impatient = openai.OpenAI(base_url=mock_url + "/v1", api_key=KEY, max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(model="gpt-4o-mini", messages=user("mock:slow-headers"))


def test_output_token_limit_makes_an_incomplete_response(oai, claude):
    response = oai.responses.create(model="gpt-4o-mini", input="hi", max_output_tokens=5)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == HELLO[:20]
    events = list(oai.responses.create(model="gpt-4o-mini", input="hi", max_output_tokens=5, stream=True))
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.output_text == HELLO[:20]
    message = claude.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=user("hi"))
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == HELLO[:20]
    assert message.usage.output_tokens == 5
