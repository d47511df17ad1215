"""Open-routing rules as a table: what each request without OCPI-to headers resolves to, from what
the hub learned keyed by owner and id."""

from __future__ import annotations

import pytest

from partners.errors import InvalidParametersError
from partners.model import InterfaceRole, Role
from partners.registry import Party, PartyKey
from routing import body_view
from routing.errors import AgreementDeniedError, AmbiguousReceiverError
from routing.learned import MAX_ID_LENGTH, Kind, LearnedRoutes
from routing.open_routing import broadcastable, decide, learn_from
from routing.policy import Ask

S, R = InterfaceRole.SENDER, InterfaceRole.RECEIVER
CPO = Party(country_code="NL", party_id="CPO", role=Role.CPO, platform_id=1)
CP2 = Party(country_code="NL", party_id="CP2", role=Role.CPO, platform_id=2)
MSP = Party(country_code="DE", party_id="MSP", role=Role.EMSP, platform_id=3)
MS2 = Party(country_code="BE", party_id="MSP", role=Role.EMSP, platform_id=4)
HUB = ("NL", "HUB")


def ask(sender: Party, module: str, interface: InterfaceRole, method: str, suffix: str, body: bytes = b"") -> Ask:
    return Ask(sender, method, module, interface, tuple(s for s in suffix.split("/") if s), body_view.read(body))


def everyone(key: PartyKey) -> bool:
    return True


@pytest.fixture
def learned() -> LearnedRoutes:
    routes = LearnedRoutes()
    learn_from(ask(CPO, "locations", R, "PUT", "/NL/CPO/LOC1"), HUB, routes.learn)  # broadcast
    learn_from(ask(MSP, "tokens", R, "PUT", "/DE/MSP/TOK1"), CPO.key, routes.learn)
    learn_from(ask(CPO, "sessions", R, "PUT", "/NL/CPO/S1"), MS2.key, routes.learn)
    return routes


@pytest.fixture
def collided(learned: LearnedRoutes) -> LearnedRoutes:
    """A second CPO with the same location id and session id (its session went to another eMSP)."""
    learn_from(ask(CP2, "locations", R, "PUT", "/NL/CP2/LOC1"), HUB, learned.learn)
    learn_from(ask(CP2, "sessions", R, "PUT", "/NL/CP2/S1"), MSP.key, learned.learn)
    return learned


@pytest.mark.parametrize(("request_", "expected"), [
    (ask(CPO, "sessions", R, "PUT", "/NL/CPO/S9", b'{"cdr_token": {"country_code": "de", "party_id": "msp"}}'),
     ("DE", "MSP")),
    (ask(CPO, "sessions", R, "PATCH", "/NL/CPO/S1", b'{"kwh": 1}'), ("BE", "MSP")),  # learned from the PUT
    (ask(CPO, "cdrs", R, "POST", "", b'{"id": "C", "cdr_token": {"country_code": "BE", "party_id": "MSP"}}'),
     ("BE", "MSP")),
    (ask(MSP, "commands", R, "POST", "/START_SESSION", b'{"location_id": "LOC1"}'), ("NL", "CPO")),
    (ask(MSP, "commands", R, "POST", "/START_SESSION", b'{"location_id": "X", "evse_uid": "BE*BEC*E041503001"}'),
     ("BE", "BEC")),
    (ask(MS2, "commands", R, "POST", "/STOP_SESSION", b'{"session_id": "S1"}'), ("NL", "CPO")),
    (ask(MS2, "chargingprofiles", R, "PUT", "/S1", b"{}"), ("NL", "CPO")),
    (ask(CPO, "tokens", S, "POST", "/TOK1/authorize"), ("DE", "MSP")),
    (ask(CPO, "tokens", S, "POST", "/NL-TNM-C00122045-K/authorize"), ("NL", "TNM")),
    (ask(CPO, "tokens", S, "POST", "/NLTNMC00122045K/authorize"), ("NL", "TNM")),
    (ask(MSP, "locations", S, "GET", "/LOC1"), ("NL", "CPO")),
    (ask(CPO, "locations", R, "PUT", "/NL/CPO/LOC2", b"{}"), None),  # client-owned push: broadcast, not open-routed
    (ask(MSP, "tariffs", S, "GET", ""), None),
    (ask(CPO, "sessions", R, "PUT", "/NL/CPO/S9", b'[{"cdr_token": {"country_code": "DE", "party_id": "MSP"}}]'),
     ("DE", "MSP")),  # a single object wrapped in a list is read too
])
def test_decide(learned: LearnedRoutes, request_: Ask, expected: PartyKey | None) -> None:
    assert decide(request_, learned, everyone) == expected


@pytest.mark.parametrize(("request_", "mentions"), [
    (ask(CPO, "cdrs", R, "POST", "", b'{"id": "C"}'), "cdr_token"),
    (ask(MSP, "commands", R, "POST", "/UNLOCK_CONNECTOR", b'{"location_id": "UNKNOWN"}'), "location_id"),
    (ask(CPO, "tokens", S, "POST", "/SHORT1/authorize"), "SHORT1"),  # not an eMAID, never learned
    (ask(MS2, "chargingprofiles", R, "DELETE", "/S404"), "S404"),
    # S1 of NL*CPO went to BE*MSP: DE*MSP has no business with it.
    (ask(MSP, "chargingprofiles", R, "PUT", "/S1", b"{}"), "session S1"),
    (ask(MSP, "commands", R, "POST", "/STOP_SESSION", b'{"session_id": "S1"}'), "session_id"),
    # A session PATCH of another CPO with the same id is not routed by NL*CPO's session.
    (ask(CP2, "sessions", R, "PATCH", "/NL/CP2/S1", b'{"kwh": 1}'), "cdr_token"),
])
def test_decide_says_what_is_missing(learned: LearnedRoutes, request_: Ask, mentions: str) -> None:
    with pytest.raises(InvalidParametersError, match=mentions):
        decide(request_, learned, everyone)


