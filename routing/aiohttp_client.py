"""The outbound client on aiohttp, with the interface and failure classes of
:class:`routing.upstream_client.UpstreamClient`.

Not the default: the benchmark measures it well below the lean client on the hot path (see
benchmarks/README.md). It stays as an operator's fallback (``OCPI_HUB_OUTBOUND_CLIENT=aiohttp``)
for a receiver whose HTTP the lean client mishandles, and as the benchmark's comparison point.
"""

from __future__ import annotations

from collections.abc import Iterable

import aiohttp
from yarl import URL

from routing.upstream_client import ClosedEarly, ConnectFailed, ProtocolFailed, Response


class AiohttpClient:
    def __init__(self, *, connect_timeout: float, connections_per_host: int,
                 max_response_bytes: int = 64 * 1024 * 1024) -> None:
        self.connect_timeout = connect_timeout
        self.connections_per_host = connections_per_host
        self.max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=self.connections_per_host),
                timeout=aiohttp.ClientTimeout(total=None, connect=self.connect_timeout),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def request(self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes | None) -> Response:
        session = self._open()
        try:
            async with session.request(method, URL(url, encoded=True), headers=list(headers), data=body,
                                       allow_redirects=False) as resp:
                payload = await resp.content.read(self.max_response_bytes + 1)
                if len(payload) > self.max_response_bytes:
                    raise ProtocolFailed(f"receiver answer is larger than {self.max_response_bytes} bytes")
                return Response(resp.status, list(resp.raw_headers), payload)
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
            raise ConnectFailed(type(exc).__name__) from None
        except aiohttp.ServerDisconnectedError:
            raise ClosedEarly("receiver closed the connection without a whole answer", reused=True) from None
        except (aiohttp.ClientResponseError, aiohttp.ClientPayloadError):
            raise ProtocolFailed("receiver did not answer valid HTTP") from None
        except (aiohttp.ClientOSError, OSError) as exc:
            raise ConnectFailed(type(exc).__name__) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
