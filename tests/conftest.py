from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.database import PostgresForTests
from tests.support.network import Network


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresForTests]:
    # A short path: PostgreSQL's unix socket lives in the data dir and its path is limited to 107 bytes.
    base = Path(tmp_path_factory.getbasetemp()) / "pg"
    server = PostgresForTests(base)
    yield server
    server.stop()


@pytest.fixture
async def dsn(postgres: PostgresForTests) -> AsyncIterator[str]:
    name = await postgres.create()
    yield postgres.dsn_for(name)
    await postgres.drop(name)


@pytest.fixture
async def net(dsn: str) -> AsyncIterator[Network]:
    network = Network(dsn)
    yield network
    await network.close()


@pytest.fixture(scope="module")
async def module_net(postgres: PostgresForTests) -> AsyncIterator[Network]:
    """One database and network for a whole module: for suites of many small requests against one hub
    (bad input, fuzzing) that would otherwise spend their time starting hubs and registering partners."""
    name = await postgres.create()
    network = Network(postgres.dsn_for(name))
    yield network
    await network.close()
    await postgres.drop(name)
