"""Streams through `warden serve` stay streams: text reaches the agent as the model produces it,
not when the upstream response ends, for every API. The mock types 4 characters every 60 ms.
"""

import time

import pytest

from gateway_harness import API_AGENTS, chat_request, gateway, messages_request, responses_request, upstream  # noqa: F401

TEXT = "Streaming text arrives a few characters at a time, the way a real model types its answer, through the gateway."


def text_of(api, event):
    if api == "chat":
        return "".join(c.delta.content or "" for c in event.choices)
    if api == "responses":
        return event.delta if event.type == "response.output_text.delta" else ""
    return event.delta.text if event.type == "content_block_delta" and event.delta.type == "text_delta" else ""


def open_stream(gateway, api, prompt):
    client = gateway.client(api)
    if api == "chat":
        return client.chat.completions.create(**chat_request(prompt), stream=True)
    if api == "responses":
        return client.responses.create(**responses_request(prompt), stream=True)
    return client.messages.create(**messages_request(prompt), stream=True)


@pytest.mark.parametrize("api", list(API_AGENTS))
def test_text_reaches_the_agent_while_the_model_is_still_typing(gateway, api):
    started = time.monotonic()
    arrivals, text = [], ""
    for event in open_stream(gateway, api, "mock:slow-typist"):
        piece = text_of(api, event)
        if piece:
            arrivals.append(time.monotonic() - started)
            text += piece
    total = time.monotonic() - started
    assert text == TEXT
    # About 28 chunks 60 ms apart: buffered text would arrive all at once at the end.
    assert total > 1.2, f"the paced reply took only {total:.2f} s"
    assert arrivals[0] < total / 2, f"first text after {arrivals[0]:.2f} s of {total:.2f} s"
    assert len({round(t, 1) for t in arrivals}) > 5, f"text arrived in bursts: {arrivals}"
