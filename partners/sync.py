"""Keeps one process's registry in step with the database, at a cost proportional to what changed.

* Start: every row is read and the first snapshot built whole.
* A change: every registry write NOTIFYs the ids it wrote (``partners.changes``); the listener's
  callback only notes them. One background task re-reads those rows (one query, whatever their
  number), applies them to the current snapshot (``partners.delta``: the few entries that changed,
  everything else shared) and swaps the result in. Notifications that arrive meanwhile are applied
  together next, so a burst of changes costs a few batches, not one snapshot each.
* A write made in this process is applied at once by :meth:`RegistrySync.refresh`, before its answer
  goes out.
* The safety net (every ``full_reload_seconds``, after a reconnection of the listener, or when a
  notification names no rows): :meth:`RegistrySync.reload` reads the version of every row (a few
  bytes each), compares them with the snapshot and re-reads only what differs. It runs beside the
  changes, never in front of them: a change is applied while a reload compares.

Work on the event loop runs in slices of about a millisecond, paced (``partners.pacing``) so that
the registry takes at most ``loop_share`` of the loop's time: requests never wait behind a rebuild.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

import asyncpg
import msgspec

from partners import changes, delta, store
from partners.outage import Backoff, Outage
from partners.pacing import Pacer
from partners.registry import AgreementRow, PartyRow, Registry, Snapshot, build_snapshot
from partners.secrets import Keyring, SecretsKeyError, outbound_token_context

log = logging.getLogger("ocpihub.registry")

# Rows re-read and applied per swap: one query, and a few ms of conversion (tokens opened) at most.
BATCH = 256
# Full reloads asked for by notifications start at least this long after the last one ended.
FULL_RELOAD_GAP = 1.0


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """What one swap changed, for the registry's readers (ClientInfo pushes, metrics)."""

    before: Snapshot
    after: Snapshot
    # Ids of the platforms whose entry changed (rows, parties or status); None: all of them (the first
    # snapshot of the process).
    platforms: frozenset[int] | None
    kind: str  # "full" (the first build) or "delta"