def test_two_cpos_with_the_same_session_id_keep_their_own_emsp(collided: LearnedRoutes) -> None:
    assert decide(ask(CPO, "sessions", R, "PATCH", "/NL/CPO/S1", b"{}"), collided, everyone) == MS2.key
    assert decide(ask(CP2, "sessions", R, "PATCH", "/NL/CP2/S1", b"{}"), collided, everyone) == MSP.key
    # Each eMSP's session command reaches the CPO whose session it received.
    assert decide(ask(MS2, "commands", R, "POST", "/STOP_SESSION", b'{"session_id": "S1"}'), collided,
                  everyone) == CPO.key
    assert decide(ask(MSP, "commands", R, "POST", "/STOP_SESSION", b'{"session_id": "S1"}'), collided,
                  everyone) == CP2.key


@pytest.mark.parametrize("request_", [
    ask(MSP, "commands", R, "POST", "/START_SESSION", b'{"location_id": "LOC1"}'),
    ask(MSP, "locations", S, "GET", "/LOC1"),
])
def test_two_cpos_with_the_same_location_id_are_ambiguous_not_guessed(collided: LearnedRoutes,
                                                                      request_: Ask) -> None:
    with pytest.raises(AmbiguousReceiverError, match=r"NL\*CPO, NL\*CP2.*OCPI-to"):
        decide(request_, collided, everyone)


def test_ambiguity_is_resolved_by_agreements_or_an_evse_prefix(collided: LearnedRoutes) -> None:
    only_cp2 = {CP2.key}.__contains__
    assert decide(ask(MSP, "locations", S, "GET", "/LOC1"), collided, only_cp2) == CP2.key
    command = b'{"location_id": "LOC1", "evse_uid": "NL*CP2*E0001"}'
    assert decide(ask(MSP, "commands", R, "POST", "/START_SESSION", command), collided, everyone) == CP2.key


def test_an_id_known_only_from_parties_without_agreement_is_refused_as_such(collided: LearnedRoutes) -> None:
    nobody = set[PartyKey]().__contains__
    # One owner: returned, so that the policy refuses it naming both parties.
    assert decide(ask(CPO, "tokens", S, "POST", "/TOK1/authorize"), collided, nobody) == MSP.key
    with pytest.raises(AgreementDeniedError, match="without a roaming agreement with DE\\*MSP"):
        decide(ask(MSP, "locations", S, "GET", "/LOC1"), collided, nobody)


@pytest.mark.parametrize(("module", "interface", "method", "expected"), [
    ("locations", R, "PUT", True), ("tariffs", R, "DELETE", True), ("tokens", R, "PATCH", True),
    ("locations", R, "GET", False), ("sessions", R, "PUT", False), ("cdrs", R, "POST", False),
    ("commands", R, "POST", False), ("locations", S, "PUT", False),
])
def test_broadcastable(module: str, interface: InterfaceRole, method: str, expected: bool) -> None:
    assert broadcastable(module, interface, method) is expected


def test_learned_routes_are_keyed_by_owner_bounded_and_only_changes_are_queued() -> None:
    routes = LearnedRoutes(max_per_kind=2)
    routes.learn(Kind.TOKEN, MSP.key, "a", HUB)
    routes.learn(Kind.TOKEN, MSP.key, "a", HUB)
    assert routes.take_pending() == [(Kind.TOKEN, MSP.key, "a", HUB)]
    routes.learn(Kind.TOKEN, MS2.key, "a", HUB)  # same uid, another owner: both kept
    assert routes.owners(Kind.TOKEN, "a") == ((MSP.key, HUB), (MS2.key, HUB))
    routes.learn(Kind.TOKEN, MSP.key, "b", HUB)
    routes.learn(Kind.TOKEN, MSP.key, "c", HUB)
    assert routes.owners(Kind.TOKEN, "a") == () and routes.target(Kind.TOKEN, MSP.key, "c") == HUB
    routes.take_pending()
    routes.merge(Kind.TOKEN, MS2.key, "d", HUB)
    assert routes.take_pending() == []
    assert routes.target(Kind.TOKEN, MSP.key, "d") is None


def test_object_ids_longer_than_any_ocpi_id_are_not_learned() -> None:
    routes = LearnedRoutes()
    longest, too_long = "L" * MAX_ID_LENGTH, "L" * (MAX_ID_LENGTH + 1)
    learn_from(ask(CPO, "locations", R, "PUT", f"/NL/CPO/{longest}"), HUB, routes.learn)
    learn_from(ask(CPO, "locations", R, "PUT", f"/NL/CPO/{too_long}"), HUB, routes.learn)
    routes.merge(Kind.TOKEN, MSP.key, too_long, CPO.key)  # nor taken from the database
    assert routes.take_pending() == [(Kind.LOCATION, CPO.key, longest, HUB)]
    assert routes.owners(Kind.LOCATION, too_long) == () and routes.owners(Kind.TOKEN, too_long) == ()


def test_body_that_is_not_an_object_matches_no_rule() -> None:
    assert body_view.read(b"5") == ()
    assert body_view.read(b'[1, {"location_id": 5}]')[0].location_id == 5
    with pytest.raises(InvalidParametersError, match="not valid JSON"):
        body_view.read(b'{"id": "LOC1",')
    with pytest.raises(InvalidParametersError, match="not valid JSON"):
        body_view.read(b"5 junk")
