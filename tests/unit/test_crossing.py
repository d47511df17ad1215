"""The version bridge's routing half without a server: which requests cross, what a crossing does to
bodies and answers, what it keeps, and how a 2.1.1 Session finds its eMSP."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest

from partners.errors import InvalidParametersError
from partners.model import ConnectionStatus, InterfaceRole, PlatformSettings, Role
from partners.registry import Party, PartyKey, Platform
from routing import open_routing
from routing.body_view import read
from routing.crossing import Bridge, Crossing
from routing.errors import AmbiguousReceiverError, UntranslatableAnswerError
from routing.forward import Forwarder
from routing.learned import Kind, LearnedRoutes
from routing.location_fetch import LocationFetcher
from routing.modules import RoutePath
from routing.object_kinds import Kinds
from routing.observe import NoObserver
from routing.policy import Ask
from routing.translation_context import Contexts, Sides
from routing.translation_memory import TokenFacts, TranslationMemory
from routing.upstream_client import Response
from routing.versions import Loss, NotInVersionError, OcpiVersion, UntranslatableError, VersionedDocument, codec
from tests.support import ocpi_2_1_1 as old

V211, V22, V221, V230 = OcpiVersion.V2_1_1, OcpiVersion.V2_2, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0
S, R = InterfaceRole.SENDER, InterfaceRole.RECEIVER
CPO = Party(country_code="DE", party_id="OLD", role=Role.CPO, platform_id=1)
MSP = Party(country_code="NL", party_id="MSP", role=Role.EMSP, platform_id=2)


def platform(version: OcpiVersion | None, party: Party, time_zone: str | None = None) -> Platform:
    return Platform(id=party.platform_id, name="p", status=ConnectionStatus.CONNECTED, registered=True,
                    versions_url=None, version=version, endpoints={}, parties=(party,), outbound_auth="Token t",
                    settings=PlatformSettings(time_zone=time_zone))


class Counting(NoObserver):
    def __init__(self) -> None:
        self.lost: list[Loss] = []
        self.kinds: list[str] = []

    def translation_lost(self, losses: tuple[Loss, ...]) -> None:
        self.lost += losses

    def tolerated(self, kind: str) -> None:
        self.kinds.append(kind)


def bridge(fetched: dict[str, dict[str, Any]] | None = None) -> tuple[Bridge, Counting, list[str]]:
    memory = TranslationMemory(1_000_000)
    asked: list[str] = []

    async def fetch(_: Platform, owner: PartyKey, location_id: str) -> VersionedDocument | None:
        """As routing.location_fetch does: what comes back is kept."""
        asked.append(location_id)
        found = (fetched or {}).get(location_id)
        if found is None:
            return None
        memory.remember_location(owner, V221, codec.encode(found), location_id)
        return VersionedDocument(V221, found)

    observer = Counting()
    return Bridge(memory, Contexts(memory, fetch, 60), LearnedRoutes(), observer), observer, asked


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize(("module", "source", "target", "crosses"), [
    ("locations", V221, V221, False),
    ("locations", V22, V221, True),
    ("commands", V211, V230, True),
    ("chargingprofiles", V22, V230, False),  # the same objects in every version that has them
    ("payments", V230, V230, False),
])
def test_only_a_change_of_version_crosses(module: str, source: OcpiVersion, target: OcpiVersion,
                                          crosses: bool) -> None:
    assert bridge()[0].crosses(module, source, target) is crosses


def test_payments_never_leave_2_3_0() -> None:
    with pytest.raises(NotInVersionError) as caught:
        bridge()[0].crosses("payments", V230, V221)
    assert "2.2.1" in caught.value.message and caught.value.http_status == 200
    with pytest.raises(NotInVersionError) as caught:
        bridge()[0].crosses("payments", V22, V230)  # the version lacking it is named, whichever side it is
    assert "2.2" in caught.value.message and "2.3.0" not in caught.value.message


def test_a_request_body_is_translated_and_its_losses_counted_and_told() -> None:
    b, observer, _ = bridge()
    crossing = b.crossing(RoutePath(R, "commands", ("START_SESSION",), "", version=V221), "POST", MSP,
                          platform(V221, MSP), CPO, platform(V211, CPO))
    assert crossing is not None
    token = {"country_code": "NL", "party_id": "MSP", "uid": "U1", "type": "RFID", "contract_id": "C-1",
             "issuer": "x", "valid": True, "whitelist": "ALLOWED", "last_updated": old.UPDATED}
    body = codec.encode({"response_url": "https://msp.example/r", "token": token, "location_id": "L1",
                         "authorization_reference": "A1"})
    sent = json.loads(run(crossing.request(body)))
    assert sent["token"]["auth_id"] == "C-1" and "authorization_reference" not in sent
    assert Loss("commands", "authorization_reference") in observer.lost
    answer = run(crossing.answer(Response(200, [], codec.encode({"data": {"result": "ACCEPTED"},
                                                                   "status_code": 1000, "timestamp": "t"}))))
    told = json.loads(answer.body)
    assert told["data"] == {"result": "ACCEPTED", "timeout": 60}, "2.2 needs the timeout 2.1.1 does not send"
    assert told["status_message"].startswith("hub: translated between OCPI 2.2.1 and 2.1.1; not carried: ")
    assert "commands.authorization_reference" in told["status_message"]
    assert b.memory.contract(("NL", "MSP"), "C-1") == TokenFacts("U1", "RFID"), "the command taught the token"


def test_a_body_the_receivers_version_cannot_take_is_refused_naming_the_field() -> None:
    b, _, _ = bridge()
    crossing = b.crossing(RoutePath(R, "locations", ("NL", "MSP", "L1"), "", version=V221), "PUT", MSP,
                          platform(V221, MSP), CPO, platform(V211, CPO))
    assert crossing is not None
    with pytest.raises(UntranslatableError) as caught:
        run(crossing.request(codec.encode({"id": "L1", "publish": False})))
    assert caught.value.ocpi_status == 2001 and "publish" in caught.value.message
    with pytest.raises(UntranslatableError):
        nowhere = Crossing(b, "locations", "PUT", Kinds(None, None), V221, V211, Sides(), Sides())
        run(nowhere.request(b"{}"))


def test_a_page_leaves_out_what_cannot_be_carried_and_says_so() -> None:
    b, _, _ = bridge()
    crossing = b.crossing(RoutePath(S, "locations", (), "", version=V211), "GET", MSP, platform(V211, MSP), CPO,
                          platform(V221, CPO))
    assert crossing is not None
    public = {"country_code": "DE", "party_id": "OLD", "id": "L2", "publish": True, "address": "a", "city": "c",
              "country": "DEU", "coordinates": {"latitude": "1.000000", "longitude": "2.000000"},
              "time_zone": "Europe/Berlin", "last_updated": old.UPDATED}
    private = {**public, "id": "PRIVATE", "publish": False}
    body = codec.encode({"data": [public, private], "status_code": 1000, "timestamp": "t"})
    answer = json.loads(run(crossing.answer(Response(200, [(b"x-total-count", b"2")], body))).body)
    assert [loc["id"] for loc in answer["data"]] == ["L2"]
    assert answer["data"][0]["type"] == "UNKNOWN" and "country_code" not in answer["data"][0]
    assert "left out 1: location PRIVATE" in answer["status_message"]


def test_answers_that_are_no_ocpi_envelope_or_an_error_pass_as_they_came() -> None:
    b, _, _ = bridge()
    crossing = b.crossing(RoutePath(S, "locations", ("L1",), "", version=V221), "GET", MSP, platform(V221, MSP),
                          CPO, platform(V22, CPO))
    assert crossing is not None
    html = Response(404, [], b"<html>404</html>")
    assert run(crossing.answer(html)) is html
    refused = Response(200, [], b'{"status_code":2003,"timestamp":"t","data":{"id":"L1"}}')
    assert run(crossing.answer(refused)) is refused
    nothing = Response(200, [], b'{"status_code":1000,"timestamp":"t","data":null}')
    assert run(crossing.answer(nothing)) is nothing, "data null: nothing to translate"


def test_a_single_object_answer_that_cannot_be_carried_is_4000() -> None:
    b, _, _ = bridge()
    crossing = b.crossing(RoutePath(S, "locations", ("L1",), "", version=V221), "GET", MSP, platform(V221, MSP),
                          CPO, platform(V211, CPO))  # no time_zone setting for the 2.1.1 CPO
    assert crossing is not None
    location = {k: v for k, v in old.LOCATION.items() if k != "time_zone"}
    with pytest.raises(UntranslatableAnswerError) as caught:
        run(crossing.answer(Response(200, [], codec.encode({"data": location, "status_code": 1000,
                                                            "timestamp": "t"}))))
    assert caught.value.ocpi_status == 4000 and "time_zone" in caught.value.message
    with_default = b.crossing(RoutePath(S, "locations", ("L1",), "", version=V221), "GET", MSP,
                              platform(V221, MSP), CPO, platform(V211, CPO, "Europe/Berlin"))
    assert with_default is not None
    answer = run(with_default.answer(Response(200, [], codec.encode({"data": location, "status_code": 1000,
                                                                     "timestamp": "t"}))))
    assert json.loads(answer.body)["data"]["time_zone"] == "Europe/Berlin"


def test_a_session_down_to_2_1_1_carries_its_location_fetched_once_then_kept() -> None:
    location = {"country_code": "DE", "party_id": "OLD", "id": "L1", "publish": True, "address": "a", "city": "c",
                "country": "DEU", "coordinates": {"latitude": "1.000000", "longitude": "2.000000"},
                "time_zone": "Europe/Berlin", "last_updated": old.UPDATED,
                "evses": [{"uid": "E1", "status": "AVAILABLE", "last_updated": old.UPDATED,
                           "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                                           "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16,
                                           "last_updated": old.UPDATED}]}]}
    b, _, asked = bridge({"L1": location})
    session = {"country_code": "DE", "party_id": "OLD", "id": "S1", "start_date_time": old.UPDATED, "kwh": 1,
               "cdr_token": {"country_code": "NL", "party_id": "MSP", "uid": "U1", "type": "RFID",
                             "contract_id": "C-1"}, "auth_method": "WHITELIST", "location_id": "L1",
               "evse_uid": "E1", "connector_id": "1", "currency": "EUR", "status": "ACTIVE",
               "last_updated": old.UPDATED}
    for _ in range(2):
        crossing = b.crossing(RoutePath(R, "sessions", ("DE", "OLD", "S1"), "", version=V221), "PUT", CPO,
                              platform(V221, CPO), MSP, platform(V211, MSP))
        assert crossing is not None
        sent = json.loads(run(crossing.request(codec.encode(session))))
        assert sent["location"]["evses"][0]["connectors"][0]["voltage"] == 230 and sent["auth_id"] == "C-1"
    assert asked == ["L1"], "fetched once, then kept"
    # The kept Location lacks the EVSE a later Session names: fetched again, once.
    location["evses"].append({**location["evses"][0], "uid": "E2"})
    crossing = b.crossing(RoutePath(R, "sessions", ("DE", "OLD", "S1"), "", version=V221), "PUT", CPO,
                          platform(V221, CPO), MSP, platform(V211, MSP))
    assert crossing is not None
    run(crossing.request(codec.encode({**session, "evse_uid": "E2"})))
    assert asked == ["L1", "L1"]


def _location(location_id: str, *evse_uids: str) -> dict[str, Any]:
    connector = {"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                 "max_voltage": 230, "max_amperage": 16, "last_updated": old.UPDATED}
    return {"country_code": "DE", "party_id": "OLD", "id": location_id, "publish": True, "address": "a", "city": "c",
            "country": "DEU", "coordinates": {"latitude": "1.000000", "longitude": "2.000000"},
            "time_zone": "Europe/Berlin", "last_updated": old.UPDATED,
            "evses": [{"uid": uid, "status": "AVAILABLE", "last_updated": old.UPDATED, "connectors": [connector]}
                      for uid in evse_uids]}


def _session(session_id: str, location_id: str, evse_uid: str = "E1") -> dict[str, Any]:
    return {"country_code": "DE", "party_id": "OLD", "id": session_id, "start_date_time": old.UPDATED, "kwh": 1,
            "cdr_token": {"country_code": "NL", "party_id": "MSP", "uid": "U1", "type": "RFID",
                          "contract_id": "C-1"}, "auth_method": "WHITELIST", "location_id": location_id,
            "evse_uid": evse_uid, "connector_id": "1", "currency": "EUR", "status": "ACTIVE",
            "last_updated": old.UPDATED}


def _page(b: Bridge, sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """A 2.1.1 eMSP's GET all of a 2.2.1 CPO's Sessions, the answer carried down."""
    crossing = b.crossing(RoutePath(S, "sessions", (), "", version=V211), "GET", MSP, platform(V211, MSP), CPO,
                          platform(V221, CPO))
    assert crossing is not None
    body = codec.encode({"data": sessions, "status_code": 1000, "timestamp": "t"})
    answer: dict[str, Any] = json.loads(run(crossing.answer(Response(200, [], body))).body)
    return answer


def test_a_page_fetches_each_location_once_even_one_that_cannot_be_fetched() -> None:
    b, _, asked = bridge({"L1": _location("L1", "E1")})
    page = [_session("S1", "GONE"), _session("S2", "L1"), _session("S3", "gone"), _session("S4", "L1"),
            _session("S5", "GONE")]
    answer = _page(b, page)
    assert [s["id"] for s in answer["data"]] == ["S2", "S4"]
    assert sorted(asked) == ["GONE", "L1"], "one GET per distinct Location, a failed one not tried again"
    assert "left out 3: session S1" in answer["status_message"]
    # The next request tries the unreachable one again (a failure is not kept), and reads L1 from memory.
    _page(b, [_session("S6", "GONE"), _session("S7", "L1")])
    assert sorted(asked) == ["GONE", "GONE", "L1"]


def test_a_page_refetches_a_stale_kept_location_once() -> None:
    location = _location("L1", "E1")
    b, _, asked = bridge({"L1": location})
    _page(b, [_session("S1", "L1")])
    assert asked == ["L1"]
    location["evses"].append({**location["evses"][0], "uid": "E2"})
    answer = _page(b, [_session("S2", "L1", "E2"), _session("S3", "L1", "E2"), _session("S4", "L1")])
    assert [s["id"] for s in answer["data"]] == ["S2", "S3", "S4"]
    assert asked == ["L1", "L1"], "the kept one lacked E2: fetched again once for the whole page"


class _Answering:
    """A Forwarder's ``send`` that answers every request with the same bytes, counting the calls."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body = body
        self.status = status
        self.calls = 0

    async def send(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None, receiver: str,
                   platform: Platform | None = None, *, timeout: float | None = None) -> Response:
        self.calls += 1
        return Response(self.status, [], self.body)


