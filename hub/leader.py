"""One replica at a time does the hub-wide chores (still-alive checks, ClientInfo pushes): the one
holding a PostgreSQL advisory lock on its own connection. If that connection dies, the lock is
released by the server and another replica takes over within ``retry_seconds``; this replica stops
leading the moment it sees its connection end, and reconnects with backoff while the database is away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from hub.background import cancel
from partners import store
from partners.outage import Backoff, Outage

log = logging.getLogger("ocpihub.leader")

_LOCK = 0x0C91_C1E4
_PART = "leader lease"


class LeaderLease:
    def __init__(self, dsn: str, *, retry_seconds: float = 5.0, outage: Outage | None = None) -> None:
        self.dsn = dsn
        self.retry_seconds = retry_seconds
        self.outage = outage or Outage(store.unreachable)
        self.is_leader = False
        self.became_leader = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="leader-lease")

    async def stop(self) -> None:
        await cancel(self._task)
        self.is_leader = False
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close()

    def _connection_lost(self, *_: Any) -> None:
        # The server dropped our session, and the advisory lock with it: we lead no more.
        if self.is_leader:
            log.info("this replica no longer leads hub-wide tasks (its database connection ended)")
        self.is_leader = False
        self._lost.set()

    async def _run(self) -> None:
        backoff = Backoff()
        while True:
            delay = self.retry_seconds
            try:
                if self._conn is None or self._conn.is_closed():
                    self.is_leader = False
                    self._conn = await asyncpg.connect(self.dsn)
                    self._conn.add_termination_listener(self._connection_lost)
                if not self.is_leader:
                    if await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK):
                        self.is_leader = True
                        self.became_leader.set()
                        log.info("this replica now leads hub-wide tasks")
                else:
                    await self._conn.fetchval("SELECT 1")  # notice a dead connection
                self.outage.ok(_PART)
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.is_leader = False
                self.outage.failed(_PART, exc)
                if self._conn is not None:
                    self._conn.terminate()
                self._conn = None
                delay = backoff.next()
            self._lost.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), delay)
