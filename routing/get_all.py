"""GET all via the hub: one paginated list combining every owner's objects.

Owners are taken in a fixed order (party key); the hub asks each for its ``X-Total-Count`` under the
caller's filters, maps the requested ``offset``/``limit`` window onto the owners it spans, fetches
those slices, and answers with the objects as they came (each keeps its owner's country_code and
party_id; bytes are not re-encoded). An owner that fails or times out is left out of the page,
named in a ``Warning`` header and a log line, rather than failing the whole request.

An owner that sends no ``X-Total-Count`` (a common deviation) is counted by walking its list in pages
of 1,000 (objects are counted, not kept), following ``rel="next"`` links' presence and ``X-Limit``
to see the end, at most 200 pages; the count is kept for a minute per owner and filter, so a client
walking the combined list page by page does not walk that owner's list again for each page.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Protocol
from urllib.parse import parse_qsl, urlencode

import msgspec

from partners import strict_json
from partners.registry import Party
from routing import envelope
from routing.forward import Forwarder, UpstreamFailure, forwarded_headers
from routing.headerless import sends_routing_headers
from routing.resolve import Route
from routing.upstream_client import Response

log = logging.getLogger("ocpihub.get_all")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_COUNT_PAGES = 200
COUNT_TTL = 60.0


class _Page(msgspec.Struct):
    data: list[msgspec.Raw] = []
    status_code: int = 1000




class _Failed(Exception):
    pass


def _int(params: dict[str, str], name: str, default: int) -> int:
    try:
        return max(0, int(params.get(name, default)))
    except ValueError:
        return default


class _Fetched:
    __slots__ = ("data", "has_next", "total", "x_limit")

    def __init__(self, total: int | None, data: list[msgspec.Raw], has_next: bool, x_limit: int | None) -> None:
        self.total = total
        self.data = data
        self.has_next = has_next
        self.x_limit = x_limit


def _number(response: Response, name: bytes) -> int | None:
    return next((int(v) for k, v in response.headers if k.lower() == name and v.strip().isdigit()), None)


def _links_next(response: Response) -> bool:
    return any(k.lower() == b"link" and b"next" in v for k, v in response.headers)


class Totals:
    """Owner list sizes counted by walking (owners without X-Total-Count), kept for ``COUNT_TTL``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, size: int = 10_000) -> None:
        self.clock = clock
        self.size = size
        self._counts: dict[tuple[int, str, str], tuple[float, int]] = {}

    def get(self, key: tuple[int, str, str]) -> int | None:
        found = self._counts.get(key)
        if found is None or found[0] < self.clock():
            return None
        return found[1]

    def put(self, key: tuple[int, str, str], total: int) -> None:
        if len(self._counts) >= self.size:
            self._counts.clear()
        self._counts[key] = (self.clock() + COUNT_TTL, total)


_NO_TOTALS = Totals(size=0)


def _as_is(endpoint: str, suffix: str) -> str:
    return endpoint


class OwnerObjects(Protocol):
    """Carries one owner's objects into the caller's OCPI version (``routing.crossing.OwnerPages``)."""

    async def __call__(self, route: Route, items: list[msgspec.Raw]) -> list[msgspec.Raw] | list[bytes]: ...

    def message(self) -> str | None: ...


