"""PostgreSQL storage of short tickets (``routing.tickets``): the SQL beside ``partners/store.py`` for
what the request path writes outside the registry (no NOTIFY: no snapshot depends on tickets).
"""

from __future__ import annotations

import asyncio

from partners import store
from partners.errors import DatabaseUnavailableError
from routing.tickets import Ticket

_INSERT = """
INSERT INTO tickets (id, kind, sender_platform, sender_party, receiver_platform, receiver_party, url, module,
                     expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp($9))
"""
_SELECT = """
SELECT kind, sender_platform, sender_party, receiver_platform, receiver_party, url, module,
       extract(epoch FROM expires_at)::float8 AS expires
FROM tickets WHERE id = $1
"""


class PgTicketStore:
    """``routing.tickets.TicketStore`` on the hub's pool. Both operations sit on the request path, so
    both are bounded (``wait`` seconds): a database that does not answer counts as unavailable, and a
    command then goes out with the self-contained form instead of waiting for a connect timeout."""

    def __init__(self, pool: store.Pool, *, wait: float = 2.0) -> None:
        self.pool = pool
        self.wait = wait

    async def save(self, ticket_id: str, ticket: Ticket) -> None:
        try:
            async with asyncio.timeout(self.wait), self.pool.acquire() as conn:
                await conn.execute(_INSERT, ticket_id, ticket.kind, ticket.sender_platform, ticket.sender_party,
                                   ticket.receiver_platform, ticket.receiver_party, ticket.url, ticket.module,
                                   ticket.expires)
        except Exception as exc:
            if isinstance(exc, TimeoutError) or store.unreachable(exc):
                raise DatabaseUnavailableError("the hub's database is unavailable; try again later") from exc
            raise

    async def load(self, ticket_id: str) -> Ticket | None:
        try:
            async with asyncio.timeout(self.wait), self.pool.acquire() as conn:
                row = await conn.fetchrow(_SELECT, ticket_id)
        except Exception as exc:
            if isinstance(exc, TimeoutError) or store.unreachable(exc):
                raise DatabaseUnavailableError("the hub's database is unavailable; try again later") from exc
            raise
        return None if row is None else Ticket(**dict(row))


async def delete_expired(pool: store.Pool) -> int:
    """Delete tickets past their expiry; returns how many."""
    async with pool.acquire() as conn:
        done: str = await conn.execute("DELETE FROM tickets WHERE expires_at < now()")
    return int(done.rsplit(" ", 1)[-1])
