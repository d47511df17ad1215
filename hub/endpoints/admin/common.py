"""What every admin resource shares: the bearer-token guard and strict JSON decoding.

JSON in and out; the admin API never shows a token except the one it just created for an invitation.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.endpoints.ocpi_auth import hub_state
from hub.request_body import read_body
from hub.responses import admin_error
from partners import strict_json
from partners.errors import DatabaseUnavailableError, HubError, OutboundUrlRefusedError
from routing.limits import retry_after_seconds

_T = TypeVar("_T")
Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    async def wrapper(request: Request) -> Response:
        state = hub_state(request)
        perimeter = state.routing.perimeter
        # A blocked address is refused before its token is compared: the answer must not tell a
        # guesser whether its guess was right.
        wait = perimeter.admin_blocked(request.scope)
        if not wait:
            given = request.headers.get("authorization", "")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return admin_error("admin API needs 'Authorization: Bearer <admin token>'", 401)
            if not hmac.compare_digest(token.strip().encode(), state.admin_token.encode()):
                wait = perimeter.admin_failed(request.scope)
                if not wait:
                    return admin_error("admin token does not match", 401)
        if wait:
            retry = retry_after_seconds(wait)
            return admin_error(f"too many failed admin authentications from this address; retry after {retry} s",
                               429, headers={"Retry-After": str(retry)})
        try:
            return await handler(request)
        except DatabaseUnavailableError as error:
            return admin_error(error.message, 503)
        except HubError as error:
            # A failed handshake says what the partner's API did, with its OCPI code (502). A URL the outbound
            # policy refused was never contacted, and the caller's own mistakes keep their status (400, 413):
            # the operator's request is what to change.
            if error.ocpi_status < 3000:
                status = error.http_status
            else:
                status = 400 if isinstance(error, OutboundUrlRefusedError) else 502
            return admin_error(error.message, status, ocpi_status=error.ocpi_status)
    return wrapper


async def body_bytes(request: Request) -> bytes:
    """The request body, refused past OCPI_HUB_MAX_BODY_BYTES (413) or when cut short (400)."""
    return await read_body(request, hub_state(request).config.max_body_bytes)


async def decode(request: Request, kind: type[_T], *, empty_ok: bool = False) -> _T | Response:
    raw = await body_bytes(request)
    if not raw.strip() and empty_ok:
        raw = b"{}"
    try:
        return strict_json.decode(raw, kind)
    except (msgspec.ValidationError, strict_json.InvalidJson) as exc:
        return admin_error(f"invalid request body: {exc}", 400)
