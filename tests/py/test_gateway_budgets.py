"""Budgets through `warden serve`, driven by the official `openai` and `anthropic` SDKs on the
agent side and `warden budgets` on the operator side.

The module runs its own mock provider (data/budgets-script.yaml) and a gateway whose prices make
the arithmetic plain: 1 micro-dollar per input token and 2 per output token for both models. Every
run (`Warden-Run-Id`) gets a total budget of $0.0013; calls without a run id have no limit.
"""

import concurrent.futures
import json
import os
import pathlib
import subprocess
import tempfile
import time

import anthropic
import openai
import pytest

from gateway_harness import PROVIDER_KEY, WARDEN, Listener, ServedGateway, stop_and_verify

SCRIPT = pathlib.Path(__file__).resolve().parent / "data/budgets-script.yaml"
BUNDLE = pathlib.Path(__file__).resolve().parents[2] / "policies/baseline"
OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"
RUN_LIMIT_MICROS = 1300
AGENT = "budget-bot"
SETTLE_TIMEOUT_S = 10


class BudgetGateway(ServedGateway):
    """A `warden serve` with budgets on, the agent's key and an admin operator token."""

    def __init__(self, workdir, upstream_url):
        self.workdir = pathlib.Path(workdir)
        self.data_dir = self.workdir / "data"
        self.config = self.workdir / "warden.yaml"
        self.config.write_text(
            f"""\
listen: {{ agents: "127.0.0.1:0", admin: "127.0.0.1:0" }}
data_dir: ./data
policy: {{ bundle: {json.dumps(str(BUNDLE))} }}
providers:
  mock-openai: {{ kind: openai, base_url: "{upstream_url}", api_key_env: WARDEN_TEST_PROVIDER_KEY }}
  mock-anthropic: {{ kind: anthropic, base_url: "{upstream_url}", api_key_env: WARDEN_TEST_PROVIDER_KEY }}
agents:
  {AGENT}: {{ tenant: acme, team: research }}
limits: {{ max_concurrent_streams: 64, upstream_timeout: 10s }}
budgets:
  prices:
    {OPENAI_MODEL}: {{ input: 1.0, cached_input: 0.1, output: 2.0, max_output_tokens: 400 }}
    {ANTHROPIC_MODEL}: {{ input: 1.0, cached_input: 0.1, output: 2.0, max_output_tokens: 400 }}
  limits:
    - {{ scope: run, window: total, usd: {RUN_LIMIT_MICROS / 1e6} }}
  reservation_ttl: 1m
"""
        )
        self.env = dict(os.environ, WARDEN_TEST_PROVIDER_KEY=PROVIDER_KEY)
        self.key = self._one_line("keys", "create", "--agent", AGENT)
        self.token = self._one_line("admin", "token", "create", "--name", "ops", "--role", "admin")
        self._serve()

    def openai(self, run=None):
        headers = {"Warden-Run-Id": run} if run else {}
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=self.key, max_retries=0, timeout=30, default_headers=headers
        )

    def anthropic(self, run=None):
        headers = {"Warden-Run-Id": run} if run else {}
        return anthropic.Anthropic(
            base_url=self.url, api_key=self.key, max_retries=0, timeout=30, default_headers=headers
        )

    def cli(self, *args):
        """`warden budgets ARGS` against the admin API as the admin operator."""
        env = dict(self.env, WARDEN_ADMIN_URL=self.server.admin_url, WARDEN_ADMIN_TOKEN=self.token)
        return subprocess.run([WARDEN, "budgets", *args], capture_output=True, text=True, env=env, timeout=60)

    def budget(self, scope, window="total"):
        """The scope's budget line for `window` from `warden budgets show --json`."""
        out = self.cli("show", scope, "--json")
        assert out.returncode == 0, out.stderr
        lines = [b for b in json.loads(out.stdout)["budgets"] if b["window"] == window]
        assert len(lines) == 1, out.stdout
        return lines[0]

    def settled(self, scope):
        """The scope's total budget once nothing is reserved on it any more."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            line = self.budget(scope)
            if line["reserved_micro_usd"] == 0:
                return line
            if time.monotonic() > deadline:
                raise AssertionError(f"{scope} still has reservations: {line}")
            time.sleep(0.05)

    def spends(self, run, count):
        """The ledger's budget spend records of `run`, oldest first, once there are `count` of them
        (one per call: spend records follow the settlement into the ledger in the background)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            spends = [
                r["event"]
                for r in self.records()
                if r["event"]["type"] == "budget" and r.get("actor", {}).get("run_id") == run
            ]
            if len(spends) >= count:
                return spends
            if time.monotonic() > deadline:
                raise AssertionError(f"{run} has {len(spends)} spend records, expected {count}: {spends}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def gw():
    with tempfile.TemporaryDirectory(prefix="warden-e2e-budgets-") as workdir:
        mock = Listener(
            ["mock-provider", "--script", str(SCRIPT), "--listen", "127.0.0.1:0"],
            pathlib.Path(workdir) / "mock.log",
        )
        try:
            gateway = BudgetGateway(workdir, mock.url)
            try:
                yield gateway
            finally:
                if not gateway.stopped:
                    stop_and_verify(gateway)
        finally:
            mock.stop()


def cost(input_tokens, output_tokens):
    """Micro-dollars at this module's prices."""
    return input_tokens * 1 + output_tokens * 2


def chat(client, text, max_tokens=50):
    return client.chat.completions.create(
        model=OPENAI_MODEL, messages=[{"role": "user", "content": text}], max_tokens=max_tokens
    )


def test_fifty_parallel_calls_never_spend_more_than_the_budget(gw):
    run = "conc-1"
    client = gw.openai(run)

    def attempt(i):
        try:
            return chat(client, f"request {i}")
        except openai.APIStatusError as e:
            return e

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(50)))
    served = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    # Each call reserves its input plus 50 output tokens (about 130 micro-dollars) and the mock
    # uses all 50, so about ten fit in $0.0013.
    assert 5 <= len(served) <= 20, (len(served), refused[:1])
    assert refused, "every call was served"
    for error in refused:
        assert error.status_code == 402, error
        assert f"run:{run}" in error.message, error.message
        assert "limit $0.0013" in error.message, error.message
        assert "never resets" in error.message, error.message
    line = gw.settled(f"run:{run}")
    assert line["spent_micro_usd"] <= RUN_LIMIT_MICROS, line
    expected = sum(cost(r.usage.prompt_tokens, r.usage.completion_tokens) for r in served)
    assert line["spent_micro_usd"] == expected, (line, expected)
    spends = gw.spends(run, len(results))
    settled = [s for s in spends if s["outcome"] == "settled"]
    assert len(settled) == len(served)
    assert len([s for s in spends if s["outcome"] == "refused"]) == len(refused)
    assert sum(s["settled_micro_usd"] for s in settled) == expected
    # Every settled record carries the balance after it.
    assert all(s["balances"][0]["scope"] == f"run:{run}" for s in settled)


