"""Outbound HTTP to receivers: keep-alive pools bounded per receiver host, and one closed set of
outcomes that names what went wrong (the same value is the log field, the metric label and the
choice of OCPI status)."""

from __future__ import annotations

import enum

import aiohttp
from yarl import URL

from routing.errors import ForwardTimeoutError, ReceiverUnreachableError, RoutingError


class Outcome(enum.StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    PROTOCOL = "protocol"


class UpstreamResponse:
    __slots__ = ("body", "raw_headers", "status")

    def __init__(self, status: int, raw_headers: tuple[tuple[bytes, bytes], ...], body: bytes) -> None:
        self.status = status
        self.raw_headers = raw_headers
        self.body = body


class UpstreamFailure(RoutingError):
    """A forward that got no usable answer; ``outcome`` says why."""

    def __init__(self, error: RoutingError, outcome: Outcome) -> None:
        super().__init__(error.message)
        self.ocpi_status = error.ocpi_status
        self.http_status = error.http_status
        self.outcome = outcome


_RETRYABLE_METHODS = frozenset({"GET", "PUT", "DELETE"})


class Forwarder:
    def __init__(self, *, connect_timeout: float, request_timeout: float, connections_per_receiver: int) -> None:
        self._timeout = aiohttp.ClientTimeout(total=request_timeout, connect=connect_timeout)
        self._connector_args = {"limit": 0, "limit_per_host": connections_per_receiver, "keepalive_timeout": 30.0}
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(**self._connector_args),  # type: ignore[arg-type]
                timeout=self._timeout,
                # Bodies pass through untouched: no compression negotiated, no User-Agent invented.
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                auto_decompress=True,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, receiver: str
    ) -> UpstreamResponse:
        """Forward one request; raises :class:`UpstreamFailure` (4002/4003) naming ``receiver``."""
        target = URL(url, encoded=True)
        attempts = 2 if method in _RETRYABLE_METHODS else 1
        for attempt in range(attempts):
            try:
                async with self.session.request(
                    method, target, headers=headers, data=body, allow_redirects=False
                ) as resp:
                    payload = await resp.read()
                    return UpstreamResponse(resp.status, resp.raw_headers, payload)
            except aiohttp.ConnectionTimeoutError:
                raise UpstreamFailure(
                    ReceiverUnreachableError(f"receiver {receiver} did not accept a connection in time"),
                    Outcome.CONNECTION,
                ) from None
            except TimeoutError:
                raise UpstreamFailure(
                    ForwardTimeoutError(
                        f"receiver {receiver} did not answer in time; the request may or may not have been processed"
                    ),
                    Outcome.TIMEOUT,
                ) from None
            except aiohttp.ServerDisconnectedError:
                # A kept-alive connection the receiver had already closed: safe to retry idempotent methods.
                if attempt + 1 < attempts:
                    continue
                raise UpstreamFailure(
                    ReceiverUnreachableError(f"receiver {receiver} closed the connection without answering"),
                    Outcome.CONNECTION,
                ) from None
            except (aiohttp.ClientResponseError, aiohttp.ClientPayloadError):
                raise UpstreamFailure(
                    ReceiverUnreachableError(f"receiver {receiver} did not answer valid HTTP"), Outcome.PROTOCOL
                ) from None
            except (aiohttp.ClientError, OSError) as exc:
                raise UpstreamFailure(
                    ReceiverUnreachableError(f"receiver {receiver} is not reachable ({type(exc).__name__})"),
                    Outcome.CONNECTION,
                ) from None
        raise AssertionError("unreachable")
