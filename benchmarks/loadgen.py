"""Load generators: wrk when installed (one core of it outruns a Python server many times over),
otherwise a small built-in asyncio generator with keep-alive connections (slower, but needs nothing)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PERCENTILES = (1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9)


@dataclass
class LoadResult:
    requests_per_second: float
    errors: int
    percentiles_ms: dict[str, float] = field(default_factory=dict)
    generator: str = ""

    def p(self, q: float) -> float:
        return self.percentiles_ms.get(f"{q:g}", float("nan"))


def have_wrk() -> bool:
    """wrk is used when installed, unless OCPI_BENCH_LOADGEN=asyncio asks for the built-in one."""
    return os.environ.get("OCPI_BENCH_LOADGEN") != "asyncio" and shutil.which("wrk") is not None


def run_wrk(url: str, *, method: str, headers: dict[str, str], body: bytes | None, connections: int,
            seconds: float, cpu: int | None) -> LoadResult:
    env = dict(os.environ, BENCH_METHOD=method, BENCH_HEADERS="|".join(f"{k}:{v}" for k, v in headers.items()))
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        if body is not None:
            f.write(body)
            f.flush()
            env["BENCH_BODY_FILE"] = f.name
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(HERE / "load.lua"), url]
        if cpu is not None and shutil.which("taskset"):
            command = ["taskset", "-c", str(cpu), *command]
        out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((row for row in out.stdout.splitlines() if row.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[len("BENCH_JSON "):])
    return LoadResult(
        requests_per_second=data["requests"] / (data["duration_us"] / 1e6),
        errors=data["errors"],
        percentiles_ms={k: v / 1000 for k, v in data["percentiles_us"].items()},
        generator="wrk -t1",
    )


async def _asyncio_load(url: str, method: str, headers: dict[str, str], body: bytes | None, connections: int,
                        seconds: float) -> LoadResult:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                async with session.request(method, url, headers=headers, data=body) as resp:
                    await resp.read()
                    if resp.status >= 300:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    pct = {f"{q:g}": latencies[min(len(latencies) - 1, int(len(latencies) * q / 100))] * 1000
           for q in PERCENTILES} if latencies else {}
    return LoadResult(len(latencies) / elapsed, errors, pct, "built-in asyncio (aiohttp)")


def run_load(url: str, *, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None,
             connections: int = 16, seconds: float = 10.0, cpu: int | None = None) -> LoadResult:
    headers = headers or {}
    if have_wrk():
        return run_wrk(url, method=method, headers=headers, body=body, connections=connections, seconds=seconds,
                       cpu=cpu)
    return asyncio.run(_asyncio_load(url, method, headers, body, connections, seconds))
