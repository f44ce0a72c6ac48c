"""Processes and fixtures for the gateway end-to-end tests (test_gateway_*.py).

A test session starts one `warden mock-provider` (tests/py/data/gateway-script.yaml) behind a
recording TCP relay, so tests can see exactly which bytes the gateway sent upstream. Each test
module gets its own `warden serve` with a fresh data directory, pointed at the relay, and a Warden
key for the agent `test-bot`; when the module ends the gateway is stopped with SIGTERM and the
ledger must verify. Processes and temporary directories are cleaned up even when a test fails.

The binary is `$WARDEN_BIN` (scripts/test sets it), else target/debug/warden.
"""

import json
import os
import pathlib
import select
import signal
import socket
import subprocess
import tempfile
import threading

import anthropic
import jwt
import openai
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
WARDEN = os.environ.get("WARDEN_BIN", str(REPO / "target/debug/warden"))
SCRIPT = pathlib.Path(__file__).resolve().parent / "data/gateway-script.yaml"
BUNDLE = REPO / "policies/baseline"
PROVIDER_KEY = "mock-provider-key"
AGENT = "test-bot"
# One agent per API. The gateway pins each (agent, tool) definition as the agent sent it, and the
# same tool is written differently in each API, so sharing one agent across APIs would make every
# API after the first see its tools as changed (test_gateway_tool_pins.py covers that).
API_AGENTS = {"chat": AGENT, "responses": "test-bot-responses", "messages": "test-bot-messages"}
# Agents of their own for tests that must not disturb the pins of the others.
PIN_AGENTS = ("pin-bot", "pin-bot-cross-api")
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15


# --- Processes -----------------------------------------------------------------------------


class Listener:
    """A `warden` subcommand (or another `program`) that prints `listening on http://HOST:PORT` as
    its first stdout line.

    stderr goes to a log file (a pipe nobody reads would eventually block the process); stdout
    after the first line is drained by a thread for the same reason.
    """

    def __init__(self, args, log_path, env=None, program=None):
        self.log_path = pathlib.Path(log_path)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [program or WARDEN, *args], stdout=subprocess.PIPE, stderr=self._log, text=True, env=env
        )
        try:
            self.url = self._read_address()
        except BaseException:
            self.stop()
            raise
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()

    def _read_address(self):
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT_S)
        if not ready:
            raise RuntimeError(f"`{self.proc.args}` printed no address within {START_TIMEOUT_S} s: {self.log()}")
        first = self.proc.stdout.readline().strip()
        if not first.startswith("listening on http://"):
            self.proc.wait(timeout=STOP_TIMEOUT_S)
            raise RuntimeError(f"`{self.proc.args}` first line {first!r}, exit {self.proc.returncode}: {self.log()}")
        return first.removeprefix("listening on ")

    def _drain_stdout(self):
        for _ in self.proc.stdout:
            pass

    def log(self):
        """The process's stderr so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        """Sends `sig`, waits for the exit (killing after STOP_TIMEOUT_S) and returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._log.close()
        return self.proc.returncode


class AdminListener(Listener):
    """`warden serve`: the agents' address on the first stdout line, the admin one on the second."""

    def _read_address(self):
        url = super()._read_address()
        second = self.proc.stdout.readline().strip()
        if not second.startswith("admin on http://"):
            raise RuntimeError(f"`warden serve` second line {second!r}: {self.log()}")
        self.admin_url = second.removeprefix("admin on ")
        return url


