"""Outbound HTTP to receivers, and one closed set of outcomes that names what went wrong (the same
value is the log field, the metric label and the choice of OCPI status)."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable

from partners.registry import PartyKey, Platform
from routing.aiohttp_client import AiohttpClient
from routing.answer_budget import DEFAULT_ANSWER_BUFFER_BYTES, DEFAULT_MAX_ANSWER_BYTES, AnswerBudget
from routing.errors import AnswerBufferFullError, ForwardTimeoutError, ReceiverUnreachableError, RoutingError
from routing.outbound_guard import OutboundGuard
from routing.outbound_policy import OutboundRefused
from routing.outbound_tls import TlsContexts
from routing.upstream_client import (
    AnswerBufferFull,
    ClosedEarly,
    ConnectFailed,
    ProtocolFailed,
    Response,
    UpstreamClient,
    UpstreamError,
)


class Outcome(enum.StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    PROTOCOL = "protocol"
    # The receiver answered, but nothing the hub can pass on (over the size cap, or not matching its own
    # framing): a live receiver misbehaving, so no evidence that it is offline.
    BAD_ANSWER = "bad_answer"
    # The hub's own answer budget was spent: not the receiver's fault, so no evidence against it.
    BUSY = "busy"


def forwarded_headers(auth: str, request_id: str, correlation_id: str, sender: PartyKey, receiver: PartyKey, *,
                      json_body: bool, routing: bool = True) -> list[tuple[str, str]]:
    """The headers of every request the hub sends on a routed path: the receiver's token, a request id
    of the hub's own, the caller's correlation id, and the routing headers (``routing``: not towards a
    2.1.1 receiver, see ``routing.headerless.sends_routing_headers``)."""
    if routing:
        headers = [
            ("Authorization", auth),
            ("X-Request-ID", request_id),
            ("X-Correlation-ID", correlation_id),
            ("OCPI-from-country-code", sender[0]),
            ("OCPI-from-party-id", sender[1]),
            ("OCPI-to-country-code", receiver[0]),
            ("OCPI-to-party-id", receiver[1]),
        ]
    else:
        headers = [("Authorization", auth), ("X-Request-ID", request_id), ("X-Correlation-ID", correlation_id)]
    if json_body:
        headers.append(("Content-Type", "application/json"))
    return headers


class UpstreamFailure(RoutingError):
    """A forward that got no usable answer; ``outcome`` says why."""

    def __init__(self, error: RoutingError, outcome: Outcome) -> None:
        super().__init__(error.message)
        self.ocpi_status = error.ocpi_status
        self.http_status = error.http_status
        self.outcome = outcome
        self._headers = error.headers()

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return self._headers


_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})


class Forwarder:
    def __init__(self, *, connect_timeout: float, request_timeout: float, connections_per_receiver: int,
                 client: str = "native", guard: OutboundGuard | None = None, tls: TlsContexts | None = None,
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
                 answer_buffer_bytes: int = DEFAULT_ANSWER_BUFFER_BYTES,
                 on_answer_refused: Callable[[str], None] | None = None) -> None:
        self.request_timeout = request_timeout
        self.guard = guard or OutboundGuard()
        # One budget per process: every forward, broadcast delivery, GET-all page and probe shares it.
        self.budget = AnswerBudget(limit=answer_buffer_bytes, max_answer=max_answer_bytes)
        self._on_refused = on_answer_refused
        # Told (platform, HTTP status) whenever a platform answers 401/403: it refuses the hub's own token.
        self.on_hub_refused: Callable[[Platform, int], None] | None = None
        self.client: UpstreamClient | AiohttpClient
        if client == "aiohttp":
            self.client = AiohttpClient(connect_timeout=connect_timeout, connections_per_host=connections_per_receiver,
                                        budget=self.budget, guard=self.guard, tls=tls)
        else:
            self.client = UpstreamClient(connect_timeout=connect_timeout, connections_per_host=connections_per_receiver,
                                         budget=self.budget, guard=self.guard, tls=tls)

    async def close(self) -> None:
        await self.client.close()

    async def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None, receiver: str,
        platform: Platform | None = None, *, timeout: float | None = None,
    ) -> Response:
        """Forward one request; raises :class:`UpstreamFailure` (4002/4003) naming ``receiver``.
        ``platform`` is the one called: its TLS settings apply, and a refusal is logged under its id.
        ``timeout``: seconds for the whole request (default ``request_timeout``)."""
        limit = self.request_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                return await self.exchange(method, url, headers, body, receiver, platform)
        except TimeoutError:
            raise self.timeout_failure(receiver, limit) from None

    def timeout_failure(self, receiver: str, limit: float | None = None) -> UpstreamFailure:
        return UpstreamFailure(
            ForwardTimeoutError(
                f"receiver {receiver} did not answer within {self.request_timeout if limit is None else limit:g}s; "
                "the request may or may not have been processed"
            ),
            Outcome.TIMEOUT,
        )

    async def exchange(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None, receiver: str,
        platform: Platform | None = None,
    ) -> Response:
        """:meth:`send` without its time bound, for a caller that bounds time itself (the broadcast
        workers share one watchdog: a timer per request costs ~15 µs with uvloop)."""
        tls = platform.settings.outbound_tls if platform is not None else None
        try:
            try:
                response = await self.client.request(method, url, headers, body, tls)
            except ClosedEarly as exc:
                # A kept-alive connection the receiver had closed while idle: retry once, where safe.
                if not (exc.reused and method in _IDEMPOTENT):
                    raise
                response = await self.client.request(method, url, headers, body, tls)
        except UpstreamError as exc:
            if exc.refusal and self._on_refused is not None:
                self._on_refused(exc.refusal)
            raise self._failure(exc, receiver) from None
        except TimeoutError:
            raise self.timeout_failure(receiver) from None
        except OutboundRefused as refused:
            self.guard.report(refused, platform=platform.id if platform is not None else None, what=receiver)
            raise UpstreamFailure(
                ReceiverUnreachableError(f"receiver {receiver}: {refused.message}"), Outcome.CONNECTION
            ) from None
        if response.status in (401, 403) and platform is not None and self.on_hub_refused is not None:
            self.on_hub_refused(platform, response.status)
        return response

    @staticmethod
    def _failure(exc: UpstreamError, receiver: str) -> UpstreamFailure:
        if isinstance(exc, ConnectFailed):
            return UpstreamFailure(ReceiverUnreachableError(f"receiver {receiver} is not reachable ({exc})"),
                                   Outcome.CONNECTION)
        if isinstance(exc, ClosedEarly):
            return UpstreamFailure(
                ReceiverUnreachableError(f"receiver {receiver} closed the connection without answering"),
                Outcome.CONNECTION)
        if isinstance(exc, AnswerBufferFull):
            return UpstreamFailure(AnswerBufferFullError(f"receiver {receiver}: {exc}"), Outcome.BUSY)
        assert isinstance(exc, ProtocolFailed)
        return UpstreamFailure(ReceiverUnreachableError(f"receiver {receiver}: {exc}"),
                               Outcome.BAD_ANSWER if exc.refusal else Outcome.PROTOCOL)
