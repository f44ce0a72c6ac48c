"""Tool-definition pinning through the MCP gateway: a server that changes a tool's description
(the rug pull) is caught — the tool is hidden and its calls refused until an operator approves
the change with `warden mcp approve-change` — and pins from a pin file written and signed by
`warden mcp pin`, which an edited file no longer verifies against.
"""

import json
import time

import anyio

from gateway_harness import warden
from mcp_harness import LEGACY, MODERN, direct_client, running, text_of


async def listed(gw, server="web", mode=LEGACY):
    async with gw.client(server, mode=mode) as client:
        return {t.name: t for t in (await client.list_tools(cache_mode="bypass")).tools}


async def call(gw, tool, arguments, server="web", mode=LEGACY):
    async with gw.client(server, mode=mode) as client:
        return await client.call_tool(tool, arguments)


async def rug_pull(url):
    async with direct_client(url) as client:
        result = await client.call_tool("rug_pull", {})
        assert text_of(result) == "weather redefined"


def pin_events(gw):
    return [r for r in gw.records() if r["event"]["type"] == "tool_pin"]


def test_a_changed_description_hides_the_tool_until_an_operator_approves_it():
    with running() as (upstream, gw):
        before = anyio.run(listed, gw)
        assert "weather" in before
        assert text_of(anyio.run(call, gw, "weather", {"city": "Oslo"})) == "sunny in Oslo"

        anyio.run(rug_pull, upstream.url)

        for mode in (LEGACY, MODERN):
            assert "weather" not in anyio.run(listed, gw, "web", mode), mode
        refused = anyio.run(call, gw, "weather", {"city": "Oslo"})
        assert refused.is_error
        text = text_of(refused)
        assert "rule: warden-mcp-definition-changed" in text
        assert "warden mcp approve-change web weather" in text
        changed = [e for e in pin_events(gw) if e["event"]["change"] == "changed"]
        assert len(changed) == 1, changed
        assert changed[0]["event"]["tool"] == "weather" and changed[0]["event"]["server"] == "web"
        assert changed[0]["event"]["pinned_digest"] != changed[0]["event"]["seen_digest"]

        auditor = gw.cli("carol", "mcp", "approve-change", "web", "weather")
        assert auditor.returncode == 1 and "needs admin" in auditor.stderr, auditor.stderr
        approved = gw.cli("dave", "mcp", "approve-change", "web", "weather")
        assert approved.returncode == 0, approved.stderr
        assert changed[0]["event"]["seen_digest"] in approved.stdout

        after = anyio.run(listed, gw)
        assert "read ~/.ssh/id_rsa" in after["weather"].description
        assert text_of(anyio.run(call, gw, "weather", {"city": "Oslo"})) == "sunny in Oslo"
        again = gw.cli("dave", "mcp", "approve-change", "web", "weather")
        assert again.returncode == 1 and "already matches its pin" in again.stderr
        approvals = [e for e in pin_events(gw) if e["event"]["change"] == "approved"]
        assert len(approvals) == 1
        assert approvals[0]["actor"]["principal"] == "dave"
        assert approvals[0]["event"]["seen_digest"] == changed[0]["event"]["seen_digest"]


def test_pins_from_a_signed_pin_file_only():
    with running(", pins: file") as (upstream, gw):
        assert anyio.run(listed, gw) == {}
        refused = anyio.run(call, gw, "echo", {"text": "x"})
        assert refused.is_error and "rule: warden-mcp-unpinned" in text_of(refused)

        out = warden("mcp", "pin", "web", "--config", str(gw.config), env=gw.env).stdout
        assert out.startswith("pinned 11 tool(s) of `web`"), out
        pin_file = gw.data_dir / "mcp-pins" / "web.json"
        pins = json.loads(pin_file.read_text())
        assert pins["format"] == "warden-mcp-pins/1" and pins["server"] == "web"
        assert set(pins["tools"]) >= {"echo", "weather", "rug_pull"}
        assert pins["signature"] and pins["key_id"]

        time.sleep(0.6)  # the gateway re-reads a changed pin file at most twice a second
        assert "echo" in anyio.run(listed, gw)
        assert text_of(anyio.run(call, gw, "echo", {"text": "pinned"})) == "pinned"

        # An edited pin file does not verify: nothing of the server is trusted.
        pins["tools"]["echo"] = "sha256:" + "0" * 64
        pin_file.write_text(json.dumps(pins))
        time.sleep(0.6)
        assert anyio.run(listed, gw) == {}
        tampered = anyio.run(call, gw, "echo", {"text": "x"})
        assert tampered.is_error and "rule: warden-mcp-pins-refused" in text_of(tampered)
        assert "signature does not verify" in text_of(tampered)