class ServedGateway:
    """What the gateways of the approval, budget and MCP tests share: a `warden serve` started
    from `self.config` (with `self.env`) in `self.workdir`, and the CLI against its data dir.
    Subclasses write the configuration, issue keys and tokens with `_one_line`, then `_serve()`."""

    def _serve(self):
        self.server = AdminListener(["serve", "--config", str(self.config)], self.workdir / "serve.log", env=self.env)
        self.url = self.server.url
        self.admin_url = self.server.admin_url
        self.stopped = False

    def _one_line(self, *args):
        out = warden(*args, "--config", str(self.config), env=self.env).stdout.strip()
        assert out and "\n" not in out, f"`warden {' '.join(args)}` printed {out!r}"
        return out

    def _operator_tokens(self, operators):
        """An admin-API token for each operator of `operators` (name: (role, groups))."""
        return {
            name: self._one_line(
                "admin", "token", "create", "--name", name, "--role", role, *[x for g in groups for x in ("--group", g)]
            )
            for name, (role, groups) in operators.items()
        }

    def log(self):
        return self.server.log()

    def stop(self):
        self.stopped = True
        return self.server.stop()

    def verify(self):
        return warden("ledger", "verify", "--data-dir", str(self.data_dir), check=False)

    def records(self):
        out = warden("ledger", "tail", "-n", "1000000", "--data-dir", str(self.data_dir)).stdout
        return [json.loads(line)["record"] for line in out.splitlines() if line.strip()]


def warden(*args, env=None, check=True):
    """Runs a short `warden` command and returns the CompletedProcess."""
    result = subprocess.run([WARDEN, *args], capture_output=True, text=True, env=env, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"`warden {' '.join(args)}` exited {result.returncode}: {result.stderr}")
    return result


# --- Recording relay -----------------------------------------------------------------------


class RecordingRelay:
    """A TCP relay in front of the mock provider that keeps every byte sent upstream.

    Faults pass through unchanged: when the mock drops a connection, the relay drops its side.
    """

    def __init__(self, upstream_url):
        host, port = upstream_url.removeprefix("http://").rsplit(":", 1)
        self._upstream = (host, int(port))
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._lock = threading.Lock()
        self._sent = bytearray()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def mark(self):
        """A position in the upstream byte record, for `sent_since`."""
        with self._lock:
            return len(self._sent)

    def sent_since(self, mark):
        """Every byte the gateway sent upstream since `mark`, as text."""
        with self._lock:
            return bytes(self._sent[mark:]).decode("utf-8", errors="replace")

    def close(self):
        """Stops accepting connections."""
        self._closed = True
        self._server.close()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._upstream)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source, sink, record):
        try:
            while data := source.recv(65536):
                if record:
                    with self._lock:
                        self._sent += data
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# --- The gateway ---------------------------------------------------------------------------


