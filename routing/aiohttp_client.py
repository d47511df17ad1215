"""The outbound client on aiohttp, with the interface and failure classes of
:class:`routing.upstream_client.UpstreamClient`.

Not the default: the benchmark measures it well below the lean client on the hot path (see
benchmarks/README.md). It stays as an operator's fallback (``OCPI_HUB_OUTBOUND_CLIENT=aiohttp``)
for a receiver whose HTTP the lean client mishandles, and as the benchmark's comparison point.

The outbound policy applies as in the lean client: the URL checks once per base (cached), the address
checks on every new connection through the guard's resolver and socket factory.

Same answer bounds (size cap, shared budget) and the same refusal of an answer cut short; one
difference: aiohttp reads exactly the declared Content-Length and cannot tell that more bytes
followed, so an answer longer than it declared is passed on truncated (the native client refuses it).
"""

from __future__ import annotations

from collections.abc import Iterable

import aiohttp
from yarl import URL

from partners.model import OutboundTls
from routing.answer_budget import DEFAULT_ANSWER_BUFFER_BYTES, DEFAULT_MAX_ANSWER_BYTES, AnswerBudget
from routing.outbound_failures import describe
from routing.outbound_guard import OutboundGuard
from routing.outbound_policy import OutboundRefused
from routing.outbound_tls import TlsContexts
from routing.upstream_client import (
    AnswerBufferFull,
    AnswerTooLarge,
    ClosedEarly,
    ConnectFailed,
    ProtocolFailed,
    Response,
)


class AiohttpClient:
    def __init__(self, *, connect_timeout: float, connections_per_host: int,
                 budget: AnswerBudget | None = None, guard: OutboundGuard | None = None,
                 tls: TlsContexts | None = None) -> None:
        self.connect_timeout = connect_timeout
        self.connections_per_host = connections_per_host
        self.budget = budget or AnswerBudget(limit=DEFAULT_ANSWER_BUFFER_BYTES, max_answer=DEFAULT_MAX_ANSWER_BYTES)
        self.guard = guard or OutboundGuard()
        self.tls = tls or TlsContexts()
        self._session: aiohttp.ClientSession | None = None
        self._checked: set[str] = set()

    def _check(self, url: str) -> None:
        scheme, _, rest = url.partition("://")
        base = scheme + rest.partition("/")[0]
        if base not in self._checked:
            self.guard.check_url(url)
            if len(self._checked) < 10000:
                self._checked.add(base)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=self.guard.aiohttp_connector(ssl_context=self.tls.verified, limit=0,
                                                       limit_per_host=self.connections_per_host),
                timeout=aiohttp.ClientTimeout(total=None, connect=self.connect_timeout),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def request(self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes | None,
                      tls: OutboundTls | None = None) -> Response:
        self._check(url)
        session = self._open()
        target = URL(url, encoded=True)
        try:
            async with session.request(method, target, headers=list(headers), data=body, allow_redirects=False,
                                       ssl=self.tls.for_aiohttp(tls)) as resp:
                return await self._read(resp)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, OutboundRefused):
                refused = exc.os_error
                raise OutboundRefused(refused.rule, f"{target.scheme}://{target.raw_authority}", refused.host,
                                      refused.address) from None
            raise ConnectFailed(describe(exc, target.raw_host or "", target.port or 0,
                                         connect_seconds=self.connect_timeout)) from None
        except (aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL, aiohttp.ServerFingerprintMismatch) as exc:
            raise ConnectFailed(describe(exc, target.raw_host or "", target.port or 0,
                                         connect_seconds=self.connect_timeout)) from None
        except aiohttp.ServerDisconnectedError:
            raise ClosedEarly("receiver closed the connection without a whole answer", reused=True) from None
        except (aiohttp.ClientResponseError, aiohttp.ClientPayloadError):
            raise ProtocolFailed("receiver did not answer valid HTTP") from None
        except (aiohttp.ClientOSError, OSError) as exc:
            raise ConnectFailed(describe(exc, target.raw_host or "", target.port or 0)) from None

    async def _read(self, resp: aiohttp.ClientResponse) -> Response:
        """The body under the same two bounds as the native client: a declared length is checked and
        reserved before reading, anything else is counted as it arrives."""
        budget = self.budget
        declared = resp.content_length
        held = 0
        chunks: list[bytes] = []
        try:
            if declared is not None:
                if declared > budget.max_answer:
                    raise AnswerTooLarge(budget.too_large(declared))
                if not budget.take(declared):
                    raise AnswerBufferFull(budget.exhausted())
                held = declared
            size = 0
            async for chunk in resp.content.iter_any():
                size += len(chunk)
                if declared is None:
                    if size > budget.max_answer:
                        raise AnswerTooLarge(budget.too_large())
                    if not budget.take(len(chunk)):
                        raise AnswerBufferFull(budget.exhausted())
                    held += len(chunk)
                chunks.append(chunk)
        except BaseException:
            budget.give(held)
            # aiohttp keeps a failed read's exception in a reference cycle (its traceback holds this frame):
            # emptied here, the chunks do not wait for the cycle collector with it.
            chunks.clear()
            raise
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return Response(resp.status, list(resp.raw_headers), body, budget, held)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
