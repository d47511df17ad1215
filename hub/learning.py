"""Shares what open routing learns, and the token facts the version bridge learns: this replica's new
entries go to the database in batches, and entries other replicas wrote come back into memory, once a
second. Nothing here is on the request path; a lookup is a dict access on
``routing.learned.LearnedRoutes`` or ``routing.translation_memory.TranslationMemory``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from typing import Any

from hub.background import cancel
from partners import store
from partners.outage import Backoff, Outage
from partners.token_facts_store import load_token_facts, save_token_facts
from routing.learned import Kind, LearnedRoutes
from routing.translation_memory import TokenFacts, TranslationMemory


class LearnedSync:
    def __init__(self, learned: LearnedRoutes, pool: store.Pool, *, interval: float = 1.0,
                 outage: Outage | None = None, memory: TranslationMemory | None = None) -> None:
        self.learned = learned
        self.memory = memory
        self._facts_since: Any = None
        self.pool = pool
        self.interval = interval
        self.outage = outage or Outage(store.unreachable)
        self._since: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.sync_once()
        self._task = asyncio.create_task(self._run(), name="learned-routes")

    async def stop(self) -> None:
        await cancel(self._task)
        with contextlib.suppress(Exception):
            await self.sync_once()  # what was learned last is not lost on shutdown

    async def sync_once(self) -> None:
        pending = self.learned.take_pending()
        try:
            await store.save_learned(self.pool, [(k.value, owner[0], owner[1], oid, target[0], target[1])
                                                 for k, owner, oid, target in pending])
        except Exception:
            for kind, owner, object_id, target in pending:  # try again next round
                self.learned.pending.setdefault((kind, owner, object_id), target)
            raise
        rows, now = await store.load_learned(self.pool, self._since)
        for kind_text, owner_cc, owner_pid, object_id, country_code, party_id in rows:
            with contextlib.suppress(ValueError):
                self.learned.merge(Kind(kind_text), (owner_cc, owner_pid), object_id, (country_code, party_id))
        # Overlap the next window a little: a row committed late with an earlier timestamp is still seen.
        self._since = now - datetime.timedelta(seconds=5)
        if self.memory is not None:
            await self._sync_facts(self.memory)

    async def _sync_facts(self, memory: TranslationMemory) -> None:
        pending = memory.take_pending()
        try:
            await save_token_facts(self.pool, [(o[0], o[1], contract, f.uid, f.type) for o, contract, f in pending])
        except Exception:
            for owner, contract, facts in pending:  # try again next round
                memory.pending.setdefault((owner, contract), facts)
            raise
        rows, now = await load_token_facts(self.pool, self._facts_since, memory.contract_capacity)
        for owner_cc, owner_pid, contract, uid, token_type in rows:
            memory.merge_contract((owner_cc, owner_pid), contract, TokenFacts(uid, token_type))
        self._facts_since = now - datetime.timedelta(seconds=5)

    async def _run(self) -> None:
        backoff = Backoff(initial=self.interval)
        delay = self.interval
        while True:
            await asyncio.sleep(delay)
            try:
                await self.sync_once()
                self.outage.ok("learned routes")
                backoff.reset()
                delay = self.interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Entries not yet written stay pending in memory and go with the next round.
                self.outage.failed("learned routes", exc)
                delay = backoff.next()
