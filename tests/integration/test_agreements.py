"""Roaming agreements over the wire: OCPI_HUB_AGREEMENTS=required for direct routing, broadcast, GET
all, open routing and callbacks; agreements that start and end by the clock; one replica's change
effective on another within a second; and the operator's admin API and CLI."""

from __future__ import annotations

import asyncio
import datetime
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.test_operations import metric, scrape
from tests.integration.test_policy import HUB, World, build_world, settled, token
from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, location
from tests.support.process import hub_command

pytestmark = pytest.mark.anyio


def when(seconds: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


async def agree(hub: RunningHub, station: FakePlatform, msp: FakePlatform, modules: list[str] | None = None,
                **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"cpo": {"country_code": station.party().country_code,
                                    "party_id": station.party().party_id},
                            "emsp": {"country_code": msp.party().country_code, "party_id": msp.party().party_id}}
    if modules is not None:
        body["modules"] = modules
    status, created = await hub.admin("POST", "/admin/agreements", body | extra)
    assert status == 201, created
    return created


async def poll(client: FakePlatform, target: FakePlatform, until: Any, seconds: float = 5.0,
               hub: RunningHub | None = None) -> tuple[int, float]:
    """GET a location through the hub until ``until(status_code)``: (status_code, seconds waited)."""
    started = time.monotonic()
    url = client.hub_endpoints[("locations", "SENDER")] + "/LOC1"
    if hub is not None:
        url = hub.base_url + "/ocpi/2.2.1/sender/locations/LOC1"
    while True:
        _, _, answer = await client.call("GET", "locations", "SENDER", url=url, to=target.party())
        elapsed = time.monotonic() - started
        if until(answer["status_code"]) or elapsed > seconds:
            return answer["status_code"], elapsed
        await asyncio.sleep(0.02)


@pytest.fixture
async def required(net: Network) -> World:
    return await build_world(net, agreements="required")


async def test_required_mode_routes_direct_broadcast_and_get_all_only_under_agreements(required: World) -> None:
    w = required
    seen = w.seen()
    status, _, answer = await w.msp1.call("GET", "locations", "SENDER", "/LOC1", to=w.cpo1.party())
    assert (status, answer["status_code"]) == (200, 4000)
    assert answer["status_message"] == "no roaming agreement between CPO NL*CPO and DE*MSP covers locations now"
    assert w.seen() == seen
    await agree(w.hub, w.cpo1, w.msp1, ["locations", "tariffs"])
    status, _, answer = await w.msp1.call("GET", "locations", "SENDER", "/LOC1", to=w.cpo1.party())
    assert answer["status_code"] == 1000, "in effect at once on this replica"
    status, _, answer = await w.msp1.call("GET", "cdrs", "SENDER", "", to=w.cpo1.party())
    assert answer["status_code"] == 4000 and "covers cdrs" in answer["status_message"]
    # A broadcast reaches only the eMSPs with an agreement.
    status, _, answer = await w.cpo1.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=HUB, body=location(1))
    assert answer["status_message"] == "broadcast to 1 receivers"
    await settled()
    assert w.msp1.received[-1].path == "/receiver/locations/NL/CPO/LOC1"
    assert not [r for r in w.msp2.received if "/locations/" in r.path]
    # GET all combines only owners the caller has an agreement with (NL*CP2 is not even asked).
    status, headers, answer = await w.msp1.call("GET", "locations", "SENDER", "?limit=50", to=HUB)
    assert headers["x-total-count"] == "7" and {loc["party_id"] for loc in answer["data"]} == {"CPO"}
    assert not w.cpo2.received
    await agree(w.hub, w.cpo2, w.msp1, ["locations"])
    status, headers, answer = await w.msp1.call("GET", "locations", "SENDER", "?limit=50", to=HUB)
    assert headers["x-total-count"] == "12"
    # Two requests were refused (LOC1 before the agreement, then cdrs): the broadcast and GET all left
    # parties out without refusing anything.
    assert metric(await scrape(w.hub.base_url), "ocpihub_policy_denials_total", rule="agreement") == 2


