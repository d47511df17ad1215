"""A real Prometheus for the tests: Debian's ``prometheus`` package (server and ``promtool``), fetched by
the test suite itself and run on loopback against a hub the test serves.

The README's test command stays the only one CI runs. Nothing is installed system-wide and no root is
needed: the first test that needs the binaries fetches the package with ``apt-get download`` and unpacks
it with ``dpkg-deb -x`` into the tests' cache directory (``$OCPI_HUB_TEST_CACHE``, else
``$XDG_CACHE_HOME/ocpi-hub-tests``, else ``~/.cache/ocpi-hub-tests``), where later runs find it. (``apt-get
install`` needed root, and on a systemd machine it also enabled and started a ``prometheus`` service on
:9090.) When the machine's package lists are missing, apt-get reads fresh ones into that cache
directory. Only when neither works are ``prometheus``/``promtool`` taken from PATH; without them the
tests that need them skip, saying why.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import yaml

from tests.support.process import wait_http_ok
from tests.support.servers import free_port


def cache_dir() -> Path:
    if os.environ.get("OCPI_HUB_TEST_CACHE"):
        return Path(os.environ["OCPI_HUB_TEST_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ocpi-hub-tests"


@functools.cache
def binaries() -> tuple[str, str] | str:
    """``(prometheus, promtool)`` paths, or the reason they cannot be had on this machine."""
    unpacked = fetched(cache_dir() / "prometheus")
    if isinstance(unpacked, tuple):
        return unpacked
    found = shutil.which("prometheus"), shutil.which("promtool")
    if found[0] and found[1]:
        return found[0], found[1]
    return f"no prometheus/promtool: {unpacked}; nor on PATH (install Prometheus 2.x)"


def fetched(root: Path) -> tuple[str, str] | str:
    """The binaries of Debian's package unpacked under ``root`` (fetched and unpacked first if they are not
    there yet), or why that failed."""
    paths = root / "usr" / "bin" / "prometheus", root / "usr" / "bin" / "promtool"
    if all(runs(p) for p in paths):
        return str(paths[0]), str(paths[1])
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        return "no apt-get and dpkg-deb here to fetch Debian's prometheus package"
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".prometheus-") as work:
        deb = download(Path(work))
        if isinstance(deb, str):
            return deb
        unpack = Path(work) / "root"
        done = subprocess.run(["dpkg-deb", "-x", str(deb), str(unpack)], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            return f"dpkg-deb -x {deb.name} failed: {done.stderr.strip()[-300:]}"
        shutil.rmtree(root, ignore_errors=True)
        try:
            unpack.rename(root)  # whole or not at all, should another test run unpack at the same time
        except OSError:
            pass  # another run put its copy there first: use that one
    if all(runs(p) for p in paths):
        return str(paths[0]), str(paths[1])
    return f"the unpacked package has no working {paths[0]} and {paths[1]}"


def download(into: Path) -> Path | str:
    """``prometheus_*.deb`` fetched into ``into`` with ``apt-get download`` (no root needed), or why not."""
    lists = cache_dir() / "apt"
    # apt's own package lists first; if they lack the package (never fetched on this machine, or stale),
    # fresh ones read into the cache directory: apt-get update there needs no root either.
    private = ["-o", f"Dir::State::Lists={lists / 'lists'}", "-o", f"Dir::Cache={lists / 'cache'}",
               "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=" + _user()]
    errors = []
    for options, update in (([], False), (private, True)):
        if update:
            (lists / "lists" / "partial").mkdir(parents=True, exist_ok=True)
            (lists / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
            updated = subprocess.run(["apt-get", *options, "update"], capture_output=True, text=True, timeout=900)
            if updated.returncode != 0:
                errors.append(f"apt-get update into {lists}: {updated.stderr.strip()[-200:]}")
                continue
        done = subprocess.run(["apt-get", *options, "download", "prometheus"], cwd=into, capture_output=True,
                              text=True, timeout=900)
        debs = sorted(into.glob("prometheus_*.deb"))
        if done.returncode == 0 and debs:
            return debs[0]
        errors.append(f"apt-get download prometheus: {done.stderr.strip()[-200:]}")
    return "; ".join(errors)


def _user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def runs(binary: Path) -> bool:
    try:
        return subprocess.run([str(binary), "--version"], capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


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
