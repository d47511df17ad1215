"""The row versions the safety-net reload compares (migration 0010): every write to a platform's row or
to its parties' rows, by the store or by hand, moves that platform's version, and only that one's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from partners import store

pytestmark = pytest.mark.anyio


@pytest.fixture
async def conn(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    await store.migrate(dsn)
    connection = await asyncpg.connect(dsn)
    yield connection
    await connection.close()


async def test_every_write_to_a_platform_or_its_parties_moves_its_version_only(conn: asyncpg.Connection) -> None:
    one, two, three = [await conn.fetchval("INSERT INTO platforms (name, status) VALUES ($1, 'PLANNED') RETURNING id",
                                           name) for name in ("one", "two", "three")]

    async def versions() -> dict[int, int]:
        return {r["id"]: r["row_version"] for r in await conn.fetch("SELECT id, row_version FROM platforms")}

    async def moved(statement: str, *args: object) -> set[int]:
        before = await versions()
        await conn.execute(statement, *args)
        after = await versions()
        return {i for i in after if after[i] != before.get(i)} | (before.keys() - after.keys())

    assert await moved("UPDATE platforms SET suspended = true WHERE id = $1", one) == {one}
    assert await moved("INSERT INTO parties (platform_id, country_code, party_id, role) VALUES"
                       " ($1, 'NL', 'AAA', 'CPO'), ($1, 'NL', 'BBB', 'CPO'), ($2, 'DE', 'CCC', 'EMSP')",
                       one, two) == {one, two}
    assert await moved("UPDATE parties SET last_updated = now() WHERE platform_id = $1", two) == {two}
    assert await moved("UPDATE parties SET platform_id = $1 WHERE party_id = 'AAA'", three) == {one, three}
    assert await moved("DELETE FROM parties WHERE party_id = 'BBB'") == {one}
    assert await moved("UPDATE parties SET role = 'CPO' WHERE false") == set()
    assert await moved("DELETE FROM platforms WHERE id = $1", three) == {three}  # its parties go with it
    assert await conn.fetchval("SELECT count(*) FROM parties WHERE platform_id = $1", three) == 0
