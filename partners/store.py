"""PostgreSQL storage of the registry (asyncpg): the only module that speaks SQL.

Every write runs in one transaction that ends with ``pg_notify(CHANNEL, ...)`` naming the platforms
or agreements it wrote (``partners.changes``), so that after the commit each replica's registry
listener re-reads just those rows (see ``partners.sync``).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Collection, Iterable
from importlib import resources
from typing import Any

import asyncpg
import msgspec
import orjson

from partners import changes, party_claims
from partners.errors import DatabaseUnavailableError
from partners.model import AnnouncedParty, ConnectionStatus, CredentialsRole, Endpoint, PlatformSettings
from partners.registry import AgreementRow, PartyRow, PlatformRow

log = logging.getLogger("ocpihub.store")

CHANNEL = "ocpihub_registry"
_MIGRATION_LOCK = 0x0C91_4B0B  # advisory lock id: one migrator at a time across replicas
# First half of the two-key advisory locks (a key space apart from the one-key locks above and the leader's)
# that serialise registrations claiming one country_code+party_id, so two cannot both pass the check.
_PARTY_LOCK = 0x0C91_4B0C

Pool = asyncpg.Pool


class PartyConflictError(Exception):
    """A (country_code, party_id, role) already belongs to another registered platform."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label


class PartyClaimError(Exception):
    """The platform may not register these parties (``partners.party_claims``); the message says why."""


class AlreadyRegisteredError(Exception):
    """A registration lost the race: the token it started with was used by another registration first."""


async def _init_connection(conn: Any) -> None:
    await conn.set_type_codec("jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
                              schema="pg_catalog")


UNREACHABLE_ERRORS: tuple[type[Exception], ...] = (
    DatabaseUnavailableError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, and a connection lost mid-query
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, starting up
    asyncpg.exceptions.TooManyConnectionsError,
)
"""What a query raises when the database, not the query, is the problem (see :func:`unreachable`)."""


def unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be used right now (as opposed to a faulty query)."""
    if isinstance(error, (*UNREACHABLE_ERRORS, OSError)):
        return True
    if isinstance(error, asyncpg.InterfaceError) and "closed" in str(error):
        return True
    # A pooled connection the server dropped while an operation was under way is left half-switched;
    # the next use fails with this before the pool notices the connection is gone (seen when PostgreSQL
    # stops during a reload). The pool discards it; the outage is the same as a refused connection.
    return isinstance(error, asyncpg.InternalClientError) and "cannot switch to state" in str(error)


async def connect(dsn: str, **kwargs: Any) -> asyncpg.Connection:
    """``asyncpg.connect``, with a failure to connect raised as :class:`DatabaseUnavailableError`."""
    try:
        return await asyncpg.connect(dsn, **kwargs)
    except Exception as exc:
        if unreachable(exc):
            # The message goes to callers; the cause (host, port, errno) stays in the chain for the log.
            raise DatabaseUnavailableError("the hub's database is unavailable; try again later") from exc
        raise


async def create_pool(dsn: str, *, max_size: int = 5) -> Pool:
    """A pool of at most ``max_size`` connections, opened on demand (no floor: during an outage
    nothing reconnects in the background), so ``acquire`` raises :class:`DatabaseUnavailableError`
    while the database is down and works again as soon as it is back."""

    async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
        return await connect(*args, **kwargs)

    pool = await asyncpg.create_pool(dsn, min_size=0, max_size=max_size, init=_init_connection, connect=_connect)
    assert pool is not None
    return pool


def known_migrations() -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` for every ``NNNN_name.sql`` shipped in ``partners/migrations``."""
    found = []
    for entry in resources.files("partners").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, _ = entry.name.partition("_")
            found.append((int(number), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(dsn: str) -> list[str]:
    """Apply every migration not yet applied, each in its own transaction, under an advisory lock
    so that replicas starting together apply each exactly once. Returns the names applied."""
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            known = known_migrations()
            newest_known = known[-1][0] if known else 0
            if done and max(done) > newest_known:
                raise RuntimeError(
                    f"database schema version {max(done)} is newer than this hub knows ({newest_known}); "
                    "refusing to start an older hub on it"
                )
            for version, name, sql in known:
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                       version, name)
                applied.append(name)
                log.info("applied migration", extra={"migration": name})
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    finally:
        await conn.close()
    return applied


# A platform's version (migration 0010): triggers move it with every write to its row or to any of its
# parties' rows, so that the safety-net reload finds what changed without reading the rows.
_PLATFORM_VERSION = "f.row_version"
# An operator suspension shows as status SUSPENDED whatever the connection status underneath.
_SELECT_PLATFORMS = f"""
SELECT f.id, f.name, CASE WHEN f.suspended THEN 'SUSPENDED' ELSE f.status END AS status, f.suspended, f.token_hash,
       f.outbound_token, f.versions_url, f.version, f.endpoints, f.settings, f.token_encoding,
       f.versions_token_encoding,
       CASE WHEN f.previous_token_until > now() THEN f.previous_token_hash END AS previous_token_hash,
       CASE WHEN f.previous_token_until > now() THEN extract(epoch FROM f.previous_token_until)::float8 END
           AS previous_token_until,
       {_PLATFORM_VERSION} AS row_version
FROM platforms f
"""
_SELECT_PARTIES = """
SELECT platform_id, country_code, party_id, role,
       coalesce(business_details->>'name', '') AS business_name,
       to_char(last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_updated
FROM parties
"""

# Agreements in force now or later (suspended and ended ones, and those past their end, route nothing).
_IN_FORCE = "status = 'active' AND (valid_until IS NULL OR valid_until > now())"
_SELECT_AGREEMENTS = f"""
SELECT id, cpo_country_code, cpo_party_id, emsp_country_code, emsp_party_id, modules,
       extract(epoch FROM valid_from)::float8 AS valid_from, extract(epoch FROM valid_until)::float8 AS valid_until,
       xmin::text::int8 AS row_version, {_IN_FORCE} AS in_force
FROM agreements
"""


async def load_registry(pool: Pool) -> tuple[list[Any], list[Any], list[Any]]:
    """All platform, party and active agreement records, read in one consistent snapshot of the
    database (convert them with :func:`registry_rows`, which is CPU work best done off the event loop)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        platforms = await conn.fetch(_SELECT_PLATFORMS + " ORDER BY f.id")
        parties = await conn.fetch(_SELECT_PARTIES + " ORDER BY id")
        agreements = await conn.fetch(_SELECT_AGREEMENTS + f" WHERE {_IN_FORCE} ORDER BY id")
    return platforms, parties, agreements


async def load_changed(pool: Pool, platform_ids: Collection[int], agreement_ids: Collection[int]
                       ) -> tuple[list[Any], list[Any], list[Any]]:
    """The records of these platforms (a platform not returned is gone), of their parties, and of these
    agreements whatever their status (``in_force`` says whether they route), in one consistent read."""
    platform_list, agreement_list = list(platform_ids), list(agreement_ids)
    platforms: list[Any] = []
    parties: list[Any] = []
    agreements: list[Any] = []
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        if platform_list:
            platforms = await conn.fetch(_SELECT_PLATFORMS + " WHERE f.id = ANY($1::bigint[]) ORDER BY f.id",
                                         platform_list)
            parties = await conn.fetch(_SELECT_PARTIES + " WHERE platform_id = ANY($1::bigint[]) ORDER BY id",
                                       platform_list)
        if agreement_list:
            agreements = await conn.fetch(_SELECT_AGREEMENTS + " WHERE id = ANY($1::bigint[]) ORDER BY id",
                                          agreement_list)
    return platforms, parties, agreements


async def registry_versions(pool: Pool) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``(id, row version)`` of every platform and of every agreement in force: what the safety-net
    reload compares with the snapshot (a few bytes a row instead of the rows)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        platforms = await conn.fetch(f"SELECT f.id, {_PLATFORM_VERSION} FROM platforms f")
        agreements = await conn.fetch(f"SELECT id, xmin::text::int8 FROM agreements WHERE {_IN_FORCE}")
    return [(r[0], r[1]) for r in platforms], [(r[0], r[1]) for r in agreements]


def registry_rows(
    platforms: list[Any], parties: list[Any], unseal: Callable[[int, bytes], str], agreements: list[Any] | None = None,
) -> tuple[list[PlatformRow], list[PartyRow], list[AgreementRow]]:
    """Rows for the snapshot; ``unseal(platform_id, sealed)`` opens each stored outbound token."""
    rows = []
    for record in platforms:
        values = dict(record)
        sealed = values.pop("outbound_token")
        values["outbound_token"] = unseal(values["id"], sealed) if sealed is not None else None
        rows.append(msgspec.convert(values, PlatformRow))
    return (
        rows,
        [msgspec.convert(dict(r), PartyRow) for r in parties],
        [msgspec.convert(dict(r), AgreementRow) for r in agreements or ()],
    )


async def notify(conn: Any, what: str = changes.EVERYTHING_PAYLOAD) -> None:
    """A change every replica re-checks in full (for writes that touch the whole registry); prefer
    :func:`notify_changed`, which names the rows."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, what)


async def notify_changed(conn: Any, *, platforms: Iterable[int] = (), agreements: Iterable[int] = ()) -> None:
    """Tell every replica which platforms (rows or parties) and agreements this transaction wrote."""
    for payload in changes.encode(platforms=platforms, agreements=agreements):
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)


