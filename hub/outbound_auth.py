"""A platform that refuses the hub's own credentials (answers 401 or 403 to a forward, a broadcast
delivery, a ClientInfo push or a still-alive probe): its outbound token is broken, and only the
operator can mend it (a new handshake).

Counted every time (``ocpihub_receiver_auth_refusals_total{status}``); logged and recorded in the
database (``GET /admin/platforms/{id}``: ``last_outbound_auth_failure``) at most once a minute per
platform, so a busy broken connection costs neither a log line nor a write per request.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from partners import store
from partners.registry import Platform

log = logging.getLogger("ocpihub.outbound_auth")

EVERY = 60.0
STATUSES = ("401", "403")


class OutboundAuthFailures:
    def __init__(self, pool: store.Pool, count: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pool = pool
        self.count = count
        self.clock = clock
        self._last: dict[int, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, platform: Platform, status: int) -> None:
        self.count(str(status))
        now = self.clock()
        if now - self._last.get(platform.id, -EVERY) < EVERY:
            return
        self._last[platform.id] = now
        log.warning("platform %s refused the hub's credentials (HTTP %s): its outbound token needs a new "
                    "handshake", platform.id, status, extra={"platform": platform.id, "http_status": status})
        self._spawn(self._record(platform.id, status))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, platform_id: int, status: int) -> None:
        try:
            when = datetime.datetime.now(datetime.UTC)
            await store.record_outbound_auth_failure(self.pool, platform_id, status, when)
        except Exception as exc:
            if not store.unreachable(exc):
                log.warning("could not record an outbound auth failure", exc_info=True)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
