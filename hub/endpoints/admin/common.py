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
from hub.responses import admin_error
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
            # A failed handshake: say what the partner's API did, with its OCPI code. A URL the outbound
            # policy refused was never contacted: the operator's request is what to change (400).
            upstream = error.ocpi_status >= 3000 and not isinstance(error, OutboundUrlRefusedError)
            return admin_error(error.message, 502 if upstream else 400, ocpi_status=error.ocpi_status)
    return wrapper


async def decode(request: Request, kind: type[_T], *, empty_ok: bool = False) -> _T | Response:
    raw = await request.body()
    if not raw.strip() and empty_ok:
        raw = b"{}"
    try:
        return msgspec.json.decode(raw, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return admin_error(f"invalid request body: {exc}", 400)
