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
from routing.answer_budget import DEFAULT_ANSWER_BUFFER_BYTES, DEFAULT_MAX_ANSWER_BYTES, AnswerBudget
from routing.outbound_failures import describe
from routing.outbound_guard import OutboundGuard
from routing.outbound_policy import OutboundRefused
from routing.outbound_tls import TlsContexts


class UpstreamError(Exception):
    """Base of the failures below; the message never holds a token."""

    # Why the hub refused a receiver's answer (a label of ocpihub_answers_refused_total), if it did.
    refusal = ""


class ConnectFailed(UpstreamError):
    """No connection: refused, unreachable, DNS, TLS, or connect timeout."""


class ClosedEarly(UpstreamError):
    """The connection closed before any byte of an answer arrived; ``reused`` says whether it was a
    kept-alive connection the peer may have closed while idle (then a retry is safe for idempotent
    methods)."""

    def __init__(self, message: str, *, reused: bool) -> None:
        super().__init__(message)
        self.reused = reused


class ProtocolFailed(UpstreamError):
    """The peer answered bytes that are not a valid HTTP/1.x response."""


class AnswerTooLarge(ProtocolFailed):
    """The answer's body is over the per-answer cap (declared, or counted while reading)."""

    refusal = "too_large"


class AnswerLengthMismatch(ProtocolFailed):
    """The answer did not match its own framing: more bytes than its Content-Length (or after its last
    chunk), or the connection closed before the declared body was complete."""

    refusal = "length_mismatch"


class AnswerBufferFull(UpstreamError):
    """This process already holds as many answer bytes as its budget allows: the hub is busy, the
    receiver did nothing wrong."""

    refusal = "buffer_full"


class Response:
    """A receiver's answer. Its body's bytes count against the answer budget until :meth:`release`
    (called once the body is written to the caller) or until the object is dropped: the client keeps
    no reference cycle, so reference counting frees it, and gives the bytes back, at once."""

    __slots__ = ("_budget", "_held", "body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes,
                 budget: AnswerBudget | None = None, held: int = 0) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self._budget = budget
        self._held = held

    def release(self) -> None:
        if self._held and self._budget is not None:
            self._budget.give(self._held)
            self._held = 0

    def __del__(self) -> None:
        self.release()


class _Stop(Exception):
    """Raised from a parser callback to stop parsing once the answer has been failed."""


# Whatever a receiver declares, its answer's headers stop here (llhttp itself sets no bound).
_MAX_HEADER_BYTES = 64 * 1024


