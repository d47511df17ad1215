"""One replica at a time does the hub-wide chores (still-alive checks, ClientInfo pushes): the one
holding a PostgreSQL advisory lock on its own connection. If that connection dies, the lock is
released by the server and another replica takes over within ``retry_seconds``."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from hub.background import cancel

log = logging.getLogger("ocpihub.leader")

_LOCK = 0x0C91_C1E4


class LeaderLease:
    def __init__(self, dsn: str, *, retry_seconds: float = 5.0) -> None:
        self.dsn = dsn
        self.retry_seconds = retry_seconds
        self.is_leader = False
        self.became_leader = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="leader-lease")

    async def stop(self) -> None:
        await cancel(self._task)
        self.is_leader = False
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def _run(self) -> None:
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self.is_leader = False
                    self._conn = await asyncpg.connect(self.dsn)
                if not self.is_leader:
                    if await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK):
                        self.is_leader = True
                        self.became_leader.set()
                        log.info("this replica now leads hub-wide tasks")
                else:
                    await self._conn.fetchval("SELECT 1")  # notice a dead connection
            except asyncio.CancelledError:
                raise
            except Exception:
                self.is_leader = False
                log.warning("leader lease connection failed", exc_info=True)
                self._conn = None
            await asyncio.sleep(self.retry_seconds)