async def test_required_mode_open_routing_considers_only_agreed_parties(required: World) -> None:
    w = required
    for station, pid in ((w.cpo1, "CPO"), (w.cpo2, "CP2")):  # both have a LOC1 (broadcast to nobody: still learned)
        _, _, answer = await station.call("PUT", "locations", "RECEIVER", f"/NL/{pid}/LOC1", to=HUB,
                                               body=location(1, "NL", pid))
        assert answer["status_message"] == "broadcast to 0 receivers"
    command = {"response_url": "http://127.0.0.1:9/cb", "location_id": "LOC1", "token": token("DE", "MSP", "T1")}
    _status, _, answer = await w.msp1.call("POST", "commands", "RECEIVER", "/START_SESSION", body=command)
    assert answer["status_code"] == 4000 and "without a roaming agreement with DE*MSP" in answer["status_message"]
    await agree(w.hub, w.cpo2, w.msp1, ["commands"])
    _, _, answer = await w.msp1.call("POST", "commands", "RECEIVER", "/START_SESSION", body=command)
    assert answer["status_code"] == 1000 and w.cpo2.received[-1].path == "/receiver/commands/START_SESSION"
    assert not w.cpo1.received


async def test_a_callback_of_an_allowed_request_stays_allowed(required: World) -> None:
    w = required
    agreement = await agree(w.hub, w.cpo1, w.msp1)
    command = {"response_url": f"{w.msp1.base_url}/sender/commands/START_SESSION/7", "location_id": "LOC1",
               "token": token("DE", "MSP", "T1")}
    status, _, answer = await w.msp1.call("POST", "commands", "RECEIVER", "/START_SESSION", to=w.cpo1.party(),
                                          body=command)
    assert answer["status_code"] == 1000
    callback = w.cpo1.response_urls[-1]
    status, ended = await w.hub.admin("DELETE", f"/admin/agreements/{agreement['id']}")
    assert status == 200 and ended["status"] == "ended" and ended["ended_at"]
    status, _, answer = await w.msp1.call("POST", "commands", "RECEIVER", "/START_SESSION", to=w.cpo1.party(),
                                          body=command)
    assert answer["status_code"] == 4000, "new commands need the agreement"
    auth = {"Authorization": f"Token {w.cpo1.token_to_hub}"}
    path = "/" + callback.split("/", 3)[3]
    before = len(w.msp1.received)
    for junk in ("/", "/x", "/../../credentials", "%2F..%2F..%2Fcredentials"):
        status, _, answer = await w.cpo1.raw("POST", path + junk, body={"result": "ACCEPTED"})
        assert (status, answer["status_code"]) == (404, 2001), junk
    assert len(w.msp1.received) == before, "junk after a ticket reaches nobody"
    _, platforms = await w.hub.admin("GET", "/admin/platforms")
    msp1_id = next(p["id"] for p in platforms if p["parties"][0]["country_code"] == "DE")
    await w.hub.admin("POST", f"/admin/platforms/{msp1_id}/suspend")
    async with aiohttp.ClientSession() as http:
        async with http.post(callback, json={"result": "ACCEPTED"}, headers=auth) as r:
            assert (r.status, (await r.json())["status_code"]) == (200, 4003), "a suspended platform receives nothing"
        assert len(w.msp1.received) == before
        await w.hub.admin("POST", f"/admin/platforms/{msp1_id}/unsuspend")
        async with http.post(callback, json={"result": "ACCEPTED"}, headers=auth) as r:
            assert r.status == 201, await r.text()
    assert w.msp1.received[-1].path == "/sender/commands/START_SESSION/7"


async def test_an_agreement_starts_and_ends_by_the_clock_while_the_hub_runs(required: World) -> None:
    w = required
    await agree(w.hub, w.cpo1, w.msp1, valid_from=when(1.0), valid_until=when(2.5))
    code, _ = await poll(w.msp1, w.cpo1, lambda c: True, 0)
    assert code == 4000, "not yet"
    code, waited = await poll(w.msp1, w.cpo1, lambda c: c == 1000)
    assert code == 1000 and waited < 2.0
    code, waited = await poll(w.msp1, w.cpo1, lambda c: c != 1000)
    assert code == 4000 and waited < 2.5, "ended without a restart or a reload"


async def test_an_agreement_made_on_one_replica_allows_traffic_on_another_within_a_second(net: Network) -> None:
    w = await build_world(net, agreements="required")
    second = await net.hub(agreements="required", registry_reload_seconds=3600)  # only NOTIFY can do it in time
    code, _ = await poll(w.msp1, w.cpo1, lambda c: True, 0, hub=second)
    assert code == 4000
    await agree(w.hub, w.cpo1, w.msp1, ["locations"])
    code, waited = await poll(w.msp1, w.cpo1, lambda c: c == 1000, hub=second)
    assert code == 1000 and waited <= 1.0, waited


