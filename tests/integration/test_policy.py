"""Who may do what to whom, over the wire: a real hub, real PostgreSQL, and fake partners that record
everything that reaches them. Every hostile request of issue #9 is refused and reaches nobody; its
legitimate twin still works; parties that share object ids never get each other's traffic."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.integration.test_operations import metric, scrape
from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, cpo, emsp, location, token_header

pytestmark = pytest.mark.anyio
HUB = ("NL", "HUB")


@dataclass
class World:
    hub: RunningHub
    cpo1: FakePlatform  # NL*CPO
    cpo2: FakePlatform  # NL*CP2
    msp1: FakePlatform  # DE*MSP
    msp2: FakePlatform  # BE*MSP
    log: io.BytesIO

    @property
    def partners(self) -> list[FakePlatform]:
        return [self.cpo1, self.cpo2, self.msp1, self.msp2]

    def seen(self) -> list[int]:
        return [len(p.received) for p in self.partners]


async def build_world(net: Network, **settings: Any) -> World:
    log = io.BytesIO()
    hub = await net.hub(log_stream=log, **settings)
    return World(hub, await net.registered(hub, cpo("cpo1", "NL", "CPO")),
                 await net.registered(hub, cpo("cpo2", "NL", "CP2", location_count=5)),
                 await net.registered(hub, emsp("msp1", "DE", "MSP")),
                 await net.registered(hub, emsp("msp2", "BE", "MSP")), log)


@pytest.fixture
async def world(net: Network) -> AsyncIterator[World]:
    yield await build_world(net)


def token(cc: str, pid: str, uid: str) -> dict[str, Any]:
    return {"country_code": cc, "party_id": pid, "uid": uid, "type": "RFID", "contract_id": f"{cc}{pid}C0000001",
            "issuer": "x", "valid": True, "whitelist": "ALLOWED", "last_updated": "2026-01-01T00:00:00Z"}


def session(cc: str, pid: str, sid: str, emsp_cc: str, emsp_pid: str) -> dict[str, Any]:
    return {"country_code": cc, "party_id": pid, "id": sid, "last_updated": "2026-01-01T00:00:00Z",
            "cdr_token": {"country_code": emsp_cc, "party_id": emsp_pid, "uid": "TOK1", "type": "RFID",
                          "contract_id": "X"}}


async def settled() -> None:
    await asyncio.sleep(0.15)  # broadcast deliveries run after the answer: give them time to show up


def hostile_cases(w: World) -> list[tuple[str, FakePlatform, str, str, str, str, Any, Any, int, str]]:
    """(what, sender, method, module, interface, suffix, to, body, OCPI code, words in the message)."""
    msp1_to, cpo1_to = w.msp1.party(), w.cpo1.party()
    return [
        ("a CPO overwrites another CPO's location at an eMSP", w.cpo2, "PUT", "locations", "RECEIVER", "/NL/CPO/LOC1",
         msp1_to, location(1, "NL", "CPO"), 2001, "NL*CP2 may only address its own locations"),
        ("... or at every eMSP, as a broadcast", w.cpo2, "PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", HUB,
         location(1, "NL", "CPO"), 2001, "the URL names NL*CPO"),
        ("... or under its own URL with the other CPO's object", w.cpo2, "PUT", "locations", "RECEIVER",
         "/NL/CP2/LOC1", msp1_to, location(1, "NL", "CPO"), 2001, "may only push its own locations"),
        ("an eMSP pushes tokens under another eMSP's id", w.msp2, "PUT", "tokens", "RECEIVER", "/DE/MSP/TOK1",
         cpo1_to, token("DE", "MSP", "TOK1"), 2001, "BE*MSP may only address its own tokens"),
        ("... to every CPO", w.msp2, "PUT", "tokens", "RECEIVER", "/DE/MSP/TOK1", HUB, token("DE", "MSP", "TOK1"),
         2001, "its own tokens"),
        ("an eMSP pushes locations as a broadcast", w.msp1, "PUT", "locations", "RECEIVER", "/DE/MSP/LOC1", HUB,
         location(1, "DE", "MSP"), 2000, "DE*MSP is a EMSP party: the locations RECEIVER interface is called by CPO"),
        ("an eMSP reads another eMSP's token at a CPO", w.msp2, "GET", "tokens", "RECEIVER", "/DE/MSP/TOK1",
         cpo1_to, None, 2001, "the URL names DE*MSP"),
        ("a CPO reads another CPO's session at an eMSP", w.cpo2, "GET", "sessions", "RECEIVER", "/NL/CPO/S1",
         msp1_to, None, 2001, "the URL names NL*CPO"),
        ("an eMSP starts a session with another eMSP's token", w.msp2, "POST", "commands", "RECEIVER",
         "/START_SESSION", cpo1_to, {"response_url": "http://127.0.0.1:9/cb", "token": token("DE", "MSP", "TOK1"),
                                     "location_id": "LOC1"}, 2001, "its own tokens"),
        ("a CPO sends an eMSP's session to another eMSP", w.cpo1, "PUT", "sessions", "RECEIVER", "/NL/CPO/S1",
         w.msp2.party(), session("NL", "CPO", "S1", "DE", "MSP"), 2001, "cdr_token, DE*MSP: it may not go to BE*MSP"),
        ("... or its CDR", w.cpo1, "POST", "cdrs", "RECEIVER", "", w.msp2.party(),
         session("NL", "CPO", "CDR1", "DE", "MSP"), 2001, "may not go to BE*MSP"),
        ("an eMSP pulls tokens as if it were a CPO", w.msp1, "GET", "tokens", "SENDER", "", w.msp2.party(), None, 2000,
         "called by CPO parties only"),
    ]


RAW_TARGETS = [
    ("DELETE", "/ocpi/2.2.1/receiver/tokens/DE/MSP/TOK1/../../../../credentials", 404, 2001),
    ("DELETE", "/ocpi/2.2.1/receiver/tokens/DE/MSP/TOK1/%2e%2e/%2e%2e/%2e%2e/%2e%2e/credentials", 404, 2001),
    ("DELETE", "/ocpi/2.2.1/receiver/tokens/DE/MSP/TOK1/.%2E/%2E./.%2e/%2e%2E/credentials", 404, 2001),
    ("DELETE", "/ocpi/2.2.1/receiver/tokens/DE%2FMSP%2F..%2F..%2Fcredentials", 404, 2001),
    ("PUT", "/ocpi/2.2.1/receiver/../../../admin/platforms", 404, 2001),
    ("TRACE", "/ocpi/2.2.1/receiver/tokens/DE/MSP/TOK1", 405, 2000),
    ("OPTIONS", "/ocpi/2.2.1/receiver/tokens/DE/MSP/TOK1", 405, 2000),
    ("CONNECT", "/ocpi/2.2.1/receiver/tokens/DE/MSP/TOK1", 405, 2000),
]


async def test_each_hostile_request_is_refused_counted_logged_and_reaches_nobody(
    net: Network, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="ocpihub.request")  # as `ocpi-hub serve` configures it by default
    w = await build_world(net)
    before_metrics = await scrape(w.hub.base_url)
    for rule in ("role", "ownership", "agreement", "suspended", "ambiguous"):
        assert f'ocpihub_policy_denials_total{{rule="{rule}"}} 0.0' in before_metrics, "series exist from the start"
    seen = w.seen()
    messages = []
    for what, sender, method, module, interface, suffix, to, body, code, words in hostile_cases(w):
        status, _, answer = await sender.call(method, module, interface, suffix, to=to, body=body)
        assert (status, answer["status_code"]) == (200, code), (what, answer)
        assert words in answer["status_message"], (what, answer["status_message"])
        messages.append(answer["status_message"])
    for method, target, http_status, code in RAW_TARGETS:
        status, _, answer = await w.msp1.raw(method, target, to=w.cpo1.party(), body={"x": 1})
        assert (status, answer["status_code"]) == (http_status, code), (method, target, answer)
    await settled()
    assert w.seen() == seen, "nothing reached any partner"

    after = await scrape(w.hub.base_url)
    cases = hostile_cases(w)
    assert metric(after, "ocpihub_policy_denials_total", rule="ownership") == sum(c[8] == 2001 for c in cases)
    assert metric(after, "ocpihub_policy_denials_total", rule="role") == sum(c[8] == 2000 for c in cases)
    denied = sum(metric(after, "ocpihub_requests_total", module=m, interface=i, outcome="denied", status_class="2xx")
                 for m in ("locations", "tokens", "sessions", "cdrs", "commands") for i in ("SENDER", "RECEIVER"))
    assert denied == len(cases)
    await asyncio.sleep(0.3)  # the request log is written in batches
    lines = [json.loads(line) for line in w.log.getvalue().decode().splitlines()]
    refusals = [line for line in lines if line.get("outcome") == "denied"]
    assert sorted(r["detail"] for r in refusals) == sorted(messages), "each refusal logged with its reason"
    secrets = [t for p in w.partners for t in (p.token_to_hub, p.token_for_hub)]
    assert all(s and s not in w.log.getvalue().decode() for s in secrets), "no token in any log line"


async def test_the_legitimate_twin_of_each_hostile_request_works(world: World) -> None:
    w = world
    legit = [
        (w.cpo2, "PUT", "locations", "RECEIVER", "/NL/CP2/LOC1", w.msp1.party(), location(1, "NL", "CP2"), [w.msp1]),
        (w.cpo2, "PUT", "locations", "RECEIVER", "/nl/cp2/LOC1", HUB, location(1, "nl", "cp2"), [w.msp1, w.msp2]),
        (w.msp2, "PUT", "tokens", "RECEIVER", "/BE/MSP/TOK1", w.cpo1.party(), token("BE", "MSP", "TOK1"), [w.cpo1]),
        (w.msp2, "PUT", "tokens", "RECEIVER", "/BE/MSP/TOK1", HUB, token("BE", "MSP", "TOK1"), [w.cpo1, w.cpo2]),
        (w.msp2, "GET", "tokens", "RECEIVER", "/BE/MSP/TOK1", w.cpo1.party(), None, [w.cpo1]),
        (w.cpo1, "GET", "sessions", "RECEIVER", "/NL/CPO/S1", w.msp1.party(), None, [w.msp1]),
        (w.msp1, "POST", "commands", "RECEIVER", "/START_SESSION", w.cpo1.party(),
         {"response_url": "http://127.0.0.1:9/cb", "token": token("DE", "MSP", "TOK1"), "location_id": "LOC1"},
         [w.cpo1]),
        (w.cpo1, "PUT", "sessions", "RECEIVER", "/NL/CPO/S1", w.msp1.party(), session("NL", "CPO", "S1", "DE", "MSP"),
         [w.msp1]),
        (w.cpo1, "POST", "cdrs", "RECEIVER", "", w.msp1.party(), session("NL", "CPO", "CDR1", "DE", "MSP"), [w.msp1]),
        (w.cpo1, "GET", "tokens", "SENDER", "", w.msp1.party(), None, [w.msp1]),
    ]
    for sender, method, module, interface, suffix, to, body, reached in legit:
        counts = {id(p): len(p.received) for p in reached}
        status, _, answer = await sender.call(method, module, interface, suffix, to=to, body=body)
        assert status in (200, 201) and answer["status_code"] == 1000, (module, suffix, answer)
        await settled()
        for p in reached:
            assert len(p.received) == counts[id(p)] + 1, (module, suffix, p.name)
            assert p.received[-1].path == f"/{interface.lower()}/{module}{suffix}"
    # A clean path with doubled slashes is collapsed, not refused.
    status, _, answer = await w.msp1.raw("GET", "/ocpi/2.2.1/sender//locations//LOC2", to=w.cpo1.party())
    assert (status, answer["status_code"]) == (200, 1000) and w.cpo1.received[-1].path == "/sender/locations/LOC2"


async def test_two_cpos_with_the_same_ids_never_get_each_others_traffic(world: World) -> None:
    w = world
    # Open routing: no OCPI-to headers. Both CPOs have a session S1 (for different eMSPs) and a LOC1.
    for station, (cc, pid), (ecc, epid) in ((w.cpo1, ("NL", "CPO"), ("DE", "MSP")),
                                             (w.cpo2, ("NL", "CP2"), ("BE", "MSP"))):
        status, _, answer = await station.call("PUT", "sessions", "RECEIVER", f"/{cc}/{pid}/S1",
                                               body=session(cc, pid, "S1", ecc, epid))
        assert answer["status_code"] == 1000
        status, _, _ = await station.call("PUT", "locations", "RECEIVER", f"/{cc}/{pid}/LOC1", to=HUB,
                                          body=location(1, cc, pid))
    await settled()
    msp1_sessions = len([r for r in w.msp1.received if "/sessions/" in r.path])
    # CPO 2's session PATCH (no cdr_token) goes to CPO 2's eMSP, never to CPO 1's.
    status, _, answer = await w.cpo2.call("PATCH", "sessions", "RECEIVER", "/NL/CP2/S1", body={"kwh": 3})
    assert answer["status_code"] == 1000 and w.msp2.received[-1].path == "/receiver/sessions/NL/CP2/S1"
    assert len([r for r in w.msp1.received if "/sessions/" in r.path]) == msp1_sessions
    # Each eMSP's STOP_SESSION and charging profile for "S1" reaches the CPO whose S1 it received.
    for sender, station in ((w.msp1, w.cpo1), (w.msp2, w.cpo2)):
        status, _, answer = await sender.call("POST", "commands", "RECEIVER", "/STOP_SESSION",
                                              body={"response_url": "http://127.0.0.1:9/cb", "session_id": "S1"})
        assert answer["status_code"] == 1000 and station.received[-1].path == "/receiver/commands/STOP_SESSION"
        status, _, answer = await sender.call("PUT", "chargingprofiles", "RECEIVER", "/S1",
                                              body={"response_url": "http://127.0.0.1:9/cb", "charging_profile": {}})
        assert answer["status_code"] == 1000 and station.received[-1].path == "/receiver/chargingprofiles/S1"
    # Naming the CPO does not help an eMSP act on another eMSP's session: CPO 1's S1 went to DE*MSP.
    seen = w.seen()
    for method, module, suffix, body in (
        ("POST", "commands", "/STOP_SESSION", {"response_url": "http://127.0.0.1:9/cb", "session_id": "S1"}),
        ("PUT", "chargingprofiles", "/S1", {"response_url": "http://127.0.0.1:9/cb", "charging_profile": {}}),
        ("GET", "chargingprofiles", "/S1?duration=900&response_url=http://127.0.0.1:9/cb", None),
        ("DELETE", "chargingprofiles", "/S1?response_url=http://127.0.0.1:9/cb", None),
    ):
        status, _, answer = await w.msp2.call(method, module, "RECEIVER", suffix, to=w.cpo1.party(), body=body)
        assert (status, answer["status_code"]) == (200, 2001), (module, suffix, answer)
        assert "session S1 of NL*CPO belongs to DE*MSP" in answer["status_message"]
    assert w.seen() == seen
    # Its own session, and a session the hub never saw (it cannot tell), still go through.
    for sid, station in (("S1", w.cpo2), ("S77", w.cpo1)):
        status, _, answer = await w.msp2.call("POST", "commands", "RECEIVER", "/STOP_SESSION", to=station.party(),
                                              body={"response_url": "http://127.0.0.1:9/cb", "session_id": sid})
        assert answer["status_code"] == 1000 and station.received[-1].path == "/receiver/commands/STOP_SESSION"
    # LOC1 has two owners: the hub asks for OCPI-to instead of guessing.
    seen = w.seen()
    status, _, answer = await w.msp1.call("POST", "commands", "RECEIVER", "/START_SESSION",
                                          body={"response_url": "http://127.0.0.1:9/cb", "location_id": "LOC1",
                                                "token": token("DE", "MSP", "TOK1")})
    assert (status, answer["status_code"]) == (200, 2002) and "OCPI-to" in answer["status_message"]
    status, _, answer = await w.msp1.call("GET", "locations", "SENDER", "/LOC1")
    assert answer["status_code"] == 2002 and "NL*CPO, NL*CP2" in answer["status_message"]
    assert w.seen() == seen
    assert metric(await scrape(w.hub.base_url), "ocpihub_policy_denials_total", rule="ambiguous") == 2
    # An EVSE id names the CPO: no ambiguity left.
    status, _, answer = await w.msp1.call("POST", "commands", "RECEIVER", "/START_SESSION",
                                          body={"response_url": "http://127.0.0.1:9/cb", "location_id": "LOC1",
                                                "evse_uid": "NL*CP2*E0001", "token": token("DE", "MSP", "TOK1")})
    assert answer["status_code"] == 1000 and w.cpo2.received[-1].path == "/receiver/commands/START_SESSION"
    # A forged push teaches nothing: LOC9 stays unknown.
    await w.cpo2.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC9", to=HUB, body=location(9, "NL", "CPO"))
    status, _, answer = await w.msp1.call("GET", "locations", "SENDER", "/LOC9")
    assert answer["status_code"] == 2001 and "OCPI-to" in answer["status_message"]


async def test_a_reservation_is_replaced_or_cancelled_only_by_the_emsp_that_made_it(world: World) -> None:
    w = world

    def reserve(cc: str, pid: str) -> dict[str, Any]:
        return {"response_url": "http://127.0.0.1:9/cb", "token": token(cc, pid, "TOK1"), "reservation_id": "R1",
                "expiry_date": "2030-01-01T00:00:00Z", "location_id": "LOC1"}

    status, _, answer = await w.msp1.call("POST", "commands", "RECEIVER", "/RESERVE_NOW", to=w.cpo1.party(),
                                          body=reserve("DE", "MSP"))
    assert answer["status_code"] == 1000 and w.cpo1.received[-1].path == "/receiver/commands/RESERVE_NOW"
    seen = w.seen()
    for command, body in (("CANCEL_RESERVATION", {"response_url": "http://127.0.0.1:9/cb", "reservation_id": "R1"}),
                          ("RESERVE_NOW", reserve("BE", "MSP"))):
        status, _, answer = await w.msp2.call("POST", "commands", "RECEIVER", f"/{command}", to=w.cpo1.party(),
                                              body=body)
        assert (status, answer["status_code"]) == (200, 2001), (command, answer)
        assert "reservation R1 of NL*CPO belongs to DE*MSP" in answer["status_message"]
    # Nor without OCPI-to headers: open routing considers only the sender's own reservations, and BE*MSP has
    # none called R1, so the hub cannot tell where it goes (it does not route to DE*MSP's R1's CPO).
    status, _, answer = await w.msp2.call("POST", "commands", "RECEIVER", "/CANCEL_RESERVATION",
                                          body={"response_url": "http://127.0.0.1:9/cb", "reservation_id": "R1"})
    assert answer["status_code"] == 2001 and "cannot tell which CPO" in answer["status_message"], answer
    assert w.seen() == seen
    # The eMSP that made it cancels it, even without OCPI-to headers: the hub knows where R1 is.
    status, _, answer = await w.msp1.call("POST", "commands", "RECEIVER", "/CANCEL_RESERVATION",
                                          body={"response_url": "http://127.0.0.1:9/cb", "reservation_id": "R1"})
    assert answer["status_code"] == 1000 and w.cpo1.received[-1].path == "/receiver/commands/CANCEL_RESERVATION"


async def test_suspension_survives_a_credentials_put_and_closes_all_but_versions_and_credentials(
    world: World,
) -> None:
    w = world
    _, platforms = await w.hub.admin("GET", "/admin/platforms")
    msp1_id = next(p["id"] for p in platforms if p["parties"][0]["country_code"] == "DE")
    status, _ = await w.hub.admin("POST", f"/admin/platforms/{msp1_id}/suspend")
    assert status == 200
    seen = w.seen()
    status, _, answer = await w.msp1.call("GET", "locations", "SENDER", "/LOC1", to=w.cpo1.party())
    assert (status, answer["status_code"]) == (200, 2000) and "suspended" in answer["status_message"]
    # The partner lifts nothing by rotating its credentials.
    await w.msp1.update_credentials()
    status, _, answer = await w.msp1.call("GET", "locations", "SENDER", "/LOC1", to=w.cpo1.party())
    assert answer["status_code"] == 2000 and "suspended" in answer["status_message"]
    _, shown = await w.hub.admin("GET", f"/admin/platforms/{msp1_id}")
    assert shown["status"] == "SUSPENDED" and shown["suspended"] is True
    auth = {"Authorization": token_header(w.msp1.token_to_hub or "")}
    async with aiohttp.ClientSession() as http:
        async with http.get(w.hub.versions_url, headers=auth) as r:
            assert r.status == 200 and (await r.json())["status_code"] == 1000
        async with http.get(w.msp1.hub_endpoints[("credentials", "SENDER")], headers=auth) as r:
            assert (await r.json())["status_code"] == 1000
        async with http.delete(w.msp1.hub_endpoints[("credentials", "SENDER")], headers=auth) as r:
            assert (await r.json())["status_code"] == 2000, "unregistering is not open to a suspended platform"
        async with http.get(w.msp1.hub_endpoints[("hubclientinfo", "SENDER")], headers=auth) as r:
            assert (await r.json())["status_code"] == 2000
    # Nobody routes to it either.
    status, _, answer = await w.cpo1.call("PUT", "tariffs", "RECEIVER", "/NL/CPO/T1", to=w.msp1.party(),
                                          body={"id": "T1"})
    assert answer["status_code"] == 4003
    assert w.seen() == seen
    assert metric(await scrape(w.hub.base_url), "ocpihub_policy_denials_total", rule="suspended") == 4
    await w.hub.admin("POST", f"/admin/platforms/{msp1_id}/unsuspend")
    status, _, answer = await w.msp1.call("GET", "locations", "SENDER", "/LOC1", to=w.cpo1.party())
    assert answer["status_code"] == 1000, "the rotated token works once the operator lifts the suspension"