async def create_platform(pool: Pool, *, name: str, token_hash: bytes, versions_url: str | None = None,
                          announced: Collection[AnnouncedParty] = ()) -> int:
    """A PLANNED platform that may only use versions and credentials with the given token; ``announced``:
    the parties the operator said it brings (its ``announced_parties`` setting, see ``partners.party_claims``)."""
    settings = {"announced_parties": msgspec.to_builtins(list(announced))} if announced else {}
    async with pool.acquire() as conn, conn.transaction():
        platform_id: int = await conn.fetchval(
            "INSERT INTO platforms (name, status, token_hash, versions_url, settings)"
            " VALUES ($1, 'PLANNED', $2, $3, $4) RETURNING id",
            name, token_hash, versions_url, settings,
        )
        await notify_changed(conn, platforms=[platform_id])
    return platform_id


async def register_platform(
    pool: Pool,
    platform_id: int,
    *,
    token_hash: bytes,
    outbound_token: bytes,
    versions_url: str,
    version: str,
    endpoints: list[Endpoint],
    roles: list[CredentialsRole],
    token_encoding: str = "base64",
    versions_token_encoding: str = "base64",
    registering_with: bytes | None = None,
    previous_token_hash: bytes | None = None,
    previous_token_seconds: float = 0.0,
    keep_previous_token: bool = False,
) -> set[int]:
    """Store the outcome of a handshake (first registration or update) and replace the parties.
    ``outbound_token`` comes sealed (``partners.secrets``): this module never sees it in the clear.

    A party held by an unregistered platform (no token left) is taken over; one held by a platform
    still registered raises :class:`PartyConflictError` and nothing is written; so does
    :class:`PartyClaimError` when the parties break ``partners.party_claims`` (checked here, under a lock
    per party id, so that concurrent registrations cannot both pass). Returns the ids of the platforms
    written (this one, and any that lost a party to it).

    ``registering_with``: the hash of the token A a first registration started with. The row is
    written only if the platform still holds that token and is not registered; otherwise another
    registration with the same token A won the race, and :class:`AlreadyRegisteredError` is raised
    with nothing written. ``previous_token_hash`` stays accepted for ``previous_token_seconds`` (or
    until the platform uses the new token, :func:`end_previous_token`); ``keep_previous_token`` leaves
    the one already there as it is.
    """
    touched = {platform_id}
    async with pool.acquire() as conn, conn.transaction():
        # First, so that concurrent registrations of one platform queue on its row lock here.
        done = await conn.execute(
            "UPDATE platforms SET status = 'CONNECTED', token_hash = $2, outbound_token = $3, versions_url = $4,"
            " version = $5, endpoints = $6, token_encoding = $7, versions_token_encoding = $8,"
            " previous_token_hash = CASE WHEN $12 THEN previous_token_hash ELSE $9 END,"
            " previous_token_until = CASE WHEN $12 THEN previous_token_until WHEN $9::bytea IS NULL THEN NULL"
            "   ELSE now() + make_interval(secs => $10) END,"
            " updated_at = now()"
            " WHERE id = $1 AND ($11::bytea IS NULL OR (token_hash = $11 AND outbound_token IS NULL))",
            platform_id, token_hash, outbound_token, versions_url, version,
            [msgspec.to_builtins(e) for e in endpoints], token_encoding, versions_token_encoding,
            previous_token_hash, previous_token_seconds, registering_with, keep_previous_token,
        )
        if done == "UPDATE 0":
            raise AlreadyRegisteredError(f"platform {platform_id}")
        refused = await _claims_refusal(conn, platform_id, roles)
        if refused is not None:
            raise PartyClaimError(refused)
        for role in roles:
            holder = await conn.fetchrow(
                "SELECT p.platform_id, f.token_hash IS NOT NULL AS live FROM parties p"
                " JOIN platforms f ON f.id = p.platform_id"
                " WHERE p.country_code = $1 AND p.party_id = $2 AND p.role = $3",
                role.country_code.upper(), role.party_id.upper(), role.role.value,
            )
            if holder is not None and holder["platform_id"] != platform_id:
                if holder["live"]:
                    raise PartyConflictError(f"{role.country_code.upper()}*{role.party_id.upper()} {role.role}")
                touched.add(holder["platform_id"])  # loses the party: its replicas' entry changes too
                await conn.execute(
                    "DELETE FROM parties WHERE country_code = $1 AND party_id = $2 AND role = $3",
                    role.country_code.upper(), role.party_id.upper(), role.role.value,
                )
        wanted = {(r.country_code.upper(), r.party_id.upper(), r.role.value) for r in roles}
        existing = await conn.fetch(
            "SELECT id, country_code, party_id, role FROM parties WHERE platform_id = $1", platform_id
        )
        for row in existing:
            if (row["country_code"], row["party_id"], row["role"]) not in wanted:
                await conn.execute("DELETE FROM parties WHERE id = $1", row["id"])
        for role in roles:
            await conn.execute(
                "INSERT INTO parties (platform_id, country_code, party_id, role, business_details)"
                " VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (country_code, party_id, role) DO UPDATE"
                " SET business_details = EXCLUDED.business_details, last_updated = now()",
                platform_id, role.country_code.upper(), role.party_id.upper(), role.role.value,
                msgspec.to_builtins(role.business_details),
            )
        await notify_changed(conn, platforms=touched)
    return touched


