"""The MCP gateway end to end: the official MCP Python SDK's client through `warden serve` to the
SDK's server over Streamable HTTP (`/mcp/web`) and over stdio (`/mcp/local`, a process Warden
starts and supervises), in both protocol eras — the session era (`mode="legacy"`: initialize,
Mcp-Session-Id) and the stateless era (`mode="2026-07-28"`: Mcp-Method / Mcp-Name headers).

Policy: data/mcp/bundle. Allowed, denied (a tool result with isError), held for approval and
approved by an operator, remediated, constrained (timeout, read_only) calls; the filtered
tools/list; and every call in the ledger with its argument and result digests.
"""

import concurrent.futures
import json
import time

import anyio
import pytest
from mcp import MCPError

from mcp_harness import AGENT, LEGACY, MODERN, OTHER_AGENT, running, text_of

SERVERS = ("web", "local")
ERAS = (LEGACY, MODERN)
CASES = [pytest.param(s, e, id=f"{s}-{'session' if e == LEGACY else 'stateless'}") for s in SERVERS for e in ERAS]
# What the bundle lets an agent see: delete_file is denied whatever its arguments, rug_pull is
# allowed by no rule; deploy (approval), query (remediation), sleep and write_note (constraints)
# are callable with some arguments.
VISIBLE = {"echo", "read_file", "deploy", "query", "sleep", "hang", "write_note", "pid", "weather"}


@pytest.fixture(scope="module")
def env():
    with running() as (upstream, gw):
        yield upstream, gw


@pytest.fixture()
def gw(env):
    return env[1]


def run(scenario, *args):
    return anyio.run(scenario, *args)


async def call(gw, server, mode, tool, arguments, agent=AGENT):
    async with gw.client(server, mode=mode, agent=agent) as client:
        return await client.call_tool(tool, arguments)


@pytest.mark.parametrize("server,mode", CASES)
def test_tools_list_shows_only_callable_tools(gw, server, mode):
    async def scenario():
        async with gw.client(server, mode=mode) as client:
            assert client.protocol_version == ("2026-07-28" if mode == MODERN else "2025-11-25")
            listed = await client.list_tools()
            return {t.name for t in listed.tools}

    assert run(scenario) == VISIBLE


@pytest.mark.parametrize("server,mode", CASES)
def test_an_allowed_call_is_forwarded(gw, server, mode):
    result = run(call, gw, server, mode, "echo", {"text": f"hello {server}"})
    assert not result.is_error
    assert text_of(result) == f"hello {server}"


@pytest.mark.parametrize("server,mode", CASES)
def test_a_denied_call_is_a_failed_tool_result(gw, server, mode):
    result = run(call, gw, server, mode, "read_file", {"path": "/etc/shadow"})
    assert result.is_error
    text = text_of(result)
    assert "Warden blocked the call to tool `read_file`" in text
    assert "outcome: deny; rule: no-etc" in text and "Nothing under /etc is read by agents." in text
    assert "Ledger record: rec_" in text
    ok = run(call, gw, server, mode, "read_file", {"path": "/srv/data.txt"})
    assert not ok.is_error and text_of(ok) == "contents of /srv/data.txt"


def test_a_hidden_tool_is_refused_when_called_anyway(gw):
    result = run(call, gw, "web", LEGACY, "delete_file", {"path": "/srv/x"})
    assert result.is_error
    assert "rule: no-delete" in text_of(result)


@pytest.mark.parametrize("server,mode", CASES)
def test_a_remediated_call_is_forwarded_rewritten(gw, server, mode):
    result = run(call, gw, server, mode, "query", {"sql": "select * from orders"})
    assert not result.is_error
    # The server echoes the SQL it received: the bundle's rewrite, not the agent's query.
    assert text_of(result) == "ran: SELECT * FROM orders LIMIT 10"


def test_a_timeout_constraint_cancels_the_upstream_call(gw):
    started = time.monotonic()
    result = run(call, gw, "web", LEGACY, "sleep", {"seconds": 5})
    elapsed = time.monotonic() - started
    assert result.is_error
    assert "no answer within its time limit of 1000 ms" in text_of(result)
    assert elapsed < 4, elapsed
    quick = run(call, gw, "web", LEGACY, "sleep", {"seconds": 0.1})
    assert not quick.is_error and text_of(quick) == "slept 0.1"


def test_a_read_only_constraint_refuses_a_destructive_tool(gw):
    result = run(call, gw, "local", LEGACY, "write_note", {"text": "x"})
    assert result.is_error
    text = text_of(result)
    assert "rule: notes-read-only, warden-mcp-read-only" in text
    assert "not annotated read-only" in text


def pending(gw, tool):
    out = gw.cli("carol", "approvals", "list", "--status", "pending", "--json")
    assert out.returncode == 0, out.stderr
    return [a for a in json.loads(out.stdout)["approvals"] if a["action"].get("tool") == tool]


