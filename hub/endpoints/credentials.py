"""The credentials module of the hub (``/ocpi/2.2.1/credentials``), exactly per the spec:
POST registers (token A only; 405 once registered), PUT updates and rotates token C, GET reads,
DELETE unregisters (PUT/GET/DELETE: 405 before registration).

A platform the operator suspended keeps GET and PUT (it may read and rotate its credentials; a PUT
does not lift the suspension) and is refused POST and DELETE (rule *suspended*)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.endpoints.ocpi_auth import caller, denied, hub_state
from hub.request_body import read_body
from hub.responses import ocpi_error, ocpi_ok
from partners import strict_json
from partners.errors import HubError, InvalidParametersError, MethodNotAllowedError
from partners.model import Credentials
from partners.tokens import Secret
from routing.errors import DeniedError
from routing.policy import refuse_suspended


async def credentials(request: Request) -> Response:
    try:
        return await _handle(request)
    except HubError as error:
        if isinstance(error, DeniedError):
            denied(request, error)
        return ocpi_error(request, error)


async def _handle(request: Request) -> Response:
    state = hub_state(request)
    platform, token = await caller(request)
    method = request.method
    if method not in ("GET", "PUT"):
        refuse_suspended(platform)
    if method == "POST":
        if platform.registered:
            raise MethodNotAllowedError("already registered: use PUT to update credentials, DELETE to unregister")
        theirs = await _body(request)
        return ocpi_ok(request, await state.registrar.accept(platform, theirs, update=False))
    if not platform.registered:
        raise MethodNotAllowedError("not registered yet: POST credentials first")
    if method == "GET":
        return ocpi_ok(request, state.identity.credentials(Secret(token)))
    if method == "PUT":
        theirs = await _body(request)
        return ocpi_ok(request, await state.registrar.accept(platform, theirs, update=True))
    if method == "DELETE":
        await state.registrar.unregister(platform)
        return ocpi_ok(request)
    raise MethodNotAllowedError(f"{method} is not part of the credentials module")


async def _body(request: Request) -> Credentials:
    raw = await read_body(request, hub_state(request).config.max_body_bytes)
    try:
        return strict_json.decode(raw, Credentials)
    except msgspec.ValidationError as exc:
        raise InvalidParametersError(f"invalid credentials object: {exc}") from None
    except strict_json.InvalidJson as exc:
        raise InvalidParametersError(f"request body is not valid JSON: {exc}") from None