async def test_a_suspended_agreement_stops_traffic_on_every_replica_until_it_is_resumed(net: Network) -> None:
    w = await build_world(net, agreements="required")
    second = await net.hub(agreements="required", registry_reload_seconds=3600)  # only NOTIFY can do it in time
    agreement = await agree(w.hub, w.cpo1, w.msp1, ["locations"])
    for hub in (None, second):
        code, _ = await poll(w.msp1, w.cpo1, lambda c: c == 1000, hub=hub)
        assert code == 1000, "agreed: traffic flows"
    before = metric(await scrape(w.hub.base_url), "ocpihub_policy_denials_total", rule="agreement")
    status, suspended = await w.hub.admin("POST", f"/admin/agreements/{agreement['id']}/suspend")
    assert status == 200 and suspended["status"] == "suspended"
    seen = w.seen()
    # In effect at once on this replica: neither a direct request nor a broadcast gets through.
    status, _, answer = await w.msp1.call("GET", "locations", "SENDER", "/LOC1", to=w.cpo1.party())
    assert (status, answer["status_code"]) == (200, 4000), answer
    assert "no roaming agreement between CPO NL*CPO and DE*MSP" in answer["status_message"]
    _, _, answer = await w.cpo1.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=HUB, body=location(1))
    assert answer["status_message"] == "broadcast to 0 receivers"
    await settled()
    assert w.seen() == seen, "nothing reached a partner while the agreement was suspended"
    after = metric(await scrape(w.hub.base_url), "ocpihub_policy_denials_total", rule="agreement")
    assert after == before + 1, "the direct request is a denial; a broadcast receiver left out is not"
    code, waited = await poll(w.msp1, w.cpo1, lambda c: c != 1000, hub=second)
    assert code == 4000 and waited <= 1.0, ("the other replica", waited)
    # Resumed: traffic flows again, here at once and on the other replica within a second.
    status, resumed = await w.hub.admin("POST", f"/admin/agreements/{agreement['id']}/unsuspend")
    assert status == 200 and resumed["status"] == "active"
    status, _, answer = await w.msp1.call("GET", "locations", "SENDER", "/LOC1", to=w.cpo1.party())
    assert answer["status_code"] == 1000 and w.cpo1.received[-1].path == "/sender/locations/LOC1"
    code, waited = await poll(w.msp1, w.cpo1, lambda c: c == 1000, hub=second)
    assert code == 1000 and waited <= 1.0, ("the other replica", waited)


# -- the operator's side ---------------------------------------------------------------------------


def party(cc: str, pid: str) -> dict[str, str]:
    return {"country_code": cc, "party_id": pid}


async def test_invalid_agreements_get_4xx_naming_the_field_and_nothing_is_written(world_open: World) -> None:
    w = world_open
    first = await agree(w.hub, w.cpo1, w.msp1, ["locations"], valid_until=when(3600))
    for body, status, field in (
        ({"cpo": party("NL", "XXX"), "emsp": party("DE", "MSP")}, 400, "cpo"),
        ({"cpo": party("NL", "CPO"), "emsp": party("NL", "CP2")}, 400, "emsp"),
        ({"cpo": party("NL", "CPO"), "emsp": party("BE", "MSP"), "valid_from": when(100), "valid_until": when(50)},
         400, "valid_until"),
        ({"cpo": party("NL", "CPO"), "emsp": party("DE", "MSP")}, 409, "duplicate"),
        ({"cpo": party("NL", "CPO"), "emsp": party("BE", "MSP"), "modules": ["parking"]}, 400, "modules"),
        ({"cpo": party("NLD", "CPO"), "emsp": party("BE", "MSP")}, 400, "cpo.country_code"),
    ):
        got, answer = await w.hub.admin("POST", "/admin/agreements", body)
        assert (got, answer["field"]) == (status, field), answer
        assert field.split(".")[0] in answer["error"]
    status, listed = await w.hub.admin("GET", "/admin/agreements")
    assert [a["id"] for a in listed] == [first["id"]]
    assert listed[0]["modules"] == ["locations"] and listed[0]["in_effect"] is True


