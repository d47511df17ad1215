"""Direct forwarding through the hub: a real CPO and a real eMSP platform, registered by handshake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, Role, cpo, emsp, envelope, location
from tests.support.servers import free_port, raw_tcp_server

pytestmark = pytest.mark.anyio


@dataclass
class World:
    hub: RunningHub
    cpo: FakePlatform
    emsp: FakePlatform


@pytest.fixture
async def world(net: Network) -> AsyncIterator[World]:
    hub = await net.hub(request_timeout=1.0, max_body_bytes=64 * 1024)
    yield World(hub, await net.registered(hub, cpo("cpo")), await net.registered(hub, emsp("emsp")))


async def test_emsp_gets_location_evse_and_connector_from_cpo(world: World) -> None:
    for suffix, key in (("/LOC1", "id"), ("/LOC1/EVSE1", "uid"), ("/LOC1/EVSE1/1", "standard")):
        status, _, body = await world.emsp.call("GET", "locations", "SENDER", suffix, to=world.cpo.party())
        assert status == 200 and body["status_code"] == 1000 and key in body["data"], body
    seen = world.cpo.received[-1]
    assert seen.path == "/sender/locations/LOC1/EVSE1/1"
    assert seen.headers["ocpi-from-country-code"] == "DE" and seen.headers["ocpi-to-party-id"] == "CPO"


async def test_forwarded_request_gets_new_request_id_and_same_correlation_id(world: World) -> None:
    status, headers, _ = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party())
    assert status == 200
    forwarded = world.cpo.received[-1].headers
    assert forwarded["x-request-id"] != headers["_sent_request_id"]
    assert forwarded["x-correlation-id"] == headers["_sent_correlation_id"]
    # The caller gets its own ids back.
    assert headers["x-request-id"] == headers["_sent_request_id"]
    assert headers["x-correlation-id"] == headers["_sent_correlation_id"]
    # And the receiver saw the hub's token for it, base64 encoded (2.2.1).
    assert forwarded["authorization"].startswith("Token ") and world.cpo.token_for_hub not in forwarded["authorization"]


async def test_missing_correlation_id_is_generated_and_passed_on(world: World) -> None:
    status, headers, _ = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party(),
                                               headers={"X-Correlation-ID": None})  # type: ignore[dict-item]
    assert status == 200
    assert headers["x-correlation-id"] == world.cpo.received[-1].headers["x-correlation-id"] != ""


async def test_paginated_list_walked_by_link_headers_alone(world: World) -> None:
    url = world.emsp.hub_endpoints[("locations", "SENDER")]
    ids: list[str] = []
    pages = 0
    while url:
        status, headers, body = await world.emsp.call("GET", "locations", "SENDER", url=url, to=world.cpo.party())
        assert status == 200, body
        assert headers["x-total-count"] == "7" and headers["x-limit"] == "3"
        ids += [loc["id"] for loc in body["data"]]
        pages += 1
        link = headers.get("link")
        if link:
            assert link.startswith(f"<{world.hub.base_url}/ocpi/2.2.1/sender/locations?"), link
            assert link.endswith('>; rel="next"')
            url = link[1:link.index(">")]
        else:
            url = ""
    assert pages == 3
    assert ids == [f"LOC{n}" for n in range(7)]


async def test_cpo_pushes_location_session_and_cdr_into_emsp(world: World) -> None:
    loc = location(1)
    for method, module, suffix, body in (
        ("PUT", "locations", "/NL/CPO/LOC1", loc),
        ("PATCH", "locations", "/NL/CPO/LOC1/EVSE1", {"status": "CHARGING", "last_updated": "2026-01-02T00:00:00Z"}),
        ("PUT", "sessions", "/NL/CPO/S1", {"id": "S1", "last_updated": "2026-01-02T00:00:00Z"}),
        ("PATCH", "sessions", "/NL/CPO/S1", {"kwh": 3.5, "last_updated": "2026-01-02T00:01:00Z"}),
        ("POST", "cdrs", "", {"id": "CDR1", "last_updated": "2026-01-02T00:00:00Z"}),
        ("PUT", "tariffs", "/NL/CPO/T1", {"id": "T1", "last_updated": "2026-01-02T00:00:00Z"}),
    ):
        status, _, answer = await world.cpo.call(method, module, "RECEIVER", suffix, to=world.emsp.party(), body=body)
        assert status in (200, 201) and answer["status_code"] == 1000, (module, answer)
        seen = world.emsp.received[-1]
        assert (seen.method, seen.path) == (method, f"/receiver/{module}{suffix}")
        assert seen.json() == body, "body passes through untouched (last_updated included)"
        assert seen.headers["content-type"] == "application/json"


async def test_body_bytes_pass_through_unchanged(world: World) -> None:
    raw = b'{ "id":"T9",  "last_updated":"2026-01-02T00:00:00.000Z" ,"x":1.50}'
    status, _, _ = await world.cpo.call("PUT", "tariffs", "RECEIVER", "/NL/CPO/T9", to=world.emsp.party(), raw_body=raw)
    assert status == 200
    assert world.emsp.received[-1].body == raw


async def test_cpo_gets_tokens_and_asks_realtime_authorization(world: World) -> None:
    status, _, body = await world.cpo.call("GET", "tokens", "SENDER", "?offset=0&limit=10", to=world.emsp.party())
    assert status == 200 and body["data"] == []
    assert world.emsp.received[-1].query == "offset=0&limit=10"
    status, _, body = await world.cpo.call("POST", "tokens", "SENDER", "/012345678/authorize?type=RFID",
                                           to=world.emsp.party(), body={"location_id": "LOC1"})
    assert status == 200 and body["data"]["allowed"] == "ALLOWED"
    assert world.emsp.received[-1].path == "/sender/tokens/012345678/authorize"


async def test_location_header_points_back_at_the_hub(world: World) -> None:
    world.emsp.answers[("cdrs", "RECEIVER")] = (
        201, envelope(), {"Location": f"{world.emsp.base_url}/receiver/cdrs/CDR1"})
    status, headers, _ = await world.cpo.call("POST", "cdrs", "RECEIVER", to=world.emsp.party(), body={"id": "CDR1"})
    assert status == 201
    assert headers["location"] == f"{world.hub.base_url}/ocpi/2.2.1/receiver/cdrs/CDR1"


async def test_receiver_errors_and_non_ocpi_bodies_go_back_unchanged(world: World) -> None:
    world.emsp.answers[("sessions", "RECEIVER")] = (200, envelope(status_code=2001, message="bad kwh"), {})
    status, _, body = await world.cpo.call("PUT", "sessions", "RECEIVER", "/NL/CPO/S1", to=world.emsp.party(), body={})
    assert (status, body["status_code"], body["status_message"]) == (200, 2001, "bad kwh")
    html = b"<html>Internal Server Error</html>"
    world.emsp.answers[("sessions", "RECEIVER")] = (500, html, {"Content-Type": "text/html"})
    status, headers, body = await world.cpo.call("PUT", "sessions", "RECEIVER", "/NL/CPO/S1",
                                                 to=world.emsp.party(), body={})
    assert status == 500 and body == b"<html>Internal Server Error</html>"
    assert headers["content-type"].startswith("text/html")


async def test_start_session_result_comes_back_through_the_hub(world: World) -> None:
    original = f"{world.emsp.base_url}/sender/commands/START_SESSION/req-42"
    command = {"response_url": original, "token": {"uid": "012345678"}, "location_id": "LOC1"}
    status, _, body = await world.emsp.call("POST", "commands", "RECEIVER", "/START_SESSION",
                                            to=world.cpo.party(), body=command)
    assert status == 200 and body["data"]["result"] == "ACCEPTED"
    forwarded = world.cpo.received[-1].json()
    callback = forwarded["response_url"]
    assert callback.startswith(f"{world.hub.base_url}/ocpi/2.2.1/callback/")
    assert forwarded["location_id"] == "LOC1" and forwarded["token"] == command["token"]

    # The CPO answers later on that URL, with its own token and (as many do) without routing headers.
    result = {"result": "ACCEPTED"}
    async with aiohttp.ClientSession() as http, http.post(
        callback, json=result, headers={"Authorization": f"Token {world.cpo.token_to_hub}"}
    ) as r:
        # The eMSP's own answer (201 for a POST) comes back unchanged.
        assert r.status == 201, await r.text()
    seen = world.emsp.received[-1]
    assert seen.path == "/sender/commands/START_SESSION/req-42" and seen.method == "POST"
    assert seen.json() == result
    assert seen.headers["ocpi-from-party-id"] == "CPO" and seen.headers["ocpi-to-party-id"] == "MSP"
    # The eMSP only answers to its own token, so the hub used the eMSP's token, not the CPO's.
    assert seen.headers["authorization"].startswith("Token ")


async def test_callback_url_cannot_be_used_by_another_platform_or_forged(net: Network, world: World) -> None:
    command = {"response_url": f"{world.emsp.base_url}/sender/commands/STOP_SESSION/1", "session_id": "S1"}
    await world.emsp.call("POST", "commands", "RECEIVER", "/STOP_SESSION", to=world.cpo.party(), body=command)
    callback = world.cpo.response_urls[-1]
    other = await net.registered(world.hub, cpo("cpo-2", pid="CP2"))
    before = len(world.emsp.received)
    async with aiohttp.ClientSession() as http:
        # Not the caller's to use, or not issued at all: no such resource for it (404, 2001).
        async with http.post(callback, json={"result": "ACCEPTED"},
                             headers={"Authorization": f"Token {other.token_to_hub}"}) as r:
            assert r.status == 404 and (await r.json())["status_code"] == 2001
        forged = callback[:-3] + ("AAA" if not callback.endswith("AAA") else "BBB")
        async with http.post(forged, json={"result": "ACCEPTED"},
                             headers={"Authorization": f"Token {world.cpo.token_to_hub}"}) as r:
            assert r.status == 404
    assert len(world.emsp.received) == before, "nothing was delivered"


async def test_callback_works_on_another_hub_process(net: Network, world: World) -> None:
    second = await net.hub()  # same database: same callback signing key
    command = {"response_url": f"{world.emsp.base_url}/sender/commands/UNLOCK_CONNECTOR/7"}
    await world.emsp.call("POST", "commands", "RECEIVER", "/UNLOCK_CONNECTOR", to=world.cpo.party(), body=command)
    callback = world.cpo.response_urls[-1].replace(world.hub.base_url, second.base_url)
    async with aiohttp.ClientSession() as http, http.post(
        callback, json={"result": "ACCEPTED"}, headers={"Authorization": f"Token {world.cpo.token_to_hub}"}
    ) as r:
        assert r.status == 201
    assert world.emsp.received[-1].path == "/sender/commands/UNLOCK_CONNECTOR/7"


async def test_charging_profile_response_urls_in_body_and_query_are_rewritten(world: World) -> None:
    original = f"{world.emsp.base_url}/sender/chargingprofiles/result/1"
    body = {"charging_profile": {"charging_rate_unit": "W"}, "response_url": original}
    status, _, _ = await world.emsp.call("PUT", "chargingprofiles", "RECEIVER", "/S1", to=world.cpo.party(), body=body)
    assert status == 200
    rewritten = world.cpo.received[-1].json()["response_url"]
    assert rewritten.startswith(world.hub.base_url)
    status, _, _ = await world.emsp.call(
        "GET", "chargingprofiles", "RECEIVER", f"/S1?duration=900&response_url={original}", to=world.cpo.party()
    )
    assert status == 200
    query_url = world.cpo.response_urls[-1]
    assert query_url.startswith(f"{world.hub.base_url}/ocpi/2.2.1/callback/")
    assert "duration=900" in world.cpo.received[-1].query
    async with aiohttp.ClientSession() as http, http.post(
        query_url, json={"result": "ACCEPTED", "profile": None},
        headers={"Authorization": f"Token {world.cpo.token_to_hub}"},
    ) as r:
        assert r.status == 201
    assert world.emsp.received[-1].path == "/sender/chargingprofiles/result/1"


async def test_emsp_pushes_tokens_and_reads_tariffs_and_paginated_cdrs(world: World) -> None:
    status, _, body = await world.emsp.call("PUT", "tokens", "RECEIVER", "/DE/MSP/012345678",
                                            to=world.cpo.party(), body={"uid": "012345678"})
    assert status == 200 and world.cpo.received[-1].path == "/receiver/tokens/DE/MSP/012345678"
    status, headers, body = await world.emsp.call("GET", "tariffs", "SENDER", "?limit=5", to=world.cpo.party())
    assert status == 200 and body["data"] == [] and headers["x-total-count"] == "0"
    assert await walk(world.emsp, "cdrs", world.cpo) == [f"CDRS{n}" for n in range(5)]


async def walk(client: FakePlatform, module: str, owner: FakePlatform) -> list[str]:
    """Every object of a paginated list through the hub, following Link headers only."""
    url = client.hub_endpoints[(module, "SENDER")]
    ids: list[str] = []
    while url:
        status, headers, body = await client.call("GET", module, "SENDER", url=url, to=owner.party())
        assert status == 200, body
        ids += [obj["id"] for obj in body["data"]]
        link = headers.get("link", "")
        url = link[1:link.index(">")] if link else ""
    return ids


# -- failures -------------------------------------------------------------------------------


async def test_spoofed_from_party_gets_2001_and_nothing_is_forwarded(world: World) -> None:
    before = len(world.cpo.received)
    status, _, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party(),
                                            sender=Role("EMSP", "FR", "XYZ"))
    # The token is fine (401 would tell the caller it is not): an OCPI refusal, HTTP 200.
    assert status == 200 and body["status_code"] == 2001 and "FR*XYZ" in body["status_message"]
    # Pretending to be the CPO itself is spoofing too.
    status, _, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party(),
                                            sender=world.cpo.party())
    assert (status, body["status_code"]) == (200, 2001)
    assert len(world.cpo.received) == before


async def test_missing_from_headers_are_inferred_from_a_single_party_platform(world: World) -> None:
    status, _, _ = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party(),
                                         headers={"OCPI-from-country-code": None, "OCPI-from-party-id": None})  # type: ignore[dict-item]
    assert status == 200
    assert world.cpo.received[-1].headers["ocpi-from-party-id"] == "MSP"


async def test_missing_to_headers_get_a_clear_2001(world: World) -> None:
    status, _, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1")
    assert status == 200 and body["status_code"] == 2001 and "OCPI-to" in body["status_message"]


async def test_unknown_receiver_gets_4001(world: World) -> None:
    status, _, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=("BE", "XXX"))
    assert status == 200 and body["status_code"] == 4001 and "BE*XXX" in body["status_message"]


async def test_lower_case_party_ids_route_like_upper_case(world: World) -> None:
    status, _, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=("nl", "cpo"))
    assert status == 200 and body["status_code"] == 1000


async def test_suspended_receiver_gets_4003(world: World) -> None:
    _, platforms = await world.hub.admin("GET", "/admin/platforms")
    cpo_id = next(p["id"] for p in platforms if p["parties"][0]["party_id"] == "CPO")
    await world.hub.admin("POST", f"/admin/platforms/{cpo_id}/suspend")
    status, _, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party())
    assert status == 200 and body["status_code"] == 4003 and "NL*CPO" in body["status_message"]


async def test_receiver_without_the_module_interface_gets_4000(net: Network) -> None:
    hub = await net.hub()
    station = await net.registered(hub, cpo("cpo"))
    no_tariffs = emsp("emsp")
    no_tariffs.modules.remove(("tariffs", "RECEIVER"))
    await net.registered(hub, no_tariffs)
    status, _, body = await station.call("PUT", "tariffs", "RECEIVER", "/NL/CPO/T1", to=no_tariffs.party(),
                                         body={"id": "T1"})
    assert (status, body["status_code"]) == (200, 4000)
    assert "DE*MSP does not offer the tariffs RECEIVER interface" in body["status_message"]
    assert not no_tariffs.received


async def test_platform_with_several_parties_must_name_its_from_party(net: Network) -> None:
    hub = await net.hub()
    msp = await net.registered(hub, emsp("emsp"))
    multi = cpo("multi")
    multi.roles.append(Role("CPO", "NL", "CP2"))
    await net.registered(hub, multi)
    no_from = {"OCPI-from-country-code": None, "OCPI-from-party-id": None}
    status, _, body = await multi.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=msp.party(),
                                       body=location(1), headers=no_from)  # type: ignore[arg-type]
    assert (status, body["status_code"]) == (200, 2001) and "several parties" in body["status_message"]
    status, _, _ = await multi.call("PUT", "locations", "RECEIVER", "/NL/CP2/LOC1", to=msp.party(),
                                    body=location(1, "NL", "CP2"), sender=multi.party(1))
    assert status == 200 and msp.received[-1].headers["ocpi-from-party-id"] == "CP2"


async def test_unknown_token_on_routed_module_is_401(world: World) -> None:
    status, _, body = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party(), token="nope")
    assert status == 401 and body["status_code"] == 2000


async def test_token_a_on_a_functional_module_is_401(world: World) -> None:
    token_a = await world.hub.invite()
    status, _, _ = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party(), token=token_a)
    assert status == 401


async def test_malformed_json_body_is_400_with_2001_and_not_forwarded(world: World) -> None:
    before = len(world.emsp.received)
    status, _, body = await world.cpo.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=world.emsp.party(),
                                           raw_body=b'{"id": "LOC1",')
    assert status == 400 and body["status_code"] == 2001 and "JSON" in body["status_message"]
    assert len(world.emsp.received) == before


async def test_oversized_body_is_413_without_forwarding(world: World) -> None:
    before = len(world.emsp.received)
    big = {"id": "LOC1", "blob": "x" * (80 * 1024)}
    status, _, body = await world.cpo.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1",
                                           to=world.emsp.party(), body=big)
    assert status == 413 and body["status_code"] == 2000 and "limit" in body["status_message"]
    assert len(world.emsp.received) == before


async def test_oversized_chunked_body_is_413(world: World) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"blob": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    async with aiohttp.ClientSession() as http, http.put(
        world.cpo.hub_endpoints[("locations", "RECEIVER")] + "/NL/CPO/LOC1", data=chunks(),
        headers={"Authorization": f"Token {world.cpo.token_to_hub}", "OCPI-to-country-code": "DE",
                 "OCPI-to-party-id": "MSP", "Content-Type": "application/json"},
    ) as r:
        assert r.status == 413


async def test_receiver_refusing_connections_gets_4003(net: Network) -> None:
    hub = await net.hub(request_timeout=1.0)
    msp = await net.registered(hub, emsp("emsp"))
    gone = await net.registered(hub, cpo("cpo-gone", pid="GON", module_base=f"http://127.0.0.1:{free_port()}"))
    status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC1", to=gone.party())
    assert status == 200 and body["status_code"] == 4003 and "NL*GON" in body["status_message"]


async def test_receiver_hanging_gets_4002_and_does_not_block_others(net: Network) -> None:
    hub = await net.hub(request_timeout=0.5)
    msp = await net.registered(hub, emsp("emsp"))
    fine = await net.registered(hub, cpo("cpo-fine", pid="FIN"))
    async with raw_tcp_server("hang") as port:
        slow = await net.registered(hub, cpo("cpo-slow", pid="SLO", module_base=f"http://127.0.0.1:{port}"))
        slow_call = asyncio.create_task(msp.call("GET", "locations", "SENDER", "/LOC1", to=slow.party()))
        status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC1", to=fine.party())
        assert status == 200 and not slow_call.done(), "a hanging receiver does not hold up another"
        status, _, body = await slow_call
    assert status == 200 and body["status_code"] == 4002 and "NL*SLO" in body["status_message"]


async def test_receiver_answering_garbage_gets_4003(net: Network) -> None:
    hub = await net.hub(request_timeout=1.0)
    msp = await net.registered(hub, emsp("emsp"))
    async with raw_tcp_server("garbage") as port:
        bad = await net.registered(hub, cpo("cpo-bad", pid="GRB", module_base=f"http://127.0.0.1:{port}"))
        status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC1", to=bad.party())
    assert status == 200 and body["status_code"] == 4003 and "NL*GRB" in body["status_message"]


async def test_aiohttp_fallback_client_routes_and_maps_failures_the_same(net: Network) -> None:
    hub = await net.hub(outbound_client="aiohttp", request_timeout=0.5)
    msp = await net.registered(hub, emsp("emsp"))
    station = await net.registered(hub, cpo("cpo"))
    status, headers, body = await msp.call("GET", "locations", "SENDER", "?limit=3", to=station.party())
    assert status == 200 and len(body["data"]) == 3 and headers["link"].startswith(f"<{hub.base_url}/")
    gone = await net.registered(hub, cpo("gone", pid="GON", module_base=f"http://127.0.0.1:{free_port()}"))
    status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC1", to=gone.party())
    assert (status, body["status_code"]) == (200, 4003)
    async with raw_tcp_server("hang") as port:
        slow = await net.registered(hub, cpo("slow", pid="SLO", module_base=f"http://127.0.0.1:{port}"))
        status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC1", to=slow.party())
    assert (status, body["status_code"]) == (200, 4002)
    async with raw_tcp_server("garbage") as port:
        bad = await net.registered(hub, cpo("bad", pid="GRB", module_base=f"http://127.0.0.1:{port}"))
        status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC1", to=bad.party())
    assert (status, body["status_code"]) == (200, 4003)


async def test_receiver_redirect_for_a_missing_slash_is_followed_through_the_hub(world: World) -> None:
    # Sloppy stacks answer 307 pointing at the same URL with a trailing slash: the Location is rebased
    # on the hub, so a client that follows it stays on the hub.
    world.cpo.answers[("tariffs", "SENDER")] = (
        307, b"", {"Location": f"{world.cpo.base_url}/sender/tariffs/?limit=5"})
    status, headers, _ = await world.emsp.call("GET", "tariffs", "SENDER", "?limit=5", to=world.cpo.party())
    assert status == 307
    assert headers["location"] == f"{world.hub.base_url}/ocpi/2.2.1/sender/tariffs/?limit=5"
    del world.cpo.answers[("tariffs", "SENDER")]
    status, _, body = await world.emsp.call("GET", "tariffs", "SENDER", url=headers["location"], to=world.cpo.party())
    assert status == 200 and body["status_code"] == 1000
    assert world.cpo.received[-1].path == "/sender/tariffs/"


async def test_put_without_a_body_is_2001_and_not_forwarded(world: World) -> None:
    before = len(world.emsp.received)
    status, _, body = await world.cpo.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=world.emsp.party())
    assert (status, body["status_code"]) == (400, 2001) and "needs a JSON body" in body["status_message"]
    assert len(world.emsp.received) == before


async def test_callback_is_only_delivered_with_post(world: World) -> None:
    command = {"response_url": f"{world.emsp.base_url}/sender/commands/STOP_SESSION/9", "session_id": "S1"}
    await world.emsp.call("POST", "commands", "RECEIVER", "/STOP_SESSION", to=world.cpo.party(), body=command)
    before = len(world.emsp.received)
    async with aiohttp.ClientSession() as http, http.get(
        world.cpo.response_urls[-1], headers={"Authorization": f"Token {world.cpo.token_to_hub}"}
    ) as r:
        assert r.status == 405 and (await r.json())["status_code"] == 2000
    assert len(world.emsp.received) == before
