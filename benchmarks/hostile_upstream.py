"""A receiver for the answer-memory soak: the usual ~1 KB Location for most requests, and oversized
answers for two ids -- ``BIGDECLARED`` (a 64 MiB Content-Length, then the body as fast as the hub
reads it) and ``BIGCHUNKED`` (chunked, without end). Either stops writing when the hub hangs up.
Run: ``python -m benchmarks.hostile_upstream PORT``."""

from __future__ import annotations

import asyncio
import contextlib
import sys

from benchmarks.upstream import RESPONSE

OVERSIZE = 64 * 1024 * 1024
_BLOCK = b"x" * (256 * 1024)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1]
            if b"BIGDECLARED" in target:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                             % OVERSIZE)
                for _ in range(OVERSIZE // len(_BLOCK)):
                    writer.write(_BLOCK)
                    await writer.drain()
            elif b"BIGCHUNKED" in target:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                for _ in range(OVERSIZE // len(_BLOCK)):
                    writer.write(b"%x\r\n%s\r\n" % (len(_BLOCK), _BLOCK))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
            else:
                writer.write(RESPONSE)
            await writer.drain()
    writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main(int(sys.argv[1])))
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
