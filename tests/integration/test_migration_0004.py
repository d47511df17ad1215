"""Migration 0004 on a database that already holds data of the earlier schema: operator suspensions
become the new flag, and learned routes keep working, keyed by owner."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from partners import store
from partners.model import ConnectionStatus
from partners.registry import Snapshot, build_snapshot

pytestmark = pytest.mark.anyio


def _snapshot(platforms: list[Any], parties: list[Any], agreements: list[Any]) -> Snapshot:
    # The outbound tokens of this old data are still in the clear (the hub seals them at its next start):
    # what this test reads is suspension, so it does not open them.
    return build_snapshot(*store.registry_rows(platforms, parties, lambda _id, _sealed: "out", agreements))


async def test_existing_suspensions_and_learned_routes_survive_migration_0004(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now())")
        for version, name, sql in store.known_migrations():
            if version < 4:
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
        await conn.execute(
            "INSERT INTO platforms (id, name, status, token_hash, outbound_token) VALUES"
            " (1, 'suspended by the operator', 'SUSPENDED', 'a', 'out'),"
            " (2, 'unregistered itself', 'SUSPENDED', NULL, NULL),"
            " (3, 'invited, then suspended', 'SUSPENDED', 'c', NULL),"
            " (4, 'connected', 'CONNECTED', 'd', 'out')")
        await conn.execute(
            "INSERT INTO learned_routes (kind, object_id, country_code, party_id) VALUES"
            " ('location_cpo', 'LOC1', 'NL', 'CPO'), ('token_emsp', 'TOK1', 'DE', 'MSP'),"
            " ('session_cpo', 'S1', 'NL', 'CPO'), ('session_emsp', 'S1', 'BE', 'MSP'),"
            " ('session_emsp', 'S2', 'BE', 'MSP')")  # half a session: no owner, dropped
    finally:
        await conn.close()

    applied = await store.migrate(dsn)
    assert "0004_policy.sql" in applied
    pool = await store.create_pool(dsn)
    try:
        snapshot = _snapshot(*await store.load_registry(pool))
        rows, _ = await store.load_learned(pool, None)
    finally:
        await pool.close()
    suspended = {p.id: (p.suspended, p.status) for p in snapshot.platforms.values()}
    assert suspended == {1: (True, ConnectionStatus.SUSPENDED), 2: (False, ConnectionStatus.SUSPENDED),
                         3: (True, ConnectionStatus.SUSPENDED), 4: (False, ConnectionStatus.CONNECTED)}
    assert sorted(rows) == [("location", "NL", "CPO", "LOC1", "NL", "CPO"),
                            ("session", "NL", "CPO", "S1", "BE", "MSP"),
                            ("token", "DE", "MSP", "TOK1", "DE", "MSP")]
    # Unsuspending gives the connection status back (a platform that never registered stays PLANNED).
    pool = await store.create_pool(dsn)
    try:
        for platform_id in (1, 3):
            assert await store.set_suspended(pool, platform_id, False)
        snapshot = _snapshot(*await store.load_registry(pool))
    finally:
        await pool.close()
    assert (snapshot.platforms[1].status, snapshot.platforms[3].status) == (ConnectionStatus.CONNECTED,
                                                                            ConnectionStatus.PLANNED)
