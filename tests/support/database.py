"""A real PostgreSQL for the tests: ``OCPI_HUB_DATABASE_URL`` when set, otherwise one embedded
server per test session; each test gets a fresh database of its own."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg

from hub.database import EmbeddedPostgres


class PostgresForTests:
    def __init__(self, base: Path) -> None:
        self._embedded: EmbeddedPostgres | None = None
        dsn = os.environ.get("OCPI_HUB_DATABASE_URL")
        if dsn:
            self.admin_dsn = dsn
        else:
            self._embedded = EmbeddedPostgres(base)
            self._embedded.start()
            self.admin_dsn = self._embedded.admin_uri()

    def dsn_for(self, name: str) -> str:
        # Swap the database name in a postgresql:// DSN (path component).
        head, _, tail = self.admin_dsn.partition("?")
        base = head.rsplit("/", 1)[0]
        return f"{base}/{name}" + (f"?{tail}" if tail else "")

    async def create(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        finally:
            await conn.close()
        return name

    async def drop(self, name: str) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def stop(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)
