"""hubclientinfo in motion: still-alive checks, and pushing every ClientInfo change to the parties.

* Contact: every request from a party and every answer from one counts as a sign of life; failed
  forwards (connection refused, reset, not HTTP) count against it.
* Still-alive (leader only): a platform silent for ``still_alive_seconds`` gets a GET on its versions
  endpoint; ``offline_after`` failures in a row make it OFFLINE, the first success CONNECTED again.
  OFFLINE platforms are probed every round.
* Pushes (leader only): after each registry change the leader compares the statuses of the parties
  of the platforms that changed, before and after, and PUTs each changed ClientInfo to every
  connected platform that implements the hubclientinfo RECEIVER interface (not to the party's own
  platform), in that platform's OCPI version (2.1.1 has no hubclientinfo: nothing is pushed to 2.1.1
  platforms). Status changes land in the database first, so whichever replica saw the evidence,
  exactly one replica pushes.
* A platform that becomes CONNECTED (a new registration, back from OFFLINE, unsuspended) is told the
  current ClientInfo of every other party the hub knows, one PUT each: pushes it missed are not
  queued for it (the spec forbids queueing), so it would otherwise know only what changes from now on.

Bounds: the work per change is proportional to the platforms it names (the receivers are an index
kept per change, not a walk over the registry); pushes wait in a queue that keeps the latest status
per party and go out in batches, ``concurrency`` requests at once (a newcomer's catch-up too); the
still-alive round walks the registry in paced slices (``partners.pacing``) and probes ``concurrency``
platforms at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Generator, Iterator
from typing import Any

import msgspec

from hub.background import bounded, cancel
from hub.leader import LeaderLease
from partners import store
from partners.model import ConnectionStatus, InterfaceRole, Role
from partners.pacing import Pacer
from partners.registry import Party, Platform, Registry, Snapshot
from partners.sync import Change
from routing.crossing import version_of
from routing.forward import Forwarder, UpstreamFailure
from routing.versions import Context, NotInVersionError, OcpiVersion, UntranslatableError, translate

log = logging.getLogger("ocpihub.liveness")


class ClientInfo(msgspec.Struct, kw_only=True):
    party_id: str
    country_code: str
    role: Role
    status: ConnectionStatus
    last_updated: str


def client_info(party: Party, status: ConnectionStatus) -> ClientInfo:
    return ClientInfo(party_id=party.party_id, country_code=party.country_code, role=party.role, status=status,
                      last_updated=party.last_updated)


def client_info_in(version: OcpiVersion, info: ClientInfo) -> dict[str, Any] | None:
    """``info`` as a ClientInfo of ``version``; None where that version cannot carry it (2.1.1 has no
    hubclientinfo; 2.3.0 has no HUB role)."""
    document: dict[str, Any] = msgspec.to_builtins(info)
    if version is OcpiVersion.V2_2_1:
        return document
    try:
        translated: dict[str, Any] = translate(document, "hubclientinfo", "client_info", OcpiVersion.V2_2_1, version,
                                               Context()).document
    except (NotInVersionError, UntranslatableError):
        return None
    return translated


_encode = msgspec.json.Encoder().encode
PartyState = tuple[str, str, Role]
# Platforms looked at per slice of the still-alive walk.
_WALK_STEP = 1000


def takes_pushes(platform: Platform) -> bool:
    return (platform.endpoint("hubclientinfo", InterfaceRole.RECEIVER) is not None
            and platform.outbound_auth is not None and platform.status is ConnectionStatus.CONNECTED)


def status_changes(change: Change) -> list[tuple[Party, ConnectionStatus]]:
    """The ClientInfo each party of the changed platforms should now be known by, where its status
    differs from before the change; a party gone from the registry as SUSPENDED (ClientInfo cannot
    be deleted). Pure, and proportional to the platforms the change names."""
    if change.platforms is None:
        return []
    before: dict[PartyState, tuple[Party, ConnectionStatus]] = {}
    after: dict[PartyState, tuple[Party, ConnectionStatus]] = {}
    for platform_id in change.platforms:
        for snapshot, states in ((change.before, before), (change.after, after)):
            platform = snapshot.platforms.get(platform_id)
            if platform is not None:
                for party in platform.parties:
                    states[(party.country_code, party.party_id, party.role)] = (party, platform.status)
    out = [(party, status) for state, (party, status) in after.items()
           if state not in before or before[state][1] is not status]
    stamp = ""
    for state, (party, _) in before.items():
        if state not in after and not _still_there(change.after, state):
            stamp = stamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            out.append((Party(country_code=party.country_code, party_id=party.party_id, role=party.role,
                              platform_id=-1, last_updated=stamp), ConnectionStatus.SUSPENDED))
    return out


def _still_there(snapshot: Snapshot, state: PartyState) -> bool:
    """Whether the party moved to a platform this change did not name (its own change comes apart)."""
    return any(p.role is state[2] for p in snapshot.by_party.get((state[0], state[1]), ()))


class Liveness:
    def __init__(self, registry: Registry, pool: store.Pool, forwarder: Forwarder, lease: LeaderLease, *,
                 still_alive_seconds: float, offline_after: int, concurrency: int = 32, loop_share: float = 0.1,
                 on_busy: Callable[[float], None] | None = None) -> None:
        self.registry = registry
        self.pool = pool
        self.forwarder = forwarder
        self.lease = lease
        self.still_alive_seconds = still_alive_seconds
        self.offline_after = offline_after
        self.concurrency = concurrency
        self.pacer = Pacer(loop_share, on_busy=on_busy)
        self.last_contact: dict[int, float] = {}
        self.failures: dict[int, int] = {}
        # Platforms that take ClientInfo pushes (ids, in a dict for its order), kept per change.
        self.receivers: dict[int, None] = {}
        # Pushes not yet sent: the latest status per party (a party that flaps is pushed once per batch).
        self.pending: dict[PartyState, tuple[Party, ConnectionStatus]] = {}
        self._push_wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._push_task: asyncio.Task[None] | None = None

    # -- evidence, from the request path (cheap: dict writes) --------------------------------
    def contact(self, platform_id: int) -> None:
        if platform_id >= 0:
            self.last_contact[platform_id] = time.monotonic()
            self.failures[platform_id] = 0

    def failed(self, platform_id: int) -> None:
        if platform_id < 0:
            return
        count = self.failures.get(platform_id, 0) + 1
        self.failures[platform_id] = count
        platform = self.registry.snapshot.platforms.get(platform_id)
        if count == self.offline_after and platform is not None and platform.status is ConnectionStatus.CONNECTED:
            self._spawn(self._set_status(platform_id, ConnectionStatus.OFFLINE, "forwards failed"))

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._still_alive_loop(), name="still-alive")
        self._push_task = asyncio.create_task(self._push_loop(), name="clientinfo-pushes")

    async def stop(self) -> None:
        await cancel(self._loop_task)
        await cancel(self._push_task)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _set_status(self, platform_id: int, status: ConnectionStatus, why: str) -> None:
        log.info("platform %s is now %s (%s)", platform_id, status.value, why)
        try:
            await store.set_status(self.pool, platform_id, status)
        except Exception as exc:
            if not store.unreachable(exc):
                raise
            # Not retried from here: the still-alive checks see the platform again once the database is back.
            log.warning("could not record platform %s as %s: database unreachable", platform_id, status.value)

    # -- still alive (leader) -----------------------------------------------------------------
    async def _still_alive_loop(self) -> None:
        interval = max(0.05, min(30.0, self.still_alive_seconds / 5))
        while True:
            await asyncio.sleep(interval)
            if not self.lease.is_leader:
                continue
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("still-alive round failed", exc_info=True)

    async def check_once(self) -> None:
        due = await self.pacer.run(self._due(self.registry.snapshot, time.monotonic()))
        await bounded(due, lambda p: self._probe(p.id, p.versions_url or "", p.versions_auth or p.outbound_auth or "",
                                                 p.status, p), self.concurrency)

    def _due(self, snapshot: Snapshot, now: float) -> Generator[None, None, list[Platform]]:
        """The platforms to probe this round, found in slices."""
        due = []
        for seen, platform in enumerate(snapshot.platforms.values(), 1):
            if platform.registered and platform.versions_url is not None and platform.outbound_auth is not None and (
                platform.status is ConnectionStatus.OFFLINE or (
                    platform.status is ConnectionStatus.CONNECTED
                    and now - self.last_contact.setdefault(platform.id, now) >= self.still_alive_seconds)):
                due.append(platform)
            if seen % _WALK_STEP == 0:
                yield
        return due

    async def _probe(self, platform_id: int, url: str, auth: str, status: ConnectionStatus,
                     platform: Platform | None = None) -> None:
        headers = [("Authorization", auth), ("X-Request-ID", str(uuid.uuid4())),
                   ("X-Correlation-ID", str(uuid.uuid4()))]
        try:
            response = await self.forwarder.send("GET", url, headers, None, f"platform {platform_id}", platform)
            alive = response.status < 500
        except UpstreamFailure:
            alive = False
        if alive:
            self.last_contact[platform_id] = time.monotonic()
            self.failures[platform_id] = 0
            if status is ConnectionStatus.OFFLINE:
                await self._set_status(platform_id, ConnectionStatus.CONNECTED, "still-alive check answered")
            return
        count = self.failures.get(platform_id, 0) + 1
        self.failures[platform_id] = count
        if count >= self.offline_after and status is ConnectionStatus.CONNECTED:
            await self._set_status(platform_id, ConnectionStatus.OFFLINE, "still-alive checks failed")

    # -- pushes (leader) ----------------------------------------------------------------------
    def registry_changed(self, change: Change) -> None:
        """Called after every registry swap: keep the receivers index, tell a platform that just began to
        take pushes every other party's ClientInfo, and queue the ClientInfo of each party whose status
        changed (on the leader)."""
        after = change.after
        joined = []
        if change.platforms is None:
            self.receivers = {p.id: None for p in after.platforms.values() if takes_pushes(p)}
        else:
            for platform_id in change.platforms:
                platform = after.platforms.get(platform_id)
                if platform is not None and takes_pushes(platform):
                    if platform_id not in self.receivers:
                        joined.append(platform)
                    self.receivers[platform_id] = None
                else:
                    self.receivers.pop(platform_id, None)
        if not self.lease.is_leader:
            return
        for platform in joined:
            self._spawn(self._tell(platform))
        for party, status in status_changes(change):
            self.pending[(party.country_code, party.party_id, party.role)] = (party, status)
        if self.pending:
            self._push_wake.set()

    async def _push_loop(self) -> None:
        while True:
            await self._push_wake.wait()
            self._push_wake.clear()
            batch, self.pending = self.pending, {}
            try:
                await self.push(list(batch.values()))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("ClientInfo pushes failed", exc_info=True)

    async def push(self, batch: list[tuple[Party, ConnectionStatus]]) -> None:
        """Send each ClientInfo of ``batch`` to every receiver but the party's own platform, at most
        ``concurrency`` requests at once; returns when all are answered (so one party's pushes never
        overtake each other)."""
        snapshot = self.registry.snapshot
        receivers = [p for p in map(snapshot.platforms.get, list(self.receivers)) if p is not None and takes_pushes(p)]

        def sends() -> Iterator[tuple[Party, bytes, Platform]]:
            for party, status in batch:
                info = client_info(party, status)
                bodies: dict[OcpiVersion, bytes | None] = {}  # one body per version
                for platform in receivers:
                    if platform.id == party.platform_id:
                        continue
                    version = version_of(platform)
                    if version not in bodies:
                        document = client_info_in(version, info)
                        bodies[version] = None if document is None else _encode(document)
                    body = bodies[version]
                    if body is not None:
                        yield party, body, platform

        await bounded(sends(), self._send, self.concurrency)

    async def _tell(self, platform: Platform) -> None:
        """Every other party's current ClientInfo to a platform that just became CONNECTED (in the order
        the registry keeps them), ``concurrency`` at once."""
        snapshot = self.registry.snapshot
        version = version_of(platform)

        def sends() -> Iterator[tuple[Party, bytes, Platform]]:
            # Made as the senders take them (one body per send, not 100,000 up front on the loop).
            for party in snapshot.views.order:
                if party.platform_id == platform.id:
                    continue
                # In the newcomer's OCPI version, as every push (None: that version cannot carry this ClientInfo).
                document = client_info_in(version, client_info(party, snapshot.platforms[party.platform_id].status))
                if document is not None:
                    yield party, _encode(document), platform

        await bounded(sends(), self._send, self.concurrency)

    async def _send(self, item: tuple[Party, bytes, Platform]) -> None:
        party, body, platform = item
        endpoint = platform.endpoint("hubclientinfo", InterfaceRole.RECEIVER) or ""
        url = f"{endpoint.rstrip('/')}/{party.country_code}/{party.party_id}"
        headers = [("Authorization", platform.outbound_auth or ""),
                   ("X-Request-ID", str(uuid.uuid4())), ("X-Correlation-ID", str(uuid.uuid4())),
                   ("Content-Type", "application/json")]
        try:
            await self.forwarder.send("PUT", url, headers, body, f"platform {platform.id}", platform)
        except UpstreamFailure as failure:
            log.warning("ClientInfo push failed", extra={"platform": platform.id, "outcome": failure.outcome.value})