async def _claims_refusal(conn: Any, platform_id: int, roles: list[CredentialsRole]) -> str | None:
    ids = sorted({(r.country_code.upper(), r.party_id.upper()) for r in roles})
    for country_code, party_id in ids:
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _PARTY_LOCK, f"{country_code}*{party_id}")
    settings = msgspec.convert(await conn.fetchval("SELECT settings FROM platforms WHERE id = $1", platform_id),
                               PlatformSettings)
    rows = await conn.fetch(
        "SELECT p.platform_id, p.country_code, p.party_id, p.role"
        " FROM parties p JOIN platforms f ON f.id = p.platform_id"
        " WHERE (p.country_code, p.party_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))"
        " AND (p.platform_id = $1 OR f.token_hash IS NOT NULL)",
        platform_id, [cc for cc, _ in ids], [pid for _, pid in ids],
    )
    held: dict[tuple[str, str], set[str]] = {}
    own: set[party_claims.PartyRole] = set()
    for row in rows:
        if row["platform_id"] == platform_id:
            own.add((row["country_code"], row["party_id"], row["role"]))
        else:
            held.setdefault((row["country_code"], row["party_id"]), set()).add(row["role"])
    return party_claims.refusal(((r.country_code, r.party_id, r.role.value) for r in roles),
                                announced=party_claims.announced(settings), held_elsewhere=held, own=own)


async def set_token_hash(pool: Pool, platform_id: int, token_hash: bytes | None) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE platforms SET token_hash = $2, updated_at = now() WHERE id = $1",
                           platform_id, token_hash)
        await notify_changed(conn, platforms=[platform_id])


