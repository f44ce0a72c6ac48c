"""Requests `warden serve` refuses or passes on, seen from the official SDKs: keys, body size,
secrets in prompts, upstream status errors, the model list, and the provider key staying with
Warden. Every refusal uses the provider's error JSON, so the SDKs raise their usual exceptions.
"""

import concurrent.futures
import json

import anthropic
import httpx2
import openai
import pytest

from gateway_harness import (  # noqa: F401  (fixtures)
    ANTHROPIC_MODEL,
    API_AGENTS,
    OPENAI_MODEL,
    PROVIDER_KEY,
    chat_request,
    gateway,
    messages_request,
    responses_request,
    upstream,
    user,
    warden,
)

MOCK_MODELS = {"gpt-4o-mini", "gpt-4.1", "claude-haiku-4-5", "claude-opus-4-1"}
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
STREAMING = [pytest.param(False, id="create"), pytest.param(True, id="stream")]


def send(client, api, prompt, stream=False, **options):
    """One request through `client` (an OpenAI or Anthropic SDK client), read to the end."""
    if api == "chat":
        result = client.chat.completions.create(**chat_request(prompt), stream=stream, **options)
    elif api == "responses":
        result = client.responses.create(**responses_request(prompt), stream=stream, **options)
    else:
        result = client.messages.create(**messages_request(prompt), stream=stream, **options)
    return list(result) if stream else result


def client_for(gateway, api, key=None, **options):
    return gateway.client(api, key, **options)


def sdk(api):
    return anthropic if api == "messages" else openai


APIS = ["chat", "responses", "messages"]


# --- Keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_unknown_key_raises_authentication_error(gateway, upstream, api):
    mark = upstream.mark()
    with pytest.raises(sdk(api).AuthenticationError) as raised:
        send(client_for(gateway, api, key="wk_not-a-real-key"), api, "hi")
    assert raised.value.status_code == 401
    assert upstream.sent_since(mark) == "", "a request with an unknown key was forwarded upstream"


@pytest.mark.parametrize("api", APIS)
def test_missing_key_raises_authentication_error(gateway, upstream, api):
    mark = upstream.mark()
    without_key = {"Authorization": sdk(api).Omit(), "x-api-key": sdk(api).Omit()}
    with pytest.raises(sdk(api).AuthenticationError) as raised:
        send(client_for(gateway, api), api, "hi", extra_headers=without_key)
    assert raised.value.status_code == 401
    assert upstream.sent_since(mark) == ""


def test_the_key_is_accepted_as_x_api_key(gateway):
    client = anthropic.Anthropic(
        base_url=gateway.url,
        api_key="unused",
        default_headers={"Authorization": anthropic.Omit(), "x-api-key": gateway.key},
        max_retries=0,
        timeout=20,
    )
    message = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=256, messages=user("hi"))
    assert message.content[0].text.startswith("Hello!")


def test_a_wrong_x_api_key_raises_authentication_error(gateway):
    client = anthropic.Anthropic(
        base_url=gateway.url,
        api_key="unused",
        default_headers={"Authorization": anthropic.Omit(), "x-api-key": "wk_wrong"},
        max_retries=0,
    )
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model=ANTHROPIC_MODEL, max_tokens=256, messages=user("hi"))


def test_a_key_revoked_while_the_gateway_runs_is_refused_at_once(gateway, upstream):
    key = gateway.create_key(API_AGENTS["chat"])
    client = gateway.openai(key)
    for _ in range(2):  # the second use is answered from the gateway's memory of live keys
        client.chat.completions.create(model=OPENAI_MODEL, messages=user("hi"))
    key_id = key.split("_")[1]
    warden("keys", "revoke", key_id, "--data-dir", str(gateway.data_dir))
    mark = upstream.mark()
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model=OPENAI_MODEL, messages=user("hi"))
    assert raised.value.status_code == 401
    assert upstream.sent_since(mark) == "", "a request with a revoked key was forwarded upstream"


def test_upstream_gets_the_provider_key_and_never_the_agent_key(gateway, upstream):
    mark = upstream.mark()
    gateway.openai().chat.completions.create(model=OPENAI_MODEL, messages=user("hi"))
    gateway.anthropic().messages.create(model=ANTHROPIC_MODEL, max_tokens=256, messages=user("hi"))
    sent = upstream.sent_since(mark)
    assert sent.count(PROVIDER_KEY) >= 2, sent[:2000]
    assert gateway.key not in sent


# --- Body size -----------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_oversized_body_is_refused_with_413_in_the_provider_shape(gateway, upstream, api):
    mark = upstream.mark()
    with pytest.raises(sdk(api).APIStatusError) as raised:
        send(client_for(gateway, api), api, "x" * (1024 * 1024 + 1))
    error = raised.value
    assert error.status_code == 413
    if api == "messages":
        assert error.body["type"] == "error"
        assert error.body["error"]["type"] == "request_too_large"
    else:
        # The OpenAI SDK keeps the `error` object of `{"error": {...}}` as the body.
        assert isinstance(error.body, dict) and error.body.get("message"), error.body
        assert error.body.get("type") == "invalid_request_error"
    assert upstream.sent_since(mark) == ""


