"""A lean HTTP/1.1 client for forwarding: keep-alive connections per receiver host, requests
written as one bytes join, responses parsed by llhttp (httptools).

Why not a general-purpose client: the benchmark (benchmarks/README.md) shows the outbound client
is the largest cost on the hot path, and forwarding needs little of what a general client does
(cookies, redirects, decompression, multipart). What it does need is here: a bound on connections
per host, connect and total timeouts, TLS, chunked and close-delimited bodies, safe reuse.

Every new connection goes through the outbound policy (``routing.outbound_guard``): the host is
resolved, every address checked, and the connection made to a checked address (TLS still verifies
the host name). The target cache below holds only what the URL says, never an address, so it cannot
bypass that check; kept-alive connections were checked when they were opened.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Iterable
from typing import Any

import httptools

from partners.model import OutboundTls
from routing.outbound_failures import describe
from routing.outbound_guard import OutboundGuard
from routing.outbound_policy import OutboundRefused
from routing.outbound_tls import TlsContexts


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
                 max_response_bytes: int = 64 * 1024 * 1024, guard: OutboundGuard | None = None,
                 tls: TlsContexts | None = None) -> None:
        self.connect_timeout = connect_timeout
        self.connections_per_host = connections_per_host
        self.max_response_bytes = max_response_bytes
        self.guard = guard or OutboundGuard()
        self.tls = tls or TlsContexts()
        # Keyed by (scheme, host, port), or by ((scheme, host, port), tls settings) for a platform with
        # its own TLS settings: a pinned connection must not serve a platform that verifies, nor the reverse.
        self._pools: dict[Any, _HostPool] = {}
        self._targets: dict[str, tuple[tuple[str, str, int], bytes, bytes]] = {}

    def _target(self, url: str) -> tuple[tuple[str, str, int], bytes, bytes]:
        """(pool key, Host header value, request target) for a URL, cached per base: parsing a URL
        costs more than the dict lookup, and a hub talks to a bounded set of hosts."""
        scheme, _, rest = url.partition("://")
        authority, slash, path = rest.partition("/")
        cached = self._targets.get(scheme + authority)
        if cached is None:
            # The policy's URL checks (scheme, user information, https-only, address literals) depend
            # on the URL alone, so a base that passed once passes again: cached with the target.
            checked = self.guard.check_url(url)
            key = (checked.scheme, checked.host, checked.port)
            if len(self._targets) < 10000:
                self._targets[scheme + authority] = (key, authority.encode("idna"), b"")
            cached = (key, authority.encode("idna"), b"")
        key, host, _ = cached
        return key, host, (slash + path).encode("latin-1") or b"/"

    async def request(self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes | None,
                      tls: OutboundTls | None = None) -> Response:
        key, host, target = self._target(url)
        pool_key = key if tls is None else (key, tls)
        pool = self._pools.get(pool_key)
        if pool is None:
            pool = self._pools[pool_key] = _HostPool(self.connections_per_host)
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
                conn = await self._connect(key, tls, loop)
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

    async def _connect(self, key: tuple[str, str, int], tls: OutboundTls | None,
                       loop: asyncio.AbstractEventLoop) -> _Connection:
        """A new connection to a checked address of ``key``'s host (tried in the resolver's order).
        Raises ``OutboundRefused`` before any connection when the policy refuses the host."""
        scheme, hostname, port = key
        context = self.tls.context(tls) if scheme == "https" else None
        error: BaseException | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                for address in await self.guard.addresses(hostname, port, f"{scheme}://{hostname}:{port}"):
                    try:
                        transport, protocol = await loop.create_connection(
                            lambda: _Connection(key, self.max_response_bytes), address, port, ssl=context,
                            server_hostname=hostname if context else None)
                    except OSError as exc:  # ssl.SSLError included
                        error = exc
                        continue
                    if context is not None:
                        try:
                            self.tls.check(tls, transport.get_extra_info("ssl_object"), hostname)
                        except ssl.SSLError:
                            transport.close()
                            raise
                    return protocol
        except TimeoutError:
            raise ConnectFailed(f"no connection to {hostname}:{port} within {self.connect_timeout:g} s") from None
        except OutboundRefused:
            raise
        except OSError as exc:  # refused, reset, unresolvable, TLS (ssl.SSLError is an OSError)
            raise ConnectFailed(describe(exc, hostname, port)) from None
        raise ConnectFailed(describe(error, hostname, port) if error else f"could not connect to {hostname}:{port}")

    async def close(self) -> None:
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().close()
        self._pools.clear()
