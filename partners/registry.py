"""The in-memory registry: an immutable snapshot of every platform and party, swapped as a whole.

Every lookup the request path makes is one dict access on the current snapshot; nothing here does
I/O. A change is made in the database, then a new snapshot is made and the holder's reference is
swapped (see ``partners.sync``), so a request sees either the old or the new registry, never a
half-updated one. The first snapshot is built from all rows (:func:`build_snapshot`); after that,
a change makes the next snapshot from the previous one and the rows that changed
(``partners.delta``), sharing everything else.

The snapshot's maps are ``immutables.Map`` (a hash array mapped trie, in C): a lookup costs about
what a dict's does, and a new map with a few entries changed shares all the others with the old one
(a change at 100,000 platforms costs microseconds, where copying dicts cost milliseconds).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import msgspec
from immutables import Map

from partners.model import ConnectionStatus, InterfaceRole, PlatformSettings, Role
from partners.party_views import PartyViews
from partners.tokens import Secret, authorization_value, hash_token, header_token_hashes

PartyKey = tuple[str, str]
"""``(COUNTRY_CODE, PARTY_ID)`` upper-cased: OCPI identifiers are case-insensitive."""

EndpointKey = tuple[str, InterfaceRole]


def party_key(country_code: str, party_id: str) -> PartyKey:
    return (country_code.upper(), party_id.upper())


class Party(msgspec.Struct, frozen=True, kw_only=True):
    country_code: str
    party_id: str
    role: Role
    platform_id: int
    business_name: str = ""
    last_updated: str = ""

    @property
    def key(self) -> PartyKey:
        return (self.country_code, self.party_id)

    @property
    def label(self) -> str:
        """How a party is named in messages to partners and in logs: ``NL*ABC``."""
        return f"{self.country_code}*{self.party_id}"


class Platform(msgspec.Struct, frozen=True, kw_only=True):
    """One OCPI connection. ``outbound_auth`` is the ready-made Authorization header value."""

    id: int
    name: str
    status: ConnectionStatus
    registered: bool
    versions_url: str | None
    version: str | None
    endpoints: Mapping[EndpointKey, str]
    parties: tuple[Party, ...]
    outbound_auth: str | None = None
    settings: PlatformSettings = PlatformSettings()
    # The operator's suspension (then ``status`` is SUSPENDED too); nothing the platform does lifts it.
    suspended: bool = False
    # SHA-256 of the token the platform presents to us (the key of ``Snapshot.by_token_hash``).
    token_hash: bytes | None = None
    # The database's version of this platform's rows (its own and its parties'): a full reload
    # compares these instead of the rows themselves (``partners.delta.differences``).
    row_version: int = 0

    def endpoint(self, module: str, interface: InterfaceRole) -> str | None:
        return self.endpoints.get((module, interface))

    def party(self, key: PartyKey) -> Party | None:
        for p in self.parties:
            if p.key == key:
                return p
        return None

    def parties_in(self, roles: frozenset[Role]) -> tuple[Party, ...]:
        return tuple(p for p in self.parties if p.role in roles)


class PlatformRow(msgspec.Struct, kw_only=True):
    """A platform as the store hands it over (token as a hash, outbound token in the clear)."""

    id: int
    name: str
    status: ConnectionStatus
    token_hash: bytes | None
    outbound_token: str | None
    versions_url: str | None
    version: str | None
    endpoints: list[dict[str, Any]]
    settings: dict[str, Any] = {}
    suspended: bool = False
    row_version: int = 0


class PartyRow(msgspec.Struct, kw_only=True):
    platform_id: int
    country_code: str
    party_id: str
    role: Role
    business_name: str
    last_updated: str


class Agreement(msgspec.Struct, frozen=True, kw_only=True):
    """A roaming agreement in force (or to come into force): what the request path checks."""

    id: int
    cpo: PartyKey
    emsp: PartyKey
    modules: frozenset[str] | None  # None: every module
    valid_from: float  # epoch seconds
    valid_until: float  # epoch seconds; infinity when open-ended
    row_version: int = 0  # the database's version of the row (see ``Platform.row_version``)

    @property
    def key(self) -> AgreementKey:
        return (*self.cpo, *self.emsp)

    def covers(self, module: str, now: float) -> bool:
        return self.valid_from <= now < self.valid_until and (self.modules is None or module in self.modules)


class AgreementRow(msgspec.Struct, kw_only=True):
    """An active agreement as the store hands it over (suspended and ended ones are not loaded)."""

    id: int
    cpo_country_code: str
    cpo_party_id: str
    emsp_country_code: str
    emsp_party_id: str
    modules: list[str] | None
    valid_from: float
    valid_until: float | None
    row_version: int = 0
    # False: suspended, ended or past its end, so not in the snapshot (a change read by id says so).
    in_force: bool = True


AgreementKey = tuple[str, str, str, str]
"""``(cpo country_code, cpo party_id, emsp country_code, emsp party_id)``: flat, so that the request path
builds one tuple from attributes instead of nesting two."""


class Snapshot:
    """Everything the request path needs to know about partners, as dicts.

    Never changed once in use: a change makes a new snapshot (``partners.delta``) that shares every
    unchanged entry with this one."""

    __slots__ = ("_auth_cache", "agreements", "by_party", "by_token_hash", "platforms", "views")

    def __init__(
        self,
        platforms: Mapping[int, Platform],
        by_token_hash: Mapping[bytes, int],
        by_party: Mapping[PartyKey, tuple[Party, ...]],
        agreements: Mapping[AgreementKey, tuple[Agreement, ...]] | None = None,
        views: PartyViews | None = None,
        auth_cache: dict[bytes, Platform] | None = None,
    ) -> None:
        self.platforms: Map[int, Platform] = _map(platforms)
        # Token hash -> platform id (not the Platform: a change to a platform that keeps its token
        # leaves this map as it is).
        self.by_token_hash: Map[bytes, int] = _map(by_token_hash)
        self.by_party: Map[PartyKey, tuple[Party, ...]] = _map(by_party)
        # Roaming agreements by (cpo party, emsp party): one lookup per request, then a comparison of
        # timestamps, so an agreement starts and ends by the clock without a reload.
        self.agreements: Map[AgreementKey, tuple[Agreement, ...]] = _map(agreements or {})
        # Parties in hubclientinfo's order and by last_updated, and counts for the metrics.
        self.views = views if views is not None else PartyViews.build(platforms.values())
        # Raw Authorization header -> platform, filled on first successful use and handed on to the next
        # snapshot: an entry counts only while its platform is that very object in ``platforms`` (a
        # changed platform is a new object), so nothing has to be invalidated. Misses are never cached.
        self._auth_cache: dict[bytes, Platform] = auth_cache if auth_cache is not None else {}

    def successor(self, platforms: Map[int, Platform], by_token_hash: Map[bytes, int],
                  by_party: Map[PartyKey, tuple[Party, ...]], agreements: Map[AgreementKey, tuple[Agreement, ...]],
                  views: PartyViews) -> Snapshot:
        """The snapshot after a change, keeping what this one learnt about Authorization headers."""
        return Snapshot(platforms, by_token_hash, by_party, agreements, views, self._auth_cache)

    def platform_for_header(self, header_value: bytes) -> Platform | None:
        platform = self._auth_cache.get(header_value)
        if platform is not None and self.platforms.get(platform.id) is platform:
            return platform
        for digest in header_token_hashes(header_value):
            platform_id = self.by_token_hash.get(digest)
            if platform_id is not None:
                platform = self.platforms[platform_id]
                if len(self._auth_cache) >= 4 * len(self.by_token_hash) + 16:
                    # Bounded by the number of tokens times the two accepted spellings; entries of
                    # replaced tokens and changed platforms are only dropped here.
                    self._auth_cache.clear()
                self._auth_cache[header_value] = platform
                return platform
        return None

    def platform_for_token(self, token: str) -> Platform | None:
        platform_id = self.by_token_hash.get(hash_token(token))
        return None if platform_id is None else self.platforms[platform_id]

    def parties(self) -> Iterable[Party]:
        for parties in self.by_party.values():
            yield from parties


K = TypeVar("K")
V = TypeVar("V")


def _map(mapping: Mapping[K, V]) -> Map[K, V]:
    return mapping if isinstance(mapping, Map) else Map(mapping)


_INTERFACES: dict[object, InterfaceRole] = {r.value: r for r in InterfaceRole}
_NO_SETTINGS = PlatformSettings()


def make_party(row: PartyRow) -> Party:
    return Party(country_code=row.country_code.upper(), party_id=row.party_id.upper(), role=row.role,
                 platform_id=row.platform_id, business_name=row.business_name, last_updated=row.last_updated)


def make_platform(row: PlatformRow, parties: tuple[Party, ...]) -> Platform:
    """The snapshot's entry for one platform row and its parties (in the order of their rows)."""
    endpoints: dict[EndpointKey, str] = {}
    for ep in row.endpoints:
        role = _INTERFACES.get(ep.get("role"))  # a dict, not InterfaceRole(): half the build time
        identifier = str(ep.get("identifier", ""))
        url = str(ep.get("url", ""))
        if role is not None:
            endpoints[(identifier, role)] = url
        else:
            # Role-less endpoints (credentials, or a pre-2.2 style listing) serve both interfaces.
            endpoints.setdefault((identifier, InterfaceRole.SENDER), url)
            endpoints.setdefault((identifier, InterfaceRole.RECEIVER), url)
    return Platform(
        id=row.id,
        name=row.name,
        status=ConnectionStatus.SUSPENDED if row.suspended else row.status,
        registered=row.outbound_token is not None,
        versions_url=row.versions_url,
        version=row.version,
        endpoints=endpoints,
        parties=parties,
        settings=msgspec.convert(row.settings, PlatformSettings) if row.settings else _NO_SETTINGS,
        suspended=row.suspended,
        outbound_auth=(
            authorization_value(Secret(row.outbound_token)).decode("ascii")
            if row.outbound_token is not None else None
        ),
        token_hash=None if row.token_hash is None else bytes(row.token_hash),
        row_version=row.row_version,
    )


