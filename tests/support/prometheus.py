"""A real Prometheus for the tests: Debian's ``prometheus`` package (server and ``promtool``), installed by
the test suite itself when it is missing, and run on loopback against a hub the test serves.

The README's test command stays the only one CI runs: if the binaries are absent, the first test that
needs them installs the package with apt-get (as root, or through password-less sudo) and skips with the
reason only where that is impossible.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import yaml

from tests.support.process import wait_http_ok
from tests.support.servers import free_port


@functools.cache
def binaries() -> tuple[str, str] | str:
    """``(prometheus, promtool)`` paths, or the reason they cannot be had on this machine."""
    found = shutil.which("prometheus"), shutil.which("promtool")
    if found[0] and found[1]:
        return found[0], found[1]
    if shutil.which("apt-get") is None:
        return "prometheus/promtool are not installed and there is no apt-get here: install Prometheus 2.x"
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        return "prometheus is not installed and installing it needs root: sudo apt-get install -y prometheus"
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, "apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends",
               "prometheus"]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:  # perhaps a package list never fetched on this machine
        subprocess.run([*prefix, "apt-get", "-o", "DPkg::Lock::Timeout=300", "update"], env=env,
                       capture_output=True, timeout=900)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    found = shutil.which("prometheus"), shutil.which("promtool")
    if done.returncode != 0 or not (found[0] and found[1]):
        return f"apt-get install prometheus failed: {done.stderr.strip()[-300:]}"
    return found[0], found[1]


class Prometheus:
    """A Prometheus server on 127.0.0.1 scraping ``targets`` every ``interval`` and evaluating ``rule_files``."""

    def __init__(self, binary: str, workdir: Path, targets: list[str], rule_files: list[Path],
                 interval: str = "1s") -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [{"job_name": "ocpi-hub", "static_configs": [{"targets": targets}]}],
        }
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self._log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.log_path = workdir / "prometheus.log"

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_http_ok(self.proc, f"{self.base_url}/-/ready", timeout,
                     lambda: self.log_path.read_text(errors="replace"))

    def api(self, path: str, **params: str) -> Any:
        """``data`` of a Prometheus HTTP API answer; raises with Prometheus' own error text otherwise."""
        url = f"{self.base_url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                answer = orjson.loads(r.read())
        except urllib.error.HTTPError as exc:
            answer = orjson.loads(exc.read())
        if answer.get("status") != "success":
            raise PrometheusError(f"{answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] in ("vector", "matrix") else [data]
        return result

    def query_range(self, expr: str, start: float, end: float, step: str = "1s") -> list[dict[str, Any]]:
        """Every series of ``expr`` from ``start`` to ``end`` (Unix seconds), each with its ``values``."""
        result: list[dict[str, Any]] = self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                                                step=step)["result"]
        return result

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class PrometheusError(Exception):
    pass