class RegistrySync:
    def __init__(
        self,
        registry: Registry,
        pool: store.Pool,
        dsn: str,
        *,
        keyring: Keyring,
        full_reload_seconds: float = 30.0,
        on_change: Callable[[Change], None] | None = None,
        on_reload: Callable[[], None] | None = None,
        on_reload_failed: Callable[[], None] | None = None,
        outage: Outage | None = None,
        loop_share: float = 0.1,
        on_busy: Callable[[float], None] | None = None,
    ) -> None:
        self.registry = registry
        self.keyring = keyring
        self.pool = pool
        self.dsn = dsn
        self.full_reload_seconds = full_reload_seconds
        self.on_change = on_change
        self.on_reload = on_reload
        self.on_reload_failed = on_reload_failed
        self.outage = outage or Outage(store.unreachable)
        self.pacer = Pacer(loop_share, on_busy=on_busy)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one read-and-apply at a time: a later read is never applied first
        self._full_lock = asyncio.Lock()
        self._full_started = 0
        self._full_ended = 0.0
        self._reload_task: asyncio.Task[None] | None = None
        self._pending_platforms: set[int] = set()
        self._pending_agreements: set[int] = set()
        self._pending_everything = False
        self.listening = False

    # -- applying changes ---------------------------------------------------------------------
    async def refresh(self, *, platforms: Collection[int] = (), agreements: Collection[int] = ()) -> None:
        """Re-read these platforms (rows and parties) and agreements and apply them to the snapshot now."""
        platform_ids, agreement_ids = sorted(set(platforms)), sorted(set(agreements))
        for start in range(0, max(len(platform_ids), len(agreement_ids)), BATCH):
            async with self._lock:
                await self._apply(platform_ids[start:start + BATCH], agreement_ids[start:start + BATCH])

    async def _apply(self, platform_ids: list[int], agreement_ids: list[int]) -> None:
        platform_records, party_records, agreement_records = await store.load_changed(
            self.pool, platform_ids, agreement_ids)
        platform_rows, party_rows, agreement_rows = store.registry_rows(
            platform_records, party_records, self._unseal, agreement_records)
        found: dict[int, delta.PlatformChange] = dict.fromkeys(platform_ids)
        parties_of: dict[int, list[PartyRow]] = {}
        for party in party_rows:
            parties_of.setdefault(party.platform_id, []).append(party)
        for row in platform_rows:
            found[row.id] = (row, parties_of.get(row.id, []))
        agreements: dict[int, AgreementRow | None] = dict.fromkeys(agreement_ids)
        agreements.update((row.id, row) for row in agreement_rows)
        before = self.registry.snapshot
        after, changed = await self.pacer.run(delta.apply(before, found, agreements))
        if after is before:
            return
        self.registry.swap(after)
        self._announce(Change(before=before, after=after, platforms=changed, kind="delta"))

    def _unseal(self, platform_id: int, sealed: bytes) -> str:
        try:
            return self.keyring.open(sealed, outbound_token_context(platform_id)).decode("utf-8")
        except SecretsKeyError as exc:
            raise SecretsKeyError(f"outbound token of platform {platform_id}: {exc}") from None

    def _announce(self, change: Change) -> None:
        if self.on_change is not None:
            try:
                self.on_change(change)
            except Exception:
                # A reader's failure must not stop the registry from following the database.
                log.exception("a registry reader failed on a change")

    async def reload(self) -> None:
        """The safety net: compare every row's version with the snapshot and apply what differs.

        Callers at the same moment share one run: a run that started after a caller asked read the
        database after that caller's reason to ask, so the caller need not start another."""
        asked = self._full_started
        async with self._full_lock:
            if self._full_started > asked:
                return
            self._full_started += 1
            try:
                platform_versions, agreement_versions = await store.registry_versions(self.pool)
                platform_ids, agreement_ids = await self.pacer.run(
                    delta.differences(self.registry.snapshot, platform_versions, agreement_versions))
                await self.refresh(platforms=platform_ids, agreements=agreement_ids)
            finally:
                self._full_ended = time.monotonic()
        if platform_ids or agreement_ids:
            log.info("registry reload found rows no notification had announced",
                     extra={"platforms": len(platform_ids), "agreements": len(agreement_ids)})
        if self.on_reload is not None:
            self.on_reload()

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """The listener, then the first snapshot, built whole from every row (in a thread: it is most of
        a second at 100,000 platforms). Listening first, nothing written meanwhile is missed: a write
        committed before the read is in it, one after it is announced (and applied once this returns)."""
        conn = await self._listen()
        try:
            records = await store.load_registry(self.pool)
        except BaseException:
            await conn.close()
            raise
        snapshot = await asyncio.to_thread(self._build, *records)
        before = self.registry.snapshot
        self.registry.swap(snapshot)
        self._announce(Change(before=before, after=snapshot, platforms=None, kind="full"))
        if self.on_reload is not None:
            self.on_reload()
        self._task = asyncio.create_task(self._run(conn), name="registry-sync")

    def _build(self, platforms: list[Any], parties: list[Any], agreements: list[Any]) -> Snapshot:
        return build_snapshot(*store.registry_rows(platforms, parties, self._unseal, agreements))

    async def stop(self) -> None:
        for task in (self._task, self._reload_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _start_reload(self) -> None:
        """A safety-net reload beside the changes (none if one is running: it covers this one's reason
        only if it started after it, see :meth:`reload`; the pending flag asks again after it)."""
        if self._reload_task is None or self._reload_task.done():
            self._pending_everything = False
            self._reload_task = asyncio.create_task(self._background_reload(), name="registry-reload")

    async def _background_reload(self) -> None:
        try:
            await self.reload()
            self.outage.ok("registry reload")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.on_reload_failed is not None:
                self.on_reload_failed()
            self.outage.failed("registry reload", exc)
            self._pending_everything = True  # again, after the gap
        finally:
            self._wake.set()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        changed = changes.decode(str(payload))
        if changed.everything:
            self._pending_everything = True
        self._pending_platforms.update(changed.platforms)
        self._pending_agreements.update(changed.agreements)
        self._wake.set()

    def _lost(self, *_: Any) -> None:
        self._wake.set()

    def _take(self) -> tuple[list[int], list[int]]:
        taken = list(self._pending_platforms), list(self._pending_agreements)
        self._pending_platforms.clear()
        self._pending_agreements.clear()
        return taken

    def _put_back(self, taken: tuple[list[int], list[int]]) -> None:
        self._pending_platforms.update(taken[0])
        self._pending_agreements.update(taken[1])

    async def _listen(self) -> asyncpg.Connection:
        conn = await store.listen(self.dsn)
        await conn.add_listener(store.CHANNEL, self._notified)
        conn.add_termination_listener(self._lost)
        self.listening = True
        return conn

    async def _run(self, first: asyncpg.Connection) -> None:
        backoff = Backoff()
        conn: asyncpg.Connection | None = first
        while True:
            try:
                if conn is None:
                    conn = await self._listen()
                    # Anything missed while we were not listening is found by this reload.
                    self._pending_everything = True
                    self._full_ended = 0.0
                self.outage.ok("registry listener")
                backoff.reset()
                next_full = time.monotonic() + self.full_reload_seconds
                while not conn.is_closed():
                    now = time.monotonic()
                    if self._pending_everything and now >= self._full_ended + FULL_RELOAD_GAP:
                        self._start_reload()
                    if now >= next_full:
                        self._start_reload()
                        next_full = now + self.full_reload_seconds
                    if self._pending_platforms or self._pending_agreements:
                        taken = self._take()
                        try:
                            await self.refresh(platforms=taken[0], agreements=taken[1])
                        except BaseException:
                            self._put_back(taken)
                            raise
                        continue  # what arrived meanwhile goes next, as one batch
                    wake_at = next_full
                    if self._pending_everything:  # rate-limited: not before the gap after the last one
                        wake_at = min(wake_at, max(self._full_ended + FULL_RELOAD_GAP, now + 0.05))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), max(0.0, wake_at - time.monotonic()))
                    self._wake.clear()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The snapshot in memory stays in use meanwhile: routing does not wait for this.
                if self.on_reload_failed is not None:
                    self.on_reload_failed()
                self.outage.failed("registry listener", exc)
                await asyncio.sleep(backoff.next())
            finally:
                self.listening = False
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