def test_settlement_matches_the_providers_usage_to_the_cent(gw):
    run = "exact-1"
    answer = chat(gw.openai(run), "what does it cost", max_tokens=30)
    first = cost(answer.usage.prompt_tokens, answer.usage.completion_tokens)
    assert gw.settled(f"run:{run}")["spent_micro_usd"] == first
    with gw.anthropic(run).messages.stream(
        model=ANTHROPIC_MODEL, max_tokens=40, messages=[{"role": "user", "content": "and streamed"}]
    ) as stream:
        message = stream.get_final_message()
    second = cost(message.usage.input_tokens, message.usage.output_tokens)
    line = gw.settled(f"run:{run}")
    assert line["spent_micro_usd"] == first + second, (line, first, second)
    decision_costs = [s["settled_micro_usd"] for s in gw.spends(run, 2)]
    assert decision_costs == [first, second]


def test_max_tokens_is_set_to_what_the_budget_leaves(gw):
    run = "clamp-1"
    # Without max_tokens a call may use the model's 400 output tokens (the mock's answer is about
    # 225); spend most of the run's budget first so that fewer remain affordable.
    chat(gw.openai(run), "first", max_tokens=400)
    chat(gw.openai(run), "second", max_tokens=400)
    left = gw.settled(f"run:{run}")["remaining_micro_usd"]
    assert left < 2 * 225, left
    answer = gw.openai(run).chat.completions.create(
        model=OPENAI_MODEL, messages=[{"role": "user", "content": "second"}]
    )
    assert answer.choices[0].finish_reason == "length"
    assert cost(answer.usage.prompt_tokens, answer.usage.completion_tokens) <= left
    assert gw.settled(f"run:{run}")["spent_micro_usd"] <= RUN_LIMIT_MICROS


