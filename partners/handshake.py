"""Outbound half of the credentials module: reading a partner's versions and endpoints and
sending it our credentials. Every failure becomes the 3xxx error the credentials chapter names, said
in words ("connection refused by partner.example:443"), never an exception class name.

Every URL is a partner's: each call goes through the outbound policy (the URL here, the addresses in
the session's connector) and no redirect is followed. A refusal propagates as ``OutboundRefused``
naming the URL and the rule, for the registrar to report.

The token goes out in the spelling ``partners.token_encoding`` prefers for the partner; a versions or
version details call refused as unauthorised is made once more in the other spelling, and
:class:`Discovery` says what worked.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import aiohttp
import msgspec

from partners import credentials, strict_json, token_encoding
from partners.errors import ClientApiUnusableError, NoMatchingEndpointsError, UnsupportedVersionError
from partners.model import Version, VersionDetails
from partners.tokens import Secret, TokenEncoding, authorization_value
from routing.outbound_failures import describe
from routing.outbound_policy import OutboundRefused, Target, safe_url
from routing.versions.version import ORDER, OcpiVersion

log = logging.getLogger("ocpihub.handshake")

SUPPORTED = tuple(reversed(ORDER))
SUPPORTED_VERSIONS = tuple(v.value for v in SUPPORTED)
"""Versions the hub speaks, preferred first."""

NO_ENVELOPE = "no_envelope"
SINGLE_VERSION = "single_version"
VERSION_DETAILS_IN_LIST = "version_details_in_list"
TOLERATED = (NO_ENVELOPE, SINGLE_VERSION, VERSION_DETAILS_IN_LIST)
"""Deviations of partners' registration answers the hub accepts: ``kind`` values of
ocpihub_tolerated_deviations_total (each also logged)."""


class TokenRefusedError(ClientApiUnusableError):
    """3001: the partner did not accept the token as spelled (``token_encoding.refused``)."""


class Discovery(NamedTuple):
    """A partner's endpoints for one version, and the token spellings its endpoints accepted."""

    details: VersionDetails
    version: OcpiVersion
    token_encoding: TokenEncoding
    """What the version details endpoint accepted: the spelling for every call but the versions list."""
    versions_token_encoding: TokenEncoding
    """What the versions endpoint accepted (still-alive checks and discovery use it)."""

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
    # Where a tolerated deviation is counted (``Metrics.tolerated``), by one of the kinds in TOLERATED.
    tolerated: Callable[[str], None] | None = None

    def tolerate(self, kind: str, message: str) -> None:
        log.warning(message)
        if self.tolerated is not None:
            self.tolerated(kind)


def _unwrap(payload: Any, caller: Caller) -> Any:
    """``data`` of an OCPI envelope. Tolerates stacks that send the bare data without envelope."""
    if not (isinstance(payload, dict) and "status_code" in payload):
        caller.tolerate(NO_ENVELOPE, "partner answered without the OCPI envelope; accepted")
    if isinstance(payload, dict) and "status_code" in payload:
        status = payload.get("status_code")
        if isinstance(status, int) and not 1000 <= status < 2000:
            error = TokenRefusedError if token_encoding.refused(200, status) else ClientApiUnusableError
            raise error(
                f"partner answered status_code {status}: {str(payload.get('status_message', ''))[:200]}"
            )
        return payload.get("data")
    return payload


async def _call(
    caller: Caller, method: str, url: str, token: Secret, what: str, body: bytes | None = None,
    encoding: TokenEncoding = TokenEncoding.BASE64,
) -> Any:
    target = caller.outbound.check_url(url)  # before any connection: scheme, userinfo, address literals
    shown = safe_url(url)
    headers = {"Authorization": authorization_value(token, encoding).decode()}
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
    if token_encoding.refused(status, None):
        raise TokenRefusedError(f"{what} at {shown} answered HTTP {status} to the {encoding.value} token")
    if status >= 400:
        raise ClientApiUnusableError(f"{what} at {shown} answered HTTP {status}")
    if not raw.strip() and method == "DELETE":
        return None  # a bodiless answer to DELETE says enough
    try:
        return _unwrap(strict_json.decode(raw, object), caller)
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


