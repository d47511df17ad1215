"""Which modules the hub routes, under which URLs, and which roles sit on each side of them."""

from __future__ import annotations

from partners.model import InterfaceRole, Role

VERSION = "2.2.1"
PREFIX = f"/ocpi/{VERSION}"
CALLBACK_PREFIX = f"{PREFIX}/callback/"

CPO_SIDE: frozenset[Role] = frozenset({Role.CPO})
# OTHER counts as an eMSP-type role (transport chapter, Broadcast Push); NSP, NAP and SCSP sit on
# the same side of every routed module as the eMSP.
EMSP_SIDE: frozenset[Role] = frozenset({Role.EMSP, Role.OTHER, Role.NSP, Role.NAP, Role.SCSP})

SENDER_SIDE: dict[str, frozenset[Role]] = {
    "cdrs": CPO_SIDE,
    "locations": CPO_SIDE,
    "sessions": CPO_SIDE,
    "tariffs": CPO_SIDE,
    "tokens": EMSP_SIDE,
    "commands": EMSP_SIDE,
    "chargingprofiles": EMSP_SIDE,
}
"""Roles that implement the module's SENDER interface (for data modules: the data owner)."""

ROUTED_MODULES: tuple[str, ...] = tuple(sorted(SENDER_SIDE))

INTERFACE_SEGMENT = {InterfaceRole.SENDER: "sender", InterfaceRole.RECEIVER: "receiver"}
SEGMENT_INTERFACE = {v: k for k, v in INTERFACE_SEGMENT.items()}

# Modules whose requests carry a response_url the receiver later POSTs to.
CALLBACK_MODULES = frozenset({"commands", "chargingprofiles"})


def hub_endpoint_path(module: str, interface: InterfaceRole) -> str:
    """The hub's endpoint for a module interface. A caller uses the hub exactly as it would use its
    counterparty, and the hub forwards to the receiver's endpoint of the same module and interface:
    a CPO pushes to ``/receiver/locations``, which leads to the eMSP's locations RECEIVER endpoint."""
    return f"{PREFIX}/{INTERFACE_SEGMENT[interface]}/{module}"


def caller_roles(module: str, interface: InterfaceRole) -> frozenset[Role]:
    """Roles that call the hub's ``interface`` endpoint of ``module``."""
    sender_side = SENDER_SIDE[module]
    if interface is InterfaceRole.RECEIVER:
        return sender_side
    return EMSP_SIDE if sender_side is CPO_SIDE else CPO_SIDE


def receiver_roles(module: str, interface: InterfaceRole) -> frozenset[Role]:
    """Roles that implement ``interface`` of ``module``, i.e. that the request is forwarded to."""
    sender_side = SENDER_SIDE[module]
    if interface is InterfaceRole.SENDER:
        return sender_side
    return EMSP_SIDE if sender_side is CPO_SIDE else CPO_SIDE


class RoutePath:
    """A hub path ``/ocpi/2.2.1/{sender|receiver}/{module}{suffix}`` that passed path confinement
    (``routing.paths.confine``): ``segments`` are the suffix's segments percent-decoded (what the
    rules read: owner, object id), ``suffix`` is the clean suffix as the caller encoded it (what is
    appended to the receiver's module endpoint: object ids may hold reserved characters; empty for the
    collection itself, with or without a trailing slash). ``tolerated`` names the URL-shape deviation
    the caller made, if any (the ``kind`` of ``ocpihub_tolerated_deviations_total``)."""

    __slots__ = ("interface", "module", "segments", "suffix", "tolerated")

    def __init__(self, interface: InterfaceRole, module: str, segments: tuple[str, ...], suffix: str,
                 tolerated: str | None = None) -> None:
        self.interface = interface
        self.module = module
        self.segments = segments
        self.suffix = suffix
        self.tolerated = tolerated
