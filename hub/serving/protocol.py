"""The hub's HTTP/1.1 connection: Hypercorn's, with the rules it leaves open decided our way.

- From the first shutdown signal on, every answer says ``Connection: close`` and the connection closes
  after it, so clients move to another replica instead of writing into a closing connection.
- A request with both ``Content-Length`` and ``Transfer-Encoding`` is read by its chunked framing (as
  h11 does), answered, and its connection closed (RFC 9112 §6.1: the request-smuggling shape).
- Bytes after a request that ends its connection (``Connection: close``, HTTP/1.0) wait until that
  request is answered and are then dropped with the connection (RFC 9112 §9.6): the request itself is
  never answered with an error meant for what followed it.
- An absolute-form target (``GET http://host/ocpi/versions``) is served as its origin form
  (RFC 9112 §3.2.2: a server MUST accept it); the authority is ignored, as the Host header is.
- ``CONNECT`` is refused with 405 before the app sees it (a 2xx answer would switch the connection to a
  tunnel that nothing ends), and ``Upgrade: h2c`` is ignored (RFC 9110 §7.8 lets a server ignore it;
  OCPI is HTTP/1.1, and prior-knowledge HTTP/2 stays available).
- A request's head must arrive within ``receive_seconds`` of its first byte, and its body within
  ``receive_seconds`` of the head (slowloris); an idle connection closes after the keep-alive timeout.

Hypercorn offers no hook for its HTTP/1.1 protocol class, so :func:`install` replaces the class its
protocol switch looks up; the pinned Hypercorn version range in pyproject.toml is the one tested.
"""

from __future__ import annotations

import logging
from typing import Any

import h11
import hypercorn.protocol
from hypercorn.config import Config as HypercornConfig
from hypercorn.events import Closed, RawData
from hypercorn.events import Event as ConnectionEvent
from hypercorn.protocol.events import Event as StreamEvent
from hypercorn.protocol.events import Response
from hypercorn.protocol.h11 import H11Protocol

from hub.serving.connections import Connections

log = logging.getLogger("ocpihub.serving")

_CLOSE = (b"connection", b"close")
_RECEIVING = (h11.IDLE, h11.SEND_BODY)
_ANSWERING = (h11.SEND_RESPONSE, h11.SEND_BODY)


class ServerConfig(HypercornConfig):
    """Hypercorn's configuration, carrying the per-process connection state to every connection."""

    connections: Connections


def origin_form(target: bytes) -> bytes | None:
    """The origin form (``/path?query``) of an absolute-form request target, None for any other form."""
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        return None
    cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    path = rest[cut:]
    return path if path.startswith(b"/") else b"/" + path


class _Connection(h11.Connection):
    def next_event(self) -> Any:
        # Whatever follows a request that ends the connection waits until that request is answered;
        # h11 would otherwise report it as an error while the answer is still due.
        if self.their_state is h11.MUST_CLOSE and self.our_state in _ANSWERING and self.trailing_data[0]:
            return h11.PAUSED
        return super().next_event()


class HubH11Protocol(H11Protocol):
    def __init__(self, app: Any, config: HypercornConfig, *args: Any) -> None:
        super().__init__(app, config, *args)
        self.connection = _Connection(h11.SERVER, max_incomplete_event_size=config.h11_max_incomplete_size)
        assert isinstance(config, ServerConfig)
        self.connections = config.connections
        self.fresh = False
        self.close_after = False
        self.watched = False

    async def initiate(self) -> None:
        self.fresh = True
        self.connections.fresh += 1
        await super().initiate()

    async def handle(self, event: ConnectionEvent) -> None:
        if isinstance(event, RawData):
            await super().handle(event)
            # Watched while part of a request is in: a head begun (bytes buffered, no request yet) or a
            # body under way. A request that came whole costs no bookkeeping.
            state = self._their_state()
            if state is h11.SEND_BODY or (state is h11.IDLE and self.connection.trailing_data[0]):
                if not self.watched:
                    self._watch()
            elif self.watched:
                self._unwatch()
            return
        if isinstance(event, Closed):
            self._unwatch()
            self._not_fresh()
        await super().handle(event)

    async def stream_send(self, event: StreamEvent) -> None:
        if (isinstance(event, Response) and event.status_code >= 200
                and (self.close_after or self.connections.draining)):
            event = Response(stream_id=event.stream_id, headers=[*event.headers, _CLOSE],
                             status_code=event.status_code)
        await super().stream_send(event)

    async def _check_protocol(self, event: h11.Request) -> None:
        # One pass over the headers, in place of Hypercorn's (which would answer Upgrade: h2c).
        self._not_fresh()
        length = chunked = False
        for name, _ in event.headers:
            if name == b"transfer-encoding":
                chunked = True
            elif name == b"content-length":
                length = True
        self.close_after = length and chunked
        if self.close_after:
            log.warning("request with both Content-Length and Transfer-Encoding: read as chunked, "
                        "connection closed after the answer", extra={"kind": "content_length_and_chunked"})
            self.connections.tolerated("content_length_and_chunked")
        if event.method == b"PRI":  # HTTP/2 with prior knowledge: Hypercorn's business
            await super()._check_protocol(event)

    async def _create_stream(self, request: h11.Request) -> None:
        if request.method == b"CONNECT":
            await self._send_error_response(405)
            await self.can_read.set()
            await self.send(Closed())
            return
        if not request.target.startswith(b"/"):
            target = origin_form(request.target)
            if target is not None:
                request = h11.Request(method=request.method, target=target, headers=list(request.headers),
                                      http_version=request.http_version)
        await super()._create_stream(request)
        if self._their_state() is h11.SEND_BODY:
            self._watch()  # a fresh deadline for the body
        else:
            self._unwatch()

    async def receive_timed_out(self) -> None:
        """The request did not arrive in time: 408 if its head is incomplete (nothing was started),
        else close the connection (the app sees the client gone)."""
        self._unwatch()
        state = self._their_state()
        if state not in _RECEIVING:
            return  # complete meanwhile: the answer is ours to give
        phase = "head" if state is h11.IDLE else "body"
        log.info("client too slow: connection closed", extra={"phase": phase})
        self.connections.too_slow(phase)
        if state is h11.IDLE and self.connection.our_state is h11.IDLE:
            await self._send_error_response(408)
        await self.can_read.set()
        await self.send(Closed())

    def _their_state(self) -> Any:
        return getattr(self.connection, "their_state", None)  # None after a WebSocket upgrade

    def _watch(self) -> None:
        self.watched = True
        self.connections.receiving[self] = self.connections.now() + self.connections.receive_seconds

    def _unwatch(self) -> None:
        if self.watched:
            self.watched = False
            self.connections.receiving.pop(self, None)

    def _not_fresh(self) -> None:
        if self.fresh:
            self.fresh = False
            self.connections.fresh -= 1


def _h11_protocol(app: Any, config: HypercornConfig, *args: Any) -> H11Protocol:
    if isinstance(config, ServerConfig):
        return HubH11Protocol(app, config, *args)
    return H11Protocol(app, config, *args)  # another server in this process (tests' fake partners)


def install() -> None:
    """Make Hypercorn build :class:`HubH11Protocol` for the HTTP/1.x connections of servers configured
    with a :class:`ServerConfig` (and its own class for any other)."""
    hypercorn.protocol.H11Protocol = _h11_protocol  # type: ignore[attr-defined,assignment]

