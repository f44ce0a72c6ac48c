#!/usr/bin/env python3
"""Runs the AuthZEN interop decision files against a running PDP, compared as the upstream
harnesses compare them: for each `evaluation` case the response's `decision` must equal the
expected boolean; for each `evaluations` case the response's `evaluations` array must equal the
expected array exactly.

    python3 examples/authzen-interop/interop.py --pdp http://127.0.0.1:8080 --token "$KEY" \
        ../shared/authzen-interop/todo/decisions-authorization-api-1_0-02.json \
        ../shared/authzen-interop/api-gateway/decisions.json

Exit status 0 when every case passes. Standard library only.
"""

import argparse
import json
import sys
import urllib.request

ENDPOINTS = {"evaluation": "/access/v1/evaluation", "evaluations": "/access/v1/evaluations"}


def post(pdp, token, path, body):
    """POSTs `body` as JSON; returns the decoded JSON answer (raises on a non-2xx status)."""
    request = urllib.request.Request(
        pdp.rstrip("/") + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def run_file(pdp, token, path):
    """Every case of one decisions file: a list of (kind, index, request, expected, got, ok)."""
    with open(path) as f:
        cases = json.load(f)
    results = []
    for kind, endpoint in ENDPOINTS.items():
        for i, case in enumerate(cases.get(kind, [])):
            answer = post(pdp, token, endpoint, case["request"])
            got = answer.get("decision") if kind == "evaluation" else answer.get("evaluations")
            results.append((kind, i, case["request"], case["expected"], got, got == case["expected"]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdp", required=True, help="base URL of the PDP")
    parser.add_argument("--token", required=True, help="bearer token of an AuthZEN client")
    parser.add_argument("files", nargs="+", help="interop decisions files")
    args = parser.parse_args()
    failed = 0
    for path in args.files:
        results = run_file(args.pdp, args.token, path)
        for kind, i, request, expected, got, ok in results:
            if not ok:
                failed += 1
                print(f"FAIL {path} {kind}[{i}]: expected {expected}, got {got}: {json.dumps(request)}")
        passed = sum(1 for r in results if r[5])
        print(f"{path}: {passed}/{len(results)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
