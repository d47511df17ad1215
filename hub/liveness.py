"""hubclientinfo in motion: still-alive checks, and pushing every ClientInfo change to the parties.

* Contact: every request from a party and every answer from one counts as a sign of life; failed
  forwards (connection refused, reset, not HTTP) count against it.
* Still-alive (leader only): a platform silent for ``still_alive_seconds`` gets a GET on its versions
  endpoint; ``offline_after`` failures in a row make it OFFLINE, the first success CONNECTED again.
  OFFLINE platforms are probed every round.
* Pushes (leader only): after each registry reload the leader compares party statuses with what
  it last pushed and PUTs each changed ClientInfo to every connected platform that implements the
  hubclientinfo RECEIVER interface (not to the party's own platform), in that platform's OCPI version
  (2.1.1 has no hubclientinfo: nothing is pushed to 2.1.1 platforms). Status changes land in the
  database first, so whichever replica saw the evidence, exactly one replica pushes.
* A platform that becomes CONNECTED (a new registration, back from OFFLINE, unsuspended) is told the
  current ClientInfo of every other party the hub knows, one PUT each: pushes it missed are not
  queued for it (the spec forbids queueing), so it would otherwise know only what changes from now on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Coroutine
from typing import Any

import msgspec

from hub.background import cancel
from hub.leader import LeaderLease
from partners import store
from partners.model import ConnectionStatus, InterfaceRole, Role
from partners.registry import Party, Platform, Registry
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


class Liveness:
    def __init__(self, registry: Registry, pool: store.Pool, forwarder: Forwarder, lease: LeaderLease, *,
                 still_alive_seconds: float, offline_after: int) -> None:
        self.registry = registry
        self.pool = pool
        self.forwarder = forwarder
        self.lease = lease
        self.still_alive_seconds = still_alive_seconds
        self.offline_after = offline_after
        self.last_contact: dict[int, float] = {}
        self.failures: dict[int, int] = {}
        self.pushed: dict[PartyState, ConnectionStatus] | None = None
        # Platforms that were CONNECTED with a hubclientinfo RECEIVER endpoint at the last push round.
        self.listening: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

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

    async def stop(self) -> None:
        await cancel(self._loop_task)
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
        now = time.monotonic()
        probes = []
        for platform in self.registry.snapshot.platforms.values():
            if not platform.registered or platform.versions_url is None or platform.outbound_auth is None:
                continue
            if platform.status is ConnectionStatus.OFFLINE or (
                platform.status is ConnectionStatus.CONNECTED
                and now - self.last_contact.setdefault(platform.id, now) >= self.still_alive_seconds
            ):
                probes.append(self._probe(platform.id, platform.versions_url,
                                          platform.versions_auth or platform.outbound_auth, platform.status, platform))
        await asyncio.gather(*probes)

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
    def registry_changed(self) -> None:
        """Called after every registry reload: push what changed since the last push."""
        snapshot = self.registry.snapshot
        current = {(p.country_code, p.party_id, p.role): snapshot.platforms[p.platform_id].status
                   for p in snapshot.parties()}
        listening = {p.id for p in snapshot.platforms.values()
                     if p.status is ConnectionStatus.CONNECTED and p.outbound_auth is not None
                     and p.endpoint("hubclientinfo", InterfaceRole.RECEIVER) is not None}
        if not self.lease.is_leader:
            self.pushed = None  # a new leader starts from what it sees, without a storm of pushes
            return
        if self.pushed is None:
            self.pushed, self.listening = current, listening
            return
        changed = [state for state, status in current.items() if self.pushed.get(state) != status]
        gone = [state for state in self.pushed if state not in current]
        joined = listening - self.listening
        self.pushed, self.listening = current, listening
        for platform_id in sorted(joined):
            self._spawn(self._tell(snapshot.platforms[platform_id]))
        for cc, pid, role in changed:
            party = next(p for p in snapshot.by_party[(cc, pid)] if p.role is role)
            self._spawn(self._push(party, current[(cc, pid, role)]))
        for cc, pid, role in gone:
            # Removed by an operator: ClientInfo cannot be deleted, so it is invalidated as SUSPENDED.
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            party = Party(country_code=cc, party_id=pid, role=role, platform_id=-1, last_updated=stamp)
            self._spawn(self._push(party, ConnectionStatus.SUSPENDED))

    async def _push(self, party: Party, status: ConnectionStatus) -> None:
        snapshot = self.registry.snapshot
        info = client_info(party, status)
        bodies: dict[OcpiVersion, bytes | None] = {}
        sends = []
        for platform in snapshot.platforms.values():
            endpoint = platform.endpoint("hubclientinfo", InterfaceRole.RECEIVER)
            if (endpoint is None or platform.id == party.platform_id or platform.outbound_auth is None
                    or platform.status is not ConnectionStatus.CONNECTED):
                continue
            version = platform.version or OcpiVersion.V2_2_1
            if version not in bodies:
                document = client_info_in(version, info)
                bodies[version] = None if document is None else _encode(document)
            body = bodies[version]
            if body is None:
                continue
            url = f"{endpoint.rstrip('/')}/{party.country_code}/{party.party_id}"
            headers = [("Authorization", platform.outbound_auth),
                       ("X-Request-ID", str(uuid.uuid4())), ("X-Correlation-ID", str(uuid.uuid4())),
                       ("Content-Type", "application/json")]
            sends.append(self._send(url, headers, body, platform))
        await asyncio.gather(*sends)

    async def _tell(self, platform: Platform) -> None:
        """Every other party's current ClientInfo to a platform that just became CONNECTED."""
        endpoint = platform.endpoint("hubclientinfo", InterfaceRole.RECEIVER)
        snapshot = self.registry.snapshot
        if endpoint is None or platform.outbound_auth is None:
            return
        slots = asyncio.Semaphore(8)
        version = platform.version or OcpiVersion.V2_2_1

        async def put(party: Party) -> None:
            assert endpoint is not None and platform.outbound_auth is not None
            # In the newcomer's OCPI version, as every push (None: that version cannot carry this ClientInfo).
            document = client_info_in(version, client_info(party, snapshot.platforms[party.platform_id].status))
            if document is None:
                return
            body = _encode(document)
            url = f"{endpoint.rstrip('/')}/{party.country_code}/{party.party_id}"
            headers = [("Authorization", platform.outbound_auth),
                       ("X-Request-ID", str(uuid.uuid4())), ("X-Correlation-ID", str(uuid.uuid4())),
                       ("Content-Type", "application/json")]
            async with slots:
                await self._send(url, headers, body, platform)

        others = sorted((p for p in snapshot.parties() if p.platform_id != platform.id), key=lambda p: (p.key, p.role))
        await asyncio.gather(*(put(party) for party in others))

    async def _send(self, url: str, headers: list[tuple[str, str]], body: bytes, platform: Platform) -> None:
        try:
            await self.forwarder.send("PUT", url, headers, body, f"platform {platform.id}", platform)
        except UpstreamFailure as failure:
            log.warning("ClientInfo push failed", extra={"platform": platform.id, "outcome": failure.outcome.value})
