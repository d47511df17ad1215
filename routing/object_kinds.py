"""Which OCPI object a routed request carries, and which one its answer carries, read from the module,
the interface, the method and the path: what the version bridge translates, in each direction.

The same in every version (2.1.1's URLs have the same shape after the module as 2.2's, interface
decided from the caller's role). A path the table does not know names no object: its answer passes as
it came, and a body there cannot be translated.
"""

from __future__ import annotations

from typing import NamedTuple

from partners.model import InterfaceRole

_S, _R = InterfaceRole.SENDER, InterfaceRole.RECEIVER


class Kinds(NamedTuple):
    body: str | None
    """The kind of the request body (``routing.versions`` kinds: ``location``, ``session``, ...)."""
    answer: str | None
    """The kind of the answer's ``data``."""
    page: bool = False
    """The answer's ``data`` is a list (a paginated GET)."""


NOTHING = Kinds(None, None)

COMMANDS = {"START_SESSION": "start_session", "STOP_SESSION": "stop_session", "RESERVE_NOW": "reserve_now",
            "CANCEL_RESERVATION": "cancel_reservation", "UNLOCK_CONNECTOR": "unlock_connector"}
"""CommandType → the kind of its request object."""

_LOCATION_PARTS = ("location", "evse", "connector")
_OWNED = {"sessions": "session", "tariffs": "tariff", "tokens": "token"}
_PUSHES = ("PUT", "PATCH")
_PAGES = {"locations": "location", "sessions": "session", "cdrs": "cdr", "tariffs": "tariff", "tokens": "token"}
"""Module → the kind of each object of its GET all page."""


def _pushed_or_read(kind: str | None, method: str) -> Kinds:
    if kind is None:
        return NOTHING
    if method in _PUSHES:
        return Kinds(kind, None)
    if method == "GET":
        return Kinds(None, kind)
    return NOTHING


def kinds(module: str, interface: InterfaceRole, method: str, segments: tuple[str, ...]) -> Kinds:
    n = len(segments)
    if interface is _R:
        if module == "locations":
            # /{country_code}/{party_id}/{location_id}[/{evse_uid}[/{connector_id}]]
            return _pushed_or_read(_LOCATION_PARTS[n - 3] if 3 <= n <= 5 else None, method)
        if module in _OWNED:
            return _pushed_or_read(_OWNED[module] if n == 3 else None, method)
        if module == "cdrs":
            if method == "POST" and n == 0:
                return Kinds("cdr", None)
            return Kinds(None, "cdr") if method == "GET" and n == 1 else NOTHING
        if module == "commands" and method == "POST" and n == 1:
            kind = COMMANDS.get(segments[0].upper())
            return Kinds(kind, "command_response") if kind is not None else NOTHING
        return NOTHING
    if method == "GET":
        if n == 0:
            page = _PAGES.get(module)
            return Kinds(None, page, True) if page is not None else NOTHING
        if module == "locations" and n <= 3:
            # /{location_id}[/{evse_uid}[/{connector_id}]]
            return Kinds(None, _LOCATION_PARTS[n - 1])
        return NOTHING
    if module == "tokens" and method == "POST" and n == 2 and segments[1] == "authorize":
        return Kinds("location_references", "authorization_info")
    if module == "sessions" and method == "PUT" and n == 2 and segments[1] == "charging_preferences":
        return Kinds("charging_preferences", None)
    if module == "commands" and method == "POST" and n >= 1:
        return Kinds("command_result", None)  # a result POSTed to the eMSP's commands endpoint directly
    return NOTHING
