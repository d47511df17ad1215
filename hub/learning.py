"""Shares what open routing learns, and the token facts the version bridge learns: this replica's new
entries go to the database in batches, and entries other replicas wrote come back into memory, once a
second. Nothing here is on the request path; a lookup is a dict access on
``routing.learned.LearnedRoutes`` or ``routing.translation_memory.TranslationMemory``.

Bounds: each round writes what was learned since the last one in one transaction, reads back only
the rows written since the last read (``partners.store.load_learned``), and merges them in paced
slices (``partners.pacing``), so that a burst of other replicas' writes never stalls requests."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable, Generator
from typing import Any

from hub.background import cancel
from partners import store
from partners.outage import Backoff, Outage
from partners.pacing import Pacer
from partners.token_facts_store import load_token_facts, save_token_facts
from routing.learned import Kind, LearnedRoutes
from routing.translation_memory import TokenFacts, TranslationMemory

log = logging.getLogger("ocpihub.learning")
_KINDS = {kind.value: kind for kind in Kind}
# Rows merged per slice: about a microsecond each.
_STEP = 1000


class LearnedSync:
    def __init__(self, learned: LearnedRoutes, pool: store.Pool, *, interval: float = 1.0,
                 outage: Outage | None = None, loop_share: float = 0.1,
                 on_busy: Callable[[float], None] | None = None, memory: TranslationMemory | None = None,
                 on_dropped: Callable[[str, int], None] | None = None) -> None:
        self.learned = learned
        self.memory = memory
        self._facts_since: Any = None
        self.pool = pool
        self.interval = interval
        self.outage = outage or Outage(store.unreachable)
        self.pacer = Pacer(loop_share, on_busy=on_busy)
        self._since: int | None = None
        self._task: asyncio.Task[None] | None = None
        self.rows_read = 0  # read back in all (the cost of the read-back follows it)
        # learned.pending_dropped when the last successful round began, and whether this outage's drops
        # were said.
        self._dropped_at_last_save = 0
        self._drops_said = False
        # Drops reported to ``on_dropped`` (what, how many since the last report): the operator's counter.
        self.on_dropped = on_dropped
        self._reported = {"learned_routes": 0, "token_facts": 0}

    async def start(self) -> None:
        # Before the hub serves: the first read (every row) is merged as fast as it goes.
        await self.sync_once(Pacer(1.0))
        self._task = asyncio.create_task(self._run(), name="learned-routes")

    async def stop(self) -> None:
        await cancel(self._task)
        with contextlib.suppress(Exception):
            await self.sync_once()  # what was learned last is not lost on shutdown

    async def sync_once(self, pacer: Pacer | None = None) -> None:
        pending = self.learned.take_pending()
        try:
            await store.save_learned(self.pool, [(k.value, owner[0], owner[1], oid, target[0], target[1])
                                                 for k, owner, oid, target in pending])
        except Exception:
            self.learned.requeue(pending)  # try again next round
            raise
        rows, horizon = await store.load_learned(self.pool, self._since)
        self.rows_read += len(rows)
        await (pacer or self.pacer).run(self._merge(rows))
        self._since = horizon
        if self.memory is not None:
            await self._sync_facts(self.memory)

    async def _sync_facts(self, memory: TranslationMemory) -> None:
        pending = memory.take_pending()
        try:
            await save_token_facts(self.pool, [(o[0], o[1], contract, f.uid, f.type) for o, contract, f in pending])
        except Exception:
            memory.requeue(pending)  # try again next round
            raise
        rows, now = await load_token_facts(self.pool, self._facts_since, memory.contract_capacity)
        for owner_cc, owner_pid, contract, uid, token_type in rows:
            memory.merge_contract((owner_cc, owner_pid), contract, TokenFacts(uid, token_type))
        # Overlap the next window a little: a row committed late with an earlier timestamp is still seen.
        self._facts_since = now - datetime.timedelta(seconds=5)

    def _merge(self, rows: list[store.LearnedRow]) -> Generator[None, None, None]:
        merge = self.learned.merge
        for done, (kind_text, owner_cc, owner_pid, object_id, country_code, party_id) in enumerate(rows, 1):
            kind = _KINDS.get(kind_text)
            if kind is not None:
                merge(kind, (owner_cc, owner_pid), object_id, (country_code, party_id))
            if done % _STEP == 0:
                yield

    async def _run(self) -> None:
        backoff = Backoff(initial=self.interval)
        delay = self.interval
        while True:
            await asyncio.sleep(delay)
            dropped = self.learned.pending_dropped  # drops while this round is under way belong to the next
            try:
                await self.sync_once()
                self.outage.ok("learned routes")
                self._dropped_at_last_save, self._drops_said = dropped, False
                backoff.reset()
                delay = self.interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Entries not yet written stay pending in memory and go with the next round.
                self.outage.failed("learned routes", exc)
                self._note_dropped()
                delay = backoff.next()
            self._report_dropped()

    def _report_dropped(self) -> None:
        if self.on_dropped is None:
            return
        totals = {"learned_routes": self.learned.pending_dropped,
                  "token_facts": self.memory.pending_dropped if self.memory is not None else 0}
        for what, total in totals.items():
            if total > self._reported[what]:
                self.on_dropped(what, total - self._reported[what])
                self._reported[what] = total

    def _note_dropped(self) -> None:
        """One line per outage, when the queue of unsaved entries first overflows in it."""
        dropped = self.learned.pending_dropped - self._dropped_at_last_save
        if dropped and not self._drops_said:
            self._drops_said = True
            log.warning("learned routes: the database is unreachable and the queue of unsaved entries is full; "
                        "the oldest are dropped until it is back (still known to this replica, not saved or "
                        "shared with the others)", extra={"max_pending": self.learned.max_pending, "dropped": dropped})