def test_a_stream_cut_by_its_reservation_ends_cleanly_for_the_openai_sdk(gw):
    run = "cut-openai"
    stream = gw.openai(run).chat.completions.create(
        model=OPENAI_MODEL, messages=[{"role": "user", "content": "overrun please"}], max_tokens=20, stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert text.startswith("The quick brown fox")
    assert len(text) < 200, text
    # The agent did not ask for usage, so no usage chunk reaches it.
    assert all(c.usage is None for c in chunks)
    spends = gw.settled(f"run:{run}") and gw.spends(run, 1)
    assert [s["outcome"] for s in spends] == ["cut"]
    # Settled from the usage the provider reported after the cut (it overran max_tokens).
    assert spends[0]["output_tokens"] > 20


def test_a_stream_cut_by_its_reservation_ends_cleanly_for_the_anthropic_sdk(gw):
    run = "cut-anthropic"
    with gw.anthropic(run).messages.stream(
        model=ANTHROPIC_MODEL, max_tokens=20, messages=[{"role": "user", "content": "overrun please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert message.stop_reason == "max_tokens"
    assert text.startswith("The quick brown fox") and len(text) < 100, text
    assert message.content[0].text == text
    gw.settled(f"run:{run}")
    assert [s["outcome"] for s in gw.spends(run, 1)] == ["cut"]


def test_the_reservation_of_a_stream_killed_midway_is_released(gw):
    run = "killed-1"
    stream = gw.openai(run).chat.completions.create(
        model=OPENAI_MODEL, messages=[{"role": "user", "content": "answer slowly"}], max_tokens=300, stream=True
    )
    received = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            received += 1
            if received == 3:
                break
    stream.close()
    reserved = gw.budget(f"run:{run}")["reserved_micro_usd"]
    line = gw.settled(f"run:{run}")
    # Charged for the prompt and the output that passed, far below the 600+ micro-dollars held.
    assert 0 < line["spent_micro_usd"] < 200, (line, reserved)
    assert [s["outcome"] for s in gw.spends(run, 1)] == ["aborted"]
    listed = gw.cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["outstanding_reservations"] == 0


def test_operators_set_show_and_reset_budgets_with_the_cli(gw):
    run = "ops-1"
    # Ten micro-dollars do not pay for any prompt.
    set_ = gw.cli("set", f"run:{run}", "--window", "day", "--usd", "0.00001")
    assert set_.returncode == 0, set_.stderr
    assert "operator" in set_.stdout and "$0.000010" in set_.stdout, set_.stdout
    with pytest.raises(openai.APIStatusError) as refused:
        chat(gw.openai(run), "too dear", max_tokens=100)
    assert refused.value.status_code == 402
    assert f"run:{run} (day window)" in refused.value.message
    assert "resets at" in refused.value.message
    # The same refusal in Anthropic's error shape.
    with pytest.raises(anthropic.APIStatusError) as refused_anthropic:
        gw.anthropic(run).messages.create(
            model=ANTHROPIC_MODEL, max_tokens=50, messages=[{"role": "user", "content": "too dear"}]
        )
    assert refused_anthropic.value.status_code == 402
    assert refused_anthropic.value.body["error"]["type"] == "billing_error"
    assert f"run:{run}" in refused_anthropic.value.message
    cleared = gw.cli("set", f"run:{run}", "--window", "day", "--clear")
    assert cleared.returncode == 0, cleared.stderr
    chat(gw.openai(run), "affordable now", max_tokens=10)
    assert gw.settled(f"run:{run}")["spent_micro_usd"] > 0
    reset = gw.cli("reset", f"run:{run}")
    assert reset.returncode == 0, reset.stderr
    assert gw.budget(f"run:{run}")["spent_micro_usd"] == 0
    listed = gw.cli("list")
    assert listed.returncode == 0 and "run:*" in listed.stdout, listed.stdout
    bad = gw.cli("show", "user:bob")
    assert bad.returncode == 2 and "scope kind" in bad.stderr, bad.stderr
