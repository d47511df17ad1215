"""Learned routes shared through PostgreSQL: each replica's read-back costs what other replicas wrote
since its last read (each row read about once), and a row whose transaction commits late is still
read (the horizon is the oldest transaction running at the last read, not a clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from hub.learning import LearnedSync
from partners import store
from routing.learned import Kind, LearnedRoutes

pytestmark = pytest.mark.anyio
CPO, MSP = ("NL", "CPO"), ("DE", "MSP")


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[store.Pool]:
    await store.migrate(dsn)
    pool = await store.create_pool(dsn)
    yield pool
    await pool.close()


async def test_read_back_reads_what_was_written_since_and_nothing_twice(pool: store.Pool) -> None:
    writer, reader = LearnedSync(LearnedRoutes(), pool), LearnedSync(LearnedRoutes(), pool)
    await writer.sync_once()
    await reader.sync_once()
    for n in range(500):
        writer.learned.learn(Kind.LOCATION, CPO, f"LOC{n}", MSP)
    await writer.sync_once()
    read = reader.rows_read
    await reader.sync_once()
    assert reader.rows_read - read == 500
    assert reader.learned.owners(Kind.LOCATION, "LOC499") == ((CPO, MSP),)
    for _ in range(3):
        await reader.sync_once()
    assert reader.rows_read - read == 500, "rows already read are not read again"
    writer.learned.learn(Kind.LOCATION, CPO, "LOC7", ("BE", "MSP"))  # one row changes
    await writer.sync_once()
    await reader.sync_once()
    assert reader.rows_read - read == 501
    assert reader.learned.target(Kind.LOCATION, CPO, "LOC7") == ("BE", "MSP")


async def test_a_row_committed_after_a_read_that_began_before_it_is_read_next_time(pool: store.Pool, dsn: str) -> None:
    reader = LearnedSync(LearnedRoutes(), pool)
    await reader.sync_once()
    late = await asyncpg.connect(dsn)
    try:
        transaction = late.transaction()
        await transaction.start()
        await late.execute("INSERT INTO learned_routes (kind, owner_country_code, owner_party_id, object_id,"
                           " country_code, party_id) VALUES ('session', 'NL', 'CPO', 'S1', 'DE', 'MSP')")
        await reader.sync_once()  # runs while the writer's transaction is open: sees nothing yet
        assert reader.learned.target(Kind.SESSION, CPO, "S1") is None
        await transaction.commit()
    finally:
        await late.close()
    await reader.sync_once()
    assert reader.learned.target(Kind.SESSION, CPO, "S1") == MSP
