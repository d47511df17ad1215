"""A receiver's faulty answer leaves nothing behind: its buffer is freed by reference counting, at once,
with the cycle collector switched off (the issue: ~64 MB alive per oversized answer until a GC pass).

Each fault runs through the Forwarder (the one door of every forward, broadcast delivery, GET-all page
and probe) against a raw TCP receiver; memory is measured with tracemalloc, and whatever the cycle
collector would have found is inspected for the client's objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from routing.forward import Forwarder, UpstreamFailure
from routing.upstream_client import Response, _Connection

pytestmark = pytest.mark.anyio

SIZE = 2 * 1024 * 1024  # the answer cap in these tests; faulty answers carry about this much
CHUNK = b"x" * 65536
BODY = CHUNK * (SIZE // len(CHUNK))  # the good answer's body, exactly SIZE bytes; built before tracing starts

Writer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _head(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def over_cap_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(2 * SIZE // len(CHUNK)):
        writer.write(b"10000\r\n" + CHUNK + b"\r\n")
        await writer.drain()


async def over_cap_until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    for _ in range(2 * SIZE // len(CHUNK)):
        writer.write(CHUNK)
        await writer.drain()


async def shorter_than_declared(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % SIZE + CHUNK * (SIZE // len(CHUNK) - 1))
    await writer.drain()


async def longer_than_declared(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (SIZE - 100) + CHUNK * (SIZE // len(CHUNK)))
    await writer.drain()


async def garbage_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(SIZE // len(CHUNK) - 1):
        writer.write(b"10000\r\n" + CHUNK + b"\r\n")
    writer.write(b"this is no chunk header\r\n")
    await writer.drain()


async def stalls_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % SIZE + CHUNK * (SIZE // len(CHUNK) // 2))
    await writer.drain()
    await asyncio.sleep(5)  # past the forward's timeout


async def complete(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A good answer: the idle kept-alive connection must not keep it alive afterwards."""
    while True:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % SIZE + BODY)
        await writer.drain()
        await _head(reader)


@contextlib.asynccontextmanager
async def receiver(answer: Writer) -> AsyncIterator[str]:
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with contextlib.suppress(Exception):
            await _head(reader)
            await answer(reader, writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/sender/locations"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await asyncio.sleep(0.01)


# Faults the native client refuses whatever the TCP segments look like (a body longer than declared is
# refused when the extra bytes come with it, which the client tests show on one segment; here they may not).
REFUSED = {over_cap_chunked, over_cap_until_close, shorter_than_declared, garbage_mid_body, stalls_mid_body}


@pytest.mark.parametrize("client", ["native", "aiohttp"])
@pytest.mark.parametrize("fault", [over_cap_chunked, over_cap_until_close, shorter_than_declared,
                                   longer_than_declared, garbage_mid_body, stalls_mid_body, complete],
                         ids=lambda f: f.__name__)
async def test_answer_buffer_is_freed_without_the_cycle_collector(fault: Writer, client: str) -> None:
    forwarder = Forwarder(connect_timeout=1, request_timeout=0.5, connections_per_receiver=4, client=client,
                          max_answer_bytes=SIZE, answer_buffer_bytes=8 * SIZE)
    async with receiver(fault) as url:
        gc.collect()
        gc.disable()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(3):
                try:
                    response: Response | None = await forwarder.send("GET", url, [], None, "NL*CPO")
                except UpstreamFailure:
                    response = None
                if fault is complete:
                    # The good answer must arrive whole, else "nothing left behind" would prove nothing.
                    assert response is not None, "the complete answer was refused"
                    assert response.status == 200
                    assert len(response.body) == SIZE and response.body == BODY
                else:
                    assert fault not in REFUSED or response is None, "a faulty answer must not be passed on"
                del response
            await asyncio.sleep(0.05)  # connection_lost callbacks run, the step holding the last answer ends
            grown = tracemalloc.get_traced_memory()[0] - before
            # With the collector off, unreachable objects are still listed: none may be the client's.
            pooled = {id(c) for pool in getattr(forwarder.client, "_pools", {}).values() for c in pool.idle}
            stranded = [type(o).__name__ for o in gc.get_objects()
                        if isinstance(o, Response) or (isinstance(o, _Connection) and id(o) not in pooled)]
        finally:
            tracemalloc.stop()
            gc.enable()
            await forwarder.close()
    gc.collect()  # the test receiver's own cycles, while its loop still runs
    assert grown < SIZE // 2, f"{grown} bytes still allocated after 3 answers of ~{SIZE} bytes"
    assert stranded == [], "client objects were left for the cycle collector"
    assert forwarder.budget.used == 0
