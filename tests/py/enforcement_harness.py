"""A `warden serve` for the AuthZEN and egress end-to-end tests (test_authzen_*.py,
test_egress.py): a given bundle, given agents and keys, and the addresses of every listener it
announces (`listening on`, `admin on`, `egress on`).

The gateway harness (gateway_harness.py) runs the LLM tests against the baseline bundle and the
mock provider; these tests need their own bundle and configuration sections, and no provider.
"""

import pathlib
import queue
import signal
import subprocess
import threading

from gateway_harness import STOP_TIMEOUT_S, START_TIMEOUT_S, WARDEN, warden

ANNOUNCED = {"listening on ": "agents", "admin on ": "admin", "egress on ": "egress"}


class Warden:
    """`warden serve` with `config_text` in `workdir`; `keys[agent]` holds each agent's key."""

    def __init__(self, workdir, config_text, agents, expect=("agents", "admin")):
        self.workdir = pathlib.Path(workdir)
        self.config = self.workdir / "warden.yaml"
        self.config.write_text(config_text)
        self.data_dir = self.workdir / "data"
        self.keys = {agent: self._create_key(agent) for agent in agents}
        self.log_path = self.workdir / "serve.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [WARDEN, "serve", "--config", str(self.config)], stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        self.urls = {}
        try:
            self._read_addresses(expect)
        except BaseException:
            self.stop()
            raise
        self.url = self.urls["agents"]

    def _create_key(self, agent):
        out = warden("keys", "create", "--agent", agent, "--config", str(self.config)).stdout
        return out.strip()

    def _read_addresses(self, expect):
        # One reader thread for stdout (announcements, then drained); select() cannot be used
        # after the first readline, which may buffer every announced line at once.
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.proc.stdout], daemon=True).start()
        while not all(name in self.urls for name in expect):
            try:
                line = lines.get(timeout=START_TIMEOUT_S).strip()
            except queue.Empty:
                line = ""
            if not line:
                raise RuntimeError(f"warden serve announced {self.urls} only: {self.log()}")
            for prefix, name in ANNOUNCED.items():
                if line.startswith(prefix):
                    self.urls[name] = line.removeprefix(prefix)

    def log(self):
        """serve's stderr so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        """SIGTERM, then the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def stop_and_verify(self):
        """Stops the gateway and asserts a clean exit and a ledger that verifies."""
        code = self.stop()
        assert code == 0, f"warden serve exited {code}: {self.log()[-4000:]}"
        verified = warden("ledger", "verify", "--data-dir", str(self.data_dir), check=False)
        assert verified.returncode == 0, f"ledger verify failed: {verified.stdout}{verified.stderr}"

    def records(self):
        """Every ledger record (`{seq, id, hash, record}`), oldest first."""
        import json

        out = warden("ledger", "tail", "-n", "1000000", "--data-dir", str(self.data_dir)).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]
