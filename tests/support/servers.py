"""Serving an ASGI app over real loopback HTTP inside the test's event loop (Hypercorn, port 0)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

# Ports handed out by free_port(), still bound (not listening: a connection to one is refused) so that no
# other bind(0) on this machine gets the same port before the test uses it. served() takes the socket
# over; a port given to a subprocess is bound again there (SO_REUSEADDR on both, ours never listens).
_reserved: dict[tuple[str, int], socket.socket] = {}
_RESERVED_MAX = 256


def free_port(host: str = "127.0.0.1") -> int:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    port: int = s.getsockname()[1]
    _reserved[(host, port)] = s
    while len(_reserved) > _RESERVED_MAX:
        _reserved.pop(next(iter(_reserved))).close()
    return port


@contextlib.asynccontextmanager
async def served(app: Any, port: int | None = None, host: str = "127.0.0.1",
                 tls: tuple[str, str] | None = None,
                 configure: Callable[[Config], None] | None = None) -> AsyncIterator[str]:
    """Serve ``app`` on ``host`` (a loopback address) and yield its base URL; stops it (and its lifespan)
    on exit. ``tls``: (certificate file, key file) to serve https; ``configure`` may change the Hypercorn
    config first (TLS: the URL is then https)."""
    port = port or free_port(host)
    config = Config()
    reserved = _reserved.pop((host, port), None)
    if reserved is not None:
        # Serve on the socket that has held the port since free_port(): no window for another process.
        # Hypercorn listens on it only once the app's lifespan has started, as with a bind address.
        config.bind = [f"fd://{reserved.detach()}"]
    else:
        config.bind = [f"{host}:{port}"]
    if tls is not None:
        config.certfile, config.keyfile = tls
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 1.0
    if configure is not None:
        configure(config)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    for _ in range(500):
        if task.done():
            task.result()  # raise what went wrong
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.01)
    else:
        raise RuntimeError(f"server on port {port} did not start")
    try:
        yield f"{'https' if config.ssl_enabled else 'http'}://{host}:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


class Trap:
    """A listener that must stay untouched: it counts connections and answers nothing."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self.connections = 0


@contextlib.asynccontextmanager
async def trap(host: str, port: int = 0) -> AsyncIterator[Trap]:
    """A :class:`Trap` on ``host`` (127.0.0.2, 127.0.0.3: other loopback addresses stand in for
    addresses a partner must not make the hub call)."""
    found = Trap(host)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        found.connections += 1
        writer.close()

    server = await asyncio.start_server(handle, host, port)
    found.port = server.sockets[0].getsockname()[1]
    try:
        yield found
    finally:
        server.close()


@contextlib.asynccontextmanager
async def raw_tcp_server(behaviour: str) -> AsyncIterator[int]:
    """A TCP server that misbehaves: ``hang`` reads and never answers; ``garbage`` answers bytes
    that are not HTTP and closes."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(65536)
        if behaviour == "garbage":
            writer.write(b"THIS IS NOT HTTP\r\n\r\n")
            await writer.drain()
            writer.close()
        else:
            await asyncio.sleep(30)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for w in writers:
            w.close()
        server.close()