def by_platform(parties: Iterable[Party]) -> tuple[Party, ...]:
    """A ``by_party`` entry: parties sharing one key, ordered by platform (then as their platform lists
    them), whichever order they were found in, so that a snapshot made by changes equals one built whole."""
    found = tuple(parties)
    return found if len(found) < 2 else tuple(sorted(found, key=_platform_id))


def _platform_id(party: Party) -> int:
    return party.platform_id


# Thousands of agreements share a few module sets: one frozenset each (bounded by the combinations of
# module names an operator writes).
_MODULE_SETS: dict[tuple[str, ...], frozenset[str]] = {}


def make_agreement(row: AgreementRow) -> Agreement:
    modules = None
    if row.modules is not None:
        names = tuple(row.modules)
        modules = _MODULE_SETS.get(names)
        if modules is None:
            modules = _MODULE_SETS[names] = frozenset(names)
    return Agreement(
        id=row.id, cpo=(row.cpo_country_code, row.cpo_party_id), emsp=(row.emsp_country_code, row.emsp_party_id),
        modules=modules, valid_from=row.valid_from,
        valid_until=math.inf if row.valid_until is None else row.valid_until, row_version=row.row_version,
    )


def by_id(agreements: Iterable[Agreement]) -> tuple[Agreement, ...]:
    """An ``agreements`` entry: ordered by id, as a build from rows in id order has them."""
    found = tuple(agreements)
    return found if len(found) < 2 else tuple(sorted(found, key=_agreement_id))


