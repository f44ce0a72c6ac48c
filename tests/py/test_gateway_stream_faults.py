"""Upstream faults in the middle of a response, seen through `warden serve` with the official SDKs.

When the upstream resets, truncates or garbles a stream, the gateway ends the agent's stream with
the provider's own error event (OpenAI: a `data: {"error": …}` line, which the SDK raises as
`APIError`; Anthropic: `event: error`, raised as `APIStatusError`), and a tool call that never
completed is never delivered, not even its name. The tool call in each faulty reply is one the
bundle allows (`bash ls -la /var/log`), so only the fault can keep it from the agent.
"""

import pathlib
import tempfile

import anthropic
import openai
import pytest

from gateway_harness import (  # noqa: F401  (fixtures)
    DRIVERS,
    Listener,
    RecordingRelay,
    chat_request,
    dump,
    gateway,
    messages_request,
    responses_request,
    start_gateway,
    stop_and_verify,
    tool_calls,
    tool_payloads,
    upstream,
)

APIS = ["chat", "responses", "messages"]
CALL_FAULTS = ["mock:reset-in-call", "mock:truncated", "mock:malformed-in-call"]
TEXT = "This answer is cut off before it ends."


def read_stream(gateway, api, prompt, helper):
    """Reads a stream to its end; returns (events as JSON, the exception that ended it or None)."""
    events = []
    try:
        if helper:
            opened = {
                "chat": lambda: gateway.client("chat").chat.completions.stream(**chat_request(prompt)),
                "responses": lambda: gateway.client("responses").responses.stream(**responses_request(prompt)),
                "messages": lambda: gateway.client("messages").messages.stream(**messages_request(prompt)),
            }[api]()
            with opened as stream:
                for event in stream:
                    events.append(dump(event))
        else:
            stream = {
                "chat": lambda: gateway.client("chat").chat.completions.create(**chat_request(prompt), stream=True),
                "responses": lambda: gateway.client("responses").responses.create(**responses_request(prompt), stream=True),
                "messages": lambda: gateway.client("messages").messages.create(**messages_request(prompt), stream=True),
            }[api]()
            for event in stream:
                events.append(dump(event))
    except Exception as error:  # noqa: BLE001  (the test inspects whatever ended the stream)
        return events, error
    return events, None


def assert_provider_error_event(api, events, error):
    """The stream ended with the provider's error event, not a dropped connection or bad JSON."""
    if api == "messages":
        assert isinstance(error, anthropic.APIStatusError), f"stream ended with {error!r}"
    elif api == "chat":
        assert isinstance(error, openai.APIError) and not isinstance(error, openai.APIConnectionError), (
            f"stream ended with {error!r}"
        )
    else:
        # Responses: a `data: {"error": …}` line raises APIError; an `error` or `response.failed`
        # event is handed to the caller as an event.
        raised = isinstance(error, openai.APIError) and not isinstance(error, openai.APIConnectionError)
        failed = [e for e in events if e.get("type") in ("error", "response.failed")]
        assert raised or (error is None and failed), f"stream ended with {error!r} after {[e.get('type') for e in events]}"


def assert_no_call_delivered(events):
    """Nothing in `events` is a tool call or part of one, not even an empty start."""
    calls = list(tool_calls(events))
    assert calls == [], f"an incomplete call reached the agent: {calls}"
    leaked = [p for p in tool_payloads(events) if p]
    assert leaked == [], f"arguments of an incomplete call reached the agent: {leaked}"


def streamed_text(api, events):
    """The text deltas of a raw stream, joined."""
    if api == "chat":
        return "".join(c.get("delta", {}).get("content") or "" for e in events for c in e.get("choices", []))
    if api == "responses":
        return "".join(e["delta"] for e in events if e.get("type") == "response.output_text.delta")
    return "".join(
        e["delta"].get("text", "") for e in events if e.get("type") == "content_block_delta"
    )


@pytest.mark.parametrize("helper", [False, True], ids=["stream", "helper"])
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("fault", CALL_FAULTS)
def test_stream_fault_inside_a_tool_call_ends_with_an_error_and_releases_nothing(gateway, api, fault, helper):
    events, error = read_stream(gateway, api, fault, helper)
    assert_provider_error_event(api, events, error)
    assert_no_call_delivered(events)


