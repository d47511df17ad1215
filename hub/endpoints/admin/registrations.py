"""Admin resources that bring a platform in: invitations (partner-initiated registration, token A)
and registrations (hub-initiated handshake)."""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.endpoints.admin.common import decode, guarded
from hub.endpoints.ocpi_auth import hub_state
from hub.responses import admin_error, admin_json
from partners import store
from partners.credentials import RoleSource
from partners.model import CountryCode, PartyId, Role
from partners.registry import PartyKey, party_key
from partners.tokens import Secret


class PlannedParty(msgspec.Struct, forbid_unknown_fields=True):
    country_code: CountryCode
    party_id: PartyId
    role: Role


class InvitationIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str = ""
    # Parties the platform is expected to bring: listed as PLANNED in hubclientinfo until it registers, and
    # the only ones it may register (``partners.party_claims``).
    parties: list[PlannedParty] = []


class RegistrationIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    versions_url: str
    token: str
    name: str = ""
    # The role of a 2.1.1 partner's party (its credentials carry none): one role for whichever party it
    # names, or its parties with their roles. ``parties`` are also the only ones the partner may register,
    # in any version (``partners.party_claims``).
    role: Role | None = None
    parties: list[PlannedParty] = []


async def create_invitation(request: Request) -> Response:
    body = await decode(request, InvitationIn, empty_ok=True)
    if isinstance(body, Response):
        return body
    state = hub_state(request)
    planned = [(p.country_code, p.party_id, p.role.value) for p in body.parties]
    try:
        token = await state.registrar.invite(body.name, planned)
    except store.PartyConflictError as exc:
        return admin_error(f"party {exc.label} already belongs to another platform", 409)
    return admin_json({"token": token.reveal(), "versions_url": state.identity.versions_url}, 201)


def _is_http_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises for a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


async def create_registration(request: Request) -> Response:
    body = await decode(request, RegistrationIn)
    if isinstance(body, Response):
        return body
    if not _is_http_url(body.versions_url):
        # Refused before anything is contacted: the operator mistyped, the partner is not at fault.
        return admin_error("versions_url must be an absolute http:// or https:// URL", 400)
    state = hub_state(request)
    known: dict[PartyKey, tuple[Role, ...]] = {}
    for p in body.parties:
        key = party_key(p.country_code, p.party_id)
        known[key] = (*known.get(key, ()), p.role)
    # A refusal (the partner's roles, parties it may not register, a 2.1.1 role not given) is answered by
    # ``guarded``: nothing was kept, and a partner that took our token was told its registration is void.
    platform_id = await state.registrar.initiate(body.versions_url, Secret(body.token), body.name,
                                                 RoleSource(known, body.role))
    return admin_json(await store.platform_details(state.pool, platform_id), 201)


routes = [
    Route("/admin/invitations", guarded(create_invitation), methods=["POST"]),
    Route("/admin/registrations", guarded(create_registration), methods=["POST"]),
]
