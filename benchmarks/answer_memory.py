"""Soak: a hub process with default settings forwards 10,000 normal answers and 200 oversized ones
(half with a declared 64 MiB Content-Length, half chunked without end), and its resident memory is
sampled throughout. The issue's goal: the peak stays within 50 MB of the idle hub.

``python -m benchmarks.answer_memory [--normal N] [--oversized N]`` prints one JSON row; ``benchmarks.run``
includes it. Everything runs on loopback; it stops every process it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import seed
from hub.database import EmbeddedPostgres

GOAL_MB = 50
CONCURRENCY = 8
PATH = "/ocpi/2.2.1/sender/locations/"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Sampler(threading.Thread):
    """The process's RSS every 10 ms, in a thread (the load runs on the event loop)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.01)


async def load(base: str, headers: dict[str, str], normal: int, oversized: int, in_parallel: int = 1) -> Counter[str]:
    statuses: Counter[str] = Counter()
    remaining = normal
    big = iter(range(oversized))

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY + in_parallel),
                                     timeout=aiohttp.ClientTimeout(total=60)) as http:

        async def get(location: str, kind: str) -> None:
            async with http.get(base + PATH + location, headers=headers) as r:
                body = await r.read()
                # Hub errors are OCPI answers (HTTP 200, the code in the body): counted by that code.
                code = json.loads(body).get("status_code", 1000) if body.startswith(b"{") else 1000
                statuses[f"{kind} {r.status if code < 2000 else f'{r.status}/{code}'}"] += 1

        async def normal_worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await get("LOC1", "normal")

        async def oversized_worker() -> None:
            for n in big:
                await get("BIGDECLARED" if n % 2 == 0 else "BIGCHUNKED", "oversized")

        await asyncio.gather(*(oversized_worker() for _ in range(in_parallel)),
                             *(normal_worker() for _ in range(CONCURRENCY)))
    return statuses


def measure(*, normal: int = 10_000, oversized: int = 200, in_parallel: int = 1) -> dict[str, Any]:
    """``in_parallel`` oversized answers at a time (the issue's case: 1, in a row); with more, the peak
    is bounded by OCPI_HUB_ANSWER_BUFFER_BYTES rather than by one answer."""
    from benchmarks.run import GET_HEADERS, PY, free_port, process  # the harness's process handling

    with tempfile.TemporaryDirectory(prefix="ocpi-soak-") as tmp_text:
        tmp = Path(tmp_text)
        pg = EmbeddedPostgres(tmp / "db")
        dsn = pg.start()
        try:
            up_port, hub_port = free_port(), free_port()
            asyncio.run(seed.seed(dsn, f"http://127.0.0.1:{up_port}"))
            # The seed's outbound tokens are sealed with its key; the rate limit would turn the load into 429s.
            env = {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "bench", "OCPI_HUB_DRAIN_SECONDS": "0",
                   "OCPI_HUB_SECRETS_KEY": seed.SECRETS_KEY, "OCPI_HUB_RATE_LIMIT": "0"}
            with process([PY, "-m", "benchmarks.hostile_upstream", str(up_port)], up_port), \
                 process([PY, "-m", "hub.cli", "serve", "--host", "127.0.0.1", "--port", str(hub_port)], hub_port,
                         env, tmp / "hub.log", "/readyz") as hub:
                base = f"http://127.0.0.1:{hub_port}"
                asyncio.run(load(base, GET_HEADERS, 500, 0))  # warm: pools, caches, code paths
                time.sleep(1.0)
                idle = statistics.median(rss_mb(hub.pid) for _ in range(5) if time.sleep(0.05) is None)
                sampler = Sampler(hub.pid)
                sampler.start()
                started = time.perf_counter()
                statuses = asyncio.run(load(base, GET_HEADERS, normal, oversized, in_parallel))
                seconds = time.perf_counter() - started
                time.sleep(1.0)
                after = rss_mb(hub.pid)
                sampler.stop.set()
                sampler.join()
        finally:
            pg.stop()
    peak = max(sampler.peak, after)
    return {"normal": normal, "oversized": oversized, "oversized_in_parallel": in_parallel,
            "seconds": round(seconds, 1),
            "idle_rss_mb": round(idle, 1), "peak_rss_mb": round(peak, 1),
            "peak_over_idle_mb": round(peak - idle, 1), "after_rss_mb": round(after, 1),
            "goal_mb": GOAL_MB, "goal_met": peak - idle <= GOAL_MB, "statuses": dict(sorted(statuses.items()))}


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--normal", type=int, default=10_000)
    args.add_argument("--oversized", type=int, default=200)
    args.add_argument("--in-parallel", type=int, default=1, help="oversized answers at a time")
    opts = args.parse_args(argv)
    print(json.dumps(measure(normal=opts.normal, oversized=opts.oversized, in_parallel=opts.in_parallel)),
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
