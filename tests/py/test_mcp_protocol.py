"""The MCP gateway's HTTP surface, driven with raw HTTP where the SDK would not send what is
being tested: stateless-era (2026-07-28) requests whose Mcp-Method / Mcp-Name headers disagree
with the body, session-era sessions (missing, unknown, another agent's, GET stream, DELETE),
authentication and unknown servers.
"""

import http.client
import json
import urllib.parse

import pytest

from mcp_harness import AGENT, OTHER_AGENT, running

MODERN = "2026-07-28"


@pytest.fixture(scope="module")
def gw():
    with running() as (_, gateway):
        yield gateway


def post(gw, server, body, headers=None, agent=AGENT):
    """POST a JSON-RPC message; returns (status, headers, parsed body or None)."""
    url = urllib.parse.urlsplit(gw.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
    sent = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if agent is not None:
        sent["Authorization"] = f"Bearer {gw.keys[agent]}"
    sent.update(headers or {})
    conn.request("POST", f"/mcp/{server}", json.dumps(body), sent)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, response.headers, json.loads(raw) if raw else None


def request(gw, method, server, headers, agent=AGENT):
    url = urllib.parse.urlsplit(gw.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
    conn.request(method, f"/mcp/{server}", headers={"Authorization": f"Bearer {gw.keys[agent]}", **headers})
    return conn, conn.getresponse()


def modern_call(name, **params):
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": params, "_meta": meta}}


def modern_headers(method, name=None):
    headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


def test_stateless_headers_that_match_the_body_pass(gw):
    status, _, body = post(gw, "web", modern_call("echo", text="hi"), modern_headers("tools/call", "echo"))
    assert status == 200, body
    assert body["id"] == 7
    assert body["result"]["content"][0]["text"] == "hi"
    assert body["result"]["resultType"] == "complete"


@pytest.mark.parametrize(
    "headers,fragment",
    [
        (modern_headers("tools/call", "echo"), "`echo` does not match the body's `delete_file`"),
        (modern_headers("tools/list", "delete_file"), "Mcp-Method header `tools/list` does not match"),
        (modern_headers("tools/call"), "Mcp-Name header is required"),
        ({"MCP-Protocol-Version": MODERN, "Mcp-Name": "delete_file"}, "Mcp-Method header is required"),
    ],
    ids=["name", "method", "missing-name", "missing-method"],
)
def test_stateless_headers_that_disagree_with_the_body_are_refused(gw, headers, fragment):
    status, _, body = post(gw, "web", modern_call("delete_file", path="/srv"), headers)
    assert status == 400
    assert body["error"]["code"] == -32020
    assert fragment in body["error"]["message"]


def test_an_unsupported_protocol_version_is_refused(gw):
    status, _, body = post(gw, "web", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, {"MCP-Protocol-Version": "2024-01-01"})
    assert status == 400 and body["error"]["code"] == -32022
    assert "2026-07-28" in body["error"]["data"]["supported"]


def initialize(gw, agent=AGENT, version="2025-06-18"):
    status, headers, body = post(
        gw,
        "local",
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
        },
        agent=agent,
    )
    assert status == 200, body
    return headers["mcp-session-id"], body["result"]


def test_session_era_sessions(gw):
    session, result = initialize(gw)
    assert result["protocolVersion"] == "2025-06-18"
    assert result["serverInfo"]["name"] == "warden-e2e-tools"
    assert "tools" in result["capabilities"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

    status, _, body = post(gw, "local", listing)
    assert status == 400 and "Mcp-Session-Id is required" in body["error"]["message"]
    status, _, body = post(gw, "local", listing, {"Mcp-Session-Id": "0" * 48})
    assert status == 404
    # A session is its agent's own.
    status, _, _ = post(gw, "local", listing, {"Mcp-Session-Id": session}, agent=OTHER_AGENT)
    assert status == 404
    status, _, body = post(gw, "local", listing, {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"})
    assert status == 200 and "echo" in {t["name"] for t in body["result"]["tools"]}
    status, _, body = post(gw, "local", {"jsonrpc": "2.0", "method": "notifications/initialized"}, {"Mcp-Session-Id": session})
    assert status == 202 and body is None

    conn, stream = request(gw, "GET", "local", {"Mcp-Session-Id": session, "Accept": "text/event-stream"})
    assert stream.status == 200 and stream.getheader("content-type") == "text/event-stream"
    assert stream.read(14) == b": keep-alive\n\n"
    conn.close()

    conn, deleted = request(gw, "DELETE", "local", {"Mcp-Session-Id": session})
    assert deleted.status == 204
    conn.close()
    status, _, _ = post(gw, "local", listing, {"Mcp-Session-Id": session})
    assert status == 404


def test_a_session_can_be_negotiated_down(gw):
    _, result = initialize(gw, version="2099-01-01")
    assert result["protocolVersion"] == "2025-11-25"


def test_callers_and_servers_are_checked(gw):
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    status, headers, body = post(gw, "web", listing, agent=None)
    assert status == 401 and "no Warden API key" in body["error"]["message"]
    assert headers["www-authenticate"].startswith("Bearer")
    status, _, body = post(gw, "web", listing, {"Authorization": "Bearer wdn_not_a_key"}, agent=None)
    assert status == 401
    status, _, body = post(gw, "nowhere", listing)
    assert status == 404 and "no MCP server `nowhere`" in body["error"]["message"]
    status, _, body = post(gw, "web", [listing])
    assert status == 400 and "batches are not supported" in body["error"]["message"]
    url = urllib.parse.urlsplit(gw.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
    conn.request("POST", "/mcp/web", "{not json", {"Authorization": f"Bearer {gw.keys[AGENT]}"})
    response = conn.getresponse()
    assert response.status == 400 and json.loads(response.read())["error"]["code"] == -32700
    conn.close()