async def unregister_platform(pool: Pool, platform_id: int) -> None:
    """Credentials DELETE: both tokens are void; the parties stay known (hubclientinfo never forgets)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE platforms SET status = 'SUSPENDED', token_hash = NULL, outbound_token = NULL,"
            " previous_token_hash = NULL, previous_token_until = NULL, updated_at = now() WHERE id = $1",
            platform_id,
        )
        await conn.execute("UPDATE parties SET last_updated = now() WHERE platform_id = $1", platform_id)
        await notify_changed(conn, platforms=[platform_id])


async def set_status(pool: Pool, platform_id: int, status: ConnectionStatus) -> bool:
    """The connection status (still-alive evidence); an operator suspension is a separate flag that
    this does not touch (see :func:`set_suspended`)."""
    async with pool.acquire() as conn, conn.transaction():
        # A platform that never finished a handshake stays PLANNED when it comes back.
        done = await conn.execute(
            "UPDATE platforms SET status = CASE WHEN $2 = 'CONNECTED' AND outbound_token IS NULL THEN 'PLANNED'"
            " ELSE $2 END, updated_at = now() WHERE id = $1",
            platform_id, status.value,
        )
        await conn.execute("UPDATE parties SET last_updated = now() WHERE platform_id = $1", platform_id)
        await notify_changed(conn, platforms=[platform_id])
    return bool(done != "UPDATE 0")


async def set_suspended(pool: Pool, platform_id: int, suspended: bool) -> bool:
    """The operator's suspension: kept through credentials updates and liveness changes."""
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.execute(
            "UPDATE platforms SET suspended = $2, updated_at = now() WHERE id = $1", platform_id, suspended
        )
        await conn.execute("UPDATE parties SET last_updated = now() WHERE platform_id = $1", platform_id)
        await notify_changed(conn, platforms=[platform_id])
    return bool(done != "UPDATE 0")


async def delete_platform(pool: Pool, platform_id: int) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.execute("DELETE FROM platforms WHERE id = $1", platform_id)
        await notify_changed(conn, platforms=[platform_id])
    return bool(done != "DELETE 0")


