"""A lean HTTP/1.1 client for forwarding: keep-alive connections per receiver host, requests
written as one bytes join, responses parsed by llhttp (httptools).

Why not a general-purpose client: the benchmark (benchmarks/README.md) shows the outbound client
is the largest cost on the hot path, and forwarding needs little of what a general client does
(cookies, redirects, decompression, multipart). What it does need is here: a bound on connections
per host, connect and total timeouts, TLS, chunked and close-delimited bodies, safe reuse.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httptools


class UpstreamError(Exception):
    """Base of the failures below; the message never holds a token."""


class ConnectFailed(UpstreamError):
    """No connection: refused, unreachable, DNS, TLS, or connect timeout."""


class ClosedEarly(UpstreamError):
    """The connection closed before a whole response arrived; ``reused`` says whether it was a
    kept-alive connection the peer may have closed while idle (then a retry is safe for idempotent
    methods)."""

    def __init__(self, message: str, *, reused: bool) -> None:
        super().__init__(message)
        self.reused = reused


class ProtocolFailed(UpstreamError):
    """The peer answered bytes that are not a valid HTTP/1.x response."""


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _Connection(asyncio.Protocol):
    __slots__ = ("_body", "_done", "_headers", "_keep_alive", "_max_body", "_parser", "_size", "closed", "key",
                 "transport", "uses")

    def __init__(self, key: tuple[str, str, int], max_body: int) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.uses = 0
        self._parser = httptools.HttpResponseParser(self)
        self._done: asyncio.Future[Response] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._keep_alive = False
        self._max_body = max_body
        self._size = 0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._done is None:
            # Bytes nobody asked for (garbage after a response): this connection cannot be trusted.
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(ProtocolFailed("receiver did not answer valid HTTP"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        done = self._done
        if done is not None and not done.done():
            if self._headers and self._parser.get_status_code() and not self._has_length():
                # A body delimited by the connection closing (no length, not chunked): it is complete now.
                self._finish()
            else:
                done.set_exception(ClosedEarly("receiver closed the connection without a whole answer",
                                               reused=self.uses > 1))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._max_body:
            self._fail(ProtocolFailed(f"receiver answer is larger than {self._max_body} bytes"))
            self.close()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()
        self._finish()

    # internals
    def _has_length(self) -> bool:
        for name, value in self._headers:
            lname = name.lower()
            if lname == b"content-length" or (lname == b"transfer-encoding" and b"chunked" in value.lower()):
                return True
        return False

    def _finish(self) -> None:
        done = self._done
        if done is not None and not done.done():
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            done.set_result(Response(self._parser.get_status_code(), self._headers, body))

    def _fail(self, error: Exception) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(error)

    def send(self, data: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Response]:
        assert self.transport is not None
        self._done = loop.create_future()
        self._headers = []
        self._body = []
        self._size = 0
        self._keep_alive = False
        self.uses += 1
        self.transport.write(data)
        return self._done

    def reusable(self) -> bool:
        return not self.closed and self._keep_alive and self._done is not None and self._done.done()

    def release(self) -> None:
        self._done = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _HostPool:
    """Idle connections to one (scheme, host, port) and a bound on how many may be open."""

    __slots__ = ("idle", "slots")

    def __init__(self, limit: int) -> None:
        self.idle: deque[_Connection] = deque()
        self.slots = asyncio.Semaphore(limit)


class UpstreamClient:
    def __init__(self, *, connect_timeout: float, connections_per_host: int,
                 max_response_bytes: int = 64 * 1024 * 1024, ssl_context: ssl.SSLContext | None = None) -> None:
        self.connect_timeout = connect_timeout
        self.connections_per_host = connections_per_host
        self.max_response_bytes = max_response_bytes
        self._ssl = ssl_context
        self._pools: dict[tuple[str, str, int], _HostPool] = {}
        self._targets: dict[str, tuple[tuple[str, str, int], bytes, bytes]] = {}

    def _target(self, url: str) -> tuple[tuple[str, str, int], bytes, bytes]:
        """(pool key, Host header value, request target) for a URL, cached per base: parsing a URL
        costs more than the dict lookup, and a hub talks to a bounded set of hosts."""
        scheme, _, rest = url.partition("://")
        authority, slash, path = rest.partition("/")
        cached = self._targets.get(scheme + authority)
        if cached is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConnectFailed(f"not an http(s) URL: {scheme}://{authority}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            key = (parts.scheme, parts.hostname, port)
            if len(self._targets) < 10000:
                self._targets[scheme + authority] = (key, authority.encode("idna"), b"")
            cached = (key, authority.encode("idna"), b"")
        key, host, _ = cached
        return key, host, (slash + path).encode("latin-1") or b"/"

    async def request(self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes | None) -> Response:
        key, host, target = self._target(url)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _HostPool(self.connections_per_host)
        head = [method.encode(), b" ", target, b" HTTP/1.1\r\nHost: ", host, b"\r\n"]
        for name, value in headers:
            head += (name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n")
        if body is not None:
            head += (b"Content-Length: ", str(len(body)).encode(), b"\r\n\r\n", body)
        else:
            head.append(b"\r\n" if method in ("GET", "DELETE", "HEAD") else b"Content-Length: 0\r\n\r\n")
        data = b"".join(head)
        loop = asyncio.get_running_loop()
        async with pool.slots:
            conn = None
            while pool.idle:
                candidate = pool.idle.pop()
                if not candidate.closed:
                    conn = candidate
                    break
            if conn is None:
                conn = await self._connect(key, loop)
            try:
                response = await conn.send(data, loop)
            except BaseException:
                conn.close()
                raise
            if conn.reusable():
                conn.release()
                pool.idle.append(conn)
            else:
                conn.close()
            return response

    async def _connect(self, key: tuple[str, str, int], loop: asyncio.AbstractEventLoop) -> _Connection:
        scheme, hostname, port = key
        ssl_arg: Any = None
        if scheme == "https":
            ssl_arg = self._ssl or ssl.create_default_context()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(key, self.max_response_bytes), hostname, port,
                                       ssl=ssl_arg, server_hostname=hostname if ssl_arg else None),
                self.connect_timeout,
            )
        except TimeoutError:
            raise ConnectFailed(f"no connection within {self.connect_timeout}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectFailed(type(exc).__name__) from None
        return protocol

    async def close(self) -> None:
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().close()
        self._pools.clear()