@pytest.mark.parametrize("answer", [
    b"<html>502</html>",
    b'{"status_code":2003,"timestamp":"t","data":{"id":"L1"}}',
    b'{"status_code":1000,"timestamp":"t","data":["not","a","location"]}',
    b'{"status_code":1000,"timestamp":"t"}',
])
def test_a_location_the_cpo_does_not_give_refuses_the_session_naming_it(answer: bytes) -> None:
    memory = TranslationMemory(1_000_000)
    forwarder = _Answering(answer)
    fetcher = LocationFetcher(cast(Forwarder, forwarder), ("NL", "HUB"), memory)
    b = Bridge(memory, Contexts(memory, fetcher, 60), LearnedRoutes(), Counting())
    cpo = Platform(id=CPO.platform_id, name="p", status=ConnectionStatus.CONNECTED, registered=True,
                   versions_url=None, version=V221, endpoints={("locations", S): "https://cpo.example/locations/"},
                   parties=(CPO,), outbound_auth="Token t", settings=PlatformSettings())
    # A push: refused (2001, nothing forwarded) naming the Location it cannot carry.
    crossing = b.crossing(RoutePath(R, "sessions", ("DE", "OLD", "S1"), "", version=V221), "PUT", CPO, cpo, MSP,
                          platform(V211, MSP))
    assert crossing is not None
    with pytest.raises(UntranslatableError) as caught:
        run(crossing.request(codec.encode(_session("S1", "L1"))))
    assert caught.value.ocpi_status == 2001 and "location" in caught.value.message
    assert memory.location(CPO.key, "L1") is None and forwarder.calls == 1
    # A page: the Sessions at it left out and said, the Location asked for once.
    pull = b.crossing(RoutePath(S, "sessions", (), "", version=V211), "GET", MSP, platform(V211, MSP), CPO, cpo)
    assert pull is not None
    body = codec.encode({"data": [_session("S1", "L1"), _session("S2", "L1")], "status_code": 1000, "timestamp": "t"})
    told = json.loads(run(pull.answer(Response(200, [], body))).body)
    assert told["data"] == [] and "left out 2: session S1" in told["status_message"]
    assert forwarder.calls == 2