async def platform_details(pool: Pool, platform_id: int) -> dict[str, Any] | None:
    """A platform as the admin API shows it: no token, not even its hash."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, name, CASE WHEN suspended THEN 'SUSPENDED' ELSE status END AS status, suspended,"
            " token_hash IS NOT NULL AS has_token, outbound_token IS NOT NULL AS registered,"
            " versions_url, version, endpoints, settings, created_at, updated_at, token_encoding,"
            " versions_token_encoding,"
            " CASE WHEN previous_token_until > now() THEN previous_token_until END AS previous_token_until"
            " FROM platforms WHERE id = $1",
            platform_id,
        )
        if row is None:
            return None
        parties = await conn.fetch(
            "SELECT country_code, party_id, role, business_details, last_updated FROM parties"
            " WHERE platform_id = $1 ORDER BY id",
            platform_id,
        )
    out = dict(row)
    out["created_at"] = row["created_at"].isoformat()
    out["updated_at"] = row["updated_at"].isoformat()
    if row["previous_token_until"] is not None:
        out["previous_token_until"] = row["previous_token_until"].isoformat()
    out["parties"] = [dict(p) | {"last_updated": p["last_updated"].isoformat()} for p in parties]
    return out


async def update_platform_settings(
    pool: Pool, platform_id: int, changes: dict[str, Any], validate: Callable[[dict[str, Any]], object]
) -> dict[str, Any] | None:
    """Merge ``changes`` into a platform's settings (a ``null`` value removes that setting) and return
    the result, or None when there is no such platform. ``validate`` sees the merged object before it is
    written and raises to refuse it (nothing is written then)."""
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchval("SELECT settings FROM platforms WHERE id = $1 FOR UPDATE", platform_id)
        if current is None:
            return None
        merged = {k: v for k, v in (dict(current) | changes).items() if v is not None}
        validate(merged)
        await conn.execute("UPDATE platforms SET settings = $2, updated_at = now() WHERE id = $1", platform_id, merged)
        await notify_changed(conn, platforms=[platform_id])
    return merged


async def platform_with_token(pool: Pool, token_hashes: list[bytes]) -> int | None:
    """The platform that holds any of these token hashes, if one does (for a replica whose snapshot may
    lag a write: it re-reads that platform)."""
    async with pool.acquire() as conn:
        found: int | None = await conn.fetchval(
            "SELECT id FROM platforms WHERE token_hash = ANY($1)"
            " OR (previous_token_hash = ANY($1) AND previous_token_until > now()) LIMIT 1", token_hashes)
    return found


async def list_platform_ids(pool: Pool) -> list[int]:
    async with pool.acquire() as conn:
        return [r["id"] for r in await conn.fetch("SELECT id FROM platforms ORDER BY id")]


async def shared_secret(pool: Pool, name: str, candidate: bytes) -> bytes:
    """The stored value of secret ``name``: ``candidate`` if there was none yet (the first replica to
    ask wins), so every replica ends up with the same one."""
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO hub_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            name, candidate,
        )
        value: bytes = await conn.fetchval("SELECT value FROM hub_secrets WHERE name = $1", name)
    return value


async def reseal_secrets(
    pool: Pool,
    platform_token: Callable[[int, bytes], bytes | None],
    hub_secret: Callable[[str, bytes], bytes | None],
) -> int:
    """Pass every stored secret (outbound tokens, ``hub_secrets``) through a function and store what
    it returns instead (None: leave it). One transaction with the rows locked: if a function raises,
    nothing is written. Returns how many values changed."""
    async with pool.acquire() as conn, conn.transaction():
        tokens = await conn.fetch(
            "SELECT id, outbound_token FROM platforms WHERE outbound_token IS NOT NULL ORDER BY id FOR UPDATE")
        shared = await conn.fetch("SELECT name, value FROM hub_secrets ORDER BY name FOR UPDATE")
        new_tokens = [(r["id"], v) for r in tokens if (v := platform_token(r["id"], r["outbound_token"])) is not None]
        new_shared = [(r["name"], v) for r in shared if (v := hub_secret(r["name"], r["value"])) is not None]
        if new_tokens:
            await conn.executemany("UPDATE platforms SET outbound_token = $2 WHERE id = $1", new_tokens)
        if new_shared:
            await conn.executemany("UPDATE hub_secrets SET value = $2 WHERE name = $1", new_shared)
        if new_tokens or new_shared:
            await notify(conn)  # every row may have changed: the replicas compare versions
    return len(new_tokens) + len(new_shared)


async def listen(dsn: str) -> asyncpg.Connection:
    """A dedicated connection for LISTEN (the caller adds the listener and owns the connection)."""
    return await connect(dsn)


LearnedRow = tuple[str, str, str, str, str, str]
"""``(kind, owner country_code, owner party_id, object_id, target country_code, target party_id)``."""


async def save_learned(pool: Pool, rows: list[LearnedRow]) -> None:
    """Upsert learned routes (one per kind, owner and object id), all in one transaction."""
    if not rows:
        return
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO learned_routes (kind, owner_country_code, owner_party_id, object_id, country_code, party_id)"
            " VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (kind, owner_country_code, owner_party_id, object_id) DO UPDATE"
            " SET country_code = EXCLUDED.country_code, party_id = EXCLUDED.party_id, updated_at = clock_timestamp(),"
            " written_by = pg_current_xact_id()::text::bigint",
            rows,
        )


_SELECT_LEARNED = ("SELECT kind, owner_country_code, owner_party_id, object_id, country_code, party_id"
                   " FROM learned_routes")


async def load_learned(pool: Pool, since: int | None) -> tuple[list[LearnedRow], int]:
    """Rows written since ``since`` (None: all), and what to pass as ``since`` next time: the oldest
    transaction still running now. Every transaction before it has ended, so its rows are in this read;
    rows of the ones running now (and later) are in the next. A row is read about once, so the cost
    follows what was written, not how many rows there are."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        horizon: int = await conn.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        if since is None:
            rows = await conn.fetch(_SELECT_LEARNED)
        else:
            rows = await conn.fetch(_SELECT_LEARNED + " WHERE written_by >= $1", since)
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows], horizon


