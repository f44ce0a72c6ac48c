"""The egress proxy end to end, driven by `curl` and Python `requests` through the proxy to
local HTTP and HTTPS servers.

The test bundle allows exactly one address and two ports (the `allowed` HTTP server and the TLS
server) by naming the address (`egress.address`), and allows the host `localhost` by name only.
The `refused` server is on the same loopback address, so every refusal below is proved by the
refused server never seeing a request.
"""

import base64
import datetime
import http.server
import ipaddress
import json
import pathlib
import ssl
import subprocess
import tempfile
import threading

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from enforcement_harness import Warden

AGENT = "egress-bot"
INTERNAL_RULE = "warden-egress-internal-address"


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the server's name and the path, and records what it saw."""

    def do_GET(self):
        self.server.seen.append((self.path, dict(self.headers)))
        body = f"{self.server.name} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_server(name, tls=None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.name, server.seen = name, []
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def self_signed(directory):
    """A certificate for 127.0.0.1 and its key, as PEM files; returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def bundle_text(allowed_ports):
    return f"""\
rules:
  - id: test-servers
    kinds: [egress]
    when: egress.address == "127.0.0.1" && url.port in {json.dumps(allowed_ports)}
    decision: allow
    reason: The local test servers, by address and port.
  - id: localhost-by-name
    kinds: [egress]
    when: url.host == "localhost"
    decision: allow
    reason: Allowed by name only; the address it resolves to is still checked.
default: deny
"""


@pytest.fixture(scope="module")
def env():
    with tempfile.TemporaryDirectory(prefix="warden-e2e-egress-") as workdir:
        workdir = pathlib.Path(workdir)
        cert, key = self_signed(workdir)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        allowed, refused, secure = start_server("allowed"), start_server("refused"), start_server("secure", tls)
        bundle = workdir / "bundle"
        bundle.mkdir()
        ports = [allowed.server_address[1], secure.server_address[1]]
        (bundle / "egress.yaml").write_text(bundle_text(ports))
        config = f"""\
listen: {{ agents: "127.0.0.1:0", admin: "127.0.0.1:0" }}
data_dir: ./data
policy: {{ bundle: ./bundle, reload: false }}
agents:
  {AGENT}: {{ team: qa }}
