"""The admin API (``/admin``, ``Authorization: Bearer <admin token>``): invite, register, list,
suspend, unsuspend and remove platforms. JSON in and out; never shows a token except the one it
just created for an invitation."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.endpoints.ocpi_auth import hub_state
from hub.responses import admin_error, admin_json
from partners import store
from partners.errors import HubError
from partners.model import ConnectionStatus, CountryCode, PartyId, Role
from partners.tokens import Secret


class PlannedParty(msgspec.Struct, forbid_unknown_fields=True):
    country_code: CountryCode
    party_id: PartyId
    role: Role


class InvitationIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str = ""
    # Parties the platform is expected to bring: listed as PLANNED in hubclientinfo until it registers.
    parties: list[PlannedParty] = []


class RegistrationIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    versions_url: str
    token: str
    name: str = ""


_T = TypeVar("_T")
Handler = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Handler:
    async def wrapper(request: Request) -> Response:
        expected = hub_state(request).admin_token
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
            return admin_error("admin API needs 'Authorization: Bearer <admin token>'", 401)
        try:
            return await handler(request)
        except HubError as error:
            # A failed handshake: say what the partner's API did, with its OCPI code.
            return admin_error(error.message, 502 if error.ocpi_status >= 3000 else 400, ocpi_status=error.ocpi_status)
    return wrapper


async def _decode(request: Request, kind: type[_T], *, empty_ok: bool = False) -> _T | Response:
    raw = await request.body()
    if not raw.strip() and empty_ok:
        raw = b"{}"
    try:
        return msgspec.json.decode(raw, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return admin_error(f"invalid request body: {exc}", 400)


async def create_invitation(request: Request) -> Response:
    body = await _decode(request, InvitationIn, empty_ok=True)
    if isinstance(body, Response):
        return body
    state = hub_state(request)
    planned = [(p.country_code, p.party_id, p.role.value) for p in body.parties]
    try:
        token = await state.registrar.invite(body.name, planned)
    except store.PartyConflictError as exc:
        return admin_error(f"party {exc.label} already belongs to another platform", 409)
    return admin_json({"token": token.reveal(), "versions_url": state.identity.versions_url}, 201)


async def create_registration(request: Request) -> Response:
    body = await _decode(request, RegistrationIn)
    if isinstance(body, Response):
        return body
    state = hub_state(request)
    platform_id = await state.registrar.initiate(body.versions_url, Secret(body.token), body.name)
    return admin_json(await store.platform_details(state.pool, platform_id), 201)


async def list_platforms(request: Request) -> Response:
    state = hub_state(request)
    out = []
    for platform_id in await store.list_platform_ids(state.pool):
        details = await store.platform_details(state.pool, platform_id)
        if details is not None:
            out.append(details)
    return admin_json(out)


def _platform_id(request: Request) -> int | None:
    try:
        return int(request.path_params["platform_id"])
    except ValueError:
        return None


async def get_platform(request: Request) -> Response:
    platform_id = _platform_id(request)
    details = None if platform_id is None else await store.platform_details(hub_state(request).pool, platform_id)
    if details is None:
        return admin_error("no such platform", 404)
    return admin_json(details)


async def delete_platform(request: Request) -> Response:
    state = hub_state(request)
    platform_id = _platform_id(request)
    if platform_id is None or not await store.delete_platform(state.pool, platform_id):
        return admin_error("no such platform", 404)
    await state.sync.reload()
    return Response(status_code=204)


def _set_status(status: ConnectionStatus) -> Handler:
    async def handler(request: Request) -> Response:
        state = hub_state(request)
        platform_id = _platform_id(request)
        if platform_id is None or not await store.set_status(state.pool, platform_id, status):
            return admin_error("no such platform", 404)
        await state.sync.reload()
        return admin_json(await store.platform_details(state.pool, platform_id))
    return handler


routes = [
    Route("/admin/invitations", _guarded(create_invitation), methods=["POST"]),
    Route("/admin/registrations", _guarded(create_registration), methods=["POST"]),
    Route("/admin/platforms", _guarded(list_platforms), methods=["GET"]),
    Route("/admin/platforms/{platform_id}", _guarded(get_platform), methods=["GET"]),
    Route("/admin/platforms/{platform_id}", _guarded(delete_platform), methods=["DELETE"]),
    Route("/admin/platforms/{platform_id}/suspend", _guarded(_set_status(ConnectionStatus.SUSPENDED)),
          methods=["POST"]),
    Route("/admin/platforms/{platform_id}/unsuspend", _guarded(_set_status(ConnectionStatus.CONNECTED)),
          methods=["POST"]),
]
