"""How the hub reads a request in an OCPI version without interface roles and routing headers (2.1.1),
and what it leaves out towards a receiver of that version.

2.1.1 has one endpoint per module, no ``OCPI-from/to-*`` headers and no hub: a 2.1.1 party calls the hub
exactly as it would call its counterparty, so which interface it uses follows from its role and the
module, and whom it addresses follows from the request itself (open routing, broadcast, GET all), as
for a request addressed to the hub. Pure functions over the snapshot's platform.
"""

from __future__ import annotations

from collections.abc import Iterable

from partners.errors import InvalidParametersError
from partners.model import InterfaceRole, Role
from partners.registry import PartyKey, Platform
from routing.modules import SENDER_SIDE, RolelessPath, RoutePath
from routing.versions.version import OcpiVersion

HEADERLESS: frozenset[OcpiVersion] = frozenset({OcpiVersion.V2_1_1})
"""Versions without routing headers (and without interface roles on their endpoints)."""


def interface_for(roles: Iterable[Role], module: str, method: str, segments: tuple[str, ...]) -> InterfaceRole:
    """The interface a caller with ``roles`` uses on its counterparty's ``module`` endpoint: the data
    owner pushes to the RECEIVER interface (a CPO's locations, sessions, CDRs, tariffs; an eMSP's tokens
    and commands), the other side calls the SENDER interface (an eMSP pulls locations, a CPO pulls tokens
    or asks for a real-time authorization). A platform with parties on both sides (one company as CPO
    and eMSP) is read by what the request does: GET and POST ``.../authorize`` call a SENDER interface,
    every other method pushes."""
    owners = SENDER_SIDE[module]
    sides = {role in owners for role in roles}
    if not sides:
        raise InvalidParametersError("this platform has no party the hub knows of: nothing can be routed for it")
    if len(sides) == 1:
        return InterfaceRole.RECEIVER if True in sides else InterfaceRole.SENDER
    if method == "GET" or (method == "POST" and segments[-1:] == ("authorize",)):
        return InterfaceRole.SENDER
    return InterfaceRole.RECEIVER


def routed(target: RoutePath | RolelessPath, platform: Platform, method: str) -> RoutePath:
    """The path with its interface: as the URL says (2.2 on), or from the caller's role (2.1.1)."""
    if isinstance(target, RoutePath):
        return target
    roles = (party.role for party in platform.parties)
    return target.as_interface(interface_for(roles, target.module, method, target.segments))


def addressed(key: PartyKey | None, route_path: RoutePath, hub_party: PartyKey) -> PartyKey | None:
    """The OCPI-to party of a request: a version without routing headers addresses the hub, whose rules
    (open routing, broadcast, GET all) then find the receivers."""
    if key is None and route_path.version in HEADERLESS:
        return hub_party
    return key


def sends_routing_headers(platform: Platform) -> bool:
    """Whether requests to ``platform`` carry ``OCPI-from/to-*``: not to a 2.1.1 platform, which knows none."""
    return platform.version not in HEADERLESS
