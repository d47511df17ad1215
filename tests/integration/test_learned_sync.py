"""Learned routes shared through PostgreSQL: each replica's read-back costs what other replicas wrote
since its last read (each row read about once), and a row whose transaction commits late is still
read (the horizon is the oldest transaction running at the last read, not a clock)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from hub.learning import LearnedSync
from partners import store
from routing.learned import Kind, LearnedRoutes
from routing.translation_memory import TranslationMemory
from routing.versions.version import OcpiVersion
from tests.support.servers import free_port

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


async def test_every_kind_is_written_and_read_back(pool: store.Pool) -> None:
    # The table checks its kind column: a kind added to the enum without its migration fails here.
    writer, reader = LearnedSync(LearnedRoutes(), pool), LearnedSync(LearnedRoutes(), pool)
    for kind in Kind:
        writer.learned.learn(kind, CPO, f"{kind.value}-1", MSP)
    await writer.sync_once()
    assert not writer.learned.pending
    await reader.sync_once()
    assert all(reader.learned.target(kind, CPO, f"{kind.value}-1") == MSP for kind in Kind)


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


async def test_unsaved_entries_are_capped_during_an_outage_and_said_once_per_outage(
    pool: store.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # Nothing listens on a reserved loopback port: a real refused connection, as when PostgreSQL is down.
    down = await store.create_pool(f"postgresql://hub@127.0.0.1:{free_port()}/hub")
    learned = LearnedRoutes(max_pending=50)
    memory = TranslationMemory(8 * 1024)  # token facts not yet shared: a small queue of their own
    facts = memory.max_pending + 12
    reported: list[tuple[str, int]] = []
    sync = LearnedSync(learned, down, interval=0.02, memory=memory,
                       on_dropped=lambda what, n: reported.append((what, n)))
    task = asyncio.create_task(sync._run())

    def said() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "oldest are dropped" in r.getMessage()]

    def total(what: str) -> int:
        return sum(n for w, n in reported if w == what)

    try:
        for n in range(200):
            learned.learn(Kind.LOCATION, CPO, f"LOC{n}", MSP)
            if n < facts:
                memory.remember_token(MSP, OcpiVersion.V2_2_1,
                                      {"uid": f"UID{n}", "type": "RFID", "contract_id": f"DE-MSP-C{n:08d}"})
            if n % 20 == 0:
                await asyncio.sleep(0.03)  # rounds fail in between
        await eventually(lambda: said(), "the drop is said")
        await asyncio.sleep(0.2)  # more failing rounds: still one line
        assert len(said()) == 1 and said()[0].levelno == logging.WARNING
        assert len(learned.pending) == 50 and learned.pending_dropped == 150
        assert [oid for _, _, oid in learned.pending] == [f"LOC{n}" for n in range(150, 200)], "the newest kept"
        # Reported after each round, and failing rounds back off: the count follows within a round.
        await eventually(lambda: total("learned_routes") == 150, "the dropped routes counted for the operator")
        assert 0 < memory.max_pending < 20 and len(memory.pending) == memory.max_pending
        await eventually(lambda: total("token_facts") == 12, "the token facts dropped counted for the operator")
        assert memory.pending_dropped == 12 and {what for what, _ in reported} == {"learned_routes", "token_facts"}

        sync.pool = pool  # the database is back: what was kept is written
        await eventually(lambda: not sync.outage.down, "the outage ends")
        async with pool.acquire() as conn:
            saved = {r["object_id"] for r in await conn.fetch("SELECT object_id FROM learned_routes")}
        assert saved == {f"LOC{n}" for n in range(150, 200)} and not learned.pending
        assert learned.target(Kind.LOCATION, CPO, "LOC0") == MSP, "this replica still routes by a dropped one"
        async with pool.acquire() as conn:
            shared = {r["contract_id"] for r in await conn.fetch("SELECT contract_id FROM token_facts")}
        assert shared == {f"DE-MSP-C{n:08d}" for n in range(12, facts)} and not memory.pending, "the newest kept"

        sync.pool = down  # a second outage gets its own line
        for n in range(200, 260):
            learned.learn(Kind.LOCATION, CPO, f"LOC{n}", MSP)
        await eventually(lambda: len(said()) == 2, "the second outage's drop is said")
        assert said()[1].__dict__["dropped"] == 10
        await eventually(lambda: total("learned_routes") == 160, "every drop counted for the operator")
        assert total("token_facts") == 12
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await down.close()


async def eventually(check: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.02)
