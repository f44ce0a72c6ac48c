"""Policy hot reload in `warden serve` (`policy.reload: true`): a rule added to the bundle on disk
takes effect without a restart, a bundle that fails to load leaves the last good one in force,
and removing the rule restores the earlier decisions. Runs on a copy of policies/baseline.
"""

import shutil
import time

import pytest

from gateway_harness import BUNDLE, chat_request, scratch, start_gateway, stop_and_verify, upstream  # noqa: F401

PROMPT = "please list the logs"
NO_BASH = """\
name: e2e-no-bash
rules:
  - id: e2e-no-bash
    kinds: [tool_call]
    tools: [bash]
    decision: deny
    reason: This test forbids bash.
"""
RELOAD_WAIT_S = 15


@pytest.fixture()
def reloading(upstream, scratch):
    """(a gateway serving a copy of the baseline bundle, that copy's directory)."""
    bundle = scratch / "bundle"
    shutil.copytree(BUNDLE, bundle)
    (scratch / "gateway").mkdir()
    gw = start_gateway(scratch / "gateway", upstream.url, bundle)
    try:
        yield gw, bundle
    finally:
        if not gw.stopped:
            stop_and_verify(gw)


def listing(gw):
    """The delivered calls, or the text that replaced them."""
    message = gw.client("chat").chat.completions.create(**chat_request(PROMPT)).choices[0].message
    return [c.function.name for c in message.tool_calls] if message.tool_calls else message.content


def wait_for(gw, wanted):
    """Polls until `wanted(listing(gw))` holds; returns the last listing."""
    deadline = time.monotonic() + RELOAD_WAIT_S
    while True:
        got = listing(gw)
        if wanted(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.25)


def test_rules_reload_without_a_restart_and_a_bad_bundle_keeps_the_last_good_one(reloading):
    gw, bundle = reloading
    assert listing(gw) == ["bash"]

    (bundle / "e2e-no-bash.yaml").write_text(NO_BASH)
    denied = wait_for(gw, lambda got: isinstance(got, str))
    assert isinstance(denied, str) and "e2e-no-bash" in denied, f"the new rule did not take effect: {denied!r}"

    (bundle / "broken.yaml").write_text("rules: [ {id: broken, decision: \n")
    time.sleep(2)
    still = listing(gw)
    assert isinstance(still, str) and "e2e-no-bash" in still, f"a bad bundle replaced the last good one: {still!r}"

    (bundle / "broken.yaml").unlink()
    (bundle / "e2e-no-bash.yaml").unlink()
    assert wait_for(gw, lambda got: got == ["bash"]) == ["bash"]

    stop_and_verify(gw)
    loads = [r["record"]["event"] for r in gw.records() if r["record"]["event"].get("type") == "policy_load"]
    rejected = [load for load in loads if load.get("error")]
    applied = [load["bundle_digest"] for load in loads if not load.get("error")]
    assert rejected, f"the rejected bundle is not in the ledger: {loads}"
    assert len(set(applied)) >= 2, f"the reloads are not in the ledger: {loads}"
    # The bundle is back to its first content, so to its first digest.
    assert applied[-1] == applied[0], loads