egress: {{ listen: "127.0.0.1:0", connect_timeout: 5s }}
"""
        warden = Warden(workdir, config, [AGENT], expect=("agents", "admin", "egress"))
        env = Env(warden, allowed, refused, secure, cert)
        try:
            yield env
        finally:
            for server in (allowed, refused, secure):
                server.shutdown()
            warden.stop_and_verify()


class Env:
    def __init__(self, warden, allowed, refused, secure, cert):
        self.warden, self.allowed, self.refused, self.secure, self.cert = warden, allowed, refused, secure, cert
        self.key = warden.keys[AGENT]
        self.proxy = warden.urls["egress"]
        self.hostport = self.proxy.removeprefix("http://")

    def port(self, server):
        return server.server_address[1]

    def session(self, key=None):
        """A requests session using the proxy with `key` (the agent's by default; "" for none).
        Environment proxy settings (NO_PROXY) are ignored."""
        s = requests.Session()
        s.trust_env = False
        key = self.key if key is None else key
        creds = f"{AGENT}:{key}@" if key else ""
        s.proxies = {"http": f"http://{creds}{self.hostport}", "https": f"http://{creds}{self.hostport}"}
        return s

    def curl(self, url, *args, key=None):
        """curl through the proxy: (exit code, HTTP status of the final answer, CONNECT status, body)."""
        key = self.key if key is None else key
        auth = ["--proxy-user", f"{AGENT}:{key}"] if key else []
        out = subprocess.run(
            ["curl", "-sS", "--noproxy", "", "--proxy", self.proxy, *auth, "--max-time", "10",
             "-w", "\n%{http_code} %{http_connect}", *args, url],
            capture_output=True, text=True, timeout=30,
        )
        body, _, codes = out.stdout.rpartition("\n")
        status, connect = codes.split()
        return out.returncode, int(status), int(connect), body

    def egress_records(self):
        return [r["record"] for r in self.warden.records() if r["record"]["event"].get("action", {}).get("kind") == "egress"]


def refusal(response):
    assert response.status_code == 403, response.text
    return response.json()["error"]


# --- allowed -------------------------------------------------------------------------------


def test_requests_reaches_the_allowed_host_over_http(env):
    before = len(env.egress_records())
    r = env.session().get(f"http://127.0.0.1:{env.port(env.allowed)}/hello?x=1", timeout=10)
    assert r.status_code == 200 and r.text == "allowed /hello?x=1"
    path, headers = env.allowed.seen[-1]
    assert path == "/hello?x=1"
    assert not any(h.lower().startswith("proxy-") for h in headers), headers
    record = env.egress_records()[before]
    assert record["event"]["outcome"] == "allow" and record["event"]["rule_ids"] == ["test-servers"]
    assert record["actor"]["agent_id"] == AGENT
    assert r.headers["warden-record"] == env.warden.records()[-1]["id"]


def test_requests_reaches_the_allowed_host_over_https_through_connect(env):
    r = env.session().get(f"https://127.0.0.1:{env.port(env.secure)}/tls", timeout=10, verify=str(env.cert))
    assert r.status_code == 200 and r.text == "secure /tls"


def test_curl_reaches_the_allowed_hosts_with_basic_and_bearer_credentials(env):
    code, status, _, body = env.curl(f"http://127.0.0.1:{env.port(env.allowed)}/curl")
    assert (code, status, body) == (0, 200, "allowed /curl")
    code, status, connect, body = env.curl(f"https://127.0.0.1:{env.port(env.secure)}/curl", "--cacert", str(env.cert))
    assert (code, status, connect, body) == (0, 200, 200, "secure /curl")
    bearer = ["--proxy-header", f"Proxy-Authorization: Bearer {env.key}"]
    code, status, _, body = env.curl(f"http://127.0.0.1:{env.port(env.allowed)}/bearer", *bearer, key="")
    assert (code, status, body) == (0, 200, "allowed /bearer")


# --- refused -------------------------------------------------------------------------------


def test_a_host_no_rule_allows_is_refused_with_the_reason(env):
    port = env.port(env.refused)
    error = refusal(env.session().get(f"http://127.0.0.1:{port}/", timeout=10))
    assert "bundle default" in error["message"] and error["record"].startswith("rec_")
    code, status, connect, _ = env.curl(f"https://127.0.0.1:{port}/", "-k")
    assert code != 0 and connect == 403
    with pytest.raises(requests.exceptions.ProxyError, match="403"):
        env.session().get(f"https://127.0.0.1:{port}/", timeout=10, verify=False)
    assert env.refused.seen == []


@pytest.mark.parametrize("host", ["127.1", "0x7f000001", "2130706433", "0177.0.0.1", "[::ffff:127.0.0.1]"])
def test_ip_literal_tricks_are_judged_as_the_address_they_are(env, host):
    url = f"http://{host}:{env.port(env.refused)}/trick"
    refusal(env.session().get(url, timeout=10))
    code, status, _, _ = env.curl(url)
    assert status == 403, (code, status)
    assert env.refused.seen == []


def test_an_ip_literal_trick_for_the_allowed_address_is_that_address(env):
    r = env.session().get(f"http://0x7f000001:{env.port(env.allowed)}/hex", timeout=10)
    assert r.status_code == 200 and r.text == "allowed /hex"


def test_a_name_allowed_by_name_that_resolves_to_loopback_is_refused(env):
    error = refusal(env.session().get(f"http://localhost:{env.port(env.refused)}/dns", timeout=10))
    assert INTERNAL_RULE in error["message"], error
    code, status, connect, _ = env.curl(f"https://localhost:{env.port(env.refused)}/", "-k")
    assert connect == 403 and code != 0
    assert env.refused.seen == []
    last = env.egress_records()[-1]
    assert last["event"]["rule_ids"] == [INTERNAL_RULE] and last["event"]["outcome"] == "deny"


@pytest.mark.parametrize(
    "url", ["http://foo.localhost/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]/"]
)
def test_internal_destinations_are_refused_by_default(env, url):
    refusal(env.session().get(url, timeout=10))


# --- credentials ---------------------------------------------------------------------------


def test_missing_or_bad_credentials_get_407(env):
    url = f"http://127.0.0.1:{env.port(env.allowed)}/nokey"
    seen = len(env.allowed.seen)
    for key in ("", "wdn_not_a_key", "not-even-shaped-like-one"):
        r = env.session(key=key).get(url, timeout=10)
        assert r.status_code == 407, (key, r.text)
        assert "Basic" in r.headers.get("proxy-authenticate", "")
        code, status, _, _ = env.curl(url, key=key)
        assert status == 407, (key, code)
    code, status, connect, _ = env.curl(f"https://127.0.0.1:{env.port(env.secure)}/", "-k", key="wdn_not_a_key")
    assert connect == 407 and code != 0
    basic = base64.b64encode(b"someone:wrong").decode()
    r = requests.get(
        url, proxies={"http": env.proxy}, headers={"Proxy-Authorization": f"Basic {basic}"}, timeout=10
    )
    assert r.status_code == 407
    assert len(env.allowed.seen) == seen


def test_every_decision_is_in_the_ledger(env):
    before = len(env.egress_records())
    env.session().get(f"http://127.0.0.1:{env.port(env.allowed)}/one", timeout=10)
    env.session().get(f"http://127.0.0.1:{env.port(env.refused)}/two", timeout=10)
    env.session(key="").get(f"http://127.0.0.1:{env.port(env.allowed)}/three", timeout=10)
    records = env.egress_records()[before:]
    assert [r["event"]["outcome"] for r in records] == ["allow", "deny"]
    urls = [r["event"]["action"]["args_redacted"]["url"] for r in records]
    assert urls[0].endswith("/one") and urls[1].endswith("/two")
    assert records[0]["event"]["action"]["args_redacted"]["address"] == "127.0.0.1"
