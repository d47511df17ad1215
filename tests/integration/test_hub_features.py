"""Broadcast push, open routing, GET all via the hub and hubclientinfo, with several real partners."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest

from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, Received, Role, cpo, emsp, location, token_header
from tests.support.servers import raw_tcp_server

pytestmark = pytest.mark.anyio
HUB = ("NL", "HUB")


@dataclass
class Market:
    hub: RunningHub
    cpo1: FakePlatform
    cpo2: FakePlatform
    msp1: FakePlatform
    msp2: FakePlatform
    multi: FakePlatform  # one platform, two eMSP parties

    @property
    def emsps(self) -> list[FakePlatform]:
        return [self.msp1, self.msp2, self.multi]


async def build_market(net: Network, **hub_settings: object) -> Market:
    hub = await net.hub(**hub_settings)
    multi = emsp("multi", "FR", "MS1")
    multi.roles.append(Role("EMSP", "FR", "MS2"))
    return Market(
        hub,
        await net.registered(hub, cpo("cpo1", "NL", "CPO")),
        await net.registered(hub, cpo("cpo2", "NL", "CP2", location_count=5)),
        await net.registered(hub, emsp("msp1", "DE", "MSP")),
        await net.registered(hub, emsp("msp2", "BE", "MSP")),
        await net.registered(hub, multi),
    )


@pytest.fixture
async def market(net: Network) -> AsyncIterator[Market]:
    yield await build_market(net)


async def eventually(check: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def received(platform: FakePlatform, path_part: str, method: str | None = None) -> list[Received]:
    return [r for r in platform.received if path_part in r.path and (method is None or r.method == method)]


# -- broadcast push ------------------------------------------------------------------------


async def test_cpo_broadcast_of_a_location_reaches_every_emsp_party(market: Market) -> None:
    body = location(1)
    status, headers, answer = await market.cpo1.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=HUB,
                                                     body=body)
    assert status == 200 and answer["status_code"] == 1000
    assert (headers["ocpi-from-country-code"], headers["ocpi-from-party-id"]) == HUB
    assert (headers["ocpi-to-country-code"], headers["ocpi-to-party-id"]) == ("NL", "CPO")
    expected = {("DE", "MSP"), ("BE", "MSP"), ("FR", "MS1"), ("FR", "MS2")}
    deliveries = lambda: [r for p in market.emsps for r in received(p, "/receiver/locations/NL/CPO/LOC1")]  # noqa: E731
    await eventually(lambda: len(deliveries()) == 4)
    assert {(r.headers["ocpi-to-country-code"], r.headers["ocpi-to-party-id"]) for r in deliveries()} == expected
    for delivery in deliveries():
        assert delivery.method == "PUT" and delivery.json() == body, "body unchanged, last_updated included"
        assert (delivery.headers["ocpi-from-country-code"], delivery.headers["ocpi-from-party-id"]) == HUB
        assert delivery.headers["x-correlation-id"] == headers["_sent_correlation_id"]
    assert len({d.headers["x-request-id"] for d in deliveries()}) == 4, "each delivery has its own request id"
    assert not received(market.cpo2, "/receiver/locations"), "CPOs do not get a CPO's broadcast"
    assert len(received(market.multi, "/receiver/locations")) == 2, "one delivery per party"


async def test_a_down_emsp_does_not_stop_the_broadcast(net: Network) -> None:
    market = await build_market(net)
    await net.stop_partner(market.msp2)
    status, _, _ = await market.cpo1.call("PUT", "tariffs", "RECEIVER", "/NL/CPO/T1", to=HUB,
                                          body={"id": "T1", "last_updated": "2026-01-01T00:00:00Z"})
    assert status == 200
    await eventually(lambda: len(received(market.msp1, "/receiver/tariffs")) == 1
                     and len(received(market.multi, "/receiver/tariffs")) == 2)
    wanted = ['ocpihub_broadcast_deliveries_total{module="tariffs",outcome="ok"} 3.0',
              'ocpihub_broadcast_deliveries_total{module="tariffs",outcome="connection"} 1.0']
    deadline = time.monotonic() + 3
    while True:
        metrics = await scrape(market.hub)
        if all(line in metrics for line in wanted):
            break
        assert time.monotonic() < deadline, metrics
        await asyncio.sleep(0.05)


async def test_emsp_broadcast_of_a_token_reaches_cpos(market: Market) -> None:
    status, _, _ = await market.msp1.call("PUT", "tokens", "RECEIVER", "/DE/MSP/TOK1", to=HUB, body={"uid": "TOK1"})
    assert status == 200
    await eventually(lambda: all(received(c, "/receiver/tokens/DE/MSP/TOK1") for c in (market.cpo1, market.cpo2)))
    assert not received(market.msp2, "/tokens")


async def test_get_to_the_hub_on_a_receiver_endpoint_is_not_a_broadcast(market: Market) -> None:
    # The CPO reading back its own location from "everyone": there is no such thing as a broadcast GET.
    status, _, body = await market.cpo1.call("GET", "locations", "RECEIVER", "/NL/CPO/LOC1", to=HUB)
    assert status == 200 and body["status_code"] == 2001
    assert not any(p.received for p in market.emsps)


# -- open routing --------------------------------------------------------------------------


async def test_session_without_to_headers_goes_to_the_emsp_in_cdr_token(market: Market) -> None:
    session = {"id": "S1", "cdr_token": {"country_code": "BE", "party_id": "MSP", "uid": "TOK9"},
               "last_updated": "2026-01-01T00:00:00Z"}
    status, _, _ = await market.cpo1.call("PUT", "sessions", "RECEIVER", "/NL/CPO/S1", body=session)
    assert status == 200
    [delivery] = received(market.msp2, "/receiver/sessions/NL/CPO/S1")
    assert delivery.headers["ocpi-to-party-id"] == "MSP" and delivery.headers["ocpi-to-country-code"] == "BE"
    assert not received(market.msp1, "/sessions")
    # A PATCH carries no cdr_token: the hub remembers where the session went.
    status, _, _ = await market.cpo1.call("PATCH", "sessions", "RECEIVER", "/NL/CPO/S1", body={"kwh": 2.0})
    assert status == 200 and len(received(market.msp2, "/receiver/sessions/NL/CPO/S1")) == 2


async def test_session_addressed_to_the_hub_is_routed_not_broadcast(market: Market) -> None:
    session = {"id": "S2", "cdr_token": {"country_code": "DE", "party_id": "MSP", "uid": "X"}}
    status, _, _ = await market.cpo1.call("PUT", "sessions", "RECEIVER", "/NL/CPO/S2", to=HUB, body=session)
    assert status == 200
    assert len(received(market.msp1, "/receiver/sessions/NL/CPO/S2")) == 1
    assert not received(market.msp2, "/sessions") and not received(market.multi, "/sessions")


async def test_cdr_without_cdr_token_or_to_headers_gets_2001_and_unknown_emsp_4001(market: Market) -> None:
    status, _, body = await market.cpo1.call("POST", "cdrs", "RECEIVER", body={"id": "C1"})
    assert (status, body["status_code"]) == (200, 2001) and "cdr_token" in body["status_message"]
    status, _, body = await market.cpo1.call("POST", "cdrs", "RECEIVER",
                                             body={"id": "C1", "cdr_token": {"country_code": "XX", "party_id": "YYY"}})
    assert (status, body["status_code"]) == (200, 4001)


async def test_realtime_authorization_goes_to_the_emsp_that_pushed_the_token(market: Market) -> None:
    await market.msp2.call("PUT", "tokens", "RECEIVER", "/BE/MSP/TOK42", to=HUB, body={"uid": "TOK42"})
    status, _, body = await market.cpo1.call("POST", "tokens", "SENDER", "/TOK42/authorize", body={})
    assert status == 200 and body["data"]["allowed"] == "ALLOWED"
    assert received(market.msp2, "/sender/tokens/TOK42/authorize")
    # Not learned, but the uid is an eMAID: its prefix names the eMSP.
    status, _, _ = await market.cpo1.call("POST", "tokens", "SENDER", "/DE-MSP-C00122045-K/authorize", body={})
    assert status == 200 and received(market.msp1, "/sender/tokens/DE-MSP-C00122045-K/authorize")
    status, _, body = await market.cpo1.call("POST", "tokens", "SENDER", "/UNKNOWN1/authorize", body={})
    assert (status, body["status_code"]) == (200, 2001) and "UNKNOWN1" in body["status_message"]


async def test_command_goes_to_the_cpo_owning_the_location_or_evse(market: Market) -> None:
    await market.cpo2.call("PUT", "locations", "RECEIVER", "/NL/CP2/LOC77", to=HUB, body=location(77, "NL", "CP2"))
    command = {"response_url": f"{market.msp1.base_url}/sender/commands/START_SESSION/1", "location_id": "LOC77",
               "token": {"uid": "T"}}
    status, _, body = await market.msp1.call("POST", "commands", "RECEIVER", "/START_SESSION", body=command)
    assert status == 200 and body["data"]["result"] == "ACCEPTED"
    [forwarded] = received(market.cpo2, "/receiver/commands/START_SESSION")
    assert forwarded.headers["ocpi-to-party-id"] == "CP2"
    command = {"response_url": "http://x/cb", "location_id": "NOPE", "evse_uid": "NL*CPO*E0001"}
    status, _, _ = await market.msp1.call("POST", "commands", "RECEIVER", "/START_SESSION", body=command)
    assert status == 200 and received(market.cpo1, "/receiver/commands/START_SESSION")
    status, _, body = await market.msp1.call("POST", "commands", "RECEIVER", "/UNLOCK_CONNECTOR",
                                             body={"response_url": "http://x/cb", "location_id": "NOPE"})
    assert (status, body["status_code"]) == (200, 2001) and "location_id" in body["status_message"]


async def test_what_the_hub_learned_is_shared_with_another_replica(net: Network, market: Market) -> None:
    await market.msp1.call("PUT", "tokens", "RECEIVER", "/DE/MSP/SHARED1", to=HUB, body={"uid": "SHARED1"})
    second = await net.hub()
    url = market.cpo1.hub_endpoints[("tokens", "SENDER")].replace(market.hub.base_url, second.base_url)
    deadline = time.monotonic() + 5
    while True:
        status, _, body = await market.cpo1.call("POST", "tokens", "SENDER", url=f"{url}SHARED1/authorize", body={})
        if body["status_code"] == 1000 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert status == 200 and received(market.msp1, "/sender/tokens/SHARED1/authorize")


# -- GET all -------------------------------------------------------------------------------


async def test_get_all_locations_over_two_cpos_by_link_headers(market: Market) -> None:
    url = market.msp1.hub_endpoints[("locations", "SENDER")] + "?limit=4"
    owners: list[tuple[str, str]] = []
    pages = 0
    while url:
        status, headers, body = await market.msp1.call("GET", "locations", "SENDER", url=url, to=HUB)
        assert status == 200 and body["status_code"] == 1000
        assert headers["x-total-count"] == "12" and headers["x-limit"] == "4"
        owners += [(loc["party_id"], loc["id"]) for loc in body["data"]]
        pages += 1
        link = headers.get("link", "")
        url = link[1:link.index(">")] if link else ""
    assert pages == 3
    assert owners == [("CP2", f"LOC{n}") for n in range(5)] + [("CPO", f"LOC{n}") for n in range(7)]
    # The owners were asked on behalf of the caller (their data may depend on who asks).
    asked = received(market.cpo1, "/sender/locations")[-1]
    assert asked.headers["ocpi-from-party-id"] == "MSP" and asked.headers["ocpi-to-party-id"] == "CPO"


async def test_get_all_leaves_out_a_party_that_times_out(net: Network) -> None:
    market = await build_market(net, request_timeout=0.5)
    async with raw_tcp_server("hang") as port:
        await net.registered(market.hub, cpo("slow", "NL", "SLO", module_base=f"http://127.0.0.1:{port}"))
        status, headers, body = await market.msp1.call("GET", "locations", "SENDER", "?limit=50", to=HUB)
    assert status == 200 and len(body["data"]) == 12
    assert "NL*SLO" in headers["warning"]


# -- hubclientinfo -------------------------------------------------------------------------


async def hubclientinfo(platform: FakePlatform, query: str = "") -> tuple[int, dict[str, str], dict]:
    async with aiohttp.ClientSession() as http, http.get(
        platform.hub_endpoints[("hubclientinfo", "SENDER")] + query,
        headers={"Authorization": token_header(platform.token_to_hub or "")},
    ) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, await r.json()


async def scrape(hub: RunningHub) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{hub.base_url}/metrics") as r:
        return await r.text()


async def test_hubclientinfo_lists_every_party_paginated(market: Market) -> None:
    status, headers, body = await hubclientinfo(market.msp1, "?limit=4")
    assert status == 200 and headers["x-total-count"] == "6" and len(body["data"]) == 4
    assert 'rel="next"' in headers["link"]
    everyone = body["data"]
    status, _, body = await hubclientinfo(market.msp1, "?offset=4&limit=4")
    everyone += body["data"]
    assert {(c["country_code"], c["party_id"], c["role"], c["status"]) for c in everyone} == {
        ("NL", "CPO", "CPO", "CONNECTED"), ("NL", "CP2", "CPO", "CONNECTED"), ("DE", "MSP", "EMSP", "CONNECTED"),
        ("BE", "MSP", "EMSP", "CONNECTED"), ("FR", "MS1", "EMSP", "CONNECTED"), ("FR", "MS2", "EMSP", "CONNECTED")}
    assert all(c["last_updated"].endswith("Z") for c in everyone)
    status, _, body = await hubclientinfo(market.msp1, "?date_from=2999-01-01T00:00:00Z")
    assert status == 200 and body["data"] == []


async def test_invited_parties_are_planned(market: Market) -> None:
    status, _ = await market.hub.admin("POST", "/admin/invitations",
                                       {"name": "soon", "parties": [{"country_code": "SE", "party_id": "NEW",
                                                                     "role": "CPO"}]})
    assert status == 201
    await eventually(lambda: any(r.path.endswith("/hubclientinfo/SE/NEW") for r in market.msp1.clientinfo))
    _, _, body = await hubclientinfo(market.msp1)
    assert {"country_code": "SE", "party_id": "NEW", "role": "CPO", "status": "PLANNED"}.items() <= next(
        c for c in body["data"] if c["party_id"] == "NEW").items()


def pushes(platform: FakePlatform, cc: str, pid: str) -> list[str]:
    return [r.json()["status"] for r in platform.clientinfo if r.path == f"/receiver/hubclientinfo/{cc}/{pid}"]


async def test_party_going_down_and_coming_back_is_pushed(net: Network) -> None:
    market = await build_market(net, still_alive_seconds=0.2, offline_after_failures=2)
    await net.stop_partner(market.msp2)
    await eventually(lambda: pushes(market.cpo1, "BE", "MSP")[-1:] == ["OFFLINE"], timeout=10)
    assert pushes(market.msp1, "BE", "MSP")[-1:] == ["OFFLINE"]
    status, _, body = await market.cpo1.call("PUT", "sessions", "RECEIVER", "/NL/CPO/S5", to=market.msp2.party(),
                                             body={"id": "S5"})
    assert (status, body["status_code"]) == (200, 4003)
    await net.restart_partner(market.msp2)
    await eventually(lambda: pushes(market.cpo1, "BE", "MSP")[-1:] == ["CONNECTED"], timeout=10)
    assert not pushes(market.msp2, "BE", "MSP"), "a party is not told about itself"


async def test_suspension_is_pushed_once_even_with_two_replicas(net: Network) -> None:
    market = await build_market(net)
    await net.hub()  # a second replica on the same database
    _, platforms = await market.hub.admin("GET", "/admin/platforms")
    cpo2_id = next(p["id"] for p in platforms if p["parties"][0]["party_id"] == "CP2")
    await market.hub.admin("POST", f"/admin/platforms/{cpo2_id}/suspend")
    # Each eMSP platform was told NL*CP2 was CONNECTED when it joined (cpo2 registered before them).
    await eventually(lambda: pushes(market.msp1, "NL", "CP2") == ["CONNECTED", "SUSPENDED"])
    await asyncio.sleep(1.0)
    assert pushes(market.msp1, "NL", "CP2") == ["CONNECTED", "SUSPENDED"]
    assert pushes(market.multi, "NL", "CP2") == ["CONNECTED", "SUSPENDED"], "one push per platform, not per party"


async def test_new_registration_is_pushed_as_connected(market: Market, net: Network) -> None:
    await net.registered(market.hub, cpo("late", "DK", "LAT"))
    await eventually(lambda: pushes(market.msp1, "DK", "LAT") == ["CONNECTED"])

