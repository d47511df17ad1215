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

import base64
import gc
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import msgspec
from immutables import Map

from partners.model import ConnectionStatus, InterfaceRole, PlatformSettings, Role
from partners.party_views import PartyViews
from partners.tokens import Secret, TokenEncoding, authorization_value, hash_token, header_token_hashes
from routing.versions.version import OcpiVersion

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
    """One OCPI connection. ``outbound_auth`` is the ready-made Authorization header value for every
    call to the platform, spelled as ``token_encoding`` says; ``versions_auth`` is the one for its
    versions endpoint (still-alive checks, discovery), which a few 2.1.1 stacks want spelled otherwise."""

    id: int
    name: str
    status: ConnectionStatus
    registered: bool
    versions_url: str | None
    version: OcpiVersion | None
    endpoints: Mapping[EndpointKey, str]
    parties: tuple[Party, ...]
    outbound_auth: str | None = None
    settings: PlatformSettings = PlatformSettings()
    # The operator's suspension (then ``status`` is SUSPENDED too); nothing the platform does lifts it.
    suspended: bool = False
    token_encoding: TokenEncoding = TokenEncoding.BASE64
    versions_token_encoding: TokenEncoding = TokenEncoding.BASE64
    versions_auth: str | None = None
    # Until when (epoch seconds) the platform's token before its last credentials update is accepted too;
    # None: no such token. The first use of the new token ends it early.
    previous_token_until: float | None = None
    # SHA-256 of the tokens the platform presents to us (the keys of ``Snapshot.by_token_hash`` and
    # ``Snapshot.by_previous_token``): what a change removes from those maps.
    token_hash: bytes | None = None
    previous_token_hash: bytes | None = None
    # The database's version of this platform's rows (its own and its parties'): a full reload
    # compares these instead of the rows themselves (``partners.delta.differences``).
    row_version: int = 0

    def __repr__(self) -> str:
        # The Authorization values hold the partner's token: a Platform in a log line or a traceback's
        # locals must not show it.
        return (f"Platform(id={self.id}, name={self.name!r}, status={self.status.value}, "
                f"version={self.version}, parties={[p.label for p in self.parties]})")

    __str__ = __repr__

    @property
    def outbound_token(self) -> Secret | None:
        """The token the hub presents to the platform, read back from ``outbound_auth`` (kept once: the
        registrar needs it rarely, to call the platform's credentials module)."""
        if self.outbound_auth is None:
            return None
        value = self.outbound_auth.partition(" ")[2]
        if self.token_encoding is TokenEncoding.BASE64:
            value = base64.b64decode(value).decode("utf-8")
        return Secret(value)

    @property
    def credentials_url(self) -> str | None:
        """The platform's own credentials endpoint; None for stacks that have none (OCN-era 2.2 ones):
        the hub can then neither register with them, nor update or delete credentials on their side."""
        return self.endpoints.get(("credentials", InterfaceRole.SENDER))

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
    token_encoding: TokenEncoding = TokenEncoding.BASE64
    versions_token_encoding: TokenEncoding = TokenEncoding.BASE64
    previous_token_hash: bytes | None = None
    previous_token_until: float | None = None
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

    __slots__ = ("_auth_cache", "agreements", "by_party", "by_previous_token", "by_token_hash", "new_token_used",
                 "platforms", "views")

    def __init__(
        self,
        platforms: Mapping[int, Platform],
        by_token_hash: Mapping[bytes, int],
        by_party: Mapping[PartyKey, tuple[Party, ...]],
        agreements: Mapping[AgreementKey, tuple[Agreement, ...]] | None = None,
        views: PartyViews | None = None,
        auth_cache: dict[bytes, Platform] | None = None,
        by_previous_token: Mapping[bytes, int] | None = None,
    ) -> None:
        self.platforms: Map[int, Platform] = _map(platforms)
        # Token hash -> platform id (not the Platform: a change to a platform that keeps its token
        # leaves this map as it is).
        self.by_token_hash: Map[bytes, int] = _map(by_token_hash)
        self.by_party: Map[PartyKey, tuple[Party, ...]] = _map(by_party)
        # Roaming agreements by (cpo party, emsp party): one lookup per request, then a comparison of
        # timestamps, so an agreement starts and ends by the clock without a reload.
        self.agreements: Map[AgreementKey, tuple[Agreement, ...]] = _map(agreements or {})
        # Tokens replaced by a credentials update (hash -> platform id), still accepted until the
        # platform's ``previous_token_until`` (checked at each use: they are never cached).
        self.by_previous_token: Map[bytes, int] = _map(by_previous_token or {})
        # Told the id of a platform that used its new token while its previous one was still accepted
        # (the registry's owner ends the previous one in the store). Set by :meth:`Registry.swap`.
        self.new_token_used: Callable[[int], None] | None = None
        # Parties in hubclientinfo's order and by last_updated, and counts for the metrics.
        self.views = views if views is not None else PartyViews.build(platforms.values())
        # Raw Authorization header -> platform, filled on first successful use and handed on to the next
        # snapshot: an entry counts only while its platform is that very object in ``platforms`` (a
        # changed platform is a new object), so nothing has to be invalidated. Misses are never cached.
        self._auth_cache: dict[bytes, Platform] = auth_cache if auth_cache is not None else {}

    def successor(self, platforms: Map[int, Platform], by_token_hash: Map[bytes, int],
                  by_party: Map[PartyKey, tuple[Party, ...]], agreements: Map[AgreementKey, tuple[Agreement, ...]],
                  views: PartyViews, by_previous_token: Map[bytes, int]) -> Snapshot:
        """The snapshot after a change, keeping what this one learnt about Authorization headers."""
        return Snapshot(platforms, by_token_hash, by_party, agreements, views, self._auth_cache, by_previous_token)

    def platform_for_header(self, header_value: bytes, now: float | None = None) -> Platform | None:
        platform = self._auth_cache.get(header_value)
        if platform is not None and self.platforms.get(platform.id) is platform:
            return platform
        hashes = header_token_hashes(header_value)
        for digest in hashes:
            platform_id = self.by_token_hash.get(digest)
            if platform_id is not None:
                platform = self.platforms[platform_id]
                if len(self._auth_cache) >= 4 * len(self.by_token_hash) + 16:
                    # Bounded by the number of tokens times the two accepted spellings; entries of
                    # replaced tokens and changed platforms are only dropped here.
                    self._auth_cache.clear()
                self._auth_cache[header_value] = platform
                if platform.previous_token_until is not None and self.new_token_used is not None:
                    self.new_token_used(platform.id)
                return platform
        if self.by_previous_token:
            for digest in hashes:
                platform = self._previous(digest, now)
                if platform is not None:
                    return platform
        return None

    def platform_for_token(self, token: str, now: float | None = None) -> Platform | None:
        digest = hash_token(token)
        platform_id = self.by_token_hash.get(digest)
        if platform_id is not None:
            return self.platforms[platform_id]
        return self._previous(digest, now)

    def _previous(self, digest: bytes, now: float | None) -> Platform | None:
        """The platform whose previous token this is, while that token is still accepted."""
        platform_id = self.by_previous_token.get(digest)
        platform = None if platform_id is None else self.platforms.get(platform_id)
        if platform is None or platform.previous_token_until is None \
                or (time.time() if now is None else now) >= platform.previous_token_until:
            return None
        return platform

    def parties(self) -> Iterable[Party]:
        for parties in self.by_party.values():
            yield from parties


