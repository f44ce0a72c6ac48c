"""The ledger after a run of `warden serve`: stopped with SIGTERM, it verifies offline (chain,
checkpoints, signatures and the receipts the agent received), and holds one decision record per
tool call and per LLM request, with the outcome and rule the agent was told, and no secret in
clear.

The module's gateway serves a fixed sequence of turns (below) and is then stopped; every test reads
what that run left behind.
"""

import json
import re
import signal

import pytest

from gateway_harness import (  # noqa: F401  (fixtures)
    API_AGENTS,
    OPENAI_MODEL,
    exchange,
    gateway,
    scratch,
    start_gateway,
    stop_and_verify,
    upstream,
    user,
    warden,
)

REC_ID = re.compile(r"\brec_[0-9a-f]{8,}\b")
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"

# (api, stream, prompt, the tool-call decisions it makes: (tool, outcome, rule))
TURNS = [
    ("chat", False, "please list the logs", [("bash", "allow", "shell-allowed")]),
    ("messages", False, "please clean up the disk", [("bash", "deny", "shell-destructive")]),
    ("responses", False, "please list the customers", [("query", "remediate", "sql-unbounded-select")]),
    ("chat", True, "please tidy up", [("bash", "allow", "shell-allowed"), ("bash", "deny", "shell-destructive")]),
    ("messages", True, "please sweep the box", [
        ("bash", "deny", "shell-destructive"),
        ("bash", "allow", "shell-allowed"),
        ("query", "remediate", "sql-unbounded-select"),
    ]),
]


@pytest.fixture(scope="module")
def run(gateway):
    """Drives TURNS and a refused prompt with a secret, stops the gateway (the ledger must
    verify), and returns what the agent received and what the ledger holds."""
    receipts, bodies = [], []
    for api, stream, prompt, _ in TURNS:
        got, body = exchange(gateway, api, stream, prompt)
        receipts += got
        bodies.append(body)
    try:
        gateway.openai().chat.completions.create(model=OPENAI_MODEL, messages=user(f"deploy with {AWS_KEY} please"))
    except Exception as error:  # noqa: BLE001  (any refusal; test_gateway_requests checks its shape)
        secret_refusal = error
    else:
        secret_refusal = None
    stop_and_verify(gateway)
    records = gateway.records()
    return {"receipts": receipts, "bodies": bodies, "refusal": secret_refusal, "records": records}


def decisions(records, kind):
    return [r for r in records if r["record"]["event"].get("type") == "decision" and r["record"]["event"]["action"]["kind"] == kind]


def test_the_ledger_verifies_with_the_receipts_the_agent_received(gateway, run):
    assert run["receipts"], "no receipts were received"
    args = ["ledger", "verify", "--json", "--data-dir", str(gateway.data_dir)]
    for token in run["receipts"]:
        args += ["--receipt", token]
    result = warden(*args, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["report"]["receipts"] == len(run["receipts"])


def test_one_decision_record_per_tool_call(run):
    expected = [decision for *_, made in TURNS for decision in made]
    recorded = [
        (r["record"]["event"]["action"].get("tool"), r["record"]["event"]["outcome"], r["record"]["event"]["rule_ids"])
        for r in decisions(run["records"], "tool_call")
    ]
    assert len(recorded) == len(expected), recorded
    # Parallel calls may be recorded in either order; each call's decision must be there once.
    assert sorted((tool, outcome) for tool, outcome, _ in recorded) == sorted((t, o) for t, o, _ in expected)
    for tool, outcome, rule in expected:
        assert any(t == tool and o == outcome and rule in rules for t, o, rules in recorded), (tool, outcome, rule, recorded)


def test_one_decision_record_per_llm_request(run):
    requests = decisions(run["records"], "llm_request")
    outcomes = sorted(r["record"]["event"]["outcome"] for r in requests)
    assert outcomes == ["allow"] * len(TURNS) + ["deny"], outcomes
    [refused] = [r for r in requests if r["record"]["event"]["outcome"] == "deny"]
    assert "secrets-in-prompt" in refused["record"]["event"]["rule_ids"]
    assert run["refusal"] is not None and getattr(run["refusal"], "status_code", None) == 403


def test_records_name_the_agent(run):
    agents = sorted(r["record"]["actor"].get("agent_id") for r in decisions(run["records"], "llm_request"))
    expected = sorted([API_AGENTS[api] for api, *_ in TURNS] + [API_AGENTS["chat"]])
    assert agents == expected
    for r in decisions(run["records"], "tool_call"):
        assert r["record"]["actor"].get("agent_id") in API_AGENTS.values(), r


def test_blocked_text_names_deny_records_of_this_ledger(run):
    named = {rid for body in run["bodies"] for rid in REC_ID.findall(body)}
    denies = {r["id"] for r in decisions(run["records"], "tool_call") if r["record"]["event"]["outcome"] == "deny"}
    assert named == denies, (named, denies)


def test_no_secret_in_clear_in_the_ledger(run):
    assert AWS_KEY not in json.dumps(run["records"])


def test_remediations_record_the_rewrite(run):
    remediated = [r for r in decisions(run["records"], "tool_call") if r["record"]["event"]["outcome"] == "remediate"]
    assert len(remediated) == 2
    for r in remediated:
        assert "LIMIT 1000" in json.dumps(r["record"]["event"].get("rewrite")), r


def test_sigint_stops_the_gateway_cleanly_and_the_ledger_verifies(upstream, scratch):
    gw = start_gateway(scratch, upstream.url)
    try:
        gw.client("chat").chat.completions.create(model=OPENAI_MODEL, messages=user("hi"))
    finally:
        gw.stopped = True
        code = gw.server.stop(signal.SIGINT)
    assert code == 0, gw.server.log()[-4000:]
    verified = gw.verify()
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert [r["record"]["event"]["outcome"] for r in decisions(gw.records(), "llm_request")] == ["allow"]
