"""The AuthZEN interop decision files, run over HTTP against a Warden serving the
examples/authzen-interop bundle, compared exactly as the upstream harnesses compare them
(single evaluations: the boolean `decision`; batches: the `evaluations` array, exactly)."""

import importlib.util
import tempfile

import pytest

from enforcement_harness import Warden
from gateway_harness import REPO

FIXTURES = REPO.parent / "shared/authzen-interop"
FILES = ["todo/decisions-authorization-api-1_0-02.json", "api-gateway/decisions.json"]
BUNDLE = REPO / "examples/authzen-interop"

_spec = importlib.util.spec_from_file_location("interop", BUNDLE / "interop.py")
interop = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(interop)

CONFIG = f"""\
listen: {{ agents: "127.0.0.1:0", admin: "127.0.0.1:0" }}
data_dir: ./data
policy: {{ bundle: "{BUNDLE}", reload: false }}
agents:
  todo-pep: {{ team: interop }}
authzen:
  clients: [todo-pep]
"""


@pytest.fixture(scope="module")
def pdp():
    with tempfile.TemporaryDirectory(prefix="warden-e2e-authzen-") as workdir:
        server = Warden(workdir, CONFIG, ["todo-pep"])
        try:
            yield server
        finally:
            server.stop_and_verify()


@pytest.mark.parametrize("name", FILES)
def test_every_interop_case_passes(pdp, name):
    path = FIXTURES / name
    assert path.is_file(), f"interop fixtures missing at {path}"
    results = interop.run_file(pdp.url, pdp.keys["todo-pep"], path)
    failures = [(kind, i, expected, got) for kind, i, _, expected, got, ok in results if not ok]
    assert not failures, failures
    kinds = {kind for kind, *_ in results}
    assert "evaluation" in kinds
    if name.startswith("todo/"):
        assert sum(1 for r in results if r[0] == "evaluations") == 3
        assert sum(1 for r in results if r[0] == "evaluation") == 40
    else:
        assert len(results) == 25


def test_every_interop_decision_is_in_the_ledger(pdp):
    before = len(pdp.records())
    results = interop.run_file(pdp.url, pdp.keys["todo-pep"], FIXTURES / FILES[0])
    decided = sum(len(expected) if kind == "evaluations" else 1 for kind, _, _, expected, _, _ in results)
    records = pdp.records()[before:]
    authzen = [r for r in records if r["record"]["event"].get("action", {}).get("kind") == "authzen"]
    assert len(authzen) == decided == 46
    assert all(r["record"]["actor"]["agent_id"] == "todo-pep" for r in authzen)
