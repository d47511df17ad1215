"""Issue #11 over the wire: URL shapes, HTTP statuses, routing headers on answers, a receiver refusing
the hub's token, short callback tickets and Location tickets, GET all without X-Total-Count, per-module
timeouts and hubclientinfo, with partner fakes that behave like the sloppy stacks seen in the wild."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from partners import tickets_store
from tests.integration.test_hub_features import eventually, hubclientinfo, pushes
from tests.integration.test_operations import metric, scrape
from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, Role, cpo, emsp, envelope, location, raw_request, token_header

pytestmark = pytest.mark.anyio
HUB = ("NL", "HUB")


@dataclass
class World:
    hub: RunningHub
    cpo: FakePlatform
    emsp: FakePlatform


@pytest.fixture
async def world(net: Network) -> AsyncIterator[World]:
    hub = await net.hub(request_timeout=2.0, callback_ttl=0.6)
    yield World(hub, await net.registered(hub, cpo("cpo")), await net.registered(hub, emsp("emsp")))


async def get_raw(base: str, target: str, token: str | None = None, method: str = "GET") -> tuple[int, dict, object]:
    headers = {"Authorization": token_header(token)} if token else {}
    return await raw_request(base, method, target, headers)


# -- URL shapes --------------------------------------------------------------------------------------


async def test_glued_doubled_and_slashed_urls_reach_the_receiver_clean(world: World) -> None:
    base = world.hub.base_url + "/ocpi/2.2.1"
    for target, path in (
        (f"{base}/sender/locationsLOC1", "/sender/locations/LOC1"),  # '{endpoint}{id}' without a separator
        (f"{base}/sender/locations//LOC1//EVSE1", "/sender/locations/LOC1/EVSE1"),
        (f"{base}/sender/locations/", "/sender/locations"),  # the collection: the CPO's endpoint as it gave it
    ):
        status, _, body = await world.emsp.call("GET", "locations", "SENDER", url=target, to=world.cpo.party())
        assert (status, body["status_code"]) == (200, 1000), (target, body)
        assert world.cpo.received[-1].path == path
    status, _, body = await world.cpo.call("POST", "tokens", "SENDER", url=f"{base}/sender/tokens012345678/authorize",
                                           to=world.emsp.party(), body={})
    assert body["data"]["allowed"] == "ALLOWED" and world.emsp.received[-1].path == "/sender/tokens/012345678/authorize"
    command = {"response_url": f"{world.emsp.base_url}/cb/1", "token": {"uid": "T1"}, "location_id": "LOC1"}
    glued = f"{base}/receiver/commandsSTART_SESSION"
    status, _, body = await world.emsp.call("POST", "commands", "RECEIVER", url=glued, to=world.cpo.party(),
                                            body=command)
    assert body["data"]["result"] == "ACCEPTED" and world.cpo.received[-1].path == "/receiver/commands/START_SESSION"
    scraped = await scrape(world.hub.base_url)
    assert metric(scraped, "ocpihub_tolerated_deviations_total", kind="glued_path") == 3
    assert metric(scraped, "ocpihub_tolerated_deviations_total", kind="empty_path_segment") == 1


async def test_a_missing_sender_and_a_list_body_are_accepted_and_counted(world: World) -> None:
    # No OCPI-from headers: the caller's one eMSP party is the sender.
    status, _, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party(),
                                            headers={"OCPI-from-country-code": None, "OCPI-from-party-id": None})
    assert (status, body["status_code"]) == (200, 1000)
    assert world.cpo.received[-1].headers["ocpi-from-party-id"] == "MSP"
    # A Location wrapped in a list: checked element by element, forwarded as sent.
    pushed = [location(1, "NL", "CPO")]
    status, _, body = await world.cpo.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=world.emsp.party(),
                                           body=pushed)
    assert (status, body["status_code"]) == (200, 1000) and json.loads(world.emsp.received[-1].body) == pushed
    scraped = await scrape(world.hub.base_url)
    for kind in ("sender_inferred", "list_body"):
        assert metric(scraped, "ocpihub_tolerated_deviations_total", kind=kind) == 1, kind


async def test_hubs_own_endpoints_answer_both_forms_and_ocpi_errors_everywhere_under_ocpi(world: World) -> None:
    base, token = world.hub.base_url, world.emsp.token_to_hub
    for target in ("/ocpi/versions/", "/ocpi/2.2.1/", "//ocpi//2.2.1", "/ocpi/2.2.1/credentials/",
                   "/ocpi/2.2.1/hubclientinfo/", "/ocpi/2.2.1/hubclientinfo//"):
        status, _, body = await get_raw(base, target, token)
        assert status == 200 and isinstance(body, dict) and body["status_code"] == 1000, (target, status, body)
    for target, method, http, code in (("/ocpi/2.2.1/nothing", "GET", 404, 2000), ("/ocpi/9.9", "GET", 404, 2000),
                                       ("/ocpi/versions/", "PATCH", 405, 2000),
                                       ("/ocpi/2.2.1/hubclientinfo", "PUT", 405, 2000),
                                       ("/ocpi/2.2.1/sender", "GET", 404, 2000),
                                       ("/ocpi/2.2.1/SENDER/locations//%FF", "GET", 404, 2000)):
        status, headers, body = await get_raw(base, target, token, method)
        assert isinstance(body, dict) and (status, body["status_code"]) == (http, code), (target, method, body)
        assert headers["content-type"] == "application/json"
    _, headers, _ = await get_raw(base, "/ocpi/versions/", token, "PATCH")
    assert "GET" in headers["allow"]


async def test_a_receiver_that_redirects_its_collection_to_the_other_slash_form_is_learned(world: World) -> None:
    hub_tariffs = world.emsp.hub_endpoints[("tariffs", "SENDER")]
    world.cpo.answers[("tariffs", "SENDER")] = (307, b"", {"Location": f"{world.cpo.base_url}/sender/tariffs/?limit=5"})
    status, headers, _ = await world.emsp.call("GET", "tariffs", "SENDER", url=hub_tariffs + "?limit=5",
                                               to=world.cpo.party())
    assert status == 307, "the hub follows no redirect"
    assert headers["location"] == f"{world.hub.base_url}/ocpi/2.2.1/sender/tariffs/?limit=5"
    del world.cpo.answers[("tariffs", "SENDER")]
    # From now on the collection is called the way the CPO serves it, whichever form the caller uses.
    for url in (hub_tariffs + "?limit=5", hub_tariffs + "/?limit=5"):
        status, _, body = await world.emsp.call("GET", "tariffs", "SENDER", url=url, to=world.cpo.party())
        assert (status, body["status_code"]) == (200, 1000)
        assert world.cpo.received[-1].path == "/sender/tariffs/"
    assert metric(await scrape(world.hub.base_url), "ocpihub_tolerated_deviations_total", kind="slash_redirect") == 1


# -- statuses, receivers refusing the hub -----------------------------------------------------------


async def test_a_planned_party_gets_4003_not_4000(world: World) -> None:
    status, _ = await world.hub.admin("POST", "/admin/invitations", {"parties": [
        {"country_code": "SE", "party_id": "NEW", "role": "CPO"}]})
    assert status == 201
    status, _, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=("SE", "NEW"))
    assert (status, body["status_code"]) == (200, 4003) and "SE*NEW" in body["status_message"]
    assert "PLANNED" in body["status_message"]


async def test_a_receiver_refusing_the_hubs_token_is_a_hub_error_the_operator_sees(net: Network, world: World) -> None:
    broken = await net.registered(world.hub, cpo("broken", pid="BRK"))
    # Told who is there first (answered: the ClientInfo check happens as each push arrives), then broken.
    await eventually(lambda: len(broken.clientinfo) >= 2)
    broken.quirks.add("refuse_hub")
    status, headers, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=broken.party())
    # Never 401/403: that would tell the eMSP its own token is dead.
    assert (status, body["status_code"]) == (200, 4003), body
    assert "NL*BRK refused the hub's credentials (HTTP 401" in body["status_message"]
    assert (headers["ocpi-from-party-id"], headers["ocpi-to-party-id"]) == ("HUB", "MSP")
    status, _, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC2", to=broken.party())
    assert body["status_code"] == 4003
    assert metric(await scrape(world.hub.base_url), "ocpihub_receiver_auth_refusals_total", status="401") == 2
    _, platforms = await world.hub.admin("GET", "/admin/platforms")
    broken_id = next(p["id"] for p in platforms if p["parties"][0]["party_id"] == "BRK")
    ok_id = next(p["id"] for p in platforms if p["parties"][0]["party_id"] == "CPO")

    async def failure(platform_id: int) -> object:
        return (await world.hub.admin("GET", f"/admin/platforms/{platform_id}"))[1]["last_outbound_auth_failure"]

    for _ in range(50):  # written in the background
        if await failure(broken_id):
            break
        await asyncio.sleep(0.05)
    found = await failure(broken_id)
    assert isinstance(found, dict) and found["http_status"] == 401 and found["at"]
    assert await failure(ok_id) is None


# -- routing headers on every answer ----------------------------------------------------------------


async def test_every_answer_carries_routing_headers(net: Network, world: World) -> None:
    def routing(headers: dict[str, str]) -> tuple[str, str, str, str]:
        return (headers.get("ocpi-from-country-code", ""), headers.get("ocpi-from-party-id", ""),
                headers.get("ocpi-to-country-code", ""), headers.get("ocpi-to-party-id", ""))

    # The hub's own errors: from the hub, to the requester.
    _, headers, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=("XX", "YYY"))
    assert body["status_code"] == 4001 and routing(headers) == ("NL", "HUB", "DE", "MSP")
    _, headers, _ = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party(), token="nope")
    assert routing(headers) == ("NL", "HUB", "DE", "MSP"), "to = the requester as it named itself"
    # GET all: from the hub.
    _, headers, body = await world.emsp.call("GET", "locations", "SENDER", "?limit=2", to=HUB)
    assert body["status_code"] == 1000 and routing(headers) == ("NL", "HUB", "DE", "MSP")
    # A receiver that answers with its own keeps them; one that sends none gets them from the hub.
    _, headers, _ = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party())
    assert routing(headers) == ("NL", "CPO", "DE", "MSP")
    bare = cpo("bare", pid="BAR")
    bare.quirks.add("no_routing_headers")
    await net.registered(world.hub, bare)
    _, headers, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=bare.party())
    assert body["status_code"] == 1000 and routing(headers) == ("NL", "BAR", "DE", "MSP")
    kind = {"kind": "no_routing_headers"}
    assert metric(await scrape(world.hub.base_url), "ocpihub_tolerated_deviations_total", **kind) == 1
    # One that names other parties (here: another CPO, to someone else) cannot answer in their name.
    liar = cpo("liar", pid="LIA")
    liar.quirks.add("claims_other_party")
    await net.registered(world.hub, liar)
    _, headers, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=liar.party())
    assert body["status_code"] == 1000 and routing(headers) == ("NL", "LIA", "DE", "MSP")
    kind = {"kind": "answer_routing_headers"}
    assert metric(await scrape(world.hub.base_url), "ocpihub_tolerated_deviations_total", **kind) == 1


# -- callbacks and Location tickets -----------------------------------------------------------------


async def test_callback_urls_are_short_and_live_as_long_as_their_command(world: World) -> None:
    base = f"{world.emsp.base_url}/sender/commands/"
    start = {"response_url": base + "x" * (255 - len(base)), "token": {"uid": "T1"}, "location_id": "LOC1"}
    assert len(start["response_url"]) == 255
    await world.emsp.call("POST", "commands", "RECEIVER", "/START_SESSION", to=world.cpo.party(), body=start)
    short = {"response_url": f"{world.emsp.base_url}/cb/2"}
    await world.emsp.call("POST", "commands", "RECEIVER", "/UNLOCK_CONNECTOR", to=world.cpo.party(), body=short)
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    reserve = {"response_url": f"{world.emsp.base_url}/cb/3", "token": {"uid": "T1"}, "location_id": "LOC1",
               "expiry_date": expiry, "reservation_id": "R1"}
    await world.emsp.call("POST", "commands", "RECEIVER", "/RESERVE_NOW", to=world.cpo.party(), body=reserve)
    long_url, short_url, reserve_url = world.cpo.response_urls[-3:]
    assert len(long_url) == len(short_url) == len(reserve_url), "fixed length, whatever the original"
    # With a 100-character public URL the hub's callback URL would still fit OCPI's URL type, string(255).
    assert len(long_url) - len(world.hub.base_url) + 100 <= 255
    auth = {"Authorization": token_header(world.cpo.token_to_hub or "")}
    async with aiohttp.ClientSession() as http:
        async with http.post(long_url, json={"result": "ACCEPTED"}, headers=auth) as r:
            assert r.status == 201
        assert world.emsp.received[-1].path == "/sender/commands/" + "x" * (255 - len(base))
        await asyncio.sleep(0.8)  # past OCPI_HUB_CALLBACK_TTL (0.6 s here), but not past the reservation
        async with http.post(short_url, json={"result": "ACCEPTED"}, headers=auth) as r:
            answer = await r.json()
            assert (r.status, answer["status_code"]) == (404, 2001) and "expired" in answer["status_message"]
        async with http.post(reserve_url, json={"result": "ACCEPTED"}, headers=auth) as r:
            assert r.status == 201 and world.emsp.received[-1].path == "/cb/3"
    state = world.hub.app.state
    assert state is not None
    assert await tickets_store.delete_expired(state.pool) == 2, "the leader deletes expired tickets"
    async with state.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tickets") == 1


async def test_a_cdr_location_elsewhere_stays_reachable_through_the_hub(net: Network, world: World) -> None:
    elsewhere = f"{world.emsp.base_url}/cdr-store/CDR1"
    world.emsp.answers[("cdrs", "RECEIVER")] = (201, envelope(), {"Location": elsewhere})
    status, headers, _ = await world.cpo.call("POST", "cdrs", "RECEIVER", to=world.emsp.party(),
                                              body={"id": "CDR1", "country_code": "NL", "party_id": "CPO"})
    assert status == 201
    location = headers["location"]
    assert location.startswith(f"{world.hub.base_url}/ocpi/2.2.1/callback/") and "cdr-store" not in location
    auth = {"Authorization": token_header(world.cpo.token_to_hub or "")}
    async with aiohttp.ClientSession() as http:
        async with http.get(location, headers=auth) as r:
            assert r.status == 200 and (await r.json())["status_code"] == 1000
        seen = world.emsp.received[-1]
        assert (seen.method, seen.path) == ("GET", "/cdr-store/CDR1")
        assert (seen.headers["ocpi-from-party-id"], seen.headers["ocpi-to-party-id"]) == ("CPO", "MSP")
        async with http.post(location, json={}, headers=auth) as r:
            assert r.status == 405
        other = await net.registered(world.hub, cpo("other", pid="OTH"))
        async with http.get(location, headers={"Authorization": token_header(other.token_to_hub or "")}) as r:
            assert r.status == 404, "only the party that got the Location may use it"


# -- GET all, timeouts --------------------------------------------------------------------------------


async def test_get_all_pages_an_owner_that_sends_no_total_count(net: Network, world: World) -> None:
    quiet = cpo("quiet", pid="QUI", location_count=5)
    quiet.quirks.add("no_total_count")
    await net.registered(world.hub, quiet)
    url: str = world.emsp.hub_endpoints[("locations", "SENDER")] + "?limit=4"
    seen: list[tuple[str, str]] = []
    while url:
        status, headers, body = await world.emsp.call("GET", "locations", "SENDER", url=url, to=HUB)
        assert status == 200 and headers["x-total-count"] == "12", headers  # 7 of NL*CPO + 5 of NL*QUI
        seen += [(loc["party_id"], loc["id"]) for loc in body["data"]]
        link = headers.get("link", "")
        url = link[1:link.index(">")] if link else ""
    assert seen == [("CPO", f"LOC{n}") for n in range(7)] + [("QUI", f"LOC{n}") for n in range(5)]


async def test_realtime_authorization_has_its_own_short_timeout(net: Network) -> None:
    hub = await net.hub(request_timeout=5.0, module_timeouts="authorize=0.3")
    station = await net.registered(hub, cpo("cpo"))
    slow = await net.registered(hub, emsp("slow", delay=1.0))
    started = time.monotonic()
    _, _, body = await station.call("POST", "tokens", "SENDER", "/T1/authorize", to=slow.party(), body={})
    assert body["status_code"] == 4002 and "0.3s" in body["status_message"]
    assert time.monotonic() - started < 0.9
    _, _, body = await station.call("GET", "tokens", "SENDER", "?limit=1", to=slow.party())
    assert body["status_code"] == 1000, "other requests keep OCPI_HUB_REQUEST_TIMEOUT"


# -- hubclientinfo ------------------------------------------------------------------------------------


async def test_hubclientinfo_newcomers_two_roles_and_removed_platforms(net: Network, world: World) -> None:
    both = FakePlatform(name="both", roles=[Role("CPO", "NL", "ABC"), Role("EMSP", "NL", "ABC")],
                        modules=[("locations", "SENDER"), ("locations", "RECEIVER"), ("hubclientinfo", "RECEIVER")])
    await net.registered(world.hub, both)
    # The newcomer is told who is there; the others are told about both of its roles.
    await eventually(lambda: {(r.json()["party_id"], r.json()["role"]) for r in both.clientinfo} >= {
        ("CPO", "CPO"), ("MSP", "EMSP")})
    await eventually(lambda: sorted(r.json()["role"] for r in world.emsp.clientinfo
                                    if r.path.endswith("/NL/ABC")) == ["CPO", "EMSP"])
    assert not [r for r in both.clientinfo if r.path.endswith("/NL/ABC")], "a party is not told about itself"
    _, platforms = await world.hub.admin("GET", "/admin/platforms")
    both_id = next(p["id"] for p in platforms if p["parties"][0]["party_id"] == "ABC")
    assert (await world.hub.admin("DELETE", f"/admin/platforms/{both_id}"))[0] == 204
    await eventually(lambda: pushes(world.emsp, "NL", "ABC")[-2:] == ["SUSPENDED", "SUSPENDED"])
    _, _, body = await hubclientinfo(world.emsp)
    listed = {(c["party_id"], c["role"]): c["status"] for c in body["data"]}
    assert listed[("ABC", "CPO")] == listed[("ABC", "EMSP")] == "SUSPENDED", "ClientInfo is never deleted"
    assert listed[("CPO", "CPO")] == "CONNECTED"
    # The same party registering again is live again, listed once.
    again = FakePlatform(name="again", roles=[Role("CPO", "NL", "ABC")], modules=[("locations", "SENDER")])
    await net.registered(world.hub, again)
    _, _, body = await hubclientinfo(world.emsp)
    assert [c["status"] for c in body["data"] if (c["party_id"], c["role"]) == ("ABC", "CPO")] == ["CONNECTED"]
    # The others are pushed the comeback too (the fake keeps pushes in .clientinfo, apart from module traffic).
    await eventually(lambda: [(r.json()["role"], r.json()["status"]) for r in world.emsp.clientinfo
                              if r.path.endswith("/NL/ABC")][-1:] == [("CPO", "CONNECTED")])