class _Connection(asyncio.Protocol):
    """One kept-alive connection and the answer being read on it.

    The httptools parser holds this object's callbacks and this object holds the parser: a reference
    cycle. :meth:`_discard` breaks it (and drops every buffer) as soon as the connection is closed, so
    that a dropped connection never waits for the cycle collector with an answer's bytes attached.
    """

    __slots__ = ("_body", "_budget", "_complete", "_declared", "_done", "_head_only", "_header_bytes", "_headers",
                 "_held", "_keep_alive", "_parser", "_received", "_size", "_status", "closed", "key", "transport",
                 "uses")

    def __init__(self, key: tuple[str, str, int], budget: AnswerBudget) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.uses = 0
        self._budget = budget
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self._done: asyncio.Future[Response] | None = None
        self._held = 0
        # The answer being read; send() resets these for each request.
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._header_bytes = self._size = self._status = 0  # status 0: headers not complete yet
        self._declared = -1  # Content-Length, -1 when none was given
        self._complete = self._received = self._keep_alive = self._head_only = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        done = self._done
        if parser is None or done is None or done.done():
            # Bytes nobody asked for (after a complete answer, or garbage): this connection cannot be trusted.
            self.close()
            return
        self._received = True
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolFailed("receiver switched protocols"))
        except httptools.HttpParserError:
            # A callback that failed the answer stopped the parser on purpose; anything else is the peer's.
            if self._complete:
                self._fail(self._too_long())
            else:
                self._fail(ProtocolFailed("receiver did not answer valid HTTP"))
        else:
            if self._complete:
                self._finish()
                return
            if self._status or done.done():
                return
            # Still in the headers after this chunk: llhttp buffers them without a bound of its own.
            self._header_bytes += len(data)
            if self._header_bytes <= _MAX_HEADER_BYTES:
                return
            self._fail(ProtocolFailed(f"receiver's answer headers are over {_MAX_HEADER_BYTES} bytes"))
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        done = self._done
        if done is not None and not done.done():
            if self._status and self._declared < 0 and self._has_body() and not self._chunked():
                # A body delimited by the connection closing (no length, not chunked): it is complete now.
                self._finish()
            elif self._status:
                self._fail(AnswerLengthMismatch(
                    f"receiver closed the connection after {self._size} of the {self._declared} bytes its "
                    "Content-Length declared" if self._declared >= 0 else
                    "receiver closed the connection before the last chunk of its answer"))
            elif self._received:
                self._fail(ProtocolFailed("receiver closed the connection in the middle of its answer's headers"))
            else:
                self._fail(ClosedEarly("receiver closed the connection without a whole answer", reused=self.uses > 1))
        self._discard()
        self.transport = None

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self._complete:
            # A second answer to one request: the first was longer than its framing said.
            self._fail(self._too_long())
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        if len(name) == 14 and name.lower() == b"content-length":
            # llhttp has checked the digits (and refused conflicting duplicates).
            self._declared = int(value)

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        status = self._status = self._parser.get_status_code()
        if self._head_only:
            # httptools cannot tell llhttp that the request was HEAD, so the parser would wait for the
            # body the headers describe: the answer is complete now, and the connection is not reused.
            self._finish()
            raise _Stop
        declared = self._declared
        if declared >= 0 and status >= 200 and status != 204 and status != 304:
            if declared > self._budget.max_answer:
                self._fail(AnswerTooLarge(self._budget.too_large(declared)))
                raise _Stop
            self._reserve(declared)

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._declared < 0:
            # Chunked or close-delimited: counted as it arrives (a declared length was reserved whole).
            if self._size > self._budget.max_answer:
                self._fail(AnswerTooLarge(self._budget.too_large()))
                raise _Stop
            self._reserve(len(body))
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._parser is not None
        if self._status < 200:
            if self._status == 101:
                self._fail(ProtocolFailed("receiver switched protocols"))
                raise _Stop
            # An interim answer (100 Continue, 103 Early Hints): the final one follows on this connection.
            self._headers = []
            self._header_bytes = self._status = 0
            self._declared = -1
            return
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()

    # internals
    def _has_body(self) -> bool:
        return self._status >= 200 and self._status not in (204, 304)

    def _chunked(self) -> bool:
        return any(name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
                   for name, value in self._headers)

    def _too_long(self) -> AnswerLengthMismatch:
        if self._declared >= 0:
            return AnswerLengthMismatch(f"receiver sent more than the {self._declared} bytes its answer's "
                                        "Content-Length declared")
        return AnswerLengthMismatch("receiver sent bytes after the end of its answer")

    def _reserve(self, size: int) -> None:
        budget = self._budget
        if not budget.take(size):
            self._fail(AnswerBufferFull(budget.exhausted()))
            raise _Stop
        self._held += size

    def _drop_buffers(self) -> None:
        self._body = []
        if self._held:
            self._budget.give(self._held)
            self._held = 0

    def _finish(self) -> None:
        done = self._done
        if done is not None and not done.done():
            chunks = self._body
            self._body = []  # an idle connection keeps no answer alive
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            held, self._held = self._held, 0
            done.set_result(Response(self._status, self._headers, body, self._budget, held))

    def _fail(self, error: UpstreamError) -> None:
        self._drop_buffers()
        if self._done is not None and not self._done.done():
            self._done.set_exception(error)

    def _discard(self) -> None:
        self._drop_buffers()
        self._parser = None
        self._done = None

    def send(self, data: bytes, loop: asyncio.AbstractEventLoop, *,
             head_only: bool = False) -> asyncio.Future[Response]:
        assert self.transport is not None
        done = self._done = loop.create_future()
        self._headers = []
        self._body = []
        self._header_bytes = self._size = self._status = 0
        self._declared = -1
        self._complete = self._received = self._keep_alive = False
        self._head_only = head_only
        self.uses += 1
        self.transport.write(data)
        return done

    def reusable(self) -> bool:
        return not self.closed and self._keep_alive and self._done is not None and self._done.done()

    def release(self) -> None:
        self._done = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        self._discard()


class _HostPool:
    """Idle connections to one (scheme, host, port) and a bound on how many may be open."""

    __slots__ = ("idle", "slots")

    def __init__(self, limit: int) -> None:
        self.idle: deque[_Connection] = deque()
        self.slots = asyncio.Semaphore(limit)


class UpstreamClient:
    def __init__(self, *, connect_timeout: float, connections_per_host: int, budget: AnswerBudget | None = None,
                 guard: OutboundGuard | None = None, tls: TlsContexts | None = None) -> None:
        self.connect_timeout = connect_timeout
        self.connections_per_host = connections_per_host
        self.budget = budget or AnswerBudget(limit=DEFAULT_ANSWER_BUFFER_BYTES, max_answer=DEFAULT_MAX_ANSWER_BYTES)
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
                response = await conn.send(data, loop, head_only=method == "HEAD")
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
                            lambda: _Connection(key, self.budget), address, port, ssl=context,
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