async def _call_either(caller: Caller, url: str, token: Secret, what: str,
                       first: TokenEncoding) -> tuple[Any, TokenEncoding]:
    """GET ``url`` with the token spelled ``first``, and once more spelled the other way if that was
    refused as unauthorised; the answer and the spelling that worked."""
    try:
        return await _call(caller, "GET", url, token, what, encoding=first), first
    except TokenRefusedError:
        second = first.other
        log.info("partner refused the %s token on its %s; trying it %s", first.value, what, second.value)
        return await _call(caller, "GET", url, token, what, encoding=second), second


async def discover(
    caller: Caller, versions_url: str, token: Secret, *, version: OcpiVersion | None = None,
    seen: TokenEncoding | None = None, known: tuple[TokenEncoding, TokenEncoding] | None = None,
) -> Discovery:
    """The partner's endpoints for ``version`` (a partner's POST or PUT chooses it by the credentials
    endpoint it calls) or, without one, for the highest version both sides speak.

    ``seen``: the token spelling the partner used towards us. ``known``: the spellings learned earlier
    (versions endpoint, everything else), tried first when reading the endpoints again.
    """
    first = known[0] if known else token_encoding.preferred(version, seen)
    data, versions_spelling = await _call_either(caller, versions_url, token, "versions endpoint", first)
    if isinstance(data, dict):
        caller.tolerate(SINGLE_VERSION, "partner sent a single Version where a list belongs; accepted")
        data = [data]
    try:
        versions = msgspec.convert(data, list[Version])
    except msgspec.ValidationError as exc:
        raise ClientApiUnusableError(f"versions endpoint at {versions_url} sent an invalid list: {exc}") from None
    offered = {v.version: v.url for v in versions}
    if version is not None:
        if version.value not in offered:
            raise UnsupportedVersionError(
                f"OCPI {version} was chosen (its credentials endpoint was called), but the partner's versions "
                f"endpoint offers {sorted(offered) or 'none'}")
        chosen = version
    else:
        found = next((v for v in SUPPORTED if v.value in offered), None)
        if found is None:
            raise UnsupportedVersionError(
                f"no common OCPI version: partner offers {sorted(offered) or 'none'}, "
                f"hub supports {list(SUPPORTED_VERSIONS)}"
            )
        chosen = found
    details_first = known[1] if known else token_encoding.preferred(chosen, seen or versions_spelling)
    details_data, spelling = await _call_either(caller, offered[chosen.value], token, "version details endpoint",
                                                details_first)
    if isinstance(details_data, list) and len(details_data) == 1:
        caller.tolerate(VERSION_DETAILS_IN_LIST, "partner wrapped its version details in a list; accepted")
        details_data = details_data[0]
    try:
        details = msgspec.convert(details_data, VersionDetails)
    except msgspec.ValidationError as exc:
        raise ClientApiUnusableError(f"version details at {offered[chosen.value]} are invalid: {exc}") from None
    if not any(e.identifier != "credentials" for e in details.endpoints):
        raise NoMatchingEndpointsError(f"partner lists no functional module endpoint for OCPI {chosen}")
    return Discovery(details, chosen, spelling, versions_spelling)


def credentials_url(details: VersionDetails) -> str:
    for endpoint in details.endpoints:
        if endpoint.identifier == "credentials":
            return endpoint.url
    raise NoMatchingEndpointsError(
        f"the partner's OCPI {details.version} version details list no credentials endpoint, so the hub cannot "
        "register with it (OCN-era 2.2 stacks have none): invite it instead, so that it registers itself")


async def send_credentials(
    caller: Caller, url: str, token: Secret, ours: credentials.AnyCredentials, *,
    version: OcpiVersion, encoding: TokenEncoding, method: str = "POST",
) -> credentials.AnyCredentials:
    """POST (register) or PUT (update) our credentials of ``version``; returns the partner's, of that
    version too."""
    data = await _call(caller, method, url, token, "credentials endpoint", msgspec.json.encode(ours), encoding)
    try:
        return credentials.convert(version, data)
    except msgspec.ValidationError as exc:
        raise ClientApiUnusableError(f"credentials answer from {safe_url(url)} is invalid: {exc}") from None


async def delete_credentials(caller: Caller, url: str, token: Secret, encoding: TokenEncoding) -> None:
    """Tell the partner our credentials on its side are void (the hub unregisters)."""
    await _call(caller, "DELETE", url, token, "credentials endpoint", encoding=encoding)
