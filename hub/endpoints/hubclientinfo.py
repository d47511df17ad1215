"""The hub's hubclientinfo SENDER endpoint of each OCPI version from 2.2 on: a paginated GET of
ClientInfo for every party the hub knows (``date_from``/``date_to`` on ``last_updated``,
``offset``/``limit``, Link to the next page), each in the shape of the endpoint's version."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.endpoints.ocpi_auth import caller, denied, hub_state
from hub.liveness import client_info, client_info_in
from hub.responses import ocpi_error, ocpi_ok
from partners.errors import HubError, InvalidParametersError, UnauthorizedError
from partners.party_views import bound
from routing.errors import DeniedError
from routing.policy import refuse_suspended
from routing.version_endpoints import hubclientinfo_path
from routing.versions.version import OcpiVersion

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _when(text: str | None, name: str) -> datetime.datetime | None:
    if not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParametersError(f"{name} is not an OCPI DateTime: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def _int(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidParametersError(f"{name} must be a whole number") from None
    if value < 0:
        raise InvalidParametersError(f"{name} must not be negative")
    return value


def hubclientinfo(version: OcpiVersion) -> Callable[[Request], Awaitable[Response]]:
    """The hubclientinfo endpoint of ``version`` (2.2 on)."""
    path = hubclientinfo_path(version)
    assert path is not None, "OCPI 2.1.1 has no hubclientinfo"

    async def endpoint(request: Request) -> Response:
        return await _serve(request, version, path)

    return endpoint


async def _serve(request: Request, version: OcpiVersion, path: str) -> Response:
    try:
        platform, _ = await caller(request)
        if not platform.registered:
            raise UnauthorizedError("this token may only be used on the versions and credentials modules")
        refuse_suspended(platform)
        q = request.query_params
        date_from, date_to = _when(q.get("date_from"), "date_from"), _when(q.get("date_to"), "date_to")
        offset = _int(q.get("offset"), "offset", 0)
        limit = min(_int(q.get("limit"), "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
    except HubError as error:
        if isinstance(error, DeniedError):
            denied(request, error)
        return ocpi_error(request, error)
    state = hub_state(request)
    snapshot = state.registry.snapshot
    # The snapshot keeps the parties in this order and by last_updated: a page costs its own size (or
    # the matches' when filtered by date), not a sort of every party.
    since, until = bound(date_from) if date_from else None, bound(date_to) if date_to else None
    total, parties = snapshot.views.page(since, until, offset, limit)
    found = [client_info_in(version, client_info(p, snapshot.platforms[p.platform_id].status)) for p in parties]
    page = [info for info in found if info is not None]
    if len(page) < len(found):
        # A party this version cannot carry (a HUB role in 2.3.0) is left out of the count too: the
        # exact way, over every match (rare: registration refuses HUB roles).
        _, matches = snapshot.views.page(since, until, 0, total)
        carried = [i for i in (client_info_in(version, client_info(p, snapshot.platforms[p.platform_id].status))
                               for p in matches) if i is not None]
        total, page = len(carried), carried[offset:offset + limit]
    headers = {"X-Total-Count": str(total), "X-Limit": str(limit)}
    if offset + limit < total:
        keep = {k: v for k, v in q.items() if k in ("date_from", "date_to")}
        next_query = urlencode(keep | {"offset": offset + limit, "limit": limit})
        next_url = f"{state.config.base_url}{path}?{next_query}"
        headers["Link"] = f'<{next_url}>; rel="next"'
    return ocpi_ok(request, msgspec.to_builtins(page), headers=headers)
