"""Which modules the hub routes, under which URLs, and which roles sit on each side of them."""

from __future__ import annotations

from partners.model import InterfaceRole, Role
from routing.versions.version import OcpiVersion

VERSION = "2.2.1"
PREFIX = f"/ocpi/{VERSION}"
CALLBACK_PREFIX = f"{PREFIX}/callback/"

CPO_SIDE: frozenset[Role] = frozenset({Role.CPO})
# OTHER counts as an eMSP-type role (transport chapter, Broadcast Push); NSP, NAP and SCSP sit on
# the same side of every routed module as the eMSP, and so does the PTP (2.3.0) everywhere but in
# payments: it starts sessions, pulls locations and tariffs and receives CDRs like an eMSP.
EMSP_SIDE: frozenset[Role] = frozenset({Role.EMSP, Role.OTHER, Role.NSP, Role.NAP, Role.SCSP, Role.PTP})
# 2.3.0 payments: the PTP owns Terminals and Financial Advice Confirmations (SENDER), the CPO receives them.
PTP_SIDE: frozenset[Role] = frozenset({Role.PTP})

SENDER_SIDE: dict[str, frozenset[Role]] = {
    "cdrs": CPO_SIDE,
    "locations": CPO_SIDE,
    "sessions": CPO_SIDE,
    "tariffs": CPO_SIDE,
    "tokens": EMSP_SIDE,
    "commands": EMSP_SIDE,
    "chargingprofiles": EMSP_SIDE,
    "payments": PTP_SIDE,
}
"""Roles that implement the module's SENDER interface (for data modules: the data owner)."""

ROUTED_MODULES: tuple[str, ...] = tuple(sorted(SENDER_SIDE))

INTERFACE_SEGMENT = {InterfaceRole.SENDER: "sender", InterfaceRole.RECEIVER: "receiver"}
SEGMENT_INTERFACE = {v: k for k, v in INTERFACE_SEGMENT.items()}

# Modules whose requests carry a response_url the receiver later POSTs to.
CALLBACK_MODULES = frozenset({"commands", "chargingprofiles"})


def hub_endpoint_path(module: str, interface: InterfaceRole, version: OcpiVersion = OcpiVersion.V2_2_1) -> str:
    """The hub's endpoint for a module interface in ``version`` (2.1.1: one per module). A caller uses
    the hub exactly as it would use its counterparty, and the hub forwards to the receiver's endpoint of
    the same module and interface: a CPO pushes to ``/receiver/locations``, which leads to the eMSP's
    locations RECEIVER endpoint."""
    if version is OcpiVersion.V2_1_1:
        return f"/ocpi/{version}/{module}"
    return f"/ocpi/{version}/{INTERFACE_SEGMENT[interface]}/{module}"


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
    """A hub path ``/ocpi/{version}/{sender|receiver}/{module}{suffix}`` (or a 2.1.1 path whose interface
    was decided from the caller's role, see ``routing.headerless``) that passed path confinement
    (``routing.paths.confine``): ``segments`` are the suffix's segments percent-decoded (what the
    rules read: owner, object id), ``suffix`` is the clean suffix as the caller encoded it (what is
    appended to the receiver's module endpoint: object ids may hold reserved characters; empty for the
    collection itself, with or without a trailing slash). ``tolerated`` names the URL-shape deviation
    the caller made, if any (the ``kind`` of ``ocpihub_tolerated_deviations_total``). ``version`` is the
    OCPI version of the URL, so of the documents the caller sends and expects."""

    __slots__ = ("interface", "module", "segments", "suffix", "tolerated", "version")

    def __init__(self, interface: InterfaceRole, module: str, segments: tuple[str, ...], suffix: str,
                 tolerated: str | None = None, version: OcpiVersion = OcpiVersion.V2_2_1) -> None:
        self.interface = interface
        self.module = module
        self.segments = segments
        self.suffix = suffix
        self.tolerated = tolerated
        self.version = version


class RolelessPath:
    """A 2.1.1 path ``/ocpi/2.1.1/{module}{suffix}``: 2.1.1 endpoints have no interface role, so which
    interface the caller uses is decided once it is known who calls (``routing.headerless.routed``)."""

    __slots__ = ("module", "segments", "suffix", "tolerated", "version")

    def __init__(self, module: str, segments: tuple[str, ...], suffix: str, version: OcpiVersion,
                 tolerated: str | None = None) -> None:
        self.module = module
        self.segments = segments
        self.suffix = suffix
        self.version = version
        self.tolerated = tolerated

    def as_interface(self, interface: InterfaceRole) -> RoutePath:
        return RoutePath(interface, self.module, self.segments, self.suffix, self.tolerated, self.version)