K = TypeVar("K")
V = TypeVar("V")


def _map(mapping: Mapping[K, V]) -> Map[K, V]:
    return mapping if isinstance(mapping, Map) else Map(mapping)


_INTERFACES: dict[object, InterfaceRole] = {r.value: r for r in InterfaceRole}
_VERSIONS: dict[object, OcpiVersion] = {v.value: v for v in OcpiVersion}
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
    outbound_auth = (
        authorization_value(Secret(row.outbound_token), row.token_encoding).decode("ascii")
        if row.outbound_token is not None else None
    )
    previous = row.previous_token_hash is not None and row.previous_token_until is not None
    return Platform(
        id=row.id,
        name=row.name,
        status=ConnectionStatus.SUSPENDED if row.suspended else row.status,
        registered=row.outbound_token is not None,
        versions_url=row.versions_url,
        version=_VERSIONS.get(row.version),
        endpoints=endpoints,
        parties=parties,
        settings=msgspec.convert(row.settings, PlatformSettings) if row.settings else _NO_SETTINGS,
        suspended=row.suspended,
        outbound_auth=outbound_auth,
        token_encoding=row.token_encoding,
        versions_token_encoding=row.versions_token_encoding,
        versions_auth=(
            authorization_value(Secret(row.outbound_token), row.versions_token_encoding).decode("ascii")
            if row.outbound_token is not None and row.versions_token_encoding is not row.token_encoding
            else outbound_auth
        ),
        previous_token_until=row.previous_token_until if row.previous_token_hash is not None else None,
        token_hash=None if row.token_hash is None else bytes(row.token_hash),
        previous_token_hash=bytes(row.previous_token_hash) if previous and row.previous_token_hash else None,
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
    by_previous = Map[bytes, int]().mutate()
    for row in platform_rows:
        platform = platforms[row.id] = make_platform(row, tuple(parties_of.pop(row.id, ())))
        if platform.token_hash is not None:
            by_token[platform.token_hash] = row.id
        if platform.previous_token_hash is not None:
            by_previous[platform.previous_token_hash] = row.id
        for party in platform.parties:
            by_party[party.key] = by_platform((*by_party.get(party.key, ()), party))
    agreements = Map[AgreementKey, tuple[Agreement, ...]]().mutate()
    for agreement_row in agreement_rows:
        agreement = make_agreement(agreement_row)
        agreements[agreement.key] = by_id((*agreements.get(agreement.key, ()), agreement))
    return Snapshot(platforms.finish(), by_token.finish(), by_party.finish(), agreements.finish(),
                    by_previous_token=by_previous.finish())


class Registry:
    """Holds the current snapshot; ``swap`` replaces it in one assignment."""

    __slots__ = ("new_token_used", "snapshot", "version")

    def __init__(self) -> None:
        self.snapshot: Snapshot = EMPTY
        self.version = 0
        # Handed to every snapshot swapped in (see ``Snapshot.new_token_used``).
        self.new_token_used: Callable[[int], None] | None = None

    def swap(self, snapshot: Snapshot) -> None:
        snapshot.new_token_used = self.new_token_used
        self.snapshot = snapshot
        self.version += 1