async def get_all(forwarder: Forwarder, owners: list[Route], caller: Party, query: str, correlation_id: str,
                  hub_endpoint: str, *, collection_url: Callable[[str, str], str] = _as_is,
                  timeout: float | None = None, totals: Totals = _NO_TOTALS, translate: OwnerObjects | None = None,
                  tolerated: Callable[[str], None] | None = None) -> Response:
    """``translate``: set when owners may speak another version than the caller; ``tolerated`` counts an
    owner that answered more than it was asked for (its list is sliced here instead)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    offset = _int(params, "offset", 0)
    limit = min(_int(params, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
    filters = {k: v for k, v in params.items() if k in ("date_from", "date_to")}
    left_out: list[str] = []

    async def fetch(route: Route, at: int, count: int) -> _Fetched:
        """One owner's window, with what its headers say about the rest."""
        assert route.platform.outbound_auth is not None
        url = f"{collection_url(route.endpoint, '')}?{urlencode(filters | {'offset': at, 'limit': count})}"
        headers = forwarded_headers(route.platform.outbound_auth, str(uuid.uuid4()), correlation_id, caller.key,
                                    route.party.key, json_body=False, routing=sends_routing_headers(route.platform))
        try:
            response = await forwarder.send("GET", url, headers, None, route.party.label, route.platform,
                                            timeout=timeout)
            if response.status in (401, 403):
                raise _Failed(f"refused the hub's credentials, HTTP {response.status}")
            page = strict_json.decode(response.body, _Page)
        except (UpstreamFailure, strict_json.InvalidJson, msgspec.ValidationError) as exc:
            raise _Failed(str(exc)) from None
        if response.status >= 400 or not 1000 <= page.status_code < 2000:
            raise _Failed(f"answered HTTP {response.status}, status_code {page.status_code}")
        total, data = _number(response, b"x-total-count"), page.data
        if len(data) > count:
            # More than asked for: an owner without pagination (OCN-era 2.2 stacks) answers every object
            # whatever the offset, others only ignore the limit.
            if tolerated is not None:
                tolerated("unpaginated_answer")
            everything = at > 0 and (total is None or len(data) >= total)
            data = data[at:at + count] if everything else data[:count]
        return _Fetched(total, data, _links_next(response), _number(response, b"x-limit"))

    async def walk_count(route: Route) -> int:
        """The size of an owner's list that gives no X-Total-Count, counted page by page."""
        key = (route.platform.id, route.endpoint, urlencode(filters))
        known = totals.get(key)
        if known is not None:
            return known
        seen = 0
        for _ in range(MAX_COUNT_PAGES):
            page = await fetch(route, seen, MAX_LIMIT)
            seen += len(page.data)
            if not page.data:
                break
            if not page.has_next and len(page.data) < min(MAX_LIMIT, page.x_limit or MAX_LIMIT):
                break  # a short page and no link onward: the end
        else:
            left_out.append(f"{route.party.label} (counted only its first {seen} objects)")
        totals.put(key, seen)
        return seen

    async def count(route: Route) -> int | None:
        try:
            first = await fetch(route, 0, 1)
            if first.total is not None:
                return first.total
            if not first.data:
                return 0
            return await walk_count(route)
        except _Failed as exc:
            left_out.append(f"{route.party.label} ({exc})")
            log.warning("GET all left out a party", extra={"receiver": route.party.label,
                                                          "correlation_id": correlation_id, "reason": str(exc)})
            return None

    sizes = await asyncio.gather(*(count(route) for route in owners))
    windows: list[tuple[Route, int, int]] = []
    start = 0
    for route, total in zip(owners, sizes, strict=True):
        if total is None:
            continue
        lo, hi = max(offset, start), min(offset + limit, start + total)
        if lo < hi:
            windows.append((route, lo - start, hi - lo))
        start += total
    grand_total = start

    async def slice_of(route: Route, at: int, count: int) -> list[msgspec.Raw]:
        objects: list[msgspec.Raw] = []
        try:
            while len(objects) < count:  # an owner may cap its pages below what we asked for
                got = (await fetch(route, at + len(objects), count - len(objects))).data
                if not got:
                    break
                objects += got
        except _Failed as exc:
            left_out.append(f"{route.party.label} ({exc})")
        return objects[:count]

    async def translated(route: Route, at: int, count: int) -> list[msgspec.Raw] | list[bytes]:
        objects = await slice_of(route, at, count)
        return await translate(route, objects) if translate is not None and objects else objects

    slices = await asyncio.gather(*(translated(*w) for w in windows))
    items = [obj for part in slices for obj in part]
    message = translate.message() if translate is not None else None
    said = b',"status_message":' + msgspec.json.encode(message) if message else b""
    body = b'{"data":[' + b",".join(items) + b'],"status_code":1000' + said + b',"timestamp":"' + \
        envelope.timestamp().encode() + b'"}'
    headers = [(b"content-type", b"application/json"), (b"x-total-count", str(grand_total).encode()),
               (b"x-limit", str(limit).encode())]
    if offset + limit < grand_total:
        next_query = urlencode(filters | {"offset": offset + limit, "limit": limit})
        headers.append((b"link", f'<{hub_endpoint}?{next_query}>; rel="next"'.encode()))
    if left_out:
        headers.append((b"warning", ('199 ocpi-hub "left out: ' + "; ".join(left_out)[:500].replace('"', "'")
                                     + '"').encode("latin-1", "replace")))
    return Response(200, headers, body)