def _agreement_id(agreement: Agreement) -> int:
    return agreement.id


EMPTY = Snapshot({}, {}, {})


def build_snapshot(platform_rows: Iterable[PlatformRow], party_rows: Iterable[PartyRow],
                   agreement_rows: Iterable[AgreementRow] = ()) -> Snapshot:
    """A new snapshot from all rows of the store; pure, so it tests without a database.

    The cyclic garbage collector is paused while it runs: the build allocates many long-lived
    objects and no cycles, and collections triggered by those allocations made it superlinear
    (100,000 platforms: 3.4 s with, well under 1 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(platform_rows, party_rows, agreement_rows)
    finally:
        if enabled:
            gc.enable()


def _build(platform_rows: Iterable[PlatformRow], party_rows: Iterable[PartyRow],
           agreement_rows: Iterable[AgreementRow]) -> Snapshot:
    parties_of: dict[int, list[Party]] = {}
    for party_row in party_rows:
        parties_of.setdefault(party_row.platform_id, []).append(make_party(party_row))
    # Straight into the maps (no dict first: at 100,000 platforms that doubled the memory at the peak).
    platforms, by_token, by_party = Map[int, Platform]().mutate(), Map[bytes, int]().mutate(), \
        Map[PartyKey, tuple[Party, ...]]().mutate()
    for row in platform_rows:
        platform = platforms[row.id] = make_platform(row, tuple(parties_of.pop(row.id, ())))
        if platform.token_hash is not None:
            by_token[platform.token_hash] = row.id
        for party in platform.parties:
            by_party[party.key] = by_platform((*by_party.get(party.key, ()), party))
    agreements = Map[AgreementKey, tuple[Agreement, ...]]().mutate()
    for agreement_row in agreement_rows:
        agreement = make_agreement(agreement_row)
        agreements[agreement.key] = by_id((*agreements.get(agreement.key, ()), agreement))
    return Snapshot(platforms.finish(), by_token.finish(), by_party.finish(), agreements.finish())


class Registry:
    """Holds the current snapshot; ``swap`` replaces it in one assignment."""

    __slots__ = ("snapshot", "version")

    def __init__(self) -> None:
        self.snapshot: Snapshot = EMPTY
        self.version = 0

    def swap(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.version += 1
