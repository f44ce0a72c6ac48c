"""The AuthZEN API's HTTP contract: authentication of the calling PEP, X-Request-ID, 400 on a
missing required field, unknown fields ignored, batch defaults and evaluation semantics, the
metadata document, and a ledger record for every decision."""

import pathlib
import tempfile

import pytest
import requests

from enforcement_harness import Warden

BUNDLE = """\
rules:
  - id: readers
    kinds: [authzen]
    when: authzen.action.name == "can_read" && authzen.subject.id in ["alice", "bob"]
    decision: allow
    reason: Alice and Bob read everything.
  - id: alice-writes
    kinds: [authzen]
    when: >
      authzen.action.name == "can_write" && authzen.subject.id == "alice" &&
      authzen.context.network == "office"
    decision: allow
    reason: Alice writes from the office.
  - id: held
    kinds: [authzen]
    when: authzen.action.name == "can_delete"
    decision: require_approval
    reason: Deletes need a human.
default: deny
"""


@pytest.fixture(scope="module")
def pdp():
    with tempfile.TemporaryDirectory(prefix="warden-e2e-authzen-api-") as workdir:
        bundle = pathlib.Path(workdir) / "bundle"
        bundle.mkdir()
        (bundle / "authzen.yaml").write_text(BUNDLE)
        config = """\
listen: { agents: "127.0.0.1:0", admin: "127.0.0.1:0" }
data_dir: ./data
policy: { bundle: ./bundle, reload: false }
agents:
  pep: {}
  not-a-pep: {}
authzen: { clients: [pep], max_evaluations: 3 }
"""
        server = Warden(workdir, config, ["pep", "not-a-pep"])
        try:
            yield server
        finally:
            server.stop_and_verify()


def call(pdp, path, body, key=None, headers=None):
    key = pdp.keys["pep"] if key is None else key
    h = {"Authorization": f"Bearer {key}"} if key else {}
    h.update(headers or {})
    return requests.post(pdp.url + path, json=body, headers=h, timeout=10)


def ask(subject="alice", action="can_read", **extra):
    body = {
        "subject": {"type": "user", "id": subject},
        "action": {"name": action},
        "resource": {"type": "doc", "id": "1"},
    }
    body.update(extra)
    return body


def test_permit_and_deny_are_200_with_the_decision(pdp):
    r = call(pdp, "/access/v1/evaluation", ask())
    assert r.status_code == 200 and r.json() == {"decision": True}
    r = call(pdp, "/access/v1/evaluation", ask("mallory"))
    assert r.status_code == 200 and r.json() == {"decision": False}
    assert r.headers["warden-record"].startswith("rec_")


def test_require_approval_is_not_a_permit(pdp):
    assert call(pdp, "/access/v1/evaluation", ask(action="can_delete")).json() == {"decision": False}


def test_context_reaches_the_rules(pdp):
    assert call(pdp, "/access/v1/evaluation", ask(action="can_write")).json() == {"decision": False}
    office = ask(action="can_write", context={"network": "office"})
    assert call(pdp, "/access/v1/evaluation", office).json() == {"decision": True}


def test_x_request_id_is_echoed_on_answers_and_errors(pdp):
    r = call(pdp, "/access/v1/evaluation", ask(), headers={"X-Request-ID": "req-42"})
    assert r.headers["x-request-id"] == "req-42"
    r = call(pdp, "/access/v1/evaluation", {"subject": {}}, headers={"X-Request-ID": "req-43"})
    assert r.status_code == 400 and r.headers["x-request-id"] == "req-43"


@pytest.mark.parametrize(
    "drop, field",
    [("subject", "subject"), ("action", "action"), ("resource", "resource")],
)
def test_a_missing_required_field_is_400_naming_it(pdp, drop, field):
    body = ask()
    del body[drop]
    r = call(pdp, "/access/v1/evaluation", body)
    assert r.status_code == 400 and f"`{field}`" in r.json()["error"]["message"]
    body = ask()
    del body["subject"]["id"]
    r = call(pdp, "/access/v1/evaluation", body)
    assert r.status_code == 400 and "`subject.id`" in r.json()["error"]["message"]


