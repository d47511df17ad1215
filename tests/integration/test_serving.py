"""The hub's HTTP/1.1 connection rules and drain, over loopback against the real serving stack
(Hypercorn with ``hub.serving``) in this process, around a small recording ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from hub.config import Config
from hub.serving import listener, server
from hub.serving.protocol import origin_form

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    return "asyncio", {"use_uvloop": True}  # the loop ocpi-hub serve runs on


@dataclass
class Recorder:
    """An ASGI app that records each request and answers 200 after ``delay`` seconds."""

    delay: float = 0.0
    requests: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    disconnects: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnects += 1
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests.append((scope["method"], scope["path"], scope["query_string"].decode(), body))
        if scope["path"] == "/block":
            time.sleep(0.6)  # the whole event loop stalls: new connections wait in the accept queue
        await asyncio.sleep(self.delay)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class Served:
    port: int
    stop: asyncio.Event
    hurry: asyncio.Event
    task: asyncio.Task[None]

    async def exchange(self, raw: bytes, *, wait: float = 5.0) -> bytes:
        """Send ``raw`` on a new connection; everything the server sends until it closes (or ``wait``)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(raw)
        got = b""
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            async with asyncio.timeout(wait):
                while chunk := await reader.read(65536):
                    got += chunk
                got += b"<closed>"
        writer.close()
        return got

    async def stopped_within(self) -> float:
        started = time.monotonic()
        self.stop.set()
        await asyncio.wait_for(self.task, 30)
        return time.monotonic() - started


