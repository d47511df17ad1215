"""Several hub processes on one database: registry changes reach every replica within a second, each
applied as a delta (never a rebuild); a change whose notification was lost is found by the safety-net
reload."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from partners import store
from partners.model import ConnectionStatus
from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, Role, cpo, emsp
from tests.support.process import HubProcess
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio


async def poll_get(client: FakePlatform, url: str, to: Role, until: Callable[[int], bool],
                   seconds: float = 1.0) -> tuple[int, Any, float]:
    """GET ``url`` through a hub until ``until(OCPI status_code)`` or ``seconds`` pass: (status, body, elapsed).
    Hub errors are OCPI answers (HTTP 200), so the code in the body is what tells them apart."""
    started = time.monotonic()
    while True:
        status, _, body = await client.call("GET", "locations", "SENDER", url=url, to=to)
        elapsed = time.monotonic() - started
        if until(body["status_code"]) or elapsed > seconds:
            return status, body, elapsed
        await asyncio.sleep(0.02)


async def test_platform_registered_through_one_replica_routes_through_another(net: Network) -> None:
    first = await net.hub()
    second = await net.hub(registry_reload_seconds=3600)  # only NOTIFY can make this pass in time
    msp = await net.registered(first, emsp("emsp"))
    station = await net.registered(first, cpo("cpo"))
    url = msp.hub_endpoints[("locations", "SENDER")].replace(first.base_url, second.base_url) + "/LOC1"
    status, body, elapsed = await poll_get(msp, url, station.party(), lambda code: code == 1000)
    assert (status, body["status_code"]) == (200, 1000), body
    assert elapsed <= 1.0


async def platform_id(hub: RunningHub, party_id: str) -> int:
    _, platforms = await hub.admin("GET", "/admin/platforms")
    return next(p["id"] for p in platforms if p["parties"] and p["parties"][0]["party_id"] == party_id)


async def metric(hub: RunningHub, name: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{hub.base_url}/metrics") as r:
        text = await r.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


async def test_status_flip_in_the_store_and_settings_on_one_replica_reach_another_as_deltas(
        net: Network, dsn: str) -> None:
    first = await net.hub()
    second = await net.hub(registry_reload_seconds=3600)
    msp = await net.registered(first, emsp("emsp"))
    station = await net.registered(first, cpo("cpo"))
    url = msp.hub_endpoints[("locations", "SENDER")].replace(first.base_url, second.base_url) + "/LOC1"
    assert (await poll_get(msp, url, station.party(), lambda code: code == 1000))[1]["status_code"] == 1000
    reloads = await metric(second, "ocpihub_registry_reloads_total")
    pool = await store.create_pool(dsn)
    try:
        await store.set_status(pool, await platform_id(first, "CPO"), ConnectionStatus.OFFLINE)
    finally:
        await pool.close()
    _, body, elapsed = await poll_get(msp, url, station.party(), lambda code: code != 1000)
    assert body["status_code"] == 4003 and elapsed <= 1.0, (body, elapsed)
    status, _ = await first.admin("PATCH", f"/admin/platforms/{await platform_id(first, 'MSP')}/settings",
                                  {"allowed_networks": ["203.0.113.0/24"]})
    assert status == 200
    started = time.monotonic()
    while time.monotonic() - started <= 1.0:
        _, _, body = await msp.call("GET", "locations", "SENDER", url=url, to=station.party())
        if body["status_code"] == 2000:
            break
        await asyncio.sleep(0.02)
    assert "not allowed from address" in body["status_message"], body  # the caller's address refused, in time
    assert await metric(second, "ocpihub_registry_reloads_total") == reloads, "deltas, not reloads"
    assert await metric(second, 'ocpihub_registry_updates_total{kind="delta"}') >= 2


async def test_a_change_whose_notification_was_lost_is_found_by_the_safety_net(net: Network, dsn: str) -> None:
    safety_net = await net.hub(registry_reload_seconds=0.5)
    notified_only = await net.hub(registry_reload_seconds=3600)
    msp = await net.registered(safety_net, emsp("emsp"))
    station = await net.registered(safety_net, cpo("cpo"))
    urls = [msp.hub_endpoints[("locations", "SENDER")].replace(safety_net.base_url, hub.base_url) + "/LOC1"
            for hub in (safety_net, notified_only)]
    for url in urls:
        assert (await poll_get(msp, url, station.party(), lambda code: code == 1000))[1]["status_code"] == 1000
    conn = await asyncpg.connect(dsn)
    try:  # a write that notifies nobody, as if its NOTIFY had been lost
        await conn.execute("UPDATE platforms SET suspended = true WHERE id = $1",
                           await platform_id(safety_net, "CPO"))
    finally:
        await conn.close()
    _, body, elapsed = await poll_get(msp, urls[0], station.party(), lambda code: code != 1000, seconds=3.0)
    assert body["status_code"] == 4003 and elapsed <= 2.0, (body, elapsed)
    _, body, _ = await poll_get(msp, urls[1], station.party(), lambda code: code != 1000, seconds=0.5)
    assert body["status_code"] == 1000, "without its notification only the reload can find the change"


async def test_suspension_on_one_replica_stops_routing_on_another(net: Network) -> None:
    first = await net.hub()
    second = await net.hub(registry_reload_seconds=3600)
    msp = await net.registered(first, emsp("emsp"))
    station = await net.registered(first, cpo("cpo"))
    _, platforms = await first.admin("GET", "/admin/platforms")
    cpo_id = next(p["id"] for p in platforms if p["parties"][0]["role"] == "CPO")
    await first.admin("POST", f"/admin/platforms/{cpo_id}/suspend")
    url = msp.hub_endpoints[("locations", "SENDER")].replace(first.base_url, second.base_url) + "/LOC1"
    _, body, _ = await poll_get(msp, url, station.party(), lambda code: code != 1000)
    assert body["status_code"] == 4003


@pytest.mark.slow
async def test_two_hub_processes_on_one_database(net: Network, dsn: str, tmp_path: Path) -> None:
    env = {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "adm", "OCPI_HUB_REGISTRY_RELOAD_SECONDS": "3600"}
    one = HubProcess(free_port(), env, tmp_path / "one.log")
    two = HubProcess(free_port(), env, tmp_path / "two.log")
    try:
        one.wait_ready()
        two.wait_ready()
        msp = await net.partner(emsp("emsp"))
        station = await net.partner(cpo("cpo"))
        for partner in (msp, station):
            async with aiohttp.ClientSession() as http, http.post(
                f"{one.base_url}/admin/invitations", headers={"Authorization": "Bearer adm"}
            ) as r:
                invitation = await r.json()
            await partner.register_with(invitation["versions_url"], invitation["token"])
        url = msp.hub_endpoints[("locations", "SENDER")].replace(one.base_url, two.base_url) + "/LOC2"
        status, body, _ = await poll_get(msp, url, station.party(), lambda code: code == 1000)
        assert status == 200 and body["data"]["id"] == "LOC2", body
    finally:
        assert one.stop() == 0, one.output()
        assert two.stop() == 0, two.output()
