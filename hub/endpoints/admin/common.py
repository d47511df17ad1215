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
from partners.errors import DatabaseUnavailableError, HubError, OutboundUrlRefusedError, PartyClaimRefusedError
from partners.registration import OperationRefusedError
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
        except OperationRefusedError as refused:
            # The platform's state does not allow what was asked (it never registered, it has no credentials
            # endpoint): nothing was sent or changed.
            return admin_error(str(refused), 409)
        except HubError as error:
            return admin_error(error.message, _status(error), ocpi_status=error.ocpi_status)
    return wrapper


def _status(error: HubError) -> int:
    """The admin API's HTTP status for a HubError a handler let through.

    OCPI answers an error of its own layer with HTTP 200 and the code in the body, which is why many of
    these classes carry 200; the operator's client must see a failure in the status line instead.
    """
    if error.ocpi_status >= 3000:
        # A failed handshake says what the partner's API did, with its OCPI code (502); a URL the outbound
        # policy refused was never contacted, so the operator's request is what to change (400).
        return 400 if isinstance(error, OutboundUrlRefusedError) else 502
    if isinstance(error, PartyClaimRefusedError):
        # The partner named parties it may not register (not announced, or another platform's): the
        # request was fine but conflicts with what the hub holds. Nothing was kept.
        return 409
    # The caller's (or the partner's credentials') mistake: 400, unless the error has a transport-level
    # status of its own (401, 404, 405, 413, 429), which stays.
    return 400 if error.http_status == 200 else error.http_status


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
