"""The hub as a separate process, started the way the README starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.support.network import TEST_SECRETS_KEY


def hub_command() -> list[str]:
    """The ``ocpi-hub`` console script installed beside the interpreter running the tests."""
    script = Path(sys.executable).parent / "ocpi-hub"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hub.cli"]


def wait_http_ok(proc: subprocess.Popen[bytes], url: str, timeout: float, output: Callable[[], str]) -> None:
    """Poll ``url`` until it answers 200; fail early, with the process's ``output``, if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n{output()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready in {timeout}s:\n{output()}")


class HubProcess:
    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log
        self._log = open(log, "ab")
        # No drain delay unless a test asks for one: stopping would otherwise wait OCPI_HUB_DRAIN_SECONDS.
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("OCPI_HUB_")}
        full_env |= {"OCPI_HUB_DRAIN_SECONDS": "0"} | env
        if "OCPI_HUB_DATABASE_URL" in env:
            # A hub on an external database needs the key that seals tokens; every test hub shares one.
            full_env.setdefault("OCPI_HUB_SECRETS_KEY", TEST_SECRETS_KEY)
        self.proc = subprocess.Popen(
            [*hub_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=full_env, stdout=self._log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_http_ok(self.proc, f"{self.base_url}/readyz", timeout, self.output)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")
