"""The hub as ``ocpi-hub serve`` runs it (one process, uvloop, the same Hypercorn set-up), with a probe
of its event loop for the scale benchmark: a 1 ms ticker records how late each tick wakes, and
``GET /__bench__/lag`` answers the figures since the last call (and starts a new window).

A tick that wakes 30 ms late means the loop was held for 30 ms: by a rebuild, a long callback, a
scrape. The ticker runs in every measured window alike (it costs the hub a few per cent of a core),
so figures with and without churn compare. Run: ``python -m benchmarks.probed_hub PORT`` with the
``OCPI_HUB_*`` settings in the environment (database URL, admin token and secrets key required).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hub import logs
from hub.app import HubApp
from hub.config import load
from hub.serving import listener, server

TICK = 0.001
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class LoopProbe:
    def __init__(self) -> None:
        self.lags: list[float] = []
        self.window_started = time.perf_counter()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            planned = time.perf_counter() + TICK
            await asyncio.sleep(TICK)
            self.lags.append(max(0.0, time.perf_counter() - planned))

    def take(self) -> dict[str, float]:
        lags, self.lags = sorted(self.lags), []
        now = time.perf_counter()
        seconds, self.window_started = now - self.window_started, now
        if not lags:
            return {"seconds": round(seconds, 3), "ticks": 0}
        return {"seconds": round(seconds, 3), "ticks": len(lags),
                # Ticks that happened against those a free loop would have made: what stalls ate.
                "tick_share": round(len(lags) * TICK / seconds, 3) if seconds else 0.0,
                "p50_ms": round(lags[len(lags) // 2] * 1000, 3),
                "p99_ms": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000, 3),
                "max_ms": round(lags[-1] * 1000, 3)}


class ProbedApp:
    """The hub's ASGI app, with ``/__bench__/lag`` in front and the ticker started with the lifespan."""

    def __init__(self, app: HubApp) -> None:
        self.app = app
        self.probe = LoopProbe()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.probe.start()
        if scope["type"] == "http" and scope["path"] == "/__bench__/lag":
            body = json.dumps(self.probe.take()).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def main() -> None:
    config = load(port=int(sys.argv[1]), host="127.0.0.1")
    logs.configure(config.log_level)
    sock = listener.bind(config.host, config.port)
    try:
        app = HubApp(config, os.environ["OCPI_HUB_DATABASE_URL"])
        server.run(ProbedApp(app), config, sock)
    finally:
        sock.close()


if __name__ == "__main__":
    main()
