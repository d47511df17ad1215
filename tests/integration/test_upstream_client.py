"""The forwarding client against raw TCP servers that answer in each of HTTP/1.1's ways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from routing.answer_budget import AnswerBudget
from routing.outbound_policy import OutboundRefused, Rule
from routing.upstream_client import (
    AnswerBufferFull,
    AnswerLengthMismatch,
    AnswerTooLarge,
    ClosedEarly,
    ConnectFailed,
    ProtocolFailed,
    UpstreamClient,
)
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

    small = UpstreamClient(connect_timeout=1.0, connections_per_host=1,
                           budget=AnswerBudget(limit=1000, max_answer=10))

    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100)
        await writer.drain()

    gen = serve(big)
    _, base = await gen.__anext__()
    with pytest.raises(ProtocolFailed, match="limit of 10 bytes"):
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


async def test_bodiless_answers_do_not_wait_for_a_body(client: UpstreamClient) -> None:
    """HEAD, 204 and 304 carry no body whatever their headers say; interim 1xx answers precede the real one."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            request = await read_request(reader)
            if request.startswith(b"HEAD"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            elif b" /204 " in request:
                writer.write(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
            elif b" /304 " in request:
                writer.write(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n")
            elif b" /1xx " in request:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                             b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    gen = serve(handler)
    server, base = await gen.__anext__()
    async with asyncio.timeout(2):
        head = await client.request("HEAD", f"{base}/x", [], None)
        assert (head.status, head.body) == (200, b"")
        no_content = await client.request("GET", f"{base}/204", [], None)
        assert (no_content.status, no_content.body) == (204, b"")
        not_modified = await client.request("GET", f"{base}/304", [], None)
        assert (not_modified.status, not_modified.body) == (304, b"")
        final = await client.request("POST", f"{base}/1xx", [], b"{}")
        assert (final.status, final.body, final.headers) == (200, b"final", [(b"Content-Length", b"5")])
        assert (await client.request("GET", f"{base}/again", [], None)).body == b"ok"
    # 204, 304 and the 1xx exchange kept their connection; only HEAD's was closed (llhttp cannot be told it was HEAD).
    assert server.connections == 2
    await client.close()
    await gen.aclose()


async def test_switching_protocols_is_not_an_answer(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        await asyncio.sleep(5)

    gen = serve(handler)
    _, base = await gen.__anext__()
    with pytest.raises(ProtocolFailed, match="switched protocols"):
        await client.request("GET", base, [], None)
    await gen.aclose()


async def test_answer_longer_than_its_content_length_is_refused(client: UpstreamClient) -> None:
    """The classic: Content-Length counted in characters, the body sent in UTF-8 bytes."""
    body = '{"data":{"city":"Düsseldorf"},"status_code":1000}'.encode()
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(body) - 1) + body)

    gen = serve(handler)
    server, base = await gen.__anext__()
    with pytest.raises(AnswerLengthMismatch, match=f"more than the {len(body) - 1} bytes"):
        await client.request("GET", base, [], None)
    with pytest.raises(AnswerLengthMismatch):  # and again on a fresh connection: the broken one was dropped
        await client.request("GET", base, [], None)
    assert server.connections == 2
    await client.close()
    await gen.aclose()


async def test_bytes_after_the_last_chunk_are_refused(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n}}")

    gen = serve(handler)
    _, base = await gen.__anext__()
    with pytest.raises(AnswerLengthMismatch, match="after the end of its answer"):
        await client.request("GET", base, [], None)
    await client.close()
    await gen.aclose()


async def test_late_extra_bytes_close_the_idle_connection(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(b"xx")  # after the answer was complete: the next request must not read these

    gen = serve(handler)
    server, base = await gen.__anext__()
    assert (await client.request("GET", base, [], None)).body == b"ok"
    await asyncio.sleep(0.2)
    assert (await client.request("GET", base, [], None)).body == b"ok"
    assert server.connections == 2
    await client.close()
    await gen.aclose()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_answer_cut_short_is_refused_not_retried(client: UpstreamClient, framing: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            if framing == "content-length":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 60)
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
                await read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
            await writer.drain()
            writer.close()
            return

    gen = serve(handler)
    server, base = await gen.__anext__()
    await client.request("GET", base, [], None)
    # On a reused connection and an idempotent method: still no retry, the receiver did answer.
    with pytest.raises(AnswerLengthMismatch, match="closed the connection"):
        await client.request("GET", base, [], None)
    assert server.connections == 1
    await client.close()
    await gen.aclose()


async def test_declared_answer_over_the_cap_is_refused_before_its_body() -> None:
    small = UpstreamClient(connect_timeout=1.0, connections_per_host=1,
                           budget=AnswerBudget(limit=10_000, max_answer=1000))
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        await writer.drain()
        await reader.read()  # the hub hangs up instead of waiting for a gigabyte
        closed.set()

    gen = serve(handler)
    _, base = await gen.__anext__()
    async with asyncio.timeout(2):
        with pytest.raises(AnswerTooLarge, match="of 1000000000 bytes"):
            await small.request("GET", base, [], None)
        await closed.wait()
    assert small.budget.used == 0
    await gen.aclose()


async def test_huge_headers_are_refused(client: UpstreamClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for n in range(2000):
            writer.write(b"X-Filler-%d: %s\r\n" % (n, b"y" * 100))
        await writer.drain()

    gen = serve(handler)
    _, base = await gen.__anext__()
    with pytest.raises(ProtocolFailed, match="headers are over"):
        await client.request("GET", base, [], None)
    await gen.aclose()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_concurrent_answers_share_one_budget(framing: str) -> None:
    budget = AnswerBudget(limit=250_000, max_answer=200_000)
    client = UpstreamClient(connect_timeout=1.0, connections_per_host=4, budget=budget)
    body = b"x" * 150_000
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            if framing == "content-length":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 150000\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            await writer.drain()
            await release.wait()
            writer.write(body if framing == "content-length" else b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

    gen = serve(handler)
    _, base = await gen.__anext__()
    first = asyncio.create_task(client.request("GET", base, [], None))
    second = asyncio.create_task(client.request("GET", base, [], None))
    await asyncio.sleep(0.1)
    release.set()
    done = await asyncio.gather(first, second, return_exceptions=True)
    answers = [r for r in done if not isinstance(r, BaseException)]
    refused = [r for r in done if isinstance(r, BaseException)]
    assert len(answers) == 1 and len(refused) == 1, done
    assert isinstance(refused[0], AnswerBufferFull) and "OCPI_HUB_ANSWER_BUFFER_BYTES" in str(refused[0])
    assert budget.used == 150_000  # held by the answer until it is written to its caller
    answers[0].release()
    assert budget.used == 0
    third = await client.request("GET", base, [], None)
    assert third.body == body
    del third, answers, done  # dropping an answer gives its bytes back too (once the loop's step that
    await asyncio.sleep(0)    # delivered it, which still holds the future, is over)
    assert budget.used == 0
    await client.close()
    await gen.aclose()