@pytest.mark.parametrize("api", APIS)
def test_reset_during_text_ends_with_an_error_after_the_text_so_far(gateway, api):
    events, error = read_stream(gateway, api, "mock:reset-text", helper=False)
    assert_provider_error_event(api, events, error)
    text = streamed_text(api, events)
    assert TEXT.startswith(text) and len(text) < len(TEXT), f"text before the reset: {text!r}"


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("fault", ["mock:reset-in-call", "mock:malformed-in-call"])
def test_broken_non_streaming_body_raises_a_server_error(gateway, api, fault):
    with pytest.raises(anthropic.APIStatusError if api == "messages" else openai.APIStatusError) as raised:
        {
            "chat": lambda: gateway.client("chat").chat.completions.create(**chat_request(fault)),
            "responses": lambda: gateway.client("responses").responses.create(**responses_request(fault)),
            "messages": lambda: gateway.client("messages").messages.create(**messages_request(fault)),
        }[api]()
    assert 500 <= raised.value.status_code < 600


@pytest.mark.parametrize("api", APIS)
def test_truncated_non_streaming_call_is_not_delivered(gateway, api):
    """The mock cuts the call's arguments in half (Anthropic: an empty input) and says the output
    limit was hit; the gateway must not hand the agent a call it could not judge as proposed."""
    try:
        result = {
            "chat": lambda: gateway.client("chat").chat.completions.create(**chat_request("mock:truncated")),
            "responses": lambda: gateway.client("responses").responses.create(**responses_request("mock:truncated")),
            "messages": lambda: gateway.client("messages").messages.create(**messages_request("mock:truncated")),
        }[api]()
    except (openai.APIStatusError, anthropic.APIStatusError) as error:
        assert 400 <= error.status_code < 600
        return
    assert_no_call_delivered([dump(result)])


# --- Tool-call arguments over `max_tool_args` ----------------------------------------------

HUGE_SCRIPT = """\
api_key: mock-provider-key
models: [gpt-4o-mini, claude-haiku-4-5]
replies:
  - name: huge-arguments
    tool_calls:
      - name: bash
        arguments: {{ command: "ls -la {padding}" }}
    chunk_size: 4096
"""


@pytest.fixture(scope="module")
def huge_arguments_gateway():
    """A gateway (max_tool_args 64 KiB) whose upstream always proposes a bash call with 80 KiB of
    arguments, an allowed command apart from its size."""
    with tempfile.TemporaryDirectory(prefix="warden-e2e-huge-") as scratch:
        yield from _huge_arguments_gateway(pathlib.Path(scratch))


def _huge_arguments_gateway(workdir):
    script = workdir / "script.yaml"
    script.write_text(HUGE_SCRIPT.format(padding="a" * 80 * 1024))
    mock = Listener(["mock-provider", "--script", str(script), "--listen", "127.0.0.1:0"], workdir / "mock.log")
    relay = RecordingRelay(mock.url)
    try:
        (workdir / "gateway").mkdir()
        gw = start_gateway(workdir / "gateway", relay.url)
        try:
            yield gw
        finally:
            stop_and_verify(gw)
    finally:
        relay.close()
        mock.stop()


@pytest.mark.parametrize("api", APIS)
def test_streamed_arguments_over_the_limit_are_never_delivered(huge_arguments_gateway, api):
    events, error = read_stream(huge_arguments_gateway, api, "please list everything", helper=False)
    assert_no_call_delivered(events)
    if error is not None or any(e.get("type") in ("error", "response.failed") for e in events):
        assert_provider_error_event(api, events, error)


@pytest.mark.parametrize("api", APIS)
def test_arguments_over_the_limit_are_never_delivered(huge_arguments_gateway, api):
    try:
        turn = DRIVERS[(api, "create")](huge_arguments_gateway, "please list everything")
    except (openai.APIStatusError, anthropic.APIStatusError) as error:
        assert error.status_code >= 400
        return
    assert turn.calls == []
    assert_no_call_delivered(turn.events)
