"""The credentials handshake in both directions, from the first token to a stored registration, in
each OCPI version the hub speaks.

* partner-initiated: an invited platform POSTs its credentials with our token A to the credentials
  endpoint of the version it chose (:meth:`Registrar.accept`), or PUTs new ones later with token C
  (:meth:`Registrar.accept` with ``update=True``; a PUT to another version's endpoint moves it there);
* hub-initiated: an operator hands us a partner's versions URL and the token A it issued
  (:meth:`Registrar.initiate`), in the highest version both sides speak;
* the hub as the client of a registered partner: update credentials on its side, giving it a new token
  (:meth:`Registrar.rotate`), read its endpoints again (:meth:`Registrar.refresh`), or tell it we
  unregister (:meth:`Registrar.remove`).

A change is written to the store, then the platforms it wrote are re-read into the local registry
before the answer goes out, so the new token works at once in this process (other replicas follow
their NOTIFY). After an update, the platform's token before it stays accepted until the platform uses
the new one or ``token_grace_seconds`` pass, so that an answer lost on the way does not lock the
platform out.

Every URL a partner gives passes the outbound policy before anything is stored: its versions URL and
version details when they are called, and every module endpoint it lists right after. A refusal fails
the registration with 3001 naming the URL and the rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import aiohttp

from partners import handshake, party_claims, store
from partners.credentials import AnyCredentials, HubIdentity, RoleSource, read
from partners.errors import (
    InvalidParametersError,
    MethodNotAllowedError,
    NoMatchingEndpointsError,
    OutboundUrlRefusedError,
    PartyClaimRefusedError,
    RoleUnknownError,
)
from partners.model import AnnouncedParty, ConnectionStatus, Credentials, CredentialsRole, OutboundTls, Role
from partners.registry import Party, Platform, party_key
from partners.secrets import Keyring, outbound_token_context
from partners.sync import RegistrySync
from partners.tokens import Secret, TokenEncoding, hash_token, new_token
from routing.outbound_policy import OutboundRefused
from routing.versions.version import OcpiVersion

__all__ = ["HubIdentity", "OperationRefusedError", "Registrar"]

log = logging.getLogger("ocpihub.registration")


class OperationRefusedError(Exception):
    """What the operator asked cannot be done with this platform (it has no credentials endpoint, it
    never finished registering, ...): said in words, nothing was sent or changed."""


class TlsChoice(Protocol):
    """A platform's TLS settings as aiohttp's ``ssl`` argument (``routing.outbound_tls.TlsContexts``)."""

    def for_aiohttp(self, tls: OutboundTls | None) -> ssl.SSLContext | aiohttp.Fingerprint: ...


class Registrar:
    def __init__(
        self, pool: store.Pool, sync: RegistrySync, http: aiohttp.ClientSession, identity: HubIdentity,
        outbound: handshake.Outbound, tls: TlsChoice, keyring: Keyring, *,
        token_grace_seconds: float = 600.0, tolerated: Callable[[str], None] | None = None,
    ) -> None:
        self.pool = pool
        self.keyring = keyring
        self.sync = sync
        self.http = http
        self.identity = identity
        self.outbound = outbound
        self.tls = tls
        self.token_grace_seconds = token_grace_seconds
        self.tolerated = tolerated
        self._ending: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def _caller(self, tls: OutboundTls | None) -> handshake.Caller:
        return handshake.Caller(self.http, self.outbound, self.tls.for_aiohttp(tls), self.tolerated)

    @contextlib.contextmanager
    def _refusals(self, platform_id: int | None) -> Iterator[None]:
        """A URL the outbound policy refused: reported once, answered as 3001 naming URL and rule."""
        try:
            yield
        except OutboundRefused as refused:
            self.outbound.report(refused, platform=platform_id, what="registration")
            raise OutboundUrlRefusedError(refused.message) from None

    async def _discover(self, caller: handshake.Caller, versions_url: str, token: Secret,
                        **how: Any) -> handshake.Discovery:
        """The partner's endpoints (``handshake.discover``), with every URL in them allowed by the policy."""
        found = await handshake.discover(caller, versions_url, token, **how)
        await self.outbound.check_all(e.url for e in found.details.endpoints)
        return found

    # -- partner-initiated ----------------------------------------------------------------------
    async def invite(self, name: str = "", planned: list[tuple[str, str, str]] | None = None) -> Secret:
        """A new token A for a platform that will register itself (bringing the ``planned`` parties, which
        are then the only ones it may register: ``partners.party_claims``)."""
        token = new_token()
        platform_id = await store.create_platform(
            self.pool, name=name, token_hash=hash_token(token.reveal()),
            announced=[AnnouncedParty(country_code=cc, party_id=pid, role=Role(role))
                       for cc, pid, role in planned or ()])
        if planned:
            try:
                await store.add_planned_parties(self.pool, platform_id, planned)
            except Exception:
                await store.delete_platform(self.pool, platform_id)
                raise
        await self.sync.refresh(platforms=[platform_id])
        return token

    async def accept(self, platform: Platform, sent: AnyCredentials, *, version: OcpiVersion, update: bool,
                     used_token: str, seen: TokenEncoding) -> AnyCredentials:
        """Register (POST) or update (PUT) a platform from the credentials it sent to the credentials
        endpoint of ``version``, authenticated with ``used_token`` spelled ``seen``.

        Their token B is used to read their versions and endpoints; we answer with a fresh token C,
        which replaces the token the platform used for this call (A on POST, the old C on PUT). Of two
        POSTs with one token A, exactly one registers; the other gets 405.
        """
        theirs = read(version, sent, RoleSource.of_parties(platform.parties))
        _check_roles(theirs.roles)
        self._check_claims(platform, theirs.roles)  # before the partner is contacted; the store checks again
        token_b = Secret(theirs.token)
        with self._refusals(platform.id):
            found = await self._discover(self._caller(platform.settings.outbound_tls), theirs.url, token_b,
                                         version=version, seen=seen)
        token_c = new_token()
        used = hash_token(used_token)
        try:
            await self._store(platform.id, token_c, token_b, theirs, found, theirs.url,
                              registering_with=None if update else used, previous=used if update else None)
        except store.AlreadyRegisteredError:
            raise MethodNotAllowedError("already registered: another registration with this token finished first; "
                                        "use PUT to update credentials") from None
        log.info("platform %s %s in OCPI %s", platform.id, "updated its credentials" if update else "registered",
                 version)
        return self.identity.credentials(token_c, version, self.reachable(platform.id))

    # -- hub-initiated ----------------------------------------------------------------------------
    async def initiate(self, versions_url: str, token_a: Secret, name: str = "",
                       roles: RoleSource | None = None) -> int:
        """Register with a partner that gave us ``token_a``: we POST our credentials to it, in the
        highest version both sides speak. ``roles``: the role of a 2.1.1 partner's party, which its
        credentials do not say (refused before anything is sent when the partner turns out 2.1.1)."""
        with self._refusals(None):
            return await self._initiate(versions_url, token_a, name, roles or RoleSource())

    async def _initiate(self, versions_url: str, token_a: Secret, name: str, roles: RoleSource) -> int:
        caller = self._caller(None)
        found = await self._discover(caller, versions_url, token_a)
        url = handshake.credentials_url(found.details)
        if found.version is OcpiVersion.V2_1_1 and not roles.known and roles.default is None:
            raise RoleUnknownError(
                "the partner speaks OCPI 2.1.1 at best, whose credentials carry no role: give its role "
                "(\"role\": \"CPO\") or its parties ([{country_code, party_id, role}]) with the registration")
        token_b = new_token()
        # The partner reads our versions with token B while it handles our POST: the platform must
        # exist (PLANNED) and be in the registry before we send it. The parties the operator named are
        # the only ones it may register (``partners.party_claims``).
        platform_id = await store.create_platform(
            self.pool, name=name, token_hash=hash_token(token_b.reveal()), versions_url=versions_url,
            announced=[AnnouncedParty(country_code=cc, party_id=pid, role=role)
                       for (cc, pid), known in roles.known.items() for role in known],
        )
        await self.sync.refresh(platforms=[platform_id])
        answered: AnyCredentials | None = None
        try:
            answered = await handshake.send_credentials(
                caller, url, token_a, self.identity.credentials(token_b, found.version, self.reachable(platform_id)),
                version=found.version, encoding=found.token_encoding)
            theirs = read(found.version, answered, roles)
            _check_roles(theirs.roles)
            await self._store(platform_id, token_b, Secret(theirs.token), theirs, found, versions_url)
        except BaseException:
            await store.delete_platform(self.pool, platform_id)
            await self.sync.refresh(platforms=[platform_id])
            if answered is not None:
                # The partner took our token B and considers itself registered: tell it that is void.
                with contextlib.suppress(Exception):
                    await handshake.delete_credentials(caller, url, Secret(answered.token), found.token_encoding)
            raise
        log.info("registered with platform %s in OCPI %s (hub-initiated)", platform_id, found.version)
        return platform_id

    # -- the hub as client of a registered platform ------------------------------------------------
    async def rotate(self, platform: Platform) -> None:
        """Update our credentials on the partner's side (credentials chapter, *Updating the credentials
        and resetting the credentials token*): read its versions again, choose the highest common version
        (which moves the platform there), give it a new token B with a PUT, and keep the token C it
        answers with. Its old token B stays accepted until it uses the new one, or the grace passes."""
        token_c = self._outbound(platform, "update credentials on its side")
        self._credentials_endpoint(platform, "update credentials on its side")
        assert platform.versions_url is not None
        caller = self._caller(platform.settings.outbound_tls)
        with self._refusals(platform.id):
            found = await self._discover(caller, platform.versions_url, token_c, known=_known(platform))
        url = handshake.credentials_url(found.details)
        token_b = new_token()
        new_hash = hash_token(token_b.reveal())
        await store.rotate_inbound_token(self.pool, platform.id, new_hash, self.token_grace_seconds)
        await self.sync.refresh(platforms=[platform.id])
        try:
            with self._refusals(platform.id):
                answered = await handshake.send_credentials(
                    caller, url, token_c,
                    self.identity.credentials(token_b, found.version, self.reachable(platform.id)),
                    version=found.version, encoding=found.token_encoding, method="PUT")
            theirs = read(found.version, answered, RoleSource.of_parties(platform.parties))
            _check_roles(theirs.roles)
            await self._store(platform.id, token_b, Secret(theirs.token), theirs, found, platform.versions_url,
                              keep_previous=True)
        except BaseException:
            await store.undo_inbound_rotation(self.pool, platform.id, new_hash, self.token_grace_seconds)
            await self.sync.refresh(platforms=[platform.id])
            raise
        log.info("updated credentials with platform %s (hub-initiated, OCPI %s)", platform.id, found.version)

    async def refresh(self, platform: Platform) -> None:
        """Read the partner's versions and endpoints of its current version again (no token changes)."""
        token = self._outbound(platform, "read its endpoints")
        assert platform.versions_url is not None
        with self._refusals(platform.id):
            found = await self._discover(self._caller(platform.settings.outbound_tls), platform.versions_url, token,
                                         version=platform.version, known=_known(platform))
        await store.set_endpoints(self.pool, platform.id, version=found.version.value,
                                  endpoints=found.details.endpoints, token_encoding=found.token_encoding.value,
                                  versions_token_encoding=found.versions_token_encoding.value)
        await self.sync.refresh(platforms=[platform.id])
        log.info("read the endpoints of platform %s again", platform.id)

    async def remove(self, platform: Platform, *, notify: bool) -> bool:
        """Remove a platform; with ``notify``, first DELETE our credentials on its side (nothing is
        removed if that fails). False if there was no such platform any more."""
        if notify:
            token = self._outbound(platform, "tell it that it is unregistered")
            url = self._credentials_endpoint(platform, "tell it that it is unregistered")
            with self._refusals(platform.id):
                await handshake.delete_credentials(self._caller(platform.settings.outbound_tls), url, token,
                                                   platform.token_encoding)
        removed = await store.delete_platform(self.pool, platform.id)
        await self.sync.refresh(platforms=[platform.id])
        return removed

    async def unregister(self, platform: Platform) -> None:
        await store.unregister_platform(self.pool, platform.id)
        await self.sync.refresh(platforms=[platform.id])

    # -- the previous token's grace ------------------------------------------------------------------
    def new_token_used(self, platform_id: int) -> None:
        """Called from the request path (no I/O there): the platform used its new token, so the one
        before it is ended in the store, once, in the background."""
        if platform_id in self._ending:
            return
        self._ending.add(platform_id)
        task = asyncio.get_running_loop().create_task(self._end_previous(platform_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _end_previous(self, platform_id: int) -> None:
        try:
            await store.end_previous_token(self.pool, platform_id)
            await self.sync.refresh(platforms=[platform_id])
        except Exception:
            log.warning("could not end the previous token of platform %s (it ends at its deadline)", platform_id,
                        exc_info=True)
        finally:
            self._ending.discard(platform_id)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    # -- shared ----------------------------------------------------------------------------------------
    def reachable(self, platform_id: int) -> Iterator[Party]:
        """Parties of other registered, not suspended platforms: what a 2.3.0 partner reaches through us.
        Lazy: only 2.3.0 credentials read it, and a registry of 100,000 parties is not walked for others."""
        snapshot = self.sync.registry.snapshot
        return (party for platform in snapshot.platforms.values()
                if platform.id != platform_id and platform.registered
                and platform.status is not ConnectionStatus.SUSPENDED
                for party in platform.parties)

    def _check_claims(self, platform: Platform, roles: list[CredentialsRole]) -> None:
        """``partners.party_claims`` over this process's snapshot: a partner naming parties it may not
        register is refused before anything is fetched from it (the store's check, in the transaction
        that writes them, is the one that counts)."""
        snapshot = self.sync.registry.snapshot
        held: dict[tuple[str, str], set[str]] = {}
        for role in roles:
            key = party_key(role.country_code, role.party_id)
            for party in snapshot.by_party.get(key, ()):
                other = snapshot.platforms.get(party.platform_id)
                if party.platform_id != platform.id and other is not None and other.token_hash is not None:
                    held.setdefault(key, set()).add(party.role.value)
        refused = party_claims.refusal(
            ((r.country_code, r.party_id, r.role.value) for r in roles),
            announced=party_claims.announced(platform.settings), held_elsewhere=held,
            own={(p.country_code, p.party_id, p.role.value) for p in platform.parties})
        if refused is not None:
            raise PartyClaimRefusedError(refused)

    def _note_spelling(self, platform_id: int, found: handshake.Discovery) -> None:
        """Log and count a partner that wants its token spelled otherwise than its version says."""
        expected = TokenEncoding.PLAIN if found.version is OcpiVersion.V2_1_1 else TokenEncoding.BASE64
        if found.version is OcpiVersion.V2_2 or (found.token_encoding, found.versions_token_encoding) == (
                expected, expected):
            return
        log.info("platform %s (OCPI %s) takes its token %s on its versions endpoint and %s elsewhere; the hub "
                 "sends it so", platform_id, found.version, found.versions_token_encoding.value,
                 found.token_encoding.value)
        if self.tolerated is not None:
            self.tolerated("outbound_token_spelling")

    @staticmethod
    def _outbound(platform: Platform, what: str) -> Secret:
        token = platform.outbound_token
        if not platform.registered or token is None or platform.versions_url is None:
            raise OperationRefusedError(f"platform {platform.id} never finished registering (or unregistered): "
                                        f"the hub holds no token of it to {what}")
        return token

    @staticmethod
    def _credentials_endpoint(platform: Platform, what: str) -> str:
        url = platform.credentials_url
        if url is None:
            raise OperationRefusedError(
                f"platform {platform.id} lists no credentials endpoint (OCN-era OCPI 2.2 stacks have none), so the "
                f"hub cannot {what}: such a platform updates its credentials itself, with a PUT to the hub")
        return url

    async def _store(
        self,
        platform_id: int,
        inbound: Secret,
        outbound: Secret,
        theirs: Credentials,
        found: handshake.Discovery,
        versions_url: str,
        *,
        registering_with: bytes | None = None,
        previous: bytes | None = None,
        keep_previous: bool = False,
    ) -> None:
        self._note_spelling(platform_id, found)
        try:
            written = await store.register_platform(
                self.pool,
                platform_id,
                token_hash=hash_token(inbound.reveal()),
                outbound_token=self.keyring.seal(outbound.reveal().encode("utf-8"),
                                                 outbound_token_context(platform_id)),
                versions_url=versions_url,
                version=found.version.value,
                endpoints=found.details.endpoints,
                roles=theirs.roles,
                token_encoding=found.token_encoding.value,
                versions_token_encoding=found.versions_token_encoding.value,
                registering_with=registering_with,
                previous_token_hash=previous,
                previous_token_seconds=self.token_grace_seconds,
                keep_previous_token=keep_previous,
            )
        except store.PartyConflictError as exc:
            raise PartyClaimRefusedError(f"party {exc.label} is already registered by another platform") from None
        except store.PartyClaimError as exc:
            raise PartyClaimRefusedError(str(exc)) from None
        await self.sync.refresh(platforms=written)


def _known(platform: Platform) -> tuple[TokenEncoding, TokenEncoding]:
    return platform.versions_token_encoding, platform.token_encoding


def _check_roles(roles: list[CredentialsRole]) -> None:
    if not roles:
        raise InvalidParametersError("credentials.roles must list at least one role")
    seen = set()
    for r in roles:
        key = (r.country_code.upper(), r.party_id.upper(), r.role)
        if key in seen:
            raise InvalidParametersError(f"role {r.role} {r.country_code}*{r.party_id} is listed twice")
        seen.add(key)
        if r.role is Role.HUB:
            raise NoMatchingEndpointsError("the hub does not connect to other hubs yet (role HUB offered)")
