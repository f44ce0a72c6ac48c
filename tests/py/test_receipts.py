"""Receipts verify outside Warden: PyJWT (with `cryptography`) checks each receipt issued by
`warden ledger bench` against the JWK printed by `warden ledger public-key`."""

import json
import os
import subprocess

import jwt
import pytest

WARDEN = os.environ.get("WARDEN_BIN", "target/debug/warden")


def warden(data_dir, *args):
    env = dict(os.environ, WARDEN_DATA_DIR=str(data_dir))
    return subprocess.run(
        [WARDEN, "ledger", *args], env=env, capture_output=True, text=True, check=True
    )


@pytest.fixture()
def ledger(tmp_path):
    warden(tmp_path, "init", "--origin", "warden.test/ledger")
    out = warden(tmp_path, "bench", "--records", "5", "--agents", "2", "--print-receipts")
    receipts = [line.split("\t") for line in out.stdout.splitlines() if line]
    jwk = json.loads(warden(tmp_path, "public-key").stdout)
    return tmp_path, jwk, receipts


def test_receipts_verify_with_pyjwt_and_the_exported_jwk(ledger):
    data_dir, jwk, receipts = ledger
    assert len(receipts) == 5
    key = jwt.PyJWK(jwk)
    for seq, token in receipts:
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "EdDSA"
        assert header["kid"] == jwk["kid"]
        claims = jwt.decode(token, key.key, algorithms=["EdDSA"])
        assert claims["seq"] == int(seq)
        assert claims["iss"] == "warden.test/ledger"
        assert claims["rid"] == "rec_" + claims["leaf"][:32]
        assert claims["outcome"] in ("allow", "deny")
        assert claims["bundle"].startswith("sha256:")
        assert claims["sub"].startswith("bench-agent-")
        shown = json.loads(warden(data_dir, "show", seq).stdout)
        assert shown["hash"] == claims["leaf"]
        assert shown["id"] == claims["rid"]
        assert shown["record"].get("agent_prev") == claims.get("agent_prev")
        assert shown["record"]["event"]["outcome"] == claims["outcome"]


def test_a_tampered_receipt_fails_with_pyjwt(ledger):
    _, jwk, receipts = ledger
    header, payload, signature = receipts[0][1].split(".")
    forged = jwt.utils.base64url_decode(payload).replace(b'"seq":', b'"seq":9')
    token = ".".join([header, jwt.utils.base64url_encode(forged).decode(), signature])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["EdDSA"])


def test_the_pem_key_verifies_receipts_with_cryptography(ledger):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    data_dir, _, receipts = ledger
    pem = warden(data_dir, "public-key", "--format", "pem").stdout.encode()
    key = load_pem_public_key(pem)
    for _, token in receipts:
        signing_input, _, signature = token.rpartition(".")
        key.verify(jwt.utils.base64url_decode(signature), signing_input.encode())


def test_verify_checks_the_receipts_against_the_ledger(ledger):
    data_dir, _, receipts = ledger
    args = ["verify", "--json"]
    for _, token in receipts:
        args += ["--receipt", token]
    report = json.loads(warden(data_dir, *args).stdout)
    assert report["ok"] is True
    assert report["report"]["receipts"] == 5
