"""The routed URLs of every OCPI version as tables: what a path names, which interface a 2.1.1 caller
uses, whom a 2.1.1 request addresses, and which object each request and answer carries."""

from __future__ import annotations

import pytest

from partners.model import ConnectionStatus, InterfaceRole, Role
from partners.registry import Party, Platform
from routing.headerless import addressed, interface_for, routed, sends_routing_headers
from routing.modules import RolelessPath, RoutePath
from routing.object_kinds import Kinds, kinds
from routing.paths import NoSuchEndpointError, UnsafePathError, confine
from routing.versions import OcpiVersion

S, R = InterfaceRole.SENDER, InterfaceRole.RECEIVER
V211, V22, V221, V230 = OcpiVersion.V2_1_1, OcpiVersion.V2_2, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0
HUB = ("NL", "HUB")


@pytest.mark.parametrize(("raw", "version", "interface", "module", "segments", "suffix"), [
    ("/ocpi/2.2/sender/locations", V22, S, "locations", (), ""),
    ("/ocpi/2.2/receiver/sessions/CH/OCN/S1", V22, R, "sessions", ("CH", "OCN", "S1"), "/CH/OCN/S1"),
    ("/ocpi/2.2.1/receiver/commands/START_SESSION", V221, R, "commands", ("START_SESSION",), "/START_SESSION"),
    ("/ocpi/2.3.0/sender/payments/terminals/T1", V230, S, "payments", ("terminals", "T1"), "/terminals/T1"),
    ("/ocpi/2.3.0/receiver/cdrs/", V230, R, "cdrs", (), ""),
    ("/ocpi/2.1.1/locations/DE/OLD/LOC1", V211, None, "locations", ("DE", "OLD", "LOC1"), "/DE/OLD/LOC1"),
    ("/ocpi/2.1.1/locations", V211, None, "locations", (), ""),
    ("/ocpi/2.1.1/tokens/04A1/authorize", V211, None, "tokens", ("04A1", "authorize"), "/04A1/authorize"),
    ("/ocpi/2.1.1//cdrs/", V211, None, "cdrs", (), ""),
    ("/ocpi/2.1.1/locationsLOC1", V211, None, "locations", ("LOC1",), "/LOC1"),  # glued, as elsewhere
])
def test_every_version_prefix_names_its_module(raw: str, version: OcpiVersion, interface: InterfaceRole | None,
                                                module: str, segments: tuple[str, ...], suffix: str) -> None:
    found = confine("GET", raw.encode(), raw)
    assert (found.version, found.module, found.segments, found.suffix) == (  # type: ignore[union-attr]
        version, module, segments, suffix)
    if interface is None:
        assert isinstance(found, RolelessPath)
    else:
        assert isinstance(found, RoutePath) and found.interface is interface


@pytest.mark.parametrize("raw", [
    "/ocpi/2.2.1/sender/payments/terminals",  # payments is 2.3.0 only
    "/ocpi/2.2/receiver/payments",
    "/ocpi/2.1.1/chargingprofiles/S1",  # 2.1.1 has no charging profiles
    "/ocpi/2.1.1/hubclientinfo",  # nor a hub
    "/ocpi/2.1.1/sender/locations",  # nor interface roles
    "/ocpi/2.0/sender/locations",
    "/ocpi/2.2/callback/abc.def",  # tickets are issued under 2.2.1 only
])
def test_modules_a_version_lacks_are_no_endpoint(raw: str) -> None:
    with pytest.raises((NoSuchEndpointError, UnsafePathError)):
        confine("POST", raw.encode(), raw)


def test_2_1_1_paths_are_confined_like_every_other() -> None:
    with pytest.raises(UnsafePathError):
        confine("PUT", b"/ocpi/2.1.1/tokens/DE/MSP/%2e%2e/credentials", "ignored")


@pytest.mark.parametrize(("roles", "module", "method", "segments", "interface"), [
    # One role: the data owner pushes to its counterparty's RECEIVER interface, the other side pulls.
    ((Role.CPO,), "locations", "PUT", ("DE", "OLD", "L1"), R),
    ((Role.CPO,), "locations", "GET", ("DE", "OLD", "L1"), R),  # reading back its own push
    ((Role.CPO,), "cdrs", "POST", (), R),
    ((Role.CPO,), "tokens", "GET", (), S),
    ((Role.CPO,), "tokens", "POST", ("04A1", "authorize"), S),
    ((Role.EMSP,), "locations", "GET", (), S),
    ((Role.EMSP,), "locations", "GET", ("L1",), S),
    ((Role.EMSP,), "sessions", "GET", (), S),
    ((Role.EMSP,), "tokens", "PUT", ("DE", "MSP", "04A1"), R),
    ((Role.EMSP,), "commands", "POST", ("START_SESSION",), R),
    ((Role.OTHER,), "locations", "GET", (), S),
    # Both sides on one platform: read from what the request does.
    ((Role.CPO, Role.EMSP), "locations", "GET", (), S),
    ((Role.CPO, Role.EMSP), "locations", "PATCH", ("DE", "OLD", "L1"), R),
    ((Role.CPO, Role.EMSP), "tokens", "POST", ("04A1", "authorize"), S),
    ((Role.CPO, Role.EMSP), "commands", "POST", ("STOP_SESSION",), R),
    ((Role.CPO, Role.EMSP), "cdrs", "POST", (), R),
])
def test_the_interface_of_a_2_1_1_request_follows_the_callers_role(
        roles: tuple[Role, ...], module: str, method: str, segments: tuple[str, ...], interface: InterfaceRole) -> None:
    assert interface_for(roles, module, method, segments) is interface