class Gateway:
    """A running `warden serve` with its own data directory and the agent `test-bot`'s key."""

    def __init__(self, workdir, upstream_url, bundle=BUNDLE):
        self.workdir = pathlib.Path(workdir)
        self.data_dir = self.workdir / "data"
        self.config = self.workdir / "warden.yaml"
        self.config.write_text(config_yaml(upstream_url, bundle))
        self.env = dict(os.environ, WARDEN_TEST_PROVIDER_KEY=PROVIDER_KEY)
        self.keys = {agent: self.create_key(agent) for agent in (*API_AGENTS.values(), *PIN_AGENTS)}
        self.key = self.keys[AGENT]
        self.server = Listener(["serve", "--config", str(self.config)], self.workdir / "serve.log", env=self.env)
        self.url = self.server.url
        self.stopped = False

    def create_key(self, agent):
        """`warden keys create`: the agent's Warden key, alone on one stdout line."""
        out = warden("keys", "create", "--agent", agent, "--config", str(self.config), env=self.env).stdout
        lines = out.splitlines()
        assert len(lines) == 1 and lines[0].strip(), f"`warden keys create` printed {out!r}"
        return lines[0].strip()

    def client(self, api, key=None, **options):
        """The SDK client an agent uses for `api`, with that API's agent's key unless `key`."""
        key = self.keys[API_AGENTS[api]] if key is None else key
        return self.anthropic(key, **options) if api == "messages" else self.openai(key, **options)

    def openai(self, key=None, **options):
        """An OpenAI SDK client pointed at the gateway (no retries, 20 s timeout)."""
        options = {"max_retries": 0, "timeout": 20, **options}
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.key if key is None else key, **options)

    def anthropic(self, key=None, **options):
        """An Anthropic SDK client pointed at the gateway (no retries, 20 s timeout)."""
        options = {"max_retries": 0, "timeout": 20, **options}
        return anthropic.Anthropic(base_url=self.url, api_key=self.key if key is None else key, **options)

    def public_key(self):
        """The ledger's public key as a PyJWT key."""
        jwk = json.loads(warden("ledger", "public-key", "--data-dir", str(self.data_dir)).stdout)
        return jwt.PyJWK(jwk)

    def stop(self):
        """SIGTERM (unless it already exited); returns the exit code."""
        self.stopped = True
        return self.server.stop(signal.SIGTERM)

    def verify(self):
        """`warden ledger verify`: the CompletedProcess (not checked)."""
        return warden("ledger", "verify", "--data-dir", str(self.data_dir), check=False)

    def records(self):
        """Every ledger record, oldest first, as `warden ledger tail` prints them
        (`{seq, id, hash, record}`)."""
        out = warden("ledger", "tail", "-n", "1000000", "--data-dir", str(self.data_dir)).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def config_yaml(upstream_url, bundle=BUNDLE):
    """The gateway configuration the tests run with (baseline bundle, both mock providers)."""
    agents = "\n".join(
        f"  {agent}: {{ tenant: acme, team: qa, labels: {{ env: development }} }}"
        for agent in (*API_AGENTS.values(), *PIN_AGENTS)
    )
    return f"""\
listen: {{ agents: "127.0.0.1:0", admin: "127.0.0.1:0" }}
data_dir: ./data
policy: {{ bundle: {json.dumps(str(bundle))}, reload: true }}
providers:
  mock-openai: {{ kind: openai, base_url: "{upstream_url}", api_key_env: WARDEN_TEST_PROVIDER_KEY }}
  mock-anthropic: {{ kind: anthropic, base_url: "{upstream_url}", api_key_env: WARDEN_TEST_PROVIDER_KEY }}
agents:
{agents}
limits: {{ max_body: 1MiB, max_tool_args: 64KiB, max_concurrent_streams: 64, upstream_timeout: 10s }}
"""


def start_gateway(workdir, upstream_url, bundle=BUNDLE):
    """Starts a gateway; raises with serve's log when it does not come up."""
    return Gateway(workdir, upstream_url, bundle)


def stop_and_verify(gateway):
    """Stops the gateway and asserts a clean exit and a ledger that verifies."""
    code = gateway.stop()
    assert code == 0, f"warden serve exited {code} on SIGTERM: {gateway.server.log()[-4000:]}"
    verified = gateway.verify()
    assert verified.returncode == 0, f"ledger verify failed: {verified.stdout}{verified.stderr}"


# --- Fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def upstream():
    """The recording relay in front of the session's mock provider."""
    with tempfile.TemporaryDirectory(prefix="warden-e2e-mock-") as workdir:
        mock = Listener(
            ["mock-provider", "--script", str(SCRIPT), "--listen", "127.0.0.1:0"],
            pathlib.Path(workdir) / "mock.log",
        )
        relay = RecordingRelay(mock.url)
        try:
            yield relay
        finally:
            relay.close()
            mock.stop()


@pytest.fixture(scope="module")
def gateway(upstream):
    """The module's gateway; stopped with SIGTERM at the end, when its ledger must verify."""
    with tempfile.TemporaryDirectory(prefix="warden-e2e-gateway-") as workdir:
        gw = start_gateway(workdir, upstream.url)
        try:
            yield gw
        finally:
            if not gw.stopped:
                stop_and_verify(gw)


@pytest.fixture()
def scratch():
    """A temporary directory, removed after the test whatever its outcome."""
    with tempfile.TemporaryDirectory(prefix="warden-e2e-") as workdir:
        yield pathlib.Path(workdir)


# --- The three APIs, driven the way agents drive them ---------------------------------------

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"

