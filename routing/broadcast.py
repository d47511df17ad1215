"""Broadcast push delivery: the backlog (``routing.backlog``), a fixed set of workers that drain it
through the forwarder, and the outbox for what is left at shutdown.

* The handler only enqueues and answers: :meth:`Broadcaster.push` admits a push for all its receivers or
  raises :class:`BacklogFullError` (HTTP 429 with Retry-After); nothing admitted is dropped unaccounted.
* ``workers`` tasks (``OCPI_HUB_BROADCAST_CONCURRENCY``) take entries in turn and deliver them, from the
  hub's party, each with its own X-Request-ID and the newest sender's X-Correlation-ID; no task per
  delivery. The receiver is looked up in the current registry snapshot at delivery time: one that is no
  longer connected gets nothing (outcome ``gone``; the spec forbids queueing for parties that are down).
* Bookkeeping is batched: outcomes are tallied in a dict and handed to the observer every
  ``stats_seconds`` with the backlog's size and age; expired entries are dropped in the same round with
  one log line. The observer writes one line per push and one per failed delivery.
* Every delivery ends as exactly one outcome (:data:`DELIVERY_OUTCOMES`): delivered (``ok``), failed
  (``rejected`` with the receiver's answer, ``timeout``, ``connection``, ``protocol``, ``bad_answer``,
  ``busy``, ``error``, ``gone``), ``expired``, ``persisted`` (written to the outbox at shutdown) or, if
  even that failed, ``lost`` (logged as an error).
* Shutdown (:meth:`Broadcaster.close`): refuse new pushes, deliver for up to ``shutdown_seconds``, stop the
  workers (deliveries in flight go back to the head of their lane), and write every waiting entry to the
  outbox in one batch. :meth:`Broadcaster.start` and a poll every ``outbox_poll_seconds`` take over what
  any replica left there (each row claimed exactly once), in the order it was written, coalescing kept.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import msgspec

from partners.errors import HubError
from partners.model import ConnectionStatus, InterfaceRole
from partners.outbox import OutboxRow
from partners.registry import PartyKey, Registry
from routing.backlog import Admitted, Backlog, Entry, Limits, Push, Reason, ReceiverKey, Refused
from routing.errors import BacklogFullError
from routing.forward import Forwarder, UpstreamFailure, forwarded_headers
from routing.headerless import sends_routing_headers
from routing.observe import BroadcastRecord, BroadcastTally, RequestRecord, RoutingObserver
from routing.resolve import Route

log = logging.getLogger("ocpihub.broadcast")

BROADCAST_MODULES = ("locations", "tariffs", "tokens")
DELIVERY_OUTCOMES = ("ok", "rejected", "timeout", "connection", "protocol", "bad_answer", "busy", "error", "gone",
                     "expired", "persisted", "lost")
"""How a broadcast delivery ended: the ``outcome`` label of ``ocpihub_broadcast_deliveries_total``."""


class Outbox(Protocol):
    """Where deliveries left at shutdown wait for the next process (``partners.outbox``)."""

    async def save(self, rows: list[OutboxRow]) -> None: ...

    async def claim(self, limit: int) -> list[OutboxRow]: ...


class DatabaseHealth(Protocol):
    """Where the outbox poll reports losing and regaining the database (``partners.outage.Outage``)."""

    def failed(self, part: str, error: BaseException) -> None: ...

    def ok(self, part: str) -> None: ...


class BroadcastSettings(msgspec.Struct, frozen=True, kw_only=True):
    workers: int = 64
    limits: Limits = Limits(receiver_entries=50_000, receiver_bytes=32 * 2**20, total_entries=200_000,
                            total_bytes=128 * 2**20, max_age=120.0, receiver_concurrency=16)
    shutdown_seconds: float = 5.0
    outbox_poll_seconds: float = 2.0
    stats_seconds: float = 0.5


class _Answer(msgspec.Struct):
    status_code: int | None = None


_read_answer = msgspec.json.Decoder(_Answer).decode


def _ocpi_status(body: bytes) -> int | None:
    """The OCPI status_code of a receiver's answer, if it has one."""
    try:
        return _read_answer(body).status_code
    except (msgspec.DecodeError, RecursionError):
        return None


