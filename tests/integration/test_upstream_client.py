"""The forwarding client against raw TCP servers that answer in each of HTTP/1.1's ways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from routing.outbound_policy import OutboundRefused, Rule
from routing.upstream_client import ClosedEarly, ConnectFailed, ProtocolFailed, UpstreamClient
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + (await reader.readexactly(length) if length else b"")


class Server:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def serve(handler: Handler) -> AsyncIterator[tuple[Server, str]]:
    server = Server(handler)
    tcp = await asyncio.start_server(server._handle, "127.0.0.1", 0)
    try:
        yield server, f"http://127.0.0.1:{tcp.sockets[0].getsockname()[1]}"
    finally:
        tcp.close()


@pytest.fixture
def client() -> UpstreamClient:
    return UpstreamClient(connect_timeout=1.0, connections_per_host=2)


async def test_keep_alive_connection_is_reused_and_request_is_well_formed(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            server.requests.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Total-Count: 9\r\n\r\nok")

    gen = serve(handler)
    server, base = await gen.__anext__()
    for _ in range(3):
        response = await client.request("PUT", f"{base}/x/y?z=1", [("Authorization", "Token abc")], b'{"a":1}')
        assert (response.status, response.body) == (200, b"ok")
        assert (b"X-Total-Count", b"9") in response.headers
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"PUT /x/y?z=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Authorization: Token abc\r\n" in first and first.endswith(b'Content-Length: 7\r\n\r\n{"a":1}')
    await client.close()
    await gen.aclose()


async def test_chunked_and_close_delimited_bodies(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        await read_request(reader)
        writer.write(b"HTTP/1.1 201 Created\r\nConnection: close\r\n\r\nuntil-close")
        await writer.drain()
        writer.close()

    gen = serve(handler)
    _, base = await gen.__anext__()
    assert (await client.request("GET", base, [], None)).body == b"abcde"
    response = await client.request("POST", base, [], b"{}")
    assert (response.status, response.body) == (201, b"until-close")
    await client.close()
    await gen.aclose()


async def test_stale_kept_alive_connection_reports_reuse(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await read_request(reader)  # read the second request, then drop the connection unanswered

    gen = serve(handler)
    _, base = await gen.__anext__()
    await client.request("GET", base, [], None)
    with pytest.raises(ClosedEarly) as caught:
        await client.request("GET", base, [], None)
    assert caught.value.reused
    await client.close()
    await gen.aclose()


async def test_garbage_refused_and_oversized(client: UpstreamClient) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()

    gen = serve(garbage)
    _, base = await gen.__anext__()
    with pytest.raises(ProtocolFailed):
        await client.request("GET", base, [], None)
    await gen.aclose()
    with pytest.raises(ConnectFailed):
        await client.request("GET", f"http://127.0.0.1:{free_port()}/", [], None)
    with pytest.raises(OutboundRefused) as refused:  # the outbound policy's, before any connection
        await client.request("GET", "ftp://example.com/", [], None)
    assert refused.value.rule is Rule.SCHEME

    small = UpstreamClient(connect_timeout=1.0, connections_per_host=1, max_response_bytes=10)

    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100)
        await writer.drain()

    gen = serve(big)
    _, base = await gen.__anext__()
    with pytest.raises(ProtocolFailed, match="larger than 10 bytes"):
        await small.request("GET", base, [], None)
    await gen.aclose()


async def test_connections_per_host_are_bounded(client: UpstreamClient) -> None:
    in_flight = 0
    most = 0

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight, most
        while True:
            await read_request(reader)
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    gen = serve(slow)
    server, base = await gen.__anext__()
    await asyncio.gather(*(client.request("GET", base, [], None) for _ in range(6)))
    assert most == 2 and server.connections == 2
    await client.close()
    await gen.aclose()
