"""Outbound half of the credentials module: reading a partner's versions and endpoints and
sending it our credentials. Every failure becomes the 3xxx error the credentials chapter names.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import msgspec

from partners.errors import ClientApiUnusableError, NoMatchingEndpointsError, UnsupportedVersionError
from partners.model import Credentials, Version, VersionDetails
from partners.tokens import Secret, authorization_value

log = logging.getLogger("ocpihub.handshake")

SUPPORTED_VERSIONS = ("2.2.1",)
"""Versions the hub speaks, preferred first."""

_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


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
    http: aiohttp.ClientSession, method: str, url: str, token: Secret, what: str, body: bytes | None = None
) -> Any:
    headers = {"Authorization": authorization_value(token).decode()}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        async with http.request(method, url, headers=headers, data=body, timeout=_TIMEOUT) as resp:
            raw = await resp.read()
            if resp.status >= 400:
                raise ClientApiUnusableError(f"{what} at {url} answered HTTP {resp.status}")
    except ClientApiUnusableError:
        raise
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ClientApiUnusableError(f"could not reach {what} at {url}: {type(exc).__name__}") from None
    try:
        return _unwrap(msgspec.json.decode(raw))
    except msgspec.DecodeError:
        raise ClientApiUnusableError(f"{what} at {url} did not answer JSON") from None


async def discover(http: aiohttp.ClientSession, versions_url: str, token: Secret) -> VersionDetails:
    """The partner's endpoints for the best version we share with it."""
    data = await _call(http, "GET", versions_url, token, "versions endpoint")
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
    details_data = await _call(http, "GET", offered[chosen], token, "version details endpoint")
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
    http: aiohttp.ClientSession, url: str, token: Secret, ours: Credentials, *, method: str = "POST"
) -> Credentials:
    """POST (register) or PUT (update) our credentials; returns the partner's credentials."""
    data = await _call(http, method, url, token, "credentials endpoint", msgspec.json.encode(ours))
    try:
        return msgspec.convert(data, Credentials)
    except msgspec.ValidationError as exc:
        raise ClientApiUnusableError(f"credentials answer from {url} is invalid: {exc}") from None