async def add_planned_parties(pool: Pool, platform_id: int, parties: list[tuple[str, str, str]]) -> None:
    """Parties an invitation expects (shown as PLANNED in hubclientinfo until the platform registers)."""
    async with pool.acquire() as conn, conn.transaction():
        for country_code, party_id, role in parties:
            try:
                await conn.execute(
                    "INSERT INTO parties (platform_id, country_code, party_id, role) VALUES ($1, $2, $3, $4)",
                    platform_id, country_code.upper(), party_id.upper(), role,
                )
            except asyncpg.UniqueViolationError:
                raise PartyConflictError(f"{country_code.upper()}*{party_id.upper()} {role}") from None
        await notify_changed(conn, platforms=[platform_id])


async def rotate_inbound_token(pool: Pool, platform_id: int, token_hash: bytes, previous_token_seconds: float) -> None:
    """Before a hub-initiated credentials update is sent: the platform's token becomes ``token_hash`` (the
    partner reads our versions with it while it handles the update), and its token until now stays
    accepted for ``previous_token_seconds`` (or until the partner uses the new one)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE platforms SET previous_token_hash = token_hash, token_hash = $2,"
            " previous_token_until = now() + make_interval(secs => $3), updated_at = now() WHERE id = $1",
            platform_id, token_hash, previous_token_seconds,
        )
        await notify_changed(conn, platforms=[platform_id])


async def undo_inbound_rotation(pool: Pool, platform_id: int, token_hash: bytes, previous_token_seconds: float) -> None:
    """A hub-initiated update failed: the token before it is the platform's token again, and the new one
    (``token_hash``, which the partner may have taken before the failure) stays accepted for a while."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE platforms SET token_hash = previous_token_hash, previous_token_hash = token_hash,"
            " previous_token_until = now() + make_interval(secs => $3), updated_at = now()"
            " WHERE id = $1 AND token_hash = $2 AND previous_token_hash IS NOT NULL",
            platform_id, token_hash, previous_token_seconds,
        )
        await notify_changed(conn, platforms=[platform_id])


async def end_previous_token(pool: Pool, platform_id: int) -> None:
    """The platform used its new token: the one before it is void from now on."""
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.execute(
            "UPDATE platforms SET previous_token_hash = NULL, previous_token_until = NULL"
            " WHERE id = $1 AND previous_token_hash IS NOT NULL", platform_id,
        )
        if done != "UPDATE 0":
            await notify_changed(conn, platforms=[platform_id])


async def set_endpoints(pool: Pool, platform_id: int, *, version: str, endpoints: list[Endpoint],
                        token_encoding: str, versions_token_encoding: str) -> None:
    """A partner's endpoints read again (same version, same tokens)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE platforms SET version = $2, endpoints = $3, token_encoding = $4, versions_token_encoding = $5,"
            " updated_at = now() WHERE id = $1",
            platform_id, version, [msgspec.to_builtins(e) for e in endpoints], token_encoding,
            versions_token_encoding,
        )
        await notify_changed(conn, platforms=[platform_id])


# -- read and written outside the registry snapshot (no NOTIFY): outbound auth failures, retired parties


async def record_outbound_auth_failure(pool: Pool, platform_id: int, status: int,
                                       when: datetime.datetime) -> None:
    async with pool.acquire() as conn:
        await conn.execute("UPDATE platforms SET outbound_auth_failed_at = $2, outbound_auth_failed_status = $3"
                           " WHERE id = $1", platform_id, when, status)


async def outbound_auth_failure(pool: Pool, platform_id: int) -> dict[str, object] | None:
    """``{"at": ISO time, "http_status": 401}`` of the platform's last refusal of the hub's token, or None."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT outbound_auth_failed_at, outbound_auth_failed_status FROM platforms"
                                  " WHERE id = $1", platform_id)
    if row is None or row[0] is None:
        return None
    return {"at": row[0].isoformat(), "http_status": row[1]}


async def retired_parties(pool: Pool) -> list[PartyRow]:
    """Parties that left the registry (platform removed, role dropped): ClientInfo is never deleted, so
    hubclientinfo lists them as SUSPENDED. ``platform_id`` is -1."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT -1 AS platform_id, country_code, party_id, role, '' AS business_name,"
            " to_char(last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS last_updated"
            " FROM retired_parties ORDER BY country_code, party_id, role")
    return [msgspec.convert(dict(r), PartyRow) for r in rows]