# --- Secrets in prompts --------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMING)
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("secret", [AWS_KEY, GITHUB_TOKEN], ids=["aws", "github"])
def test_prompt_with_a_secret_is_refused_before_any_upstream_call(gateway, upstream, api, stream, secret):
    mark = upstream.mark()
    with pytest.raises(sdk(api).PermissionDeniedError) as raised:
        send(client_for(gateway, api), api, f"deploy with {secret} please", stream=stream)
    assert raised.value.status_code == 403
    assert "secrets-in-prompt" in str(raised.value.body)
    assert secret not in str(raised.value.body), "the refusal echoes the secret"
    assert upstream.sent_since(mark) == "", "the prompt with the secret was sent upstream"


@pytest.mark.parametrize("api", APIS)
def test_secret_in_the_system_prompt_is_refused_before_any_upstream_call(gateway, upstream, api):
    mark = upstream.mark()
    instructions = f"You deploy with the key {AWS_KEY}."
    client = client_for(gateway, api)
    with pytest.raises(sdk(api).PermissionDeniedError) as raised:
        if api == "chat":
            system = [{"role": "system", "content": instructions}]
            client.chat.completions.create(**{**chat_request(""), "messages": system + user("hi")})
        elif api == "responses":
            client.responses.create(**responses_request("hi"), instructions=instructions)
        else:
            client.messages.create(**messages_request("hi"), system=instructions)
    assert "secrets-in-prompt" in str(raised.value.body)
    assert upstream.sent_since(mark) == "", "the system prompt with the secret was sent upstream"


# --- Malformed requests --------------------------------------------------------------------

PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "messages": "/v1/messages"}


def post_raw(gateway, api, body):
    headers = {"Authorization": f"Bearer {gateway.keys[API_AGENTS[api]]}", "Content-Type": "application/json"}
    return httpx2.post(gateway.url + PATHS[api], content=body, headers=headers, timeout=20)


def assert_provider_error_shape(api, response, status):
    assert response.status_code == status, response.text
    body = response.json()
    if api == "messages":
        assert body["type"] == "error" and body["error"]["type"] and body["error"]["message"], body
    else:
        assert body["error"]["message"] and body["error"]["type"], body


@pytest.mark.parametrize("api", APIS)
def test_a_body_that_is_not_json_is_a_400_in_the_provider_shape(gateway, upstream, api):
    mark = upstream.mark()
    assert_provider_error_shape(api, post_raw(gateway, api, b"{not json"), 400)
    assert upstream.sent_since(mark) == ""


@pytest.mark.parametrize("api", APIS)
def test_a_body_without_a_model_is_a_400_in_the_provider_shape(gateway, upstream, api):
    mark = upstream.mark()
    body = {"messages": user("hi"), "max_tokens": 10} if api != "responses" else {"input": "hi"}
    assert_provider_error_shape(api, post_raw(gateway, api, json.dumps(body).encode()), 400)
    assert upstream.sent_since(mark) == ""


# --- Concurrency ---------------------------------------------------------------------------


def test_concurrent_requests_are_each_judged(gateway):
    """Twenty agents' turns at once, mixed APIs and outcomes: each gets its own decision."""

    def turn(i):
        api = APIS[i % 3]
        prompt = "please tidy up" if i % 2 else "please list the logs"
        client = client_for(gateway, api)
        if api == "chat":
            message = client.chat.completions.create(**chat_request(prompt)).choices[0].message
            return prompt, [json.loads(c.function.arguments)["command"] for c in message.tool_calls or []]
        if api == "responses":
            output = client.responses.create(**responses_request(prompt)).output
            return prompt, [json.loads(o.arguments)["command"] for o in output if o.type == "function_call"]
        content = client.messages.create(**messages_request(prompt)).content
        return prompt, [b.input["command"] for b in content if b.type == "tool_use"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(turn, range(20)))
    expected = {"please tidy up": ["ls -la /tmp"], "please list the logs": ["ls -la /var/log"]}
    assert all(commands == expected[prompt] for prompt, commands in results), results


# --- Upstream status errors ----------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMING)
@pytest.mark.parametrize("api", APIS)
def test_upstream_500_raises_internal_server_error(gateway, api, stream):
    with pytest.raises(sdk(api).InternalServerError) as raised:
        send(client_for(gateway, api), api, "mock:error-500", stream=stream)
    assert raised.value.status_code == 500


@pytest.mark.parametrize("api", APIS)
def test_upstream_503_keeps_its_status_class(gateway, api):
    with pytest.raises(sdk(api).APIStatusError) as raised:
        send(client_for(gateway, api), api, "mock:unavailable")
    assert 500 <= raised.value.status_code < 600


# --- Models --------------------------------------------------------------------------------


def test_models_list_returns_the_models_policy_allows(gateway):
    ids = [model.id for model in gateway.openai().models.list()]
    assert ids, "no models listed"
    assert set(ids) <= MOCK_MODELS, ids
    assert len(ids) == len(set(ids)), f"duplicate models: {ids}"
    # The baseline bundle allows every model.
    assert {"gpt-4o-mini", "claude-haiku-4-5"} <= set(ids), ids


def test_models_list_needs_a_key(gateway):
    with pytest.raises(openai.AuthenticationError):
        list(gateway.openai(key="wk_wrong").models.list())