@pytest.mark.parametrize("server,mode", [("web", MODERN), ("local", LEGACY)])
def test_a_held_call_runs_once_an_operator_approves_it(gw, server, mode):
    service = f"billing-{server}"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(run, call, gw, server, mode, "deploy", {"service": service})
        deadline = time.monotonic() + 10
        found = []
        while not found and time.monotonic() < deadline:
            found = [a for a in pending(gw, "deploy") if a["action"]["args"] == {"service": service}]
            time.sleep(0.1)
        assert found, "no pending approval for the held call"
        approval = found[0]
        assert approval["action"]["server"] == server
        assert approval["approvers"] == ["security-team"]
        assert not future.done()
        out = gw.cli("alice", "approvals", "approve", approval["id"])
        assert out.returncode == 0, out.stderr
        result = future.result(timeout=20)
    assert not result.is_error, text_of(result)
    assert text_of(result) == f"deployed {service}"


def test_a_denied_approval_blocks_the_call(gw):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(run, call, gw, "web", LEGACY, "deploy", {"service": "payroll"})
        deadline = time.monotonic() + 10
        found = []
        while not found and time.monotonic() < deadline:
            found = [a for a in pending(gw, "deploy") if a["action"]["args"] == {"service": "payroll"}]
            time.sleep(0.1)
        assert found
        out = gw.cli("alice", "approvals", "deny", found[0]["id"], "--reason", "not today")
        assert out.returncode == 0, out.stderr
        result = future.result(timeout=20)
    assert result.is_error
    assert f"Approval {found[0]['id']} was denied" in text_of(result)


def test_a_halted_agent_is_refused(gw):
    out = gw.cli("dave", "agents", "halt", OTHER_AGENT, "--reason", "incident 42")
    assert out.returncode == 0, out.stderr
    try:
        with pytest.raises(Exception) as raised:
            run(call, gw, "web", LEGACY, "echo", {"text": "x"}, OTHER_AGENT)
        assert "halted" in repr(raised.value) or "403" in repr(raised.value)
    finally:
        assert gw.cli("dave", "agents", "resume", OTHER_AGENT).returncode == 0
    assert text_of(run(call, gw, "web", LEGACY, "echo", {"text": "back"}, OTHER_AGENT)) == "back"


def test_the_stdio_server_killed_mid_call_gives_a_clear_error_and_is_restarted(gw):
    import os
    import signal

    first_pid = int(text_of(run(call, gw, "local", LEGACY, "pid", {})))

    async def scenario():
        async with gw.client("local", mode=LEGACY) as client:
            async with anyio.create_task_group() as tg:
                outcome = {}

                async def hang():
                    try:
                        outcome["result"] = await client.call_tool("hang", {"seconds": 10})
                    except MCPError as e:
                        outcome["error"] = e

                tg.start_soon(hang)
                await anyio.sleep(0.5)
                os.kill(first_pid, signal.SIGKILL)
            return outcome

    outcome = run(scenario)
    assert "error" in outcome, outcome
    message = str(outcome["error"])
    assert "the MCP server `local` exited while this request was in flight" in message
    assert "restarting" in message
    # The next call waits for the restarted process.
    second_pid = int(text_of(run(call, gw, "local", LEGACY, "pid", {})))
    assert second_pid != first_pid
    assert "MCP server process ended" in gw.log() and "MCP server ready" in gw.log()


def test_every_call_is_in_the_ledger_with_digests(gw):
    run(call, gw, "web", LEGACY, "echo", {"text": "ledger me"})
    records = gw.records()
    decisions = [
        r["event"]
        for r in records
        if r["event"]["type"] == "decision" and r["event"]["action"]["kind"] == "mcp_call"
    ]
    echo = [d for d in decisions if d["action"]["tool"] == "echo" and d["action"]["args_redacted"] == {"text": "ledger me"}]
    assert echo and echo[-1]["outcome"] == "allow"
    assert echo[-1]["action"]["upstream"] == "web"
    assert echo[-1]["action"]["args_digest"].startswith("sha256:")
    results = [r["event"] for r in records if r["event"]["type"] == "mcp_result"]
    assert any(r["tool"] == "echo" and r["server"] == "web" and r["result_digest"].startswith("sha256:") for r in results)
    denied = [d for d in decisions if d["outcome"] == "deny" and "no-etc" in d["rule_ids"]]
    assert denied
    remediated = [d for d in decisions if d["outcome"] == "remediate"]
    assert remediated and "LIMIT 10" in json.dumps(remediated[-1]["rewrite"])
    pins = [r["event"] for r in records if r["event"]["type"] == "tool_pin"]
    assert {(p["server"], p["change"]) for p in pins} >= {("web", "pinned"), ("local", "pinned")}
