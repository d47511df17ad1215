"""Benchmark fixtures in the database: a calling eMSP platform and a CPO platform whose endpoints
are the fast upstream, registered directly through the store (the handshake is not what we time)."""

from __future__ import annotations

from partners import store
from partners.model import BusinessDetails, CredentialsRole, Endpoint, InterfaceRole, Role
from partners.secrets import Keyring, outbound_token_context
from partners.tokens import hash_token

EMSP_TOKEN = "bench-emsp-token"
# The key the benchmark's hubs seal outbound tokens with (OCPI_HUB_SECRETS_KEY).
SECRETS_KEY = "YmVuY2htYXJrLXNlY3JldHMta2V5LTMyLWJ5dGVzISE="
_keyring = Keyring.from_text(SECRETS_KEY)


def _sealed(token: str, platform_id: int) -> bytes:
    return _keyring.seal(token.encode(), outbound_token_context(platform_id))
CPO_TOKEN = "bench-cpo-token"
MODULES = ("locations", "sessions", "cdrs", "tariffs", "tokens", "commands")


def _role(role: Role, cc: str, pid: str) -> CredentialsRole:
    return CredentialsRole(role=role, business_details=BusinessDetails(name=f"{cc}*{pid}"), party_id=pid,
                           country_code=cc)


def _endpoints(base: str) -> list[Endpoint]:
    out = []
    for module in MODULES:
        for interface in (InterfaceRole.SENDER, InterfaceRole.RECEIVER):
            out.append(Endpoint(identifier=module, role=interface, url=f"{base}/{interface.value.lower()}/{module}"))
    return out


# Callers whose platforms have every perimeter setting (allow-list and certificate pin), for the
# "perimeter on" variant: they send X-Forwarded-For and an Envoy-style certificate header, as a
# TLS-terminating proxy in front of the hub would.
PINNED_EMSP_TOKEN = "bench-pinned-emsp-token"
PINNED_CPO_TOKEN = "bench-pinned-cpo-token"
CLIENT_CERT_SHA256 = "5d" * 32
PERIMETER_SETTINGS = {"allowed_networks": ["203.0.113.0/24"], "client_cert_sha256": [CLIENT_CERT_SHA256]}
PROXY_HEADERS = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Client-Cert": f"Hash={CLIENT_CERT_SHA256}"}


async def seed(dsn: str, upstream_base: str) -> None:
    """eMSP DE*MSP (token EMSP_TOKEN) calls; CPO NL*CPO answers from ``upstream_base``; DE*MS2 and
    NL*CP2 are the same behind the perimeter (pinned, allow-listed)."""
    await store.migrate(dsn)
    pool = await store.create_pool(dsn)
    try:
        for token, role, cc, pid, outbound in (
            (EMSP_TOKEN, Role.EMSP, "DE", "MSP", "hub-to-emsp"),
            (CPO_TOKEN, Role.CPO, "NL", "CPO", "hub-to-cpo"),
            (PINNED_EMSP_TOKEN, Role.EMSP, "DE", "MS2", "hub-to-emsp-2"),
            (PINNED_CPO_TOKEN, Role.CPO, "NL", "CP2", "hub-to-cpo-2"),
        ):
            platform_id = await store.create_platform(pool, name=f"bench-{pid}", token_hash=hash_token(token))
            pinned = token in (PINNED_EMSP_TOKEN, PINNED_CPO_TOKEN)
            # The pinned eMSP only calls: it takes no location pushes, so broadcasts reach the same parties.
            endpoints = [e for e in _endpoints(upstream_base)
                         if not (pinned and e.identifier == "locations" and e.role is InterfaceRole.RECEIVER)]
            await store.register_platform(
                pool, platform_id, token_hash=hash_token(token), outbound_token=_sealed(outbound, platform_id),
                versions_url=f"{upstream_base}/versions", version="2.2.1",
                endpoints=endpoints, roles=[_role(role, cc, pid)],
            )
            if pinned:
                await store.update_platform_settings(pool, platform_id, PERIMETER_SETTINGS, lambda _: None)
    finally:
        await pool.close()


async def seed_receivers(dsn: str, upstream_base: str, count: int, country_code: str) -> int:
    """One platform with ``count`` eMSP parties (``country_code``*000...), all answering from
    ``upstream_base``: broadcast receivers. Returns the platform id (delete it when done)."""
    pool = await store.create_pool(dsn)
    try:
        token = f"bench-receivers-{country_code}"
        platform_id = await store.create_platform(pool, name=f"receivers-{count}", token_hash=hash_token(token))
        await store.register_platform(
            pool, platform_id, token_hash=hash_token(token), outbound_token=_sealed("hub-to-receivers", platform_id),
            versions_url=f"{upstream_base}/versions", version="2.2.1", endpoints=_endpoints(upstream_base),
            roles=[_role(Role.EMSP, country_code, f"{n:03d}") for n in range(count)],
        )
        return platform_id
    finally:
        await pool.close()


async def remove(dsn: str, platform_id: int) -> None:
    pool = await store.create_pool(dsn)
    try:
        await store.delete_platform(pool, platform_id)
    finally:
        await pool.close()


async def seed_versions(dsn: str, small_base: str, large_base: str, sink_base: str) -> list[int]:
    """Parties of OCPI 2.1.1 for the translated requests: CPO DE*OLD answering a ~1 KB 2.1.1 Location from
    ``small_base``, CPO DE*OL3 a ~300 KB one from ``large_base``, and eMSP DE*OLM taking pushes at
    ``sink_base``. Endpoints without interface roles and plain tokens, as 2.1.1 registers them. Returns the
    platform ids (remove them when done)."""
    pool = await store.create_pool(dsn)
    ids = []
    try:
        for role, pid, base in ((Role.CPO, "OLD", small_base), (Role.CPO, "OL3", large_base),
                                (Role.EMSP, "OLM", sink_base)):
            token = f"bench-2.1.1-{pid}"
            platform_id = await store.create_platform(pool, name=f"bench-{pid}", token_hash=hash_token(token))
            await store.register_platform(
                pool, platform_id, token_hash=hash_token(token), outbound_token=_sealed(f"hub-to-{pid}", platform_id),
                versions_url=f"{base}/versions", version="2.1.1", token_encoding="plain",
                versions_token_encoding="plain",
                endpoints=[Endpoint(identifier=module, url=f"{base}/{module}") for module in MODULES],
                roles=[_role(role, "DE", pid)],
            )
            ids.append(platform_id)
        return ids
    finally:
        await pool.close()