@contextlib.asynccontextmanager
async def serving(app: Any, **settings: Any) -> AsyncIterator[Served]:
    sock = listener.bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    stop, hurry = asyncio.Event(), asyncio.Event()
    config = Config(**{"drain_seconds": 0, **settings})
    task = asyncio.create_task(server.serve(app, config, sock, stop=stop, hurry=hurry))
    served = Served(port, stop, hurry, task)
    for _ in range(300):
        if b"200" in await served.exchange(b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
            break
        await asyncio.sleep(0.01)
    try:
        yield served
    finally:
        if not task.done():
            stop.set()
            await asyncio.wait_for(task, 30)
        sock.close()


def lines(response: bytes) -> list[bytes]:
    return [line.lower() for line in response.split(b"\r\n")]


@pytest.mark.parametrize(("target", "origin"), [
    (b"http://hub.example/ocpi/versions", b"/ocpi/versions"),
    (b"HTTPS://hub.example:8443/ocpi/2.2.1?x=1", b"/ocpi/2.2.1?x=1"),
    (b"http://hub.example", b"/"),
    (b"http://hub.example?x=1", b"/?x=1"),
    (b"/ocpi/versions", None),
    (b"*", None),
    (b"hub.example:443", None),
    (b"ftp://hub.example/x", None),
])
def test_origin_form_of_absolute_targets(target: bytes, origin: bytes | None) -> None:
    assert origin_form(target) == origin


async def test_content_length_with_chunked_is_read_as_chunked_answered_and_closed() -> None:
    app = Recorder()
    async with serving(app) as hub:
        got = await hub.exchange(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n"
                                 b"\r\n2\r\n{}\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200") and b"connection: close" in lines(got), got
    assert got.endswith(b"<closed>"), "the connection is closed after the answer (RFC 9112 6.1)"
    assert [r[:2] for r in app.requests if r[1] != "/up"] == [("POST", "/x")], "nothing after it was served"
    assert app.requests[-1][3] == b"{}"


async def test_http10_keep_alive_request_followed_at_once_by_another_is_answered_once() -> None:
    app = Recorder(delay=0.3)  # the answer is still due when the second request arrives
    async with serving(app) as hub:
        got = await hub.exchange(b'PUT /ocpi/x HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 2\r\n'
                                 b'\r\n{}GET /ocpi/y HTTP/1.0\r\nHost: x\r\n\r\n')
    assert got.startswith(b"HTTP/1.1 200") and got.count(b"HTTP/1.1") == 1, got
    assert b"connection: close" in lines(got) and got.endswith(b"ok<closed>")
    assert [r[:2] for r in app.requests if r[1] != "/up"] == [("PUT", "/ocpi/x")], "the PUT reached the app once"


async def test_absolute_form_target_is_served_as_its_origin_form() -> None:
    app = Recorder()
    async with serving(app) as hub:
        got = await hub.exchange(b"GET http://elsewhere.example:9/ocpi/versions?a=1 HTTP/1.1\r\nHost: x\r\n"
                                 b"Connection: close\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200"), got
    assert app.requests[-1][:3] == ("GET", "/ocpi/versions", "a=1")


async def test_connect_is_refused_and_shutdown_does_not_wait_for_it() -> None:
    app = Recorder()
    async with serving(app, shutdown_grace_seconds=20) as hub:
        got = await hub.exchange(b"CONNECT /ocpi/x HTTP/1.1\r\nHost: x\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 405") and got.endswith(b"<closed>"), got
        assert await hub.stopped_within() < 3, "nothing in flight: no wait for the 20 s grace"
    assert all(r[0] != "CONNECT" for r in app.requests)


async def test_h2c_upgrade_is_ignored_and_shutdown_does_not_wait_for_it() -> None:
    app = Recorder()
    async with serving(app, shutdown_grace_seconds=20) as hub:
        reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
        writer.write(b"GET /ocpi/versions HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                     b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert await hub.stopped_within() < 3, "the idle connection is closed at once"
        writer.close()


async def test_slow_request_head_gets_408_and_slow_body_is_cut_off() -> None:
    app = Recorder()
    async with serving(app, receive_seconds=0.5) as hub:
        head = asyncio.create_task(hub.exchange(b"GET /slow HTTP/1.1\r\nHost: x\r\n", wait=5))
        body = asyncio.create_task(hub.exchange(b"PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{",
                                                wait=5))
        started = time.monotonic()
        got_head, got_body = await head, await body
        assert time.monotonic() - started < 3
    assert got_head.startswith(b"HTTP/1.1 408") and got_head.endswith(b"<closed>"), got_head
    assert got_body == b"<closed>"
    assert app.disconnects == 1 and all(r[1] != "/slow" for r in app.requests)


async def test_drain_closes_each_connection_after_its_answer_then_finishes_in_flight_requests() -> None:
    app = Recorder(delay=0.6)
    async with serving(app, drain_seconds=0.4) as hub:
        reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
        writer.write(b"GET /in-flight HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(0.1)
        hub.stop.set()
        await asyncio.sleep(0.1)
        during = await hub.exchange(b"GET /during HTTP/1.1\r\nHost: x\r\n\r\n")
        assert during.startswith(b"HTTP/1.1 200") and b"connection: close" in lines(during), during
        answer = await asyncio.wait_for(reader.read(65536), 5)
        assert answer.startswith(b"HTTP/1.1 200") and b"connection: close" in lines(answer), answer
        assert await asyncio.wait_for(reader.read(65536), 5) == b"", "closed after the answer"
        await asyncio.wait_for(hub.task, 10)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", hub.port)
        writer.close()


async def test_a_second_signal_ends_the_drain() -> None:
    async with serving(Recorder(), drain_seconds=20) as hub:
        hub.stop.set()
        await asyncio.sleep(0.2)
        assert not hub.task.done(), "draining"
        hub.hurry.set()
        await asyncio.wait_for(hub.task, 3)


def blocking_exchange(port: int, raw: bytes, start_at: float, out: list[bytes]) -> None:
    """From a thread: at ``start_at``, connect and send ``raw``; record what came back."""
    time.sleep(max(0.0, start_at - time.monotonic()))
    got = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(raw)
            while chunk := sock.recv(65536):
                got += chunk
    except OSError as exc:
        got += f"<{exc!r}>".encode()
    out.append(got)


async def test_connections_queued_when_the_drain_ends_are_answered_not_reset() -> None:
    app = Recorder()
    async with serving(app, drain_seconds=0.3) as hub:
        started, answers = time.monotonic(), []
        threads = [threading.Thread(target=blocking_exchange, args=(
            hub.port, b"GET /queued HTTP/1.1\r\nHost: x\r\n\r\n", started + 0.4, answers)) for _ in range(5)]
        for thread in threads:
            thread.start()
        hub.stop.set()
        await asyncio.sleep(0.1)
        # Stalls the server from 0.1 s to 0.7 s: the drain ends meanwhile, and the five connections made
        # at 0.4 s wait in the kernel's accept queue with their requests written.
        blocked = await hub.exchange(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.to_thread(lambda: [thread.join(10) for thread in threads])
    assert blocked.startswith(b"HTTP/1.1 200")
    assert len(answers) == 5 and all(a.startswith(b"HTTP/1.1 200") and a.endswith(b"ok") for a in answers), answers
