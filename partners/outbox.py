"""The broadcast outbox in PostgreSQL (asyncpg): deliveries a hub process could not make before it
stopped, kept for the next process or another replica. The only SQL about it lives here.

Writing is two COPYs in one transaction (rows, and each distinct body once: a push to a hundred receivers
is stored with one body, as it was held in memory), linear in the backlog's entries and bytes. Claiming is
one ``DELETE ... RETURNING`` over rows locked with ``SKIP LOCKED``, so concurrent replicas never take the
same row and a row is gone once its claim commits; bodies no row refers to any more go with it.
"""

from __future__ import annotations

import msgspec

from partners.store import Pool

_COLUMNS = ("platform_id", "country_code", "party_id", "module", "method", "path", "query", "correlation_id",
            "sender", "accepted_at")

_RESERVE_BODY_IDS = "SELECT nextval('broadcast_outbox_bodies_id_seq') FROM generate_series(1, $1)"
_CLAIM = f"""
DELETE FROM broadcast_outbox
WHERE id IN (SELECT id FROM broadcast_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, body_id, {", ".join(_COLUMNS)}
"""
_BODIES = "SELECT id, body FROM broadcast_outbox_bodies WHERE id = ANY($1::bigint[])"
# Bodies no row refers to any more: those just claimed, and any a concurrent claim left behind.
_FORGET_BODIES = """
DELETE FROM broadcast_outbox_bodies b WHERE NOT EXISTS (SELECT 1 FROM broadcast_outbox o WHERE o.body_id = b.id)
"""


class OutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery as written: receiver, request, and when its oldest push was accepted (epoch s)."""

    platform_id: int
    country_code: str
    party_id: str
    module: str
    method: str
    path: str
    query: str
    body: bytes | None
    correlation_id: str
    sender: str
    accepted_at: float


class PostgresOutbox:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def save(self, rows: list[OutboxRow]) -> None:
        """Write ``rows`` in one transaction, in order (their ids keep it), each distinct body once."""
        if not rows:
            return
        bodies: dict[bytes, int] = {}
        for row in rows:
            if row.body is not None:
                bodies.setdefault(row.body, len(bodies))
        async with self.pool.acquire() as conn, conn.transaction():
            ids = [r[0] for r in await conn.fetch(_RESERVE_BODY_IDS, len(bodies))]
            await conn.copy_records_to_table("broadcast_outbox_bodies", columns=["id", "body"],
                                             records=[(ids[n], body) for body, n in bodies.items()])
            await conn.copy_records_to_table(
                "broadcast_outbox", columns=["body_id", *_COLUMNS],
                records=[(ids[bodies[r.body]] if r.body is not None else None, r.platform_id, r.country_code,
                          r.party_id, r.module, r.method, r.path, r.query, r.correlation_id, r.sender,
                          r.accepted_at) for r in rows])

    async def claim(self, limit: int) -> list[OutboxRow]:
        """Take up to ``limit`` rows, oldest first, out of the outbox for this process alone."""
        async with self.pool.acquire() as conn, conn.transaction():
            records = await conn.fetch(_CLAIM, limit)
            if not records:
                return []
            wanted = list({r["body_id"] for r in records if r["body_id"] is not None})
            bodies = {r["id"]: r["body"] for r in await conn.fetch(_BODIES, wanted)} if wanted else {}
            await conn.execute(_FORGET_BODIES)
        records.sort(key=lambda r: r[0])
        # By position (id, body_id, then _COLUMNS): a claim at startup may hold a whole backlog.
        return [OutboxRow(body=bodies.get(r[1]), platform_id=r[2], country_code=r[3], party_id=r[4], module=r[5],
                          method=r[6], path=r[7], query=r[8], correlation_id=r[9], sender=r[10], accepted_at=r[11])
                for r in records]

    async def count(self) -> int:
        async with self.pool.acquire() as conn:
            n: int = await conn.fetchval("SELECT count(*) FROM broadcast_outbox")
        return n