class Broadcaster:
    def __init__(self, forwarder: Forwarder, observer: RoutingObserver, registry: Registry,
                 settings: BroadcastSettings, *, hub_party: PartyKey, outbox: Outbox | None = None,
                 health: DatabaseHealth | None = None, clock: Callable[[], float] = time.time) -> None:
        self.forwarder = forwarder
        self.observer = observer
        self.registry = registry
        self.settings = settings
        self.hub_party = hub_party
        self.outbox = outbox
        self.health = health
        self.clock = clock
        self.backlog = Backlog(settings.limits)
        self._idle: list[asyncio.Future[None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._workers: list[tuple[asyncio.Task[None], _Slot]] = []
        self._closing = False
        self._round_soon: asyncio.Handle | None = None
        self._tally = BroadcastTally()
        self._request_ids = _request_ids()

    # -- the handler's side -----------------------------------------------------------------
    def push(self, routes: list[Route], *, module: str, method: str, suffix: str, query: str, body: bytes | None,
             correlation_id: str, sender_label: str) -> Admitted:
        """Queue one push for every route, or raise :class:`BacklogFullError` having queued nothing."""
        item = Push(module, method, suffix, query, body, since=self.clock(), correlation_id=correlation_id,
                    sender=sender_label)
        result = self.backlog.admit(item, [receiver_key(r) for r in routes])
        tally = self._tally
        if isinstance(result, Refused):
            tally.refused[result.reason] = tally.refused.get(result.reason, 0) + 1
            raise _refusal(result)
        tally.accepted[module] = tally.accepted.get(module, 0) + len(routes)
        if result.coalesced:
            tally.coalesced[module] = tally.coalesced.get(module, 0) + result.coalesced
        self._wake(result.queued)
        self.observer.broadcast(BroadcastRecord(method, module, sender_label, correlation_id, len(routes),
                                                result.queued, result.coalesced))
        return result

    @property
    def pending(self) -> int:
        """Deliveries accepted and not yet ended (waiting or in flight)."""
        return self.backlog.entries

    def _wake(self, count: int) -> None:
        idle = self._idle
        while count > 0 and idle:
            waiter = idle.pop()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Take over what the outbox holds (before the hub serves: the order per object is kept), then
        start the workers, the bookkeeping round and the outbox poll."""
        if self.outbox is not None:
            await self.restore()
        for n in range(self.settings.workers):
            slot = _Slot()
            self._workers.append((asyncio.create_task(self._work(slot), name=f"broadcast-{n}"), slot))
        self._tasks = [asyncio.create_task(self._every(self.settings.stats_seconds, self._round),
                                           name="broadcast-stats")]
        if self.outbox is not None:
            self._tasks.append(asyncio.create_task(self._poll_outbox(), name="broadcast-outbox"))

    async def close(self) -> None:
        """Refuse new pushes, deliver for up to ``shutdown_seconds``, then write what is left to the
        outbox in one batch. Every entry ends delivered, failed, expired, persisted or (logged) lost."""
        started = time.monotonic()
        backlog = self.backlog
        backlog.accepting = False
        deadline = started + self.settings.shutdown_seconds
        while backlog.entries and time.monotonic() < deadline and self._workers:
            await asyncio.sleep(0.01)
            self._watch()
        self._closing = True
        workers = [task for task, _ in self._workers]
        for task in (*self._tasks, *workers):
            task.cancel()  # a delivery in flight goes back to the head of its lane
        await asyncio.gather(*self._tasks, *workers, return_exceptions=True)
        self._tasks, self._workers = [], []
        self._round()
        left = backlog.drain()
        if left:
            await self._persist(left)
        self._round()
        log.info("broadcast delivery stopped", extra={"seconds": round(time.monotonic() - started, 3),
                                                      "persisted": len(left)})

    async def _persist(self, entries: list[Entry]) -> None:
        started = time.monotonic()
        outcome = "persisted"
        try:
            if self.outbox is None:
                raise RuntimeError("no outbox configured")
            await self.outbox.save([_row(entry) for entry in entries])
        except Exception:
            outcome = "lost"
            log.exception("could not write the broadcast backlog to the outbox: deliveries lost",
                          extra={"count": len(entries)})
        else:
            log.info("wrote the broadcast backlog to the outbox",
                     extra={"count": len(entries), "seconds": round(time.monotonic() - started, 3)})
        outcomes = self._tally.outcomes
        for entry in entries:
            key = (entry.push.module, outcome)
            outcomes[key] = outcomes.get(key, 0) + 1

    async def restore(self) -> None:
        """Queue what the outbox holds (rows claimed by this process only), in the order written."""
        assert self.outbox is not None
        rows = await self.outbox.claim(self.settings.limits.total_entries)
        if not rows:
            return
        pushes: dict[tuple[object, ...], Push] = {}
        restored = self._tally.restored
        coalesced = self._tally.coalesced
        queued = 0
        for row in rows:
            ident = (row.module, row.method, row.path, row.query, row.body, row.accepted_at, row.correlation_id,
                     row.sender)
            item = pushes.get(ident)
            if item is None:
                # Rows of one push share their body again, as they did before they were written.
                item = pushes[ident] = Push(row.module, row.method, row.path, row.query, row.body,
                                            since=row.accepted_at, correlation_id=row.correlation_id,
                                            sender=row.sender)
            restored[row.module] = restored.get(row.module, 0) + 1
            if self.backlog.restore(item, (row.platform_id, row.country_code, row.party_id)):
                coalesced[row.module] = coalesced.get(row.module, 0) + 1
            else:
                queued += 1
        self._wake(queued)
        log.info("took over broadcast deliveries from the outbox", extra={"count": len(rows)})

    async def _every(self, seconds: float, job: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                job()
            except Exception:
                log.warning("broadcast bookkeeping failed; retrying", exc_info=True)

    async def _poll_outbox(self) -> None:
        """What other replicas left in the outbox, taken over as it appears. A database outage is
        reported to ``health`` (one warning for the whole hub, and readiness), not logged per retry."""
        while True:
            await asyncio.sleep(self.settings.outbox_poll_seconds)
            try:
                await self.restore()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.health is None:
                    log.warning("could not read the broadcast outbox; retrying", exc_info=True)
                else:
                    self.health.failed("broadcast outbox", exc)
            else:
                if self.health is not None:
                    self.health.ok("broadcast outbox")

    def _watch(self) -> None:
        """Stop deliveries that take longer than the request timeout: one check a round for every
        worker rather than a timer per delivery. The worker counts it as a timeout and goes on."""
        limit = self.forwarder.request_timeout
        now = time.monotonic()
        for task, slot in self._workers:
            if slot.started and now - slot.started > limit and not slot.timed_out:
                slot.timed_out = True
                task.cancel()

    def _round(self) -> None:
        """Expire what waited too long, stop deliveries past their time, and hand the batched counts and
        the backlog's state over."""
        self._watch()
        self._round_soon = None
        backlog = self.backlog
        now = self.clock()
        expired = backlog.expire(now)
        if backlog.expired_on_take:
            expired += backlog.expired_on_take
            backlog.expired_on_take = []
        tally = self._tally
        if expired:
            oldest = min(e.since for e in expired)
            for entry in expired:
                key = (entry.push.module, "expired")
                tally.outcomes[key] = tally.outcomes.get(key, 0) + 1
            log.warning("dropped broadcast deliveries that waited too long", extra={
                "count": len(expired), "receivers": len({e.receiver for e in expired}),
                "oldest_seconds": round(now - oldest, 3), "max_age": backlog.limits.max_age})
        oldest_since = backlog.oldest_since()
        tally.backlog_entries = backlog.entries
        tally.backlog_bytes = backlog.bytes
        tally.oldest_seconds = max(0.0, now - oldest_since) if oldest_since is not None else 0.0
        self._tally = BroadcastTally()
        self.observer.broadcast_tally(tally)

    # -- workers ----------------------------------------------------------------------------
    async def _work(self, slot: _Slot) -> None:
        backlog = self.backlog
        loop = asyncio.get_running_loop()
        while True:
            entry = backlog.take(self.clock())
            if entry is None:
                waiter = loop.create_future()
                self._idle.append(waiter)
                try:
                    await waiter
                finally:
                    if not waiter.done():
                        waiter.cancel()
                continue
            try:
                await self._deliver(entry, slot)
            except asyncio.CancelledError:
                backlog.requeue(entry)
                raise
            backlog.done(entry)
            if not backlog.entries and self._round_soon is None:
                # Idle again: counts and gauges go out now rather than at the next round.
                self._round_soon = loop.call_soon(self._round)

    async def _deliver(self, entry: Entry, slot: _Slot) -> None:
        push = entry.push
        platform_id, country_code, party_id = entry.receiver
        platform = self.registry.snapshot.platforms.get(platform_id)
        endpoint = platform.endpoint(push.module, InterfaceRole.RECEIVER) if platform is not None else None
        label = f"{country_code}*{party_id}"
        outcome = "ok"
        status = 0
        detail = ""
        request_id = ""
        started = time.perf_counter()
        if platform is None or endpoint is None or platform.outbound_auth is None or not platform.registered \
                or platform.status is not ConnectionStatus.CONNECTED:
            outcome = "gone"
            detail = f"receiver {label} is no longer connected to the hub"
        else:
            url = endpoint.rstrip("/") + push.path if push.path else endpoint
            if push.query:
                url = f"{url}?{push.query}"
            request_id = next(self._request_ids)
            headers = forwarded_headers(platform.outbound_auth, request_id, push.correlation_id, self.hub_party,
                                        (country_code, party_id), json_body=entry.payload is not None,
                                        routing=sends_routing_headers(platform))
            slot.started = time.monotonic()
            try:
                response = await self.forwarder.exchange(entry.method, url, headers, entry.body, label, platform)
            except asyncio.CancelledError:
                if not slot.timed_out or self._closing:
                    raise
                task = asyncio.current_task()
                assert task is not None
                task.uncancel()  # our watchdog's, not a shutdown's: the delivery timed out
                outcome = "timeout"
                detail = self.forwarder.timeout_failure(label).message
            except UpstreamFailure as failure:
                outcome = failure.outcome.value
                detail = failure.message
            except Exception:
                outcome = "error"
                detail = "unexpected error while delivering"
                log.exception("broadcast delivery failed", extra={"receiver": label,
                                                                  "correlation_id": push.correlation_id})
            else:
                status = response.status
                ocpi = _ocpi_status(response.body) if status < 400 else None
                response.release()  # read: its bytes no longer count against the answer budget
                if status >= 400 or (ocpi is not None and not 1000 <= ocpi < 2000):
                    outcome = "rejected"
                    detail = f"receiver {label} answered HTTP {status}" + (f", OCPI {ocpi}" if ocpi else "")
            finally:
                slot.started = 0.0
                slot.timed_out = False
        tally = self._tally
        key = (push.module, outcome)
        tally.outcomes[key] = tally.outcomes.get(key, 0) + 1
        if outcome == "ok":
            tally.contacted.add(platform_id)
            return
        self.observer.delivery_failed(RequestRecord(
            entry.method, push.module, "broadcast", outcome, status, time.perf_counter() - started, push.sender,
            label, request_id, push.correlation_id, detail, receiver_platform=platform_id))


class _Slot:
    """What one worker is doing: since when its delivery is in flight (0: none), and whether the
    watchdog stopped it."""

    __slots__ = ("started", "timed_out")

    def __init__(self) -> None:
        self.started = 0.0
        self.timed_out = False


def _request_ids() -> Iterator[str]:
    """Version-4 UUIDs as strings (the spec advises UUIDs for X-Request-ID), drawn from random bytes
    fetched 1,024 ids at a time: ``str(uuid.uuid4())`` costs a getrandom call each (~15 µs here)."""
    while True:
        pool = os.urandom(16 * 1024)
        for at in range(0, len(pool), 16):
            h = pool[at:at + 16].hex()
            yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _row(entry: Entry) -> OutboxRow:
    push = entry.push
    platform_id, country_code, party_id = entry.receiver
    return OutboxRow(platform_id=platform_id, country_code=country_code, party_id=party_id, module=push.module,
                     method=entry.method, path=push.path, query=push.query, body=entry.body,
                     correlation_id=push.correlation_id, sender=push.sender, accepted_at=entry.since)


_REFUSALS = {
    Reason.RECEIVER_ENTRIES: "the broadcast backlog for receiver {receiver} is full ({held} deliveries waiting, "
                             "limit {limit})",
    Reason.RECEIVER_BYTES: "the broadcast backlog for receiver {receiver} is full ({held} bytes waiting, "
                           "limit {limit})",
    Reason.TOTAL_ENTRIES: "the hub's broadcast backlog is full ({held} deliveries waiting, limit {limit})",
    Reason.TOTAL_BYTES: "the hub's broadcast backlog is full ({held} bytes waiting, limit {limit})",
    Reason.SHUTTING_DOWN: "this hub process is shutting down and takes no broadcast push",
}


def _refusal(refused: Refused) -> HubError:
    receiver = f"{refused.receiver[1]}*{refused.receiver[2]}" if refused.receiver else ""
    why = _REFUSALS[refused.reason].format(receiver=receiver, held=refused.held, limit=refused.limit)
    return BacklogFullError(f"{why}; nothing of this push was accepted: retry after {BacklogFullError.retry_after} s")


def receiver_key(route: Route) -> ReceiverKey:
    return (route.platform.id, route.party.country_code, route.party.party_id)