async def test_import_is_all_or_nothing_and_reports_every_bad_line(world_open: World) -> None:
    w = world_open
    bad = ("cpo_country_code,cpo_party_id,emsp_country_code,emsp_party_id,modules,valid_from,valid_until\n"
           "NL,CPO,DE,MSP,locations tariffs,,\n"
           "NL,CPO,NL,CP2,,,\n"
           "NL,CP2,BE,MSP,,2026-01-01T00:00:00,\n"
           "NL,CP2,DE,MSP,,,\n"
           "NL,CP2,DE,MSP,sessions,,\n")
    status, answer = await w.hub.admin_raw("POST", "/admin/agreements/import", bad.encode(), "text/csv")
    assert status == 400, answer
    assert [(p["line"], p["field"]) for p in answer["problems"]] == [(3, "emsp"), (4, "valid_from"), (6, "duplicate")]
    _, listed = await w.hub.admin("GET", "/admin/agreements")
    assert listed == [], "nothing half-written"
    good = [{"cpo": party("NL", "CPO"), "emsp": party("DE", "MSP"), "modules": ["locations"]},
            {"cpo": party("NL", "CP2"), "emsp": party("DE", "MSP")},
            {"cpo": party("NL", "CP2"), "emsp": party("BE", "MSP"), "valid_until": when(3600)}]
    status, answer = await w.hub.admin_raw("POST", "/admin/agreements/import", json.dumps(good).encode(),
                                           "application/json")
    assert status == 201 and answer["created"] == 3
    status, listed = await w.hub.admin("GET", "/admin/agreements?party=NL*CP2&status=active")
    assert status == 200 and {(a["emsp"]["country_code"], a["id"]) for a in listed} == {
        ("DE", answer["ids"][1]), ("BE", answer["ids"][2])}
    # Suspend, resume, end; an ended agreement stays, for audit, and can no longer be resumed.
    one = answer["ids"][0]
    assert (await w.hub.admin("POST", f"/admin/agreements/{one}/suspend"))[1]["status"] == "suspended"
    assert (await w.hub.admin("POST", f"/admin/agreements/{one}/unsuspend"))[1]["status"] == "active"
    assert (await w.hub.admin("DELETE", f"/admin/agreements/{one}"))[1]["status"] == "ended"
    assert (await w.hub.admin("POST", f"/admin/agreements/{one}/unsuspend"))[0] == 409
    assert (await w.hub.admin("GET", f"/admin/agreements/{one}"))[1]["in_effect"] is False
    assert (await w.hub.admin("GET", "/admin/agreements/99999999999999999999"))[0] == 404
    # The platform view shows each party's agreements (not the ended one).
    _, platforms = await w.hub.admin("GET", "/admin/platforms")
    cp2_id = next(p["id"] for p in platforms if p["parties"][0]["party_id"] == "CP2")
    _, shown = await w.hub.admin("GET", f"/admin/platforms/{cp2_id}")
    assert sorted(a["emsp"]["country_code"] for a in shown["parties"][0]["agreements"]) == ["BE", "DE"]


async def test_cli_wraps_the_agreements_api(world_open: World, tmp_path: Path) -> None:
    w = world_open
    csv_file = tmp_path / "agreements.csv"
    csv_file.write_text("cpo_country_code,cpo_party_id,emsp_country_code,emsp_party_id\nNL,CPO,BE,MSP\n")
    admin = [*hub_command(), "agreements", "--hub", w.hub.base_url, f"--admin-token={w.hub.admin_token}"]

    def run(*args: str) -> Any:
        out = subprocess.run([*admin, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    imported = await asyncio.to_thread(run, "import", str(csv_file))
    # Both spellings of a party read, in any case ("nl:cp2" as the invitation options write it).
    created = await asyncio.to_thread(run, "create", "--cpo", "nl:cp2", "--emsp", "DE*MSP", "--modules",
                                      "locations,tariffs", "--until", when(3600))
    assert created["modules"] == ["locations", "tariffs"] and created["valid_until"]
    assert created["cpo"] == {"country_code": "NL", "party_id": "CP2"}
    listed = await asyncio.to_thread(run, "list", "--party", "BE*MSP")
    assert [a["id"] for a in listed] == imported["ids"]
    assert [a["id"] for a in await asyncio.to_thread(run, "list", "--party", "BE:MSP")] == imported["ids"]
    assert (await asyncio.to_thread(run, "end", str(created["id"])))["status"] == "ended"
    refused = await asyncio.to_thread(subprocess.run, [*admin, "create", "--cpo", "NL*CPO", "--emsp", "BE*MSP"],
                                      capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "HTTP 409" in refused.stderr and "duplicate" in refused.stderr


@pytest.fixture
async def world_open(net: Network) -> World:
    return await build_world(net)
