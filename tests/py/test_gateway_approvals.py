"""Human approval and the kill switch through `warden serve`, driven by the official `openai` SDK
on the agent side and the `warden approvals` / `warden agents` CLI on the operator side.

The module runs its own mock provider (data/approvals-script.yaml) and a gateway with the bundle
data/approvals-bundle: `deploy` needs one approver of `security-team`, `release` needs two. The
agent `bot` is owned by the operator `erin`. Three webhooks are configured: a local server taking
generic JSON, one taking Slack bodies, and a black hole that accepts connections and never
answers (it must not delay anything). An expiry test runs a second gateway with a 2 s wait.
"""

import concurrent.futures
import http.server
import json
import os
import pathlib
import socket
import subprocess
import tempfile
import threading
import time

import http.client
import openai
import pytest

from gateway_harness import PROVIDER_KEY, WARDEN, Listener, ServedGateway, stop_and_verify

DATA = pathlib.Path(__file__).resolve().parent / "data"
SCRIPT = DATA / "approvals-script.yaml"
BUNDLE = DATA / "approvals-bundle"
MODEL = "gpt-4o-mini"
DEPLOY_TOOL = {
    "type": "function",
    "function": {
        "name": "deploy",
        "description": "Deploy a service.",
        "parameters": {
            "type": "object",
            "properties": {"service": {"type": "string"}, "version": {"type": "string"}},
            "required": ["service"],
        },
    },
}
RELEASE_TOOL = {
    "type": "function",
    "function": {
        "name": "release",
        "description": "Release a service to a channel.",
        "parameters": {
            "type": "object",
            "properties": {"service": {"type": "string"}, "channel": {"type": "string"}},
            "required": ["service"],
        },
    },
}
# How long a step that should be immediate may take (process start-up of the CLI included).
PROMPTLY_S = 5


# --- Processes -----------------------------------------------------------------------------


