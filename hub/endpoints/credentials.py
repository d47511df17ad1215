"""The credentials module of the hub, one endpoint per OCPI version (``/ocpi/{version}/credentials``),
exactly per the spec: POST registers in that version (token A only; 405 once registered), PUT updates,
rotates token C and moves the platform to that version, GET reads, DELETE unregisters (PUT/GET/DELETE:
405 before registration). Objects are read and written in the endpoint's version
(``partners.credentials``).

A platform the operator suspended keeps GET and PUT (it may read and rotate its credentials; a PUT
does not lift the suspension) and is refused POST and DELETE (rule *suspended*)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.endpoints.ocpi_auth import caller_spelled, denied, hub_state
from hub.request_body import read_body
from hub.responses import ocpi_error, ocpi_ok
from partners import credentials as shapes
from partners import strict_json
from partners.errors import HubError, InvalidJsonError, InvalidParametersError, MethodNotAllowedError
from partners.tokens import Secret
from routing.errors import DeniedError
from routing.policy import refuse_suspended
from routing.versions.version import OcpiVersion


def credentials(version: OcpiVersion) -> Callable[[Request], Awaitable[Response]]:
    """The credentials endpoint of ``version``."""

    async def endpoint(request: Request) -> Response:
        try:
            return await _handle(request, version)
        except HubError as error:
            if isinstance(error, DeniedError):
                denied(request, error)
            return ocpi_error(request, error)

    return endpoint


async def _handle(request: Request, version: OcpiVersion) -> Response:
    state = hub_state(request)
    platform, token, spelling = await caller_spelled(request)
    method = request.method
    if method not in ("GET", "PUT"):
        refuse_suspended(platform)
    if method == "POST":
        if platform.registered:
            raise MethodNotAllowedError("already registered: use PUT to update credentials, DELETE to unregister")
        theirs = await _body(request, version)
        return ocpi_ok(request, await state.registrar.accept(platform, theirs, version=version, update=False,
                                                             used_token=token, seen=spelling))
    if not platform.registered:
        raise MethodNotAllowedError("not registered yet: POST credentials first")
    if method == "GET":
        return ocpi_ok(request, state.identity.credentials(Secret(token), version,
                                                           state.registrar.reachable(platform.id)))
    if method == "PUT":
        theirs = await _body(request, version)
        return ocpi_ok(request, await state.registrar.accept(platform, theirs, version=version, update=True,
                                                             used_token=token, seen=spelling))
    if method == "DELETE":
        await state.registrar.unregister(platform)
        return ocpi_ok(request)
    raise MethodNotAllowedError(f"{method} is not part of the credentials module")


async def _body(request: Request, version: OcpiVersion) -> shapes.AnyCredentials:
    raw = await read_body(request, hub_state(request).config.max_body_bytes)
    try:
        return strict_json.decode(raw, shapes.wire_type(version))
    except msgspec.ValidationError as exc:
        raise InvalidParametersError(f"invalid OCPI {version} credentials object: {exc}") from None
    except strict_json.InvalidJson as exc:
        raise InvalidJsonError(f"request body is not valid JSON: {exc}") from None
