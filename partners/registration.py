"""The credentials handshake in both directions, from the first token to a stored registration.

* partner-initiated: an invited platform POSTs its credentials with our token A
  (:meth:`Registrar.accept`), or PUTs new ones later with token C (:meth:`Registrar.accept` with
  ``update=True``);
* hub-initiated: an operator hands us a partner's versions URL and the token A it issued
  (:meth:`Registrar.initiate`).

A change is written to the store, then the local registry is reloaded before the answer goes out,
so the new token works at once in this process (other replicas follow their NOTIFY).
"""

from __future__ import annotations

import logging

import aiohttp
import msgspec

from partners import handshake, store
from partners.errors import InvalidParametersError, NoMatchingEndpointsError
from partners.model import BusinessDetails, Credentials, CredentialsRole, Role, VersionDetails
from partners.registry import Platform
from partners.sync import RegistrySync
from partners.tokens import Secret, hash_token, new_token

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


class Registrar:
    def __init__(
        self, pool: store.Pool, sync: RegistrySync, http: aiohttp.ClientSession, identity: HubIdentity
    ) -> None:
        self.pool = pool
        self.sync = sync
        self.http = http
        self.identity = identity

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
        await self.sync.reload()
        return token

    async def accept(self, platform: Platform, theirs: Credentials, *, update: bool) -> Credentials:
        """Register (POST) or update (PUT) a platform from the credentials it sent us.

        Their token B is used to read their versions and endpoints; we answer with a fresh token C,
        which replaces the token the platform used for this call (A on POST, the old C on PUT).
        """
        _check_roles(theirs.roles)
        token_b = Secret(theirs.token)
        details = await handshake.discover(self.http, theirs.url, token_b)
        token_c = new_token()
        await self._store(platform.id, token_c, token_b, theirs, details)
        log.info("platform %s %s", platform.id, "updated its credentials" if update else "registered")
        return self.identity.credentials(token_c)

    async def initiate(self, versions_url: str, token_a: Secret, name: str = "") -> int:
        """Register with a partner that gave us ``token_a``: we POST our credentials to it."""
        details = await handshake.discover(self.http, versions_url, token_a)
        url = handshake.credentials_url(details)
        token_b = new_token()
        # The partner reads our versions with token B while it handles our POST: the platform must
        # exist (PLANNED) and be in the registry before we send it.
        platform_id = await store.create_platform(
            self.pool, name=name, token_hash=hash_token(token_b.reveal()), versions_url=versions_url
        )
        await self.sync.reload()
        try:
            theirs = await handshake.send_credentials(self.http, url, token_a, self.identity.credentials(token_b))
            _check_roles(theirs.roles)
            await self._store(platform_id, token_b, Secret(theirs.token), theirs, details, versions_url)
        except BaseException:
            await store.delete_platform(self.pool, platform_id)
            await self.sync.reload()
            raise
        log.info("registered with platform %s (hub-initiated)", platform_id)
        return platform_id

    async def unregister(self, platform: Platform) -> None:
        await store.unregister_platform(self.pool, platform.id)
        await self.sync.reload()

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
            await store.register_platform(
                self.pool,
                platform_id,
                token_hash=hash_token(inbound.reveal()),
                outbound_token=outbound.reveal(),
                versions_url=versions_url or theirs.url,
                version=details.version,
                endpoints=details.endpoints,
                roles=theirs.roles,
            )
        except store.PartyConflictError as exc:
            raise InvalidParametersError(f"party {exc.label} is already registered by another platform") from None
        await self.sync.reload()


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

