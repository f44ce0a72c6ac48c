"""Processes and clients for the MCP gateway end-to-end tests (test_mcp_*.py).

A module gets: the SDK's MCP server (data/mcp/server.py) over Streamable HTTP, a `warden serve`
with the MCP test bundle and two upstream servers — `web` (that HTTP server) and `local` (the same
server as a stdio process Warden starts and supervises) — agent keys, and operator tokens. Agents
reach the servers with the official SDK's client (`mcp.Client`) at `/mcp/web` and `/mcp/local`.
"""

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile

from mcp import Client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

from gateway_harness import WARDEN, Listener, ServedGateway, stop_and_verify

DATA = pathlib.Path(__file__).resolve().parent / "data" / "mcp"
SERVER = DATA / "server.py"
BUNDLE = DATA / "bundle"
AGENT = "mcp-bot"
OTHER_AGENT = "mcp-bot-2"
LEGACY = "legacy"
MODERN = "2026-07-28"


class McpServerProcess(Listener):
    """`server.py http`: the SDK's server on an ephemeral port."""

    def __init__(self, workdir):
        super().__init__([str(SERVER), "http"], pathlib.Path(workdir) / "mcp-server.log", program=sys.executable)


class McpGateway(ServedGateway):
    """A `warden serve` fronting the `web` (HTTP) and `local` (stdio) MCP servers."""

    OPERATORS = {"alice": ("approver", ["security-team"]), "dave": ("admin", []), "carol": ("auditor", [])}

    def __init__(self, workdir, upstream_url, web_options=""):
        self.workdir = pathlib.Path(workdir)
        self.data_dir = self.workdir / "data"
        self.config = self.workdir / "warden.yaml"
        command = json.dumps([sys.executable, str(SERVER), "stdio"])
        self.config.write_text(
            f"""\
listen: {{ agents: "127.0.0.1:0", admin: "127.0.0.1:0" }}
data_dir: ./data
policy: {{ bundle: {json.dumps(str(BUNDLE))} }}
agents:
  {AGENT}: {{ tenant: acme, team: qa }}
  {OTHER_AGENT}: {{ tenant: acme, team: qa }}
approvals: {{ wait: 30s }}
mcp:
  servers:
    web: {{ url: "{upstream_url}", timeout: 20s{web_options} }}
    local: {{ command: {command}, timeout: 20s }}
"""
        )
        self.env = dict(os.environ)
        self.keys = {a: self._one_line("keys", "create", "--agent", a) for a in (AGENT, OTHER_AGENT)}
        self.tokens = self._operator_tokens(self.OPERATORS)
        self._serve()

    def endpoint(self, server):
        return f"{self.url}/mcp/{server}"

    @contextlib.asynccontextmanager
    async def client(self, server, mode=LEGACY, agent=AGENT, **options):
        """The SDK's client, through Warden, authenticated with the agent's Warden key."""
        headers = {"Authorization": f"Bearer {self.keys[agent]}"}
        async with create_mcp_http_client(headers=headers) as http:
            transport = streamable_http_client(self.endpoint(server), http_client=http)
            async with Client(transport, mode=mode, **options) as client:
                yield client

    def cli(self, operator, *args):
        """`warden ARGS` against the admin API as `operator`."""
        env = dict(self.env, WARDEN_ADMIN_URL=self.admin_url, WARDEN_ADMIN_TOKEN=self.tokens[operator])
        return subprocess.run([WARDEN, *args], capture_output=True, text=True, env=env, timeout=60)


def direct_client(url, mode=LEGACY):
    """The SDK's client straight to the server (the attacker's path, and the benchmark's baseline)."""
    return Client(url, mode=mode)


def text_of(result):
    """The text content of a tool result."""
    return "".join(getattr(c, "text", "") for c in result.content)


@contextlib.contextmanager
def running(web_options=""):
    """An MCP server process and a gateway in front of it, stopped (and verified) afterwards.
    `web_options` is appended to the `web` server's configuration (`, pins: file`)."""
    with tempfile.TemporaryDirectory(prefix="warden-e2e-mcp-") as workdir:
        upstream = McpServerProcess(workdir)
        try:
            gw = McpGateway(workdir, upstream.url, web_options)
            try:
                yield upstream, gw
            finally:
                if not gw.stopped:
                    stop_and_verify(gw)
        finally:
            upstream.stop()
