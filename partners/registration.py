"""The credentials handshake in both directions, from the first token to a stored registration.

* partner-initiated: an invited platform POSTs its credentials with our token A
  (:meth:`Registrar.accept`), or PUTs new ones later with token C (:meth:`Registrar.accept` with
  ``update=True``);
* hub-initiated: an operator hands us a partner's versions URL and the token A it issued
  (:meth:`Registrar.initiate`).

A change is written to the store, then the platforms it wrote are re-read into the local registry
before the answer goes out, so the new token works at once in this process (other replicas follow
their NOTIFY).

Every URL a partner gives passes the outbound policy before anything is stored: its versions URL and
version details when they are called, and every module endpoint it lists right after. A refusal fails
the registration with 3001 naming the URL and the rule.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Iterator
from typing import Protocol

import aiohttp
import msgspec

from partners import handshake, store
from partners.errors import InvalidParametersError, NoMatchingEndpointsError, OutboundUrlRefusedError
from partners.model import BusinessDetails, Credentials, CredentialsRole, OutboundTls, Role, VersionDetails
from partners.registry import Platform
from partners.secrets import Keyring, outbound_token_context
from partners.sync import RegistrySync
from partners.tokens import Secret, hash_token, new_token
from routing.outbound_policy import OutboundRefused

log = logging.getLogger("ocpihub.registration")


class HubIdentity(msgspec.Struct, frozen=True, kw_only=True):
    country_code: str
    party_id: str
    name: str
    public_url: str

    @property
    def versions_url(self) -> str:
        return f"{self.public_url}/ocpi/versions"

    def credentials(self, token: Secret) -> Credentials:
        """What we tell partners about ourselves: exactly one role, HUB (credentials chapter)."""
        return Credentials(
            token=token.reveal(),
            url=self.versions_url,
            roles=[
                CredentialsRole(
                    role=Role.HUB,
                    business_details=BusinessDetails(name=self.name),
                    party_id=self.party_id,
                    country_code=self.country_code,
                )
            ],
        )


class TlsChoice(Protocol):
    """A platform's TLS settings as aiohttp's ``ssl`` argument (``routing.outbound_tls.TlsContexts``)."""

    def for_aiohttp(self, tls: OutboundTls | None) -> ssl.SSLContext | aiohttp.Fingerprint: ...


class Registrar:
    def __init__(
        self, pool: store.Pool, sync: RegistrySync, http: aiohttp.ClientSession, identity: HubIdentity,
        outbound: handshake.Outbound, tls: TlsChoice, keyring: Keyring,
    ) -> None:
        self.pool = pool
        self.keyring = keyring
        self.sync = sync
        self.http = http
        self.identity = identity
        self.outbound = outbound
        self.tls = tls

    def _caller(self, tls: OutboundTls | None) -> handshake.Caller:
        return handshake.Caller(self.http, self.outbound, self.tls.for_aiohttp(tls))

    @contextlib.contextmanager
    def _refusals(self, platform_id: int | None) -> Iterator[None]:
        """A URL the outbound policy refused: reported once, answered as 3001 naming URL and rule."""
        try:
            yield
        except OutboundRefused as refused:
            self.outbound.report(refused, platform=platform_id, what="registration")
            raise OutboundUrlRefusedError(refused.message) from None

    async def _discover(self, caller: handshake.Caller, versions_url: str, token: Secret) -> VersionDetails:
        """The partner's version details, with every endpoint URL in them allowed by the policy."""
        details = await handshake.discover(caller, versions_url, token)
        await self.outbound.check_all(e.url for e in details.endpoints)
        return details

    async def invite(self, name: str = "", planned: list[tuple[str, str, str]] | None = None) -> Secret:
        """A new token A for a platform that will register itself (bringing the ``planned`` parties)."""
        token = new_token()
        platform_id = await store.create_platform(self.pool, name=name, token_hash=hash_token(token.reveal()))
        if planned:
            try:
                await store.add_planned_parties(self.pool, platform_id, planned)
            except Exception:
                await store.delete_platform(self.pool, platform_id)
                raise
        await self.sync.refresh(platforms=[platform_id])
        return token

    async def accept(self, platform: Platform, theirs: Credentials, *, update: bool) -> Credentials:
        """Register (POST) or update (PUT) a platform from the credentials it sent us.

        Their token B is used to read their versions and endpoints; we answer with a fresh token C,
        which replaces the token the platform used for this call (A on POST, the old C on PUT).
        """
        _check_roles(theirs.roles)
        token_b = Secret(theirs.token)
        with self._refusals(platform.id):
            details = await self._discover(self._caller(platform.settings.outbound_tls), theirs.url, token_b)
        token_c = new_token()
        await self._store(platform.id, token_c, token_b, theirs, details)
        log.info("platform %s %s", platform.id, "updated its credentials" if update else "registered")
        return self.identity.credentials(token_c)

    async def initiate(self, versions_url: str, token_a: Secret, name: str = "") -> int:
        """Register with a partner that gave us ``token_a``: we POST our credentials to it."""
        with self._refusals(None):
            return await self._initiate(versions_url, token_a, name)

    async def _initiate(self, versions_url: str, token_a: Secret, name: str) -> int:
        caller = self._caller(None)
        details = await self._discover(caller, versions_url, token_a)
        url = handshake.credentials_url(details)
        token_b = new_token()
        # The partner reads our versions with token B while it handles our POST: the platform must
        # exist (PLANNED) and be in the registry before we send it.
        platform_id = await store.create_platform(
            self.pool, name=name, token_hash=hash_token(token_b.reveal()), versions_url=versions_url
        )
        await self.sync.refresh(platforms=[platform_id])
        try:
            theirs = await handshake.send_credentials(caller, url, token_a, self.identity.credentials(token_b))
            _check_roles(theirs.roles)
            await self._store(platform_id, token_b, Secret(theirs.token), theirs, details, versions_url)
        except BaseException:
            await store.delete_platform(self.pool, platform_id)
            await self.sync.refresh(platforms=[platform_id])
            raise
        log.info("registered with platform %s (hub-initiated)", platform_id)
        return platform_id

    async def unregister(self, platform: Platform) -> None:
        await store.unregister_platform(self.pool, platform.id)
        await self.sync.refresh(platforms=[platform.id])

    async def _store(
        self,
        platform_id: int,
        inbound: Secret,
        outbound: Secret,
        theirs: Credentials,
        details: VersionDetails,
        versions_url: str | None = None,
    ) -> None:
        try:
            written = await store.register_platform(
                self.pool,
                platform_id,
                token_hash=hash_token(inbound.reveal()),
                outbound_token=self.keyring.seal(outbound.reveal().encode("utf-8"),
                                                 outbound_token_context(platform_id)),
                versions_url=versions_url or theirs.url,
                version=details.version,
                endpoints=details.endpoints,
                roles=theirs.roles,
            )
        except store.PartyConflictError as exc:
            raise InvalidParametersError(f"party {exc.label} is already registered by another platform") from None
        await self.sync.refresh(platforms=written)


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

