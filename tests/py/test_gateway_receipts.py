"""Receipts from `warden serve`: a non-streaming response carries one `Warden-Receipt` header value
per decision (the request's and each tool call's); a stream carries them as SSE comment lines
`: warden-receipt <jws>`, which the SDKs skip. Each receipt verifies with PyJWT against the
ledger's public key, names its ledger record, and the record id in a blocked call's text is the
id of the deny receipt.
"""

import json
import re

import anthropic
import jwt
import openai
import pytest

from gateway_harness import (  # noqa: F401  (fixtures)
    API_AGENTS,
    chat_request,
    exchange,
    gateway,
    header_receipts,
    messages_request,
    upstream,
    verified_claims,
    warden,
)

REC_ID = re.compile(r"\brec_[0-9a-f]{8,}\b")


STREAMING = [pytest.param(False, id="create"), pytest.param(True, id="stream")]
APIS = ["chat", "responses", "messages"]


@pytest.mark.parametrize("stream", STREAMING)
@pytest.mark.parametrize("api", APIS)
def test_every_decision_has_a_receipt_that_verifies(gateway, api, stream):
    receipts, body = exchange(gateway, api, stream, "please tidy up")
    claims = verified_claims(gateway, receipts)
    # The request, the allowed `ls -la /tmp` and the denied `rm -rf /`.
    assert sorted(c["outcome"] for c in claims) == ["allow", "allow", "deny"], claims
    assert len({c["rid"] for c in claims}) == 3
    for c in claims:
        assert c["rid"] == "rec_" + c["leaf"][:32]
        assert c["sub"] == API_AGENTS[api]
        assert c["bundle"].startswith("sha256:")
    [deny] = [c for c in claims if c["outcome"] == "deny"]
    assert deny["rid"] in REC_ID.findall(body), f"the blocked call's text does not name {deny['rid']}: {body}"


@pytest.mark.parametrize("stream", STREAMING)
@pytest.mark.parametrize("api", APIS)
def test_remediation_has_its_own_receipt(gateway, api, stream):
    receipts, _ = exchange(gateway, api, stream, "please list the customers")
    claims = verified_claims(gateway, receipts)
    assert sorted(c["outcome"] for c in claims) == ["allow", "remediate"], claims


def test_receipts_name_records_in_the_ledger(gateway):
    receipts, _ = exchange(gateway, "chat", False, "please clean up the disk")
    claims = verified_claims(gateway, receipts)
    assert claims, "no receipts"
    for c in claims:
        shown = json.loads(warden("ledger", "show", c["rid"], "--data-dir", str(gateway.data_dir)).stdout)
        assert shown["id"] == c["rid"]
        assert shown["seq"] == c["seq"]
        assert shown["hash"] == c["leaf"]
        assert shown["record"]["event"]["outcome"] == c["outcome"]


def test_a_forged_receipt_does_not_verify(gateway):
    receipts, _ = exchange(gateway, "messages", False, "please list the logs")
    assert receipts, "no receipts"
    header, payload, signature = receipts[0].split(".")
    forged = jwt.utils.base64url_decode(payload).replace(b'"deny"', b'"allow"').replace(b'"seq":', b'"seq":9')
    token = ".".join([header, jwt.utils.base64url_encode(forged).decode(), signature])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, gateway.public_key().key, algorithms=["EdDSA"])


def test_a_refused_prompt_carries_its_deny_receipt(gateway):
    prompt = "deploy with AKIAIOSFODNN7EXAMPLE please"
    with pytest.raises(openai.PermissionDeniedError) as chat_refusal:
        gateway.client("chat").chat.completions.create(**chat_request(prompt))
    with pytest.raises(anthropic.PermissionDeniedError) as messages_refusal:
        gateway.client("messages").messages.create(**messages_request(prompt))
    for refusal in (chat_refusal.value, messages_refusal.value):
        claims = verified_claims(gateway, header_receipts(refusal.response.headers))
        assert [c["outcome"] for c in claims] == ["deny"]
