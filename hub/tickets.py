"""Keeping the tickets table small: the leader deletes expired tickets every few minutes."""

from __future__ import annotations

import asyncio
import logging

from hub.background import cancel
from hub.leader import LeaderLease
from partners import store, tickets_store

log = logging.getLogger("ocpihub.tickets")


class TicketCollector:
    def __init__(self, pool: store.Pool, lease: LeaderLease, *, interval: float = 600.0) -> None:
        self.pool = pool
        self.lease = lease
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ticket-collector")

    async def stop(self) -> None:
        await cancel(self._task)

    async def collect_once(self) -> int:
        deleted = await tickets_store.delete_expired(self.pool)
        if deleted:
            log.info("deleted expired tickets", extra={"count": deleted})
        return deleted

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self.lease.is_leader:
                continue
            try:
                await self.collect_once()
            except Exception as exc:
                if not store.unreachable(exc):
                    log.warning("deleting expired tickets failed", exc_info=True)