# One definition per tool, the same in every API: the gateway pins tool definitions, so a tool
# offered with a different description or schema would be refused as changed.
TOOLS = {
    "bash": (
        "Run a shell command.",
        {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
    ),
    "query": (
        "Run a SQL query.",
        {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]},
    ),
    "get_weather": (
        "Current weather for a city.",
        {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    ),
}
CHAT_TOOLS = [
    {"type": "function", "function": {"name": name, "description": doc, "parameters": schema}}
    for name, (doc, schema) in TOOLS.items()
]
RESPONSES_TOOLS = [
    {"type": "function", "name": name, "description": doc, "parameters": schema, "strict": False}
    for name, (doc, schema) in TOOLS.items()
]
ANTHROPIC_TOOLS = [{"name": name, "description": doc, "input_schema": schema} for name, (doc, schema) in TOOLS.items()]

APIS = ("chat", "responses", "messages")
# create: non-streaming; stream: `stream=True` iterated raw; helper: the SDK's stream helper and
# its accumulated final object.
MODES = ("create", "stream", "helper")
API_MODES = [pytest.param(api, mode, id=f"{api}-{mode}") for api in APIS for mode in MODES]


class Call:
    """One tool call as the SDK delivered it."""

    def __init__(self, name, arguments, call_id):
        self.name = name
        self.arguments = arguments
        self.id = call_id

    def __repr__(self):
        return f"Call({self.name!r}, {self.arguments!r}, {self.id!r})"


class Turn:
    """One model turn as the agent saw it, the same whichever API and mode produced it.

    `finish` is `stop` or `tool_calls` (Anthropic's `end_turn` / `tool_use`, and for Responses
    whether a function_call item remains); `events` holds every chunk or event (or the one
    response) as plain JSON; `order_problems` lists index or sequence numbering faults.
    """

    def __init__(self, text, calls, finish, events, order_problems=()):
        self.text = text
        self.calls = calls
        self.finish = finish
        self.events = events
        self.order_problems = list(order_problems)

    def __repr__(self):
        return f"Turn(text={self.text!r}, calls={self.calls!r}, finish={self.finish!r})"


def user(text):
    """A one-message conversation."""
    return [{"role": "user", "content": text}]


def run_turn(gateway, api, mode, prompt):
    """Sends `prompt` (with every test tool offered) through `api` in `mode`."""
    return DRIVERS[(api, mode)](gateway, prompt)


def consecutive(numbers, what):
    """A problem description when `numbers` are not 0, 1, 2, …; else an empty list."""
    numbers = list(numbers)
    return [] if numbers == list(range(len(numbers))) else [f"{what} are {numbers}"]


def dump(model):
    """A pydantic SDK object as plain JSON."""
    return model.model_dump(mode="json", exclude_none=True, warnings=False)


# Chat Completions


def chat_request(prompt):
    """Chat Completions arguments: the test model, `prompt` and every test tool."""
    return {"model": OPENAI_MODEL, "messages": user(prompt), "tools": CHAT_TOOLS}


def _chat_final(completion, events):
    choice = completion.choices[0]
    calls = [
        Call(c.function.name, json.loads(c.function.arguments), c.id) for c in choice.message.tool_calls or []
    ]
    return Turn(choice.message.content or "", calls, choice.finish_reason, events)


def chat_create(gateway, prompt):
    completion = gateway.client("chat").chat.completions.create(**chat_request(prompt))
    return _chat_final(completion, [dump(completion)])


def chat_stream(gateway, prompt):
    stream = gateway.client("chat").chat.completions.create(**chat_request(prompt), stream=True)
    text, calls, finish, events, seen = "", {}, None, [], []
    for chunk in stream:
        events.append(dump(chunk))
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                if call.index not in calls:
                    seen.append(call.index)
                    calls[call.index] = {"id": call.id, "name": call.function.name, "arguments": ""}
                calls[call.index]["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    delivered = [Call(c["name"], json.loads(c["arguments"]), c["id"]) for _, c in sorted(calls.items())]
    return Turn(text, delivered, finish, events, consecutive(seen, "chat tool_call indexes"))


def chat_helper(gateway, prompt):
    with gateway.client("chat").chat.completions.stream(**chat_request(prompt)) as stream:
        events = [dump(event) for event in stream]
        completion = stream.get_final_completion()
    return _chat_final(completion, events + [dump(completion)])


# Responses


def responses_request(prompt):
    """Responses arguments: the test model, `prompt` and every test tool."""
    return {"model": OPENAI_MODEL, "input": prompt, "tools": RESPONSES_TOOLS}


def _responses_final(response, events, problems=()):
    calls = [
        Call(item.name, json.loads(item.arguments), item.call_id)
        for item in response.output
        if item.type == "function_call"
    ]
    finish = "tool_calls" if calls else ("stop" if response.status == "completed" else response.status)
    return Turn(response.output_text, calls, finish, events, problems)


def responses_create(gateway, prompt):
    response = gateway.client("responses").responses.create(**responses_request(prompt))
    return _responses_final(response, [dump(response)])


def _responses_problems(events):
    problems = consecutive((e.sequence_number for e in events), "Responses sequence numbers")
    added = [e.output_index for e in events if e.type == "response.output_item.added"]
    problems += consecutive(added, "Responses output_item.added indexes")
    if not events or events[-1].type != "response.completed":
        problems.append(f"the stream ends with {events[-1].type if events else 'nothing'}, not response.completed")
    return problems


def responses_stream(gateway, prompt):
    events = list(gateway.client("responses").responses.create(**responses_request(prompt), stream=True))
    problems = _responses_problems(events)
    completed = [e.response for e in events if e.type == "response.completed"]
    assert completed, f"no response.completed event in {[e.type for e in events]}"
    turn = _responses_final(completed[-1], [dump(e) for e in events], problems)
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    if deltas != turn.text:
        turn.order_problems.append(f"text deltas {deltas!r} differ from the final output_text {turn.text!r}")
    return turn


def responses_helper(gateway, prompt):
    with gateway.client("responses").responses.stream(**responses_request(prompt)) as stream:
        events = list(stream)
        response = stream.get_final_response()
    return _responses_final(response, [dump(e) for e in events] + [dump(response)], _responses_problems(events))


# Anthropic Messages

STOP_REASONS = {"end_turn": "stop", "tool_use": "tool_calls"}


def messages_request(prompt):
    """Messages arguments: the test model, `prompt` and every test tool."""
    return {"model": ANTHROPIC_MODEL, "max_tokens": 1024, "messages": user(prompt), "tools": ANTHROPIC_TOOLS}


def _messages_final(message, events, problems=()):
    text = "".join(b.text for b in message.content if b.type == "text")
    calls = [Call(b.name, b.input, b.id) for b in message.content if b.type == "tool_use"]
    return Turn(text, calls, STOP_REASONS.get(message.stop_reason, message.stop_reason), events, problems)


def messages_create(gateway, prompt):
    message = gateway.client("messages").messages.create(**messages_request(prompt))
    return _messages_final(message, [dump(message)])


def messages_stream(gateway, prompt):
    events = list(gateway.client("messages").messages.create(**messages_request(prompt), stream=True))
    blocks, order, stop_reason = {}, [], None
    for event in events:
        if event.type == "content_block_start":
            order.append(event.index)
            block = event.content_block
            blocks[event.index] = {"type": block.type, "text": getattr(block, "text", ""), "partial": ""}
            if block.type == "tool_use":
                blocks[event.index].update(name=block.name, id=block.id)
        elif event.type == "content_block_delta":
            entry = blocks[event.index]
            if event.delta.type == "text_delta":
                entry["text"] += event.delta.text
            elif event.delta.type == "input_json_delta":
                entry["partial"] += event.delta.partial_json
        elif event.type == "message_delta":
            stop_reason = event.delta.stop_reason or stop_reason
    problems = consecutive(order, "content_block_start indexes")
    if not events or events[-1].type != "message_stop":
        problems.append(f"the stream ends with {events[-1].type if events else 'nothing'}, not message_stop")
    ordered = [blocks[i] for i in sorted(blocks)]
    text = "".join(b["text"] for b in ordered if b["type"] == "text")
    calls = [Call(b["name"], json.loads(b["partial"] or "{}"), b["id"]) for b in ordered if b["type"] == "tool_use"]
    finish = STOP_REASONS.get(stop_reason, stop_reason)
    return Turn(text, calls, finish, [dump(e) for e in events], problems)


def messages_helper(gateway, prompt):
    with gateway.client("messages").messages.stream(**messages_request(prompt)) as stream:
        events = list(stream)
        message = stream.get_final_message()
    return _messages_final(message, [dump(e) for e in events] + [dump(message)])


DRIVERS = {
    ("chat", "create"): chat_create,
    ("chat", "stream"): chat_stream,
    ("chat", "helper"): chat_helper,
    ("responses", "create"): responses_create,
    ("responses", "stream"): responses_stream,
    ("responses", "helper"): responses_helper,
    ("messages", "create"): messages_create,
    ("messages", "stream"): messages_stream,
    ("messages", "helper"): messages_helper,
}


def tool_payloads(value, event_type=""):
    """Every tool-call argument anywhere in a JSON value: `arguments`, `partial_json`, a tool_use
    `input`, and the `delta` of Responses function-call argument events."""
    if isinstance(value, list):
        for item in value:
            yield from tool_payloads(item, event_type)
    elif isinstance(value, dict):
        kind = value.get("type", event_type) if isinstance(value.get("type"), str) else event_type
        for key, item in value.items():
            is_args = "argument" in key or key == "partial_json" or (key == "input" and kind == "tool_use")
            if is_args or (key == "delta" and kind.startswith("response.function_call_arguments")):
                yield item if isinstance(item, str) else json.dumps(item)
            else:
                yield from tool_payloads(item, kind)


def tool_calls(value):
    """Every tool call, or piece of one, anywhere in a JSON value: chat `tool_calls` entries,
    Responses `function_call` items and their argument events, Anthropic `tool_use` blocks, and
    the chat stream helper's `tool_calls.*` events."""
    if isinstance(value, list):
        for item in value:
            yield from tool_calls(item)
    elif isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str) and (
            kind in ("function", "function_call", "tool_use")
            or kind.startswith(("tool_calls.", "response.function_call_arguments"))
        ):
            yield value
            return
        for key, item in value.items():
            # A Responses response echoes the request's tool definitions under `tools`.
            if key != "tools":
                yield from tool_calls(item)


# --- Receipts ------------------------------------------------------------------------------

RECEIPT_COMMENT = ": warden-receipt "

def _create_call(gateway, api, prompt):
    """(the SDK resource for `api`, the request's keyword arguments)."""
    if api == "chat":
        return gateway.client("chat").chat.completions, chat_request(prompt)
    if api == "responses":
        return gateway.client("responses").responses, responses_request(prompt)
    return gateway.client("messages").messages, messages_request(prompt)


def header_receipts(headers):
    """Every `Warden-Receipt` value (one per header line; a comma-joined line is split)."""
    return [part.strip() for value in headers.get_list("warden-receipt") for part in value.split(",") if part.strip()]


def exchange(gateway, api, stream, prompt):
    """Sends `prompt`; returns (receipts, the body as text)."""
    resource, kwargs = _create_call(gateway, api, prompt)
    if not stream:
        raw = resource.with_raw_response.create(**kwargs)
        body = json.dumps(raw.parse().model_dump(mode="json"))
        return header_receipts(raw.headers), body
    with resource.with_streaming_response.create(**kwargs, stream=True) as response:
        lines = list(response.iter_lines())
        in_headers = header_receipts(response.headers)
    receipts = [line.removeprefix(RECEIPT_COMMENT).strip() for line in lines if line.startswith(RECEIPT_COMMENT)]
    # Receipts of decisions made before the stream started may also travel as headers.
    return in_headers + receipts, "\n".join(line for line in lines if not line.startswith(":"))


def verified_claims(gateway, receipts):
    """Each receipt's claims, after checking its header and EdDSA signature with PyJWT."""
    key = gateway.public_key()
    claims = []
    for token in receipts:
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "EdDSA"
        assert header["kid"] == key.key_id
        claims.append(jwt.decode(token, key.key, algorithms=["EdDSA"]))
    return claims