def test_bad_json_is_400(pdp):
    r = requests.post(
        pdp.url + "/access/v1/evaluation",
        data=b"{not json",
        headers={"Authorization": f"Bearer {pdp.keys['pep']}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 400


def test_unknown_fields_are_ignored(pdp):
    body = ask(extension={"anything": [1, 2]})
    body["subject"]["nickname"] = "al"
    assert call(pdp, "/access/v1/evaluation", body).json() == {"decision": True}


def test_the_pep_must_present_a_key_of_an_authzen_client(pdp):
    r = call(pdp, "/access/v1/evaluation", ask(), key="")
    assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
    assert call(pdp, "/access/v1/evaluation", ask(), key="wdn_bogus_key").status_code == 401
    r = call(pdp, "/access/v1/evaluation", ask(), key=pdp.keys["not-a-pep"])
    assert r.status_code == 403 and "authzen.clients" in r.json()["error"]["message"]


def test_batch_defaults_are_overridden_per_item(pdp):
    body = {
        "subject": {"type": "user", "id": "alice"},
        "action": {"name": "can_read"},
        "evaluations": [
            {"resource": {"type": "doc", "id": "1"}},
            {"subject": {"type": "user", "id": "mallory"}, "resource": {"type": "doc", "id": "2"}},
            {"action": {"name": "can_write"}, "resource": {"type": "doc", "id": "3"}, "context": {"network": "office"}},
        ],
    }
    r = call(pdp, "/access/v1/evaluations", body)
    assert r.status_code == 200
    assert r.json() == {"evaluations": [{"decision": True}, {"decision": False}, {"decision": True}]}
    assert len(r.headers["warden-record"].split(", ")) == 3


def test_evaluation_semantics_short_circuit(pdp):
    items = [{"subject": {"type": "user", "id": s}} for s in ("alice", "mallory", "bob")]
    base = {"action": {"name": "can_read"}, "resource": {"type": "doc", "id": "1"}, "evaluations": items}
    expected = {
        "execute_all": [True, False, True],
        "deny_on_first_deny": [True, False],
        "permit_on_first_permit": [True],
    }
    for semantic, decisions in expected.items():
        r = call(pdp, "/access/v1/evaluations", {**base, "options": {"evaluations_semantic": semantic}})
        assert r.json() == {"evaluations": [{"decision": d} for d in decisions]}, semantic
    r = call(pdp, "/access/v1/evaluations", {**base, "options": {"evaluations_semantic": "whatever"}})
    assert r.status_code == 400


def test_a_batch_without_evaluations_answers_like_a_single_evaluation(pdp):
    assert call(pdp, "/access/v1/evaluations", ask()).json() == {"decision": True}


def test_batches_over_the_limit_are_refused(pdp):
    body = ask(evaluations=[{}] * 4)
    r = call(pdp, "/access/v1/evaluations", body)
    assert r.status_code == 400 and "limit is 3" in r.json()["error"]["message"]


def test_metadata_names_the_endpoints(pdp):
    r = requests.get(pdp.url + "/.well-known/authzen-configuration", timeout=10)
    assert r.status_code == 200
    meta = r.json()
    assert meta["issuer"] == pdp.url
    assert meta["access_evaluation_endpoint"] == pdp.url + "/access/v1/evaluation"
    assert meta["access_evaluations_endpoint"] == pdp.url + "/access/v1/evaluations"


def test_every_decision_is_recorded_with_the_tuple(pdp):
    before = len(pdp.records())
    r = call(pdp, "/access/v1/evaluation", ask("bob", context={"ip": "10.1.2.3"}))
    rec_id = r.headers["warden-record"]
    records = pdp.records()[before:]
    assert [x["id"] for x in records] == [rec_id]
    event = records[0]["record"]["event"]
    assert event["outcome"] == "allow" and event["rule_ids"] == ["readers"]
    assert event["action"]["kind"] == "authzen" and event["action"]["tool"] == "can_read"
    assert event["action"]["args_redacted"]["subject"]["id"] == "bob"
    assert event["action"]["args_redacted"]["context"] == {"ip": "10.1.2.3"}
    assert records[0]["record"]["actor"]["agent_id"] == "pep"
