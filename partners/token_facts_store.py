"""PostgreSQL storage of the token facts the version bridge learns (asyncpg): the only module with
their SQL. Written and read in batches by ``hub.learning``, never on the request path."""

from __future__ import annotations

from typing import Any

from partners.store import Pool

TokenFactRow = tuple[str, str, str, str, str]
"""``(owner country_code, owner party_id, contract_id, uid, token type)``."""


async def save_token_facts(pool: Pool, rows: list[TokenFactRow]) -> None:
    """Upsert facts (one per owner and contract id)."""
    if not rows:
        return
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO token_facts (owner_country_code, owner_party_id, contract_id, uid, token_type)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (owner_country_code, owner_party_id, contract_id) DO UPDATE"
            " SET uid = EXCLUDED.uid, token_type = EXCLUDED.token_type, updated_at = clock_timestamp()",
            rows,
        )


_SELECT = "SELECT owner_country_code, owner_party_id, contract_id, uid, token_type FROM token_facts"


async def load_token_facts(pool: Pool, since: Any, limit: int) -> tuple[list[TokenFactRow], Any]:
    """Facts changed since ``since`` (None: the ``limit`` newest), and the database time to ask from next."""
    async with pool.acquire() as conn:
        now = await conn.fetchval("SELECT clock_timestamp()")
        if since is None:
            rows = await conn.fetch(_SELECT + " ORDER BY updated_at DESC LIMIT $1", limit)
            rows.reverse()  # oldest first: the newest end up the most recently used in memory
        else:
            rows = await conn.fetch(_SELECT + " WHERE updated_at >= $1 ORDER BY updated_at", since)
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows], now