class Webhooks:
    """A local HTTP server keeping every POST body by path (`/generic`, `/slack`), and a black
    hole: a listening socket that never accepts, so a webhook sent there hangs until its timeout."""

    def __init__(self):
        received = self.received = []
        lock = self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with lock:
                    received.append((self.path, json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.black_hole = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.black_hole_url = f"http://127.0.0.1:{self.black_hole.getsockname()[1]}/hook"

    def bodies(self, path, approval_id):
        """Bodies POSTed to `path` that mention `approval_id`."""
        with self.lock:
            return [b for p, b in self.received if p == path and approval_id in json.dumps(b)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.black_hole.close()


class ApprovalGateway(ServedGateway):
    """A `warden serve` with the approval bundle, operators and the agents' keys."""

    OPERATORS = {
        "alice": ("approver", ["security-team"]),
        "frank": ("approver", ["security-team"]),
        "bob": ("approver", ["platform"]),
        "erin": ("approver", ["security-team"]),
        "carol": ("auditor", []),
        "dave": ("admin", []),
    }

    def __init__(self, workdir, upstream_url, wait, webhooks=()):
        self.workdir = pathlib.Path(workdir)
        self.data_dir = self.workdir / "data"
        self.config = self.workdir / "warden.yaml"
        hooks = ", ".join(f'{{ url: "{url}", format: {fmt} }}' for url, fmt in webhooks)
        self.config.write_text(
            f"""\
listen: {{ agents: "127.0.0.1:0", admin: "127.0.0.1:0" }}
data_dir: ./data
policy: {{ bundle: {json.dumps(str(BUNDLE))} }}
providers:
  mock: {{ kind: openai, base_url: "{upstream_url}", api_key_env: WARDEN_TEST_PROVIDER_KEY }}
agents:
  bot: {{ tenant: acme, team: deploys, owners: [erin] }}
  halt-bot: {{ tenant: acme, team: ops }}
approvals:
  wait: {wait}
  keepalive: 1s
  webhooks: [{hooks}]
"""
        )
        self.env = dict(os.environ, WARDEN_TEST_PROVIDER_KEY=PROVIDER_KEY)
        self.keys = {a: self._one_line("keys", "create", "--agent", a) for a in ("bot", "halt-bot")}
        self.tokens = self._operator_tokens(self.OPERATORS)
        self._serve()

    def client(self, agent="bot", **options):
        options = {"max_retries": 0, "timeout": 40, **options}
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.keys[agent], **options)

    def cli(self, operator, *args):
        """`warden ARGS` against the admin API as `operator` (None: no token)."""
        env = dict(self.env, WARDEN_ADMIN_URL=self.admin_url)
        env.pop("WARDEN_ADMIN_TOKEN", None)
        if operator is not None:
            env["WARDEN_ADMIN_TOKEN"] = self.tokens.get(operator, operator)
        return subprocess.run([WARDEN, *args], capture_output=True, text=True, env=env, timeout=60)

    def approvals(self, status="all"):
        out = self.cli("carol", "approvals", "list", "--status", status, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["approvals"]

    def wait_for_pending(self, service, timeout=PROMPTLY_S):
        """The pending approval whose action names `service`, once it appears."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [a for a in self.approvals("pending") if f'"{service}"' in json.dumps(a["action"])]
            if found:
                assert len(found) == 1, found
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no pending approval for {service!r} within {timeout} s: {self.approvals()}")


# --- Fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mock():
    with tempfile.TemporaryDirectory(prefix="warden-e2e-approvals-mock-") as workdir:
        provider = Listener(["mock-provider", "--script", str(SCRIPT)], pathlib.Path(workdir) / "mock.log")
        try:
            yield provider
        finally:
            provider.stop()


@pytest.fixture(scope="module")
def hooks():
    server = Webhooks()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def gw(mock, hooks):
    with tempfile.TemporaryDirectory(prefix="warden-e2e-approvals-") as workdir:
        webhooks = [
            (hooks.black_hole_url, "generic"),
            (f"{hooks.url}/generic", "generic"),
            (f"{hooks.url}/slack", "slack"),
        ]
        gateway = ApprovalGateway(workdir, mock.url, "20s", webhooks)
        try:
            yield gateway
        finally:
            if not gateway.stopped:
                stop_and_verify(gateway)


@pytest.fixture()
def background():
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def deploy(gateway, prompt, tool=DEPLOY_TOOL):
    """One non-streaming turn as `bot`, offering `tool`."""
    return gateway.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}], tools=[tool]
    )


def tool_calls(completion):
    return [(c.function.name, json.loads(c.function.arguments)) for c in completion.choices[0].message.tool_calls or []]


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    return result.stdout


def refused(result, message):
    assert result.returncode == 1, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    assert message in result.stderr, result.stderr
    assert "wdo_" not in result.stderr + result.stdout


# --- Tests ---------------------------------------------------------------------------------


def test_held_call_is_released_after_a_cli_approval(gw, background):
    started = time.monotonic()
    held = background.submit(deploy, gw, "please deploy released")
    approval = gw.wait_for_pending("released")
    assert approval["agent"] == "bot" and approval["tool"] == "deploy"
    assert approval["rules"] == ["deploy-needs-approval"]
    assert approval["approvers"] == ["security-team"] and approval["quorum"] == 1
    time.sleep(1.5)
    assert not held.done(), "the call was released before anyone approved"

    out = ok(gw.cli("alice", "approvals", "approve", approval["id"], "--reason", "change reviewed"))
    assert out.strip() == f"{approval['id']}: approved (1/1 approvals)"
    completion = held.result(timeout=PROMPTLY_S)
    assert tool_calls(completion) == [("deploy", {"service": "released", "version": "1.0"})]
    assert time.monotonic() - started < 20, "released only when the wait ran out"
    shown = ok(gw.cli("carol", "approvals", "show", approval["id"]))
    assert "status:        approved" in shown and "approved by:   alice" in shown


def test_denied_call_is_blocked_naming_the_approval(gw, background):
    held = background.submit(deploy, gw, "please deploy denied")
    approval = gw.wait_for_pending("denied")
    ok(gw.cli("alice", "approvals", "deny", approval["id"], "--reason", "not during the freeze"))
    completion = held.result(timeout=PROMPTLY_S)
    assert tool_calls(completion) == []
    assert f"Approval {approval['id']} was denied." in completion.choices[0].message.content
    refused(gw.cli("frank", "approvals", "approve", approval["id"]), "is already denied")


def test_quorum_of_two_needs_two_distinct_approvers(gw, background):
    held = background.submit(deploy, gw, "please release two", RELEASE_TOOL)
    approval = gw.wait_for_pending("two")
    assert approval["quorum"] == 2
    out = ok(gw.cli("alice", "approvals", "approve", approval["id"]))
    assert out.strip() == f"{approval['id']}: pending (1/2 approvals)"
    refused(gw.cli("alice", "approvals", "approve", approval["id"]), "has already voted")
    time.sleep(1)
    assert not held.done(), "released after one of two approvals"
    out = ok(gw.cli("frank", "approvals", "approve", approval["id"]))
    assert out.strip() == f"{approval['id']}: approved (2/2 approvals)"
    assert tool_calls(held.result(timeout=PROMPTLY_S)) == [("release", {"service": "two", "channel": "stable"})]


def test_wrong_group_auditor_agent_key_and_missing_token_are_refused(gw, background):
    held = background.submit(deploy, gw, "please deploy group")
    approval = gw.wait_for_pending("group")
    refused(gw.cli("bob", "approvals", "approve", approval["id"]), "is in none of the groups")
    refused(gw.cli("carol", "approvals", "approve", approval["id"]), "has role auditor; this needs approver")
    refused(gw.cli(gw.keys["bot"], "approvals", "approve", approval["id"]), "agent keys are not accepted")
    refused(gw.cli(None, "approvals", "approve", approval["id"]), "send an operator token")
    refused(gw.cli("alice", "approvals", "approve", "apr_does_not_exist"), "no approval request")
    assert gw.approvals("pending") and not held.done()
    # An operator token is refused on the agent API.
    with pytest.raises(openai.PermissionDeniedError):
        openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.tokens["alice"], max_retries=0).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hello"}]
        )
    ok(gw.cli("alice", "approvals", "deny", approval["id"]))
    held.result(timeout=PROMPTLY_S)


def test_owner_may_not_approve_their_agents_request(gw, background):
    held = background.submit(deploy, gw, "please deploy owner")
    approval = gw.wait_for_pending("owner")
    refused(gw.cli("erin", "approvals", "approve", approval["id"]), "may not decide its requests")
    assert gw.cli("carol", "approvals", "show", approval["id"], "--json").stdout.count('"pending"') == 1
    ok(gw.cli("alice", "approvals", "deny", approval["id"]))
    held.result(timeout=PROMPTLY_S)


def test_grant_is_reused_for_the_identical_call_and_a_changed_one_asks_again(gw, background):
    held = background.submit(deploy, gw, "please deploy grant")
    first = gw.wait_for_pending("grant")
    ok(gw.cli("alice", "approvals", "approve", first["id"]))
    held.result(timeout=PROMPTLY_S)
    asked = len(gw.approvals())

    started = time.monotonic()
    again = deploy(gw, "please deploy grant")
    assert time.monotonic() - started < PROMPTLY_S
    assert tool_calls(again) == [("deploy", {"service": "grant", "version": "1.0"})]
    assert len(gw.approvals()) == asked, "the identical call asked again"

    changed = background.submit(deploy, gw, "please deploy grant v2")
    second = gw.wait_for_pending("2.0")
    assert second["id"] != first["id"] and second["action_digest"] != first["action_digest"]
    ok(gw.cli("alice", "approvals", "approve", second["id"]))
    assert tool_calls(changed.result(timeout=PROMPTLY_S)) == [("deploy", {"service": "grant", "version": "2.0"})]


def test_webhooks_are_notified_and_one_that_hangs_delays_nothing(gw, hooks, background):
    sent = time.monotonic()
    held = background.submit(deploy, gw, "please deploy hooks")
    approval = gw.wait_for_pending("hooks")
    # The black hole is first in the list and never answers; the request is still listed at once.
    assert time.monotonic() - sent < PROMPTLY_S
    deadline = time.monotonic() + PROMPTLY_S
    while time.monotonic() < deadline and not (
        hooks.bodies("/generic", approval["id"]) and hooks.bodies("/slack", approval["id"])
    ):
        time.sleep(0.05)
    [generic] = hooks.bodies("/generic", approval["id"])
    assert generic["type"] == "approval_requested"
    assert generic["approval"]["id"] == approval["id"] and generic["approval"]["tool"] == "deploy"
    [slack] = hooks.bodies("/slack", approval["id"])
    assert set(slack) == {"text"}
    assert f"warden approvals approve {approval['id']}" in slack["text"] and "security-team" in slack["text"]
    ok(gw.cli("alice", "approvals", "approve", approval["id"]))
    assert tool_calls(held.result(timeout=PROMPTLY_S))


def next_event(watch, kinds, approval_id, background, limit=100):
    """The next line `warden approvals watch` prints about `approval_id` whose kind is one of
    `kinds`; fails after 30 s without one."""
    for _ in range(limit):
        line = background.submit(watch.stdout.readline).result(timeout=30)
        assert line, "watch ended"
        if line.startswith(kinds) and approval_id in line:
            return line
    raise AssertionError(f"no {kinds} line for {approval_id}")


def test_watch_prints_requests_and_decisions_as_they_happen(gw, background):
    env = dict(gw.env, WARDEN_ADMIN_URL=gw.admin_url, WARDEN_ADMIN_TOKEN=gw.tokens["carol"])
    watch = subprocess.Popen([WARDEN, "approvals", "watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        held = background.submit(deploy, gw, "please deploy ledger")
        approval = gw.wait_for_pending("ledger")
        # Requests other tests left pending are listed first, and may expire meanwhile; a request
        # made before the watch connected is listed as pending rather than announced.
        line = next_event(watch, ("requested", "pending"), approval["id"], background)
        assert "tool=deploy" in line, line
        ok(gw.cli("alice", "approvals", "approve", approval["id"]))
        line = next_event(watch, ("decided",), approval["id"], background)
        assert "approved" in line, line
        held.result(timeout=PROMPTLY_S)
    finally:
        watch.terminate()
        watch.wait(timeout=10)


def test_held_stream_is_kept_alive_then_released(gw, background):
    """The SDK hides SSE comments, so the stream is read raw: keep-alive comments every second
    (`approvals.keepalive`) while the call waits, then the approved call."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "please deploy stream"}],
        "tools": [DEPLOY_TOOL],
        "stream": True,
    }
    headers = {"authorization": f"Bearer {gw.keys['bot']}", "content-type": "application/json"}

    def read_stream():
        conn = http.client.HTTPConnection(gw.url.removeprefix("http://"), timeout=40)
        try:
            conn.request("POST", "/v1/chat/completions", json.dumps(body), headers)
            response = conn.getresponse()
            assert response.status == 200
            return [(time.monotonic(), raw.decode().rstrip("\r\n")) for raw in iter(response.readline, b"")]
        finally:
            conn.close()

    held = background.submit(read_stream)
    approval = gw.wait_for_pending("stream")
    time.sleep(2.5)
    approved_at = time.monotonic()
    ok(gw.cli("alice", "approvals", "approve", approval["id"]))
    lines = held.result(timeout=PROMPTLY_S)
    waiting = [line for at, line in lines if at < approved_at]
    assert waiting.count(": keep-alive") >= 2, lines
    assert not any('"deploy"' in line for line in waiting), "the call reached the agent before approval"
    chunks = [json.loads(line[5:]) for _, line in lines if line.startswith("data: {")]
    calls = [c for chunk in chunks for choice in chunk["choices"] for c in choice["delta"].get("tool_calls") or []]
    name = "".join(c["function"].get("name") or "" for c in calls)
    arguments = "".join(c["function"].get("arguments") or "" for c in calls)
    assert (name, json.loads(arguments)) == ("deploy", {"service": "stream", "version": "1.0"}), lines
    assert [line for _, line in lines if line][-1] == "data: [DONE]", lines[-3:]


def test_halt_ends_a_stream_in_flight_and_refuses_the_next_call(gw):
    client = gw.client("halt-bot")
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "tell a long story"}], stream=True
    )
    chunks = iter(stream)
    next(chunks)
    halt = ok(gw.cli("dave", "agents", "halt", "halt-bot", "--reason", "runaway agent"))
    halted_at = time.monotonic()
    assert halt.strip() == "agent halt-bot halted"
    ended_by = None
    try:
        for chunk in chunks:
            if chunk.choices and chunk.choices[0].finish_reason:
                ended_by = chunk.choices[0].finish_reason
    except openai.APIError as e:
        ended_by = e
    gap = time.monotonic() - halted_at
    # The story alone takes about 6 s more; the CLI returned once the halt took effect, so the
    # stream must end within the 100 ms the kill switch promises.
    assert gap < 0.1, f"the stream ran {gap * 1000:.0f} ms after the halt"
    assert ended_by is not None, "the stream ended without an error or a finish"

    with pytest.raises(openai.PermissionDeniedError) as refused_call:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hello"}])
    assert "halt" in str(refused_call.value).lower()
    listed = ok(gw.cli("carol", "agents", "list"))
    row = next(line for line in listed.splitlines() if line.startswith("halt-bot"))
    assert "halted by dave" in row and row.endswith("runaway agent")

    assert ok(gw.cli("dave", "agents", "resume", "halt-bot")).strip() == "agent halt-bot resumed"
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content == "Hello from the approvals mock."