def test_memory_is_bounded_by_bytes_and_queues_new_contract_facts_once() -> None:
    memory = TranslationMemory(4000)  # 2000 for Locations
    for n in range(5):
        memory.remember_location(("DE", "OLD"), V221, b"x" * 600, f"L{n}")
    assert memory.location(("DE", "OLD"), "L0") is None and memory.sizes()["locations"] <= 2000
    token = {"uid": "U1", "type": "RFID", "contract_id": "C-1"}
    memory.remember_token(("NL", "MSP"), V221, token)
    memory.remember_token(("NL", "MSP"), V221, token)
    assert memory.take_pending() == [(("NL", "MSP"), "C-1", TokenFacts("U1", "RFID"))]
    memory.merge_contract(("NL", "MS2"), "C-2", TokenFacts("U2", "APP_USER"))
    assert memory.contract(("NL", "MS2"), "c-2") == TokenFacts("U2", "APP_USER") and not memory.take_pending()


def _ask(body: dict[str, Any], segments: tuple[str, ...] = ("DE", "OLD", "S1"), module: str = "sessions") -> Ask:
    return Ask(CPO, "PUT", module, R, segments, read(codec.encode(body)))


def test_a_2_1_1_session_goes_to_the_emsp_of_its_contract() -> None:
    learned = LearnedRoutes()
    learned.learn(Kind.CONTRACT, ("NL", "MSP"), "MSP-CONTRACT-1", ("DE", "OLD"))
    assert open_routing.decide(_ask({"auth_id": "MSP-CONTRACT-1"}), learned, lambda _: True) == ("NL", "MSP")
    # Unknown to the hub, but an eMAID names its eMSP.
    assert open_routing.decide(_ask({"auth_id": "BE-EMS-C12345678-9"}, (), "cdrs"), learned,
                               lambda _: True) == ("BE", "EMS")
    with pytest.raises(InvalidParametersError) as caught:
        open_routing.decide(_ask({"auth_id": "NOBODY-KNOWS"}), learned, lambda _: True)
    assert "auth_id" in caught.value.message
    learned.learn(Kind.CONTRACT, ("FR", "MS2"), "MSP-CONTRACT-1", ("DE", "OLD"))
    with pytest.raises(AmbiguousReceiverError):
        open_routing.decide(_ask({"auth_id": "MSP-CONTRACT-1"}), learned, lambda _: True)  # two eMSPs: not guessed


