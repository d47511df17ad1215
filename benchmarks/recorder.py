"""A slow OCPI receiver that remembers what it was told: it answers every request after DELAY_MS and
keeps, per path, the ``last_updated`` of the last body it received (a receiver that applies each push as
it arrives). ``GET /_state`` returns ``{"requests": n, "state": {path: last_updated}}``.
Run: ``python -m benchmarks.recorder PORT DELAY_MS``."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import cast

import httptools

ANSWER = b'{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(ANSWER)).encode() + b"\r\n\r\n" + ANSWER)

STATE: dict[str, str] = {}
REQUESTS = 0
DELAY = 0.2


class Recorder(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        global REQUESTS
        assert self.transport is not None
        path = self.url.decode("latin-1").partition("?")[0]
        self.url = b""
        body, self.body = b"".join(self.body), []
        if path == "/_state":
            data = json.dumps({"requests": REQUESTS, "state": STATE}).encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                 + str(len(data)).encode() + b"\r\n\r\n" + data)
            return
        REQUESTS += 1
        try:
            stamp = json.loads(body).get("last_updated") if body else None
        except ValueError:
            stamp = None
        if stamp is not None:
            STATE[path] = stamp
        asyncio.get_running_loop().call_later(DELAY, self.transport.write, RESPONSE)


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Recorder, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    DELAY = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.2
    try:
        import uvloop

        uvloop.run(main(int(sys.argv[1])))
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