def _platform(version: OcpiVersion | None, *roles: Role) -> Platform:
    return Platform(id=1, name="p", status=ConnectionStatus.CONNECTED, registered=True, versions_url=None,
                    version=version, endpoints={}, outbound_auth="Token t",
                    parties=tuple(Party(country_code="DE", party_id="OLD", role=r, platform_id=1) for r in roles))


def test_a_2_1_1_path_gets_its_interface_once_the_caller_is_known() -> None:
    path = confine("GET", b"/ocpi/2.1.1/locations", "ignored")
    assert isinstance(path, RolelessPath)
    found = routed(path, _platform(V211, Role.EMSP), "GET")
    assert (found.interface, found.module, found.version) == (S, "locations", V211)
    same = confine("GET", b"/ocpi/2.2.1/sender/locations", "ignored")
    assert isinstance(same, RoutePath) and routed(same, _platform(V221, Role.EMSP), "GET") is same


def test_a_2_1_1_request_without_routing_headers_addresses_the_hub() -> None:
    old = RoutePath(S, "locations", (), "", version=V211)
    new = RoutePath(S, "locations", (), "", version=V221)
    assert addressed(None, old, HUB) == HUB
    assert addressed(("DE", "CPO"), old, HUB) == ("DE", "CPO"), "headers a 2.1.1 stack sends anyway count"
    assert addressed(None, new, HUB) is None, "2.2 on: no OCPI-to is open routing, as before"


def test_no_routing_headers_go_to_a_2_1_1_platform() -> None:
    assert not sends_routing_headers(_platform(V211, Role.CPO))
    assert sends_routing_headers(_platform(V22, Role.CPO)) and sends_routing_headers(_platform(None, Role.CPO))


@pytest.mark.parametrize(("module", "interface", "method", "segments", "expected"), [
    ("locations", R, "PUT", ("NL", "CPO", "L1"), Kinds("location", None)),
    ("locations", R, "PATCH", ("NL", "CPO", "L1", "E1"), Kinds("evse", None)),
    ("locations", R, "PUT", ("NL", "CPO", "L1", "E1", "1"), Kinds("connector", None)),
    ("locations", R, "GET", ("NL", "CPO", "L1"), Kinds(None, "location")),
    ("locations", S, "GET", (), Kinds(None, "location", True)),
    ("locations", S, "GET", ("L1", "E1"), Kinds(None, "evse")),
    ("sessions", R, "PUT", ("NL", "CPO", "S1"), Kinds("session", None)),
    ("sessions", S, "GET", (), Kinds(None, "session", True)),
    ("sessions", S, "PUT", ("S1", "charging_preferences"), Kinds("charging_preferences", None)),
    ("cdrs", R, "POST", (), Kinds("cdr", None)),
    ("cdrs", R, "GET", ("CDR1",), Kinds(None, "cdr")),
    ("tariffs", R, "DELETE", ("NL", "CPO", "T1"), Kinds(None, None)),
    ("tokens", R, "PUT", ("DE", "MSP", "04A1"), Kinds("token", None)),
    ("tokens", S, "GET", (), Kinds(None, "token", True)),
    ("tokens", S, "POST", ("04A1", "authorize"), Kinds("location_references", "authorization_info")),
    ("commands", R, "POST", ("START_SESSION",), Kinds("start_session", "command_response")),
    ("commands", R, "POST", ("reserve_now",), Kinds("reserve_now", "command_response")),
    ("commands", R, "POST", ("SELF_DESTRUCT",), Kinds(None, None)),
    ("commands", S, "POST", ("START_SESSION", "42"), Kinds("command_result", None)),
    ("locations", R, "PUT", ("NL", "CPO"), Kinds(None, None)),
])
def test_which_object_a_request_and_its_answer_carry(module: str, interface: InterfaceRole, method: str,
                                                     segments: tuple[str, ...], expected: Kinds) -> None:
    assert kinds(module, interface, method, segments) == expected
