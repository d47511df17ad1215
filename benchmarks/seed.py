"""Benchmark fixtures in the database: a calling eMSP platform and a CPO platform whose endpoints
are the fast upstream, registered directly through the store (the handshake is not what we time)."""

from __future__ import annotations

from partners import store
from partners.model import BusinessDetails, CredentialsRole, Endpoint, InterfaceRole, Role
from partners.tokens import hash_token

EMSP_TOKEN = "bench-emsp-token"
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


async def seed(dsn: str, upstream_base: str) -> None:
    """eMSP DE*MSP (token EMSP_TOKEN) calls; CPO NL*CPO answers from ``upstream_base``."""
    await store.migrate(dsn)
    pool = await store.create_pool(dsn)
    try:
        for token, role, cc, pid, outbound in (
            (EMSP_TOKEN, Role.EMSP, "DE", "MSP", "hub-to-emsp"),
            (CPO_TOKEN, Role.CPO, "NL", "CPO", "hub-to-cpo"),
        ):
            platform_id = await store.create_platform(pool, name=f"bench-{pid}", token_hash=hash_token(token))
            await store.register_platform(
                pool, platform_id, token_hash=hash_token(token), outbound_token=outbound,
                versions_url=f"{upstream_base}/versions", version="2.2.1",
                endpoints=_endpoints(upstream_base), roles=[_role(role, cc, pid)],
            )
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
            pool, platform_id, token_hash=hash_token(token), outbound_token="hub-to-receivers",
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