def test_a_token_push_teaches_its_contract() -> None:
    learned = LearnedRoutes()
    ask = Ask(MSP, "PUT", "tokens", R, ("NL", "MSP", "U1"), read(b'{"uid":"U1","auth_id":"C-9"}'))
    open_routing.learn_from(ask, ("DE", "OLD"), learned.learn)
    assert learned.owners(Kind.CONTRACT, "C-9") == ((("NL", "MSP"), ("DE", "OLD")),)


def test_ticket_urls_cross_too_a_result_posted_and_an_object_read_back() -> None:
    b, _, _ = bridge()
    result = b.callback("callback", "commands", platform(V211, CPO), CPO.key, platform(V221, MSP), MSP.key)
    assert result is not None
    assert json.loads(run(result.request(b'{"result":"TIMEOUT"}'))) == {"result": "TIMEOUT"}
    assert json.loads(run(result.request(b'{"result":"UNKNOWN_SESSION"}'))) == {"result": "REJECTED"}, \
        "2.2 results have no UNKNOWN_SESSION"
    down = b.callback("callback", "commands", platform(V221, MSP), MSP.key, platform(V211, CPO), CPO.key)
    assert down is not None
    assert json.loads(run(down.request(b'{"result":"EVSE_OCCUPIED","message":[]}'))) == {"result": "REJECTED"}
    read_back = b.callback("location", "cdrs", platform(V211, CPO), CPO.key, platform(V221, MSP), MSP.key)
    assert read_back is not None and read_back.kinds == Kinds(None, "cdr")
    assert b.callback("callback", "chargingprofiles", platform(V22, CPO), CPO.key, platform(V230, MSP),
                      MSP.key) is None, "charging profiles are the same objects from 2.2 on"
