"""Outbound half of the credentials module: reading a partner's versions and endpoints and
sending it our credentials. Every failure becomes the 3xxx error the credentials chapter names, said
in words ("connection refused by partner.example:443"), never an exception class name.

Every URL is a partner's: each call goes through the outbound policy (the URL here, the addresses in
the session's connector) and no redirect is followed. A refusal propagates as ``OutboundRefused``
naming the URL and the rule, for the registrar to report.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import msgspec

from partners import strict_json
from partners.errors import ClientApiUnusableError, NoMatchingEndpointsError, UnsupportedVersionError
from partners.model import Credentials, Version, VersionDetails
from partners.tokens import Secret, authorization_value
from routing.outbound_failures import describe
from routing.outbound_policy import OutboundRefused, Target, safe_url

log = logging.getLogger("ocpihub.handshake")

SUPPORTED_VERSIONS = ("2.2.1",)
"""Versions the hub speaks, preferred first."""

_CONNECT_SECONDS = 5
_ANSWER_SECONDS = 15
_TIMEOUT = aiohttp.ClientTimeout(total=_ANSWER_SECONDS, connect=_CONNECT_SECONDS)
# Versions, version details and credentials are a few KB; a partner's answer past this is not read on.
MAX_ANSWER_BYTES = 1024 * 1024


class Outbound(Protocol):
    """The outbound policy as registration uses it (``routing.outbound_guard.OutboundGuard``)."""

    def check_url(self, url: str) -> Target: ...

    async def check_all(self, urls: Iterable[str]) -> None: ...

    def report(self, refused: OutboundRefused, *, platform: int | None, what: str) -> None: ...


@dataclass(frozen=True)
class Caller:
    """How one registration calls the partner: a session whose connector checks every address, the
    policy for URLs, and the TLS check for this platform (``ssl`` as aiohttp takes it)."""

    http: aiohttp.ClientSession
    outbound: Outbound
    ssl: ssl.SSLContext | aiohttp.Fingerprint | bool = True


def _unwrap(payload: Any) -> Any:
    """``data`` of an OCPI envelope. Tolerates stacks that send the bare data without envelope."""
    if not (isinstance(payload, dict) and "status_code" in payload):
        log.warning("partner answered without the OCPI envelope; accepted")
    if isinstance(payload, dict) and "status_code" in payload:
        status = payload.get("status_code")
        if isinstance(status, int) and not 1000 <= status < 2000:
            raise ClientApiUnusableError(
                f"partner answered status_code {status}: {str(payload.get('status_message', ''))[:200]}"
            )
        return payload.get("data")
    return payload


async def _call(
    caller: Caller, method: str, url: str, token: Secret, what: str, body: bytes | None = None
) -> Any:
    target = caller.outbound.check_url(url)  # before any connection: scheme, userinfo, address literals
    shown = safe_url(url)
    headers = {"Authorization": authorization_value(token).decode()}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        async with caller.http.request(method, url, headers=headers, data=body, timeout=_TIMEOUT,
                                       allow_redirects=False, ssl=caller.ssl) as resp:
            raw = await _read_bounded(resp, f"{what} at {shown}")
            status = resp.status
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, OutboundRefused):  # refused by the connector: name the whole URL
            refused = exc.os_error
            raise OutboundRefused(refused.rule, shown, refused.host, refused.address) from None
        raise ClientApiUnusableError(f"could not reach {what} at {shown}: {_words(exc, target)}") from None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ClientApiUnusableError(f"could not reach {what} at {shown}: {_words(exc, target)}") from None
    if 300 <= status < 400:
        raise ClientApiUnusableError(f"{what} at {shown} answered HTTP {status} (a redirect): the hub follows "
                                     "no redirects, give the URL it points to")
    if status >= 400:
        raise ClientApiUnusableError(f"{what} at {shown} answered HTTP {status}")
    try:
        return _unwrap(strict_json.decode(raw, object))
    except strict_json.InvalidJson as exc:
        raise ClientApiUnusableError(f"{what} at {shown} did not answer JSON ({exc})") from None


async def _read_bounded(resp: aiohttp.ClientResponse, what: str) -> bytes:
    too_large = ClientApiUnusableError(f"{what} answered more than {MAX_ANSWER_BYTES} bytes")
    if (resp.content_length or 0) > MAX_ANSWER_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _words(exc: BaseException, target: Target) -> str:
    return describe(exc, target.host, target.port, connect_seconds=_CONNECT_SECONDS, answer_seconds=_ANSWER_SECONDS)


async def discover(caller: Caller, versions_url: str, token: Secret) -> VersionDetails:
    """The partner's endpoints for the best version we share with it."""
    data = await _call(caller, "GET", versions_url, token, "versions endpoint")
    if isinstance(data, dict):
        log.warning("partner sent a single Version where a list belongs; accepted")
        data = [data]
    try:
        versions = msgspec.convert(data, list[Version])
    except msgspec.ValidationError as exc:
        raise ClientApiUnusableError(f"versions endpoint at {versions_url} sent an invalid list: {exc}") from None
    offered = {v.version: v.url for v in versions}
    chosen = next((v for v in SUPPORTED_VERSIONS if v in offered), None)
    if chosen is None:
        raise UnsupportedVersionError(
            f"no common OCPI version: partner offers {sorted(offered) or 'none'}, "
            f"hub supports {list(SUPPORTED_VERSIONS)}"
        )
    details_data = await _call(caller, "GET", offered[chosen], token, "version details endpoint")
    if isinstance(details_data, list) and len(details_data) == 1:
        log.warning("partner wrapped its version details in a list; accepted")
        details_data = details_data[0]
    try:
        details = msgspec.convert(details_data, VersionDetails)
    except msgspec.ValidationError as exc:
        raise ClientApiUnusableError(f"version details at {offered[chosen]} are invalid: {exc}") from None
    if not any(e.identifier != "credentials" for e in details.endpoints):
        raise NoMatchingEndpointsError("partner lists no functional module endpoint for OCPI " + chosen)
    return details


def credentials_url(details: VersionDetails) -> str:
    for endpoint in details.endpoints:
        if endpoint.identifier == "credentials":
            return endpoint.url
    raise NoMatchingEndpointsError("partner lists no credentials endpoint")


async def send_credentials(
    caller: Caller, url: str, token: Secret, ours: Credentials, *, method: str = "POST"
) -> Credentials:
    """POST (register) or PUT (update) our credentials; returns the partner's credentials."""
    data = await _call(caller, method, url, token, "credentials endpoint", msgspec.json.encode(ours))
    try:
        return msgspec.convert(data, Credentials)
    except msgspec.ValidationError as exc:
        raise ClientApiUnusableError(f"credentials answer from {url} is invalid: {exc}") from None
