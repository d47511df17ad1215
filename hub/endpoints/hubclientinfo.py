"""The hub's hubclientinfo SENDER endpoint of each OCPI version from 2.2 on: a paginated GET of
ClientInfo for every party the hub knows (``date_from``/``date_to`` on ``last_updated``,
``offset``/``limit``, Link to the next page), each in the shape of the endpoint's version. Parties
that left the registry are listed too, as SUSPENDED: ClientInfo is never deleted."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable
from heapq import merge
from itertools import islice
from typing import Any
from urllib.parse import urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.endpoints.ocpi_auth import caller, denied, hub_state
from hub.liveness import client_info, client_info_in
from hub.responses import ocpi_error, ocpi_ok
from partners import store
from partners.errors import HubError, InvalidParametersError, UnauthorizedError
from partners.model import ConnectionStatus
from partners.party_views import bound, order_key
from partners.registry import Party, Snapshot
from routing.errors import DeniedError
from routing.policy import refuse_suspended
from routing.version_endpoints import hubclientinfo_path
from routing.versions.version import OcpiVersion

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

log = logging.getLogger("ocpihub.hubclientinfo")


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


def _live(snapshot: Snapshot, country_code: str, party_id: str, role: str) -> bool:
    return any(p.role == role for p in snapshot.by_party.get((country_code, party_id), ()))


def _within(updated: str, since: str | None, until: str | None) -> bool:
    return not updated or ((since is None or updated >= since) and (until is None or updated < until))


def _page(snapshot: Snapshot, version: OcpiVersion, gone: list[Party], since: str | None, until: str | None,
          offset: int, limit: int) -> tuple[int, list[Any]]:
    """How many ClientInfo objects match, and the page of them, in the order of country code, party id
    and role. The snapshot keeps the live parties in that order and by last_updated, so a page costs its
    own size (plus the parties that left, and the matches' when filtered by date), not a sort of every
    party. ``gone`` comes in the same order."""

    def carried(parties: Iterable[Party]) -> list[Any]:
        return [client_info_in(version, client_info(p, ConnectionStatus.SUSPENDED if p.platform_id < 0
                                                    else snapshot.platforms[p.platform_id].status))
                for p in parties]

    if gone:
        live_total, live = snapshot.views.page(since, until, 0, offset + limit)
        total, parties = live_total + len(gone), list(islice(merge(live, gone, key=order_key), offset, offset + limit))
    else:
        total, parties = snapshot.views.page(since, until, offset, limit)
    found = carried(parties)
    page = [info for info in found if info is not None]
    if len(page) == len(found):
        return total, page
    # A party this version cannot carry (a HUB role in 2.3.0) is left out of the count too: the exact
    # way, over every match (rare: registration refuses HUB roles).
    _, live = snapshot.views.page(since, until, 0, total)
    every = [info for info in carried(merge(live, gone, key=order_key)) if info is not None]
    return len(every), every[offset:offset + limit]


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
    try:
        retired = await store.retired_parties(state.pool)
    except Exception as exc:
        if not store.unreachable(exc):
            raise
        log.warning("hubclientinfo served without the parties that left: database unavailable")
        retired = []
    since, until = bound(date_from) if date_from else None, bound(date_to) if date_to else None
    # Parties that left (listed as SUSPENDED) and are not back, within the dates: a lookup each, not a
    # set of every party per request.
    gone = [Party(country_code=r.country_code, party_id=r.party_id, role=r.role, platform_id=-1,
                  last_updated=r.last_updated) for r in retired
            if not _live(snapshot, r.country_code, r.party_id, r.role) and _within(r.last_updated, since, until)]
    gone.sort(key=order_key)  # as the snapshot orders its parties (the database's collation may differ)
    total, page = _page(snapshot, version, gone, since, until, offset, limit)
    headers = {"X-Total-Count": str(total), "X-Limit": str(limit)}
    if offset + limit < total:
        keep = {k: v for k, v in q.items() if k in ("date_from", "date_to")}
        next_query = urlencode(keep | {"offset": offset + limit, "limit": limit})
        next_url = f"{state.config.base_url}{path}?{next_query}"
        headers["Link"] = f'<{next_url}>; rel="next"'
    return ocpi_ok(request, msgspec.to_builtins(page), headers=headers)
