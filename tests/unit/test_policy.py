"""The policy as tables: every rule, every role, every module, with no server and no database.

The expected sides are written out here from the spec's module chapters (who calls which interface),
not derived from routing.modules, so a wrong entry there fails here."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from partners.model import ConnectionStatus, InterfaceRole, Role
from partners.registry import AgreementRow, Party, PartyRow, PlatformRow, Snapshot, build_snapshot
from routing import body_view
from routing.errors import (
    RULES,
    AgreementDeniedError,
    DeniedError,
    OwnershipDeniedError,
    RoleDeniedError,
    SuspendedError,
)
from routing.learned import Kind
from routing.policy import Ask, Policy, refuse_suspended

S, R = InterfaceRole.SENDER, InterfaceRole.RECEIVER
MODULES = ("cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens")
PARTY_ROLES = (Role.CPO, Role.EMSP, Role.NSP, Role.NAP, Role.SCSP, Role.OTHER)
EMSP_SIDE = (Role.EMSP, Role.NSP, Role.NAP, Role.SCSP, Role.OTHER)

# Who calls each interface through the hub (from the module chapters): a CPO pushes locations,
# sessions, CDRs and tariffs to eMSPs and pulls tokens / asks real-time authorization; the eMSP side
# pushes tokens, sends commands and charging profiles, and pulls locations, sessions, CDRs and tariffs.
CALLED_BY_CPO = {("locations", R), ("sessions", R), ("cdrs", R), ("tariffs", R), ("tokens", S), ("commands", S),
                 ("chargingprofiles", S)}

NOW = 1_800_000_000.0


def party(cc: str, pid: str, role: Role, platform: int = 1) -> Party:
    return Party(country_code=cc, party_id=pid, role=role, platform_id=platform)


CPO = party("NL", "CPO", Role.CPO)
CP2 = party("NL", "CP2", Role.CPO)
MSP = party("DE", "MSP", Role.EMSP)
MS2 = party("BE", "MSP", Role.EMSP)


def agreement(n: int, cpo: Party, emsp: Party, modules: list[str] | None = None, start: float = 0.0,
              until: float | None = None) -> AgreementRow:
    return AgreementRow(id=n, cpo_country_code=cpo.country_code, cpo_party_id=cpo.party_id,
                        emsp_country_code=emsp.country_code, emsp_party_id=emsp.party_id, modules=modules,
                        valid_from=start, valid_until=until)


def snapshot(*agreements: AgreementRow) -> Snapshot:
    return build_snapshot([], [], agreements)


def ask(sender: Party, module: str, interface: InterfaceRole, path: str = "", body: bytes | None = None,
        method: str | None = None) -> Ask:
    segments = tuple(s for s in path.split("/") if s)
    method = method or ("PUT" if body is not None else "GET")
    return Ask(sender, method, module, interface, segments, body_view.read(body))


def counterpart(module: str, interface: InterfaceRole, sender: Party) -> Party:
    """A receiver on the other side from a sender that may call this interface."""
    return MSP if sender.role is Role.CPO else CPO


OPEN = Policy(agreements_required=False)
REQUIRED = Policy(agreements_required=True)


# -- rule: role ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", PARTY_ROLES)
@pytest.mark.parametrize("interface", [S, R])
@pytest.mark.parametrize("module", MODULES)
def test_sender_role_must_call_the_interface(module: str, interface: InterfaceRole, role: Role) -> None:
    sender = party("FR", "ABC", role)
    allowed = ((module, interface) in CALLED_BY_CPO) == (role is Role.CPO)
    receiver = MSP if role is Role.CPO else CPO
    if allowed:
        OPEN.decide(snapshot(), ask(sender, module, interface), receiver, NOW)
    else:
        with pytest.raises(RoleDeniedError, match=f"FR\\*ABC is a {role} party"):
            OPEN.decide(snapshot(), ask(sender, module, interface), receiver, NOW)


@pytest.mark.parametrize("role", PARTY_ROLES)
@pytest.mark.parametrize("interface", [S, R])
@pytest.mark.parametrize("module", MODULES)
def test_receiver_role_must_serve_the_interface(module: str, interface: InterfaceRole, role: Role) -> None:
    cpo_calls = (module, interface) in CALLED_BY_CPO
    sender = CPO if cpo_calls else MSP
    receiver = party("FR", "XYZ", role)
    allowed = (role is Role.CPO) != cpo_calls  # the receiver sits on the other side
    if allowed:
        OPEN.decide(snapshot(), ask(sender, module, interface), receiver, NOW)
    else:
        with pytest.raises(RoleDeniedError, match="FR\\*XYZ"):
            OPEN.decide(snapshot(), ask(sender, module, interface), receiver, NOW)


# -- rule: ownership -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(("module", "sender", "own", "other"), [
    ("locations", CPO, "/NL/CPO/LOC1", "/NL/CP2/LOC1"),
    ("sessions", CPO, "/NL/CPO/S1", "/NL/CP2/S1"),
    ("tariffs", CPO, "/NL/CPO/T1", "/nl/cp2/T1"),  # case-insensitive
    ("tokens", MSP, "/DE/MSP/TOK1", "/BE/MSP/TOK1"),
])
def test_url_owner_must_be_the_sender(module: str, sender: Party, own: str, other: str, method: str) -> None:
    receiver = counterpart(module, R, sender)
    OPEN.decide(snapshot(), ask(sender, module, R, own.lower(), method=method), receiver, NOW)
    with pytest.raises(OwnershipDeniedError, match=re.escape(f"{sender.label} may only address its own {module}")):
        OPEN.decide(snapshot(), ask(sender, module, R, other, method=method), receiver, NOW)
    with pytest.raises(OwnershipDeniedError):
        OPEN.decide(snapshot(), ask(sender, module, R, other.rsplit("/", 2)[0], method=method), receiver, NOW)


@pytest.mark.parametrize(("module", "sender", "path"), [
    ("locations", CPO, "/NL/CPO/LOC1"), ("sessions", CPO, "/NL/CPO/S1"), ("cdrs", CPO, ""),
    ("tariffs", CPO, "/NL/CPO/T1"), ("tokens", MSP, "/DE/MSP/TOK1"),
])
@pytest.mark.parametrize(("owner", "allowed"), [
    ({}, True),  # a PATCH, or a 2.1.1-style object: no owner fields to check
    ({"country_code": "{cc}", "party_id": "{pid}"}, True),
    ({"country_code": "{cc_lower}", "party_id": "{pid_lower}"}, True),
    ({"country_code": "XX", "party_id": "{pid}"}, False),
    ({"country_code": "{cc}", "party_id": "ZZZ"}, False),
    ({"country_code": 5, "party_id": "{pid}"}, False),  # not a string: never the sender's
])
def test_body_owner_must_be_the_sender(module: str, sender: Party, path: str, owner: dict[str, Any],
                                       allowed: bool) -> None:
    fill = {"cc": sender.country_code, "pid": sender.party_id, "cc_lower": sender.country_code.lower(),
            "pid_lower": sender.party_id.lower()}
    fields = {k: v.format(**fill) if isinstance(v, str) else v for k, v in owner.items()}
    for body in (json.dumps({"id": "X", **fields}), json.dumps([{"id": "X", **fields}])):  # plain, and wrapped
        request = ask(sender, module, R, path, body.encode(), method="POST" if module == "cdrs" else "PUT")
        if allowed:
            OPEN.decide(snapshot(), request, counterpart(module, R, sender), NOW)
        else:
            with pytest.raises(OwnershipDeniedError, match="may only push its own"):
                OPEN.decide(snapshot(), request, counterpart(module, R, sender), NOW)


@pytest.mark.parametrize(("body", "allowed"), [
    (b'{"token": {"uid": "T1", "country_code": "DE", "party_id": "MSP"}, "location_id": "L"}', True),
    (b'{"token": {"uid": "T1"}, "location_id": "L"}', True),
    (b'{"session_id": "S1"}', True),
    (b'{"token": {"uid": "T1", "country_code": "BE", "party_id": "MSP"}, "location_id": "L"}', False),
    (b'{"token": {"uid": "T1", "country_code": "DE", "party_id": "XXX"}}', False),
])
def test_command_token_must_be_the_senders(body: bytes, allowed: bool) -> None:
    request = ask(MSP, "commands", R, "/START_SESSION", body, method="POST")
    if allowed:
        OPEN.decide(snapshot(), request, CPO, NOW)
    else:
        with pytest.raises(OwnershipDeniedError, match="its own tokens"):
            OPEN.decide(snapshot(), request, CPO, NOW)


@pytest.mark.parametrize("module", ["sessions", "cdrs"])
def test_session_or_cdr_goes_only_to_the_emsp_of_its_cdr_token(module: str) -> None:
    body = b'{"id": "X", "cdr_token": {"uid": "T", "country_code": "de", "party_id": "msp"}}'
    path = "/NL/CPO/X" if module == "sessions" else ""
    OPEN.decide(snapshot(), ask(CPO, module, R, path, body), MSP, NOW)
    with pytest.raises(OwnershipDeniedError, match="cdr_token, DE\\*MSP: it may not go to BE\\*MSP"):
        OPEN.decide(snapshot(), ask(CPO, module, R, path, body), MS2, NOW)


@pytest.mark.parametrize("module", ["locations", "tariffs", "sessions", "cdrs"])
def test_sender_interfaces_have_no_owner_in_the_url(module: str) -> None:
    # An eMSP reading a CPO's object names the object, not an owner: nothing to match.
    OPEN.decide(snapshot(), ask(MSP, module, S, "/NL/CP2/LOC1"), CPO, NOW)


# -- rule: agreement -------------------------------------------------------------------------------


@pytest.mark.parametrize(("module", "interface"), sorted((m, i) for m in MODULES for i in (S, R)))
def test_required_mode_needs_an_agreement_covering_the_module(module: str, interface: InterfaceRole) -> None:
    cpo_calls = (module, interface) in CALLED_BY_CPO
    sender, receiver = (CPO, MSP) if cpo_calls else (MSP, CPO)
    request = ask(sender, module, interface)
    OPEN.decide(snapshot(), request, receiver, NOW)  # open mode: no agreement needed
    with pytest.raises(AgreementDeniedError, match="no roaming agreement between CPO NL\\*CPO and DE\\*MSP"):
        REQUIRED.decide(snapshot(), request, receiver, NOW)
    REQUIRED.decide(snapshot(agreement(1, CPO, MSP)), request, receiver, NOW)  # all modules
    REQUIRED.decide(snapshot(agreement(1, CPO, MSP, [module])), request, receiver, NOW)
    others = [m for m in MODULES if m != module]
    with pytest.raises(AgreementDeniedError):
        REQUIRED.decide(snapshot(agreement(1, CPO, MSP, others)), request, receiver, NOW)
    with pytest.raises(AgreementDeniedError):  # an agreement of other parties does not count
        REQUIRED.decide(snapshot(agreement(1, CP2, MSP), agreement(2, CPO, MS2)), request, receiver, NOW)


@pytest.mark.parametrize(("start", "until", "allowed"), [
    (NOW - 10, None, True),
    (NOW - 10, NOW + 10, True),
    (NOW, NOW + 10, True),  # starts now
    (NOW + 1, None, False),  # not yet
    (NOW - 10, NOW, False),  # ended now
    (NOW - 10, NOW - 1, False),
])
def test_agreement_takes_effect_by_the_clock(start: float, until: float | None, allowed: bool) -> None:
    snap = snapshot(agreement(1, CPO, MSP, start=start, until=until))
    request = ask(MSP, "locations", S, "/LOC1")
    if allowed:
        REQUIRED.decide(snap, request, CPO, NOW)
    else:
        with pytest.raises(AgreementDeniedError):
            REQUIRED.decide(snap, request, CPO, NOW)


@pytest.mark.parametrize("role", EMSP_SIDE)
def test_every_emsp_side_role_can_hold_an_agreement(role: Role) -> None:
    other = party("SE", "NSP", role)
    snap = snapshot(agreement(1, CPO, other, ["locations"]))
    REQUIRED.decide(snap, ask(CPO, "locations", R, "/NL/CPO/L1", b'{"id": "L1"}'), other, NOW)
    REQUIRED.decide(snap, ask(other, "locations", S, "/L1"), CPO, NOW)


def test_filters_keep_only_receivers_the_sender_may_reach() -> None:
    class Route:
        def __init__(self, p: Party) -> None:
            self.party = p

    snap = snapshot(agreement(1, CPO, MSP), agreement(2, CPO, MS2, until=NOW - 1))
    routes = [Route(MSP), Route(MS2), Route(CP2)]
    request = ask(CPO, "locations", R, "/NL/CPO/L1", b"{}")
    assert [r.party for r in REQUIRED.receivers(snap, request, routes, NOW)] == [MSP]
    assert [r.party for r in OPEN.receivers(snap, request, routes, NOW)] == [MSP, MS2]  # a CPO receives no locations
    assert REQUIRED.admits(snap, request, MSP.key, NOW) and not REQUIRED.admits(snap, request, MS2.key, NOW)
    assert OPEN.admits(snap, request, MS2.key, NOW)


# -- rule: suspended -------------------------------------------------------------------------------


def platform(status: ConnectionStatus, suspended: bool) -> Any:
    row = PlatformRow(id=1, name="p", status=status, token_hash=b"x" * 32, outbound_token="o", versions_url=None,
                      version=None, endpoints=[], suspended=suspended)
    return build_snapshot([row], [PartyRow(platform_id=1, country_code="NL", party_id="CPO", role=Role.CPO,
                                           business_name="", last_updated="")]).platforms[1]


@pytest.mark.parametrize(("status", "suspended", "refused"), [
    (ConnectionStatus.CONNECTED, False, False),
    (ConnectionStatus.OFFLINE, False, False),
    (ConnectionStatus.CONNECTED, True, True),  # a credentials PUT made it CONNECTED: still suspended
    (ConnectionStatus.OFFLINE, True, True),
])
def test_suspended_platform_is_refused(status: ConnectionStatus, suspended: bool, refused: bool) -> None:
    p = platform(status, suspended)
    if refused:
        assert p.status is ConnectionStatus.SUSPENDED
        with pytest.raises(SuspendedError, match="suspended by the hub operator"):
            refuse_suspended(p)
    else:
        refuse_suspended(p)


# -- the error classes -----------------------------------------------------------------------------


def test_every_rule_has_one_error_class_with_an_ocpi_code_and_http_200() -> None:
    assert RULES == ("role", "ownership", "agreement", "suspended", "ambiguous")
    for cls in DeniedError.__subclasses__():
        assert cls.rule in RULES and cls.http_status == 200 and cls.ocpi_status in (2000, 2001, 2002, 4000)
    assert len({cls.rule for cls in DeniedError.__subclasses__()}) == len(RULES)


def test_messages_never_hold_more_than_parties_and_modules() -> None:
    with pytest.raises(DeniedError) as caught:
        REQUIRED.decide(snapshot(), ask(CPO, "locations", R, "/NL/CPO/L1", b"{}"), MSP, NOW)
    assert caught.value.message == "no roaming agreement between CPO NL*CPO and DE*MSP covers locations now"
    assert math.isinf(snapshot(agreement(1, CPO, MSP)).agreements[(*CPO.key, *MSP.key)][0].valid_until)


# -- ownership of a session: STOP_SESSION and charging profiles ------------------------------------

# The hub saw NL*CPO's session S1 go to DE*MSP, and DE*MSP make reservation R1 at NL*CPO.
SEEN = {(Kind.SESSION, CPO.key, "S1"): MSP.key, (Kind.RESERVATION, CPO.key, "R1"): MSP.key}


def seen(kind: Kind, cpo: tuple[str, str], object_id: str) -> tuple[str, str] | None:
    return SEEN.get((kind, cpo, object_id))


@pytest.mark.parametrize(("sender", "module", "path", "body", "method", "refused"), [
    (MS2, "commands", "/STOP_SESSION", b'{"session_id": "S1", "response_url": "x"}', "POST", True),
    (MS2, "chargingprofiles", "/S1", b'{"response_url": "x"}', "PUT", True),
    (MS2, "chargingprofiles", "/S1", None, "GET", True),
    (MS2, "chargingprofiles", "/S1", None, "DELETE", True),
    (MSP, "commands", "/STOP_SESSION", b'{"session_id": "S1", "response_url": "x"}', "POST", False),
    (MSP, "chargingprofiles", "/S1", None, "DELETE", False),
    (MS2, "commands", "/STOP_SESSION", b'{"session_id": "S2", "response_url": "x"}', "POST", False),  # never seen
    (MS2, "commands", "/START_SESSION", b'{"location_id": "S1", "response_url": "x"}', "POST", False),
    (MS2, "commands", "/STOP_SESSION", b'{"session_id": 7, "response_url": "x"}', "POST", False),  # no id
    (MS2, "commands", "/CANCEL_RESERVATION", b'{"reservation_id": "R1", "response_url": "x"}', "POST", True),
    (MS2, "commands", "/RESERVE_NOW", b'{"reservation_id": "R1", "response_url": "x"}', "POST", True),
    (MSP, "commands", "/CANCEL_RESERVATION", b'{"reservation_id": "R1", "response_url": "x"}', "POST", False),
    (MS2, "commands", "/RESERVE_NOW", b'{"reservation_id": "R2", "response_url": "x"}', "POST", False),
])
def test_an_emsp_acts_on_its_own_sessions_and_reservations_only(sender: Party, module: str, path: str,
                                                                body: bytes | None, method: str,
                                                                refused: bool) -> None:
    request = ask(sender, module, R, path, body, method)
    if refused:
        with pytest.raises(OwnershipDeniedError, match=r"(session S1|reservation R1) of NL\*CPO belongs to DE\*MSP"):
            Policy(agreements_required=False).admit_session(request, CPO, seen)
    else:
        Policy(agreements_required=False).admit_session(request, CPO, seen)


def test_a_session_of_another_cpo_with_the_same_id_is_not_confused() -> None:
    request = ask(MS2, "commands", R, "/STOP_SESSION", b'{"session_id": "S1"}', "POST")
    Policy(agreements_required=False).admit_session(request, CP2, seen)  # NL*CP2's S1 is not NL*CPO's
