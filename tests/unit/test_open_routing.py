"""Open-routing rules as a table: what each request without OCPI-to headers resolves to."""

from __future__ import annotations

import pytest

from partners.errors import InvalidParametersError
from partners.model import InterfaceRole
from partners.registry import PartyKey
from routing.learned import Kind, LearnedRoutes
from routing.open_routing import broadcastable, decide, learn_from, read_body

S, R = InterfaceRole.SENDER, InterfaceRole.RECEIVER


@pytest.fixture
def learned() -> LearnedRoutes:
    routes = LearnedRoutes()
    learn_from("locations", R, "/NL/CPO/LOC1", ("DE", "MSP"), routes.learn)
    learn_from("tokens", R, "/DE/MSP/TOK1", ("NL", "CPO"), routes.learn)
    learn_from("sessions", R, "/NL/CPO/S1", ("BE", "MSP"), routes.learn)
    return routes


@pytest.mark.parametrize(("module", "interface", "method", "suffix", "body", "expected"), [
    ("sessions", R, "PUT", "/NL/CPO/S9", b'{"cdr_token": {"country_code": "de", "party_id": "msp"}}', ("DE", "MSP")),
    ("sessions", R, "PATCH", "/NL/CPO/S1", b'{"kwh": 1}', ("BE", "MSP")),  # learned from the PUT
    ("cdrs", R, "POST", "", b'{"id": "C", "cdr_token": {"country_code": "BE", "party_id": "MSP"}}', ("BE", "MSP")),
    ("commands", R, "POST", "/START_SESSION", b'{"location_id": "LOC1"}', ("NL", "CPO")),
    ("commands", R, "POST", "/START_SESSION", b'{"location_id": "X", "evse_uid": "BE*BEC*E041503001"}', ("BE", "BEC")),
    ("commands", R, "POST", "/STOP_SESSION", b'{"session_id": "S1"}', ("NL", "CPO")),
    ("chargingprofiles", R, "PUT", "/S1", b"{}", ("NL", "CPO")),
    ("tokens", S, "POST", "/TOK1/authorize", b"", ("DE", "MSP")),
    ("tokens", S, "POST", "/NL-TNM-C00122045-K/authorize", b"", ("NL", "TNM")),
    ("tokens", S, "POST", "/NLTNMC00122045K/authorize", b"", ("NL", "TNM")),
    ("locations", S, "GET", "/LOC1", b"", ("NL", "CPO")),
    ("locations", R, "PUT", "/NL/CPO/LOC2", b"{}", None),  # client-owned push: broadcast, not open-routed
    ("tariffs", S, "GET", "", b"", None),
])
def test_decide(learned: LearnedRoutes, module: str, interface: InterfaceRole, method: str, suffix: str,
                body: bytes, expected: PartyKey | None) -> None:
    assert decide(module, interface, method, suffix, read_body(body), learned.lookup) == expected


@pytest.mark.parametrize(("module", "interface", "method", "suffix", "body", "mentions"), [
    ("cdrs", R, "POST", "", b'{"id": "C"}', "cdr_token"),
    ("commands", R, "POST", "/UNLOCK_CONNECTOR", b'{"location_id": "UNKNOWN"}', "location_id"),
    ("tokens", S, "POST", "/SHORT1/authorize", b"", "SHORT1"),  # not an eMAID, never learned
    ("chargingprofiles", R, "DELETE", "/S404", b"", "S404"),
])
def test_decide_says_what_is_missing(learned: LearnedRoutes, module: str, interface: InterfaceRole, method: str,
                                     suffix: str, body: bytes, mentions: str) -> None:
    with pytest.raises(InvalidParametersError, match=mentions):
        decide(module, interface, method, suffix, read_body(body), learned.lookup)


@pytest.mark.parametrize(("module", "interface", "method", "expected"), [
    ("locations", R, "PUT", True), ("tariffs", R, "DELETE", True), ("tokens", R, "PATCH", True),
    ("locations", R, "GET", False), ("sessions", R, "PUT", False), ("cdrs", R, "POST", False),
    ("commands", R, "POST", False), ("locations", S, "PUT", False),
])
def test_broadcastable(module: str, interface: InterfaceRole, method: str, expected: bool) -> None:
    assert broadcastable(module, interface, method) is expected


def test_learned_routes_are_bounded_and_only_changes_are_queued() -> None:
    routes = LearnedRoutes(max_per_kind=2)
    routes.learn(Kind.TOKEN_EMSP, "a", ("DE", "MSP"))
    routes.learn(Kind.TOKEN_EMSP, "a", ("DE", "MSP"))
    assert routes.take_pending() == [(Kind.TOKEN_EMSP, "a", ("DE", "MSP"))]
    routes.learn(Kind.TOKEN_EMSP, "b", ("DE", "MSP"))
    routes.learn(Kind.TOKEN_EMSP, "c", ("DE", "MSP"))
    assert routes.lookup(Kind.TOKEN_EMSP, "a") is None and routes.lookup(Kind.TOKEN_EMSP, "c") == ("DE", "MSP")
    routes.merge(Kind.TOKEN_EMSP, "d", ("BE", "MSP"))
    assert [p for p in routes.take_pending() if p[1] == "d"] == []


def test_body_that_is_not_an_object_matches_no_rule() -> None:
    assert read_body(b"[1, 2]").location_id is None
    assert read_body(b'{"location_id": 5}').location_id is None