def test_expired_request_is_blocked_and_cannot_be_approved_late(mock):
    with tempfile.TemporaryDirectory(prefix="warden-e2e-approvals-expiry-") as workdir:
        gateway = ApprovalGateway(workdir, mock.url, "2s")
        try:
            started = time.monotonic()
            completion = deploy(gateway, "please deploy expired")
            waited = time.monotonic() - started
            [approval] = gateway.approvals("all")
            assert approval["status"] == "expired", approval
            assert 1.5 < waited < 10, waited
            assert tool_calls(completion) == []
            assert f"Approval {approval['id']} was expired." in completion.choices[0].message.content
            refused(gateway.cli("alice", "approvals", "approve", approval["id"]), "expired")
            verdicts = [r["event"].get("verdict") for r in gateway.records() if r["event"]["type"] == "approval"]
            assert verdicts == ["expired"], verdicts
        finally:
            stop_and_verify(gateway)


def test_every_step_is_in_the_ledger_which_verifies(gw):
    records = gw.records()
    approvals = {a["id"]: a for a in gw.approvals()}
    answers = [r for r in records if r["event"]["type"] == "approval"]
    by_verdict = {}
    for r in answers:
        by_verdict.setdefault(r["event"]["verdict"], []).append(r)
        assert r["event"]["approval_id"] in approvals
    assert {"approved", "denied"} <= set(by_verdict), by_verdict.keys()
    # Votes name their operator; an expiry (a request another test left waiting) names nobody.
    for r in answers:
        if r["event"]["verdict"] == "expired":
            assert not r["actor"].get("principal"), r
        else:
            assert r["actor"].get("principal"), f"an answer without its operator: {r}"
    # Each approval's decision record asked for it; each approved one has a release naming it.
    decisions = [r for r in records if r["event"]["type"] == "decision" and r["event"].get("approval")]
    for approval_id, view in approvals.items():
        asking = [d for d in decisions if d["event"]["approval"].get("approval_id") == approval_id]
        assert asking, f"no decision record names {approval_id}"
        if view["status"] == "approved":
            released = [d for d in asking if d["event"]["outcome"] == "allow" and d["event"]["approval"].get("approved_by")]
            assert released, f"no release record for {approval_id}: {asking}"
    halts = [r["event"] for r in records if r["event"]["type"] == "halt"]
    assert {"type": "halt", "agent_id": "halt-bot", "lifted": False, "reason": "runaway agent"} in halts
    assert any(h["agent_id"] == "halt-bot" and h["lifted"] for h in halts)
    stop_and_verify(gw)
