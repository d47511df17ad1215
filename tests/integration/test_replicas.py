"""Several hub processes on one database: registry changes reach every replica within a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.network import Network
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
