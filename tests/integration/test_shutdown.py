"""Stopping a real hub process under load: no request lost, with one worker and with several.

A request is *lost* when a client wrote it and got no answer (reset, empty reply, cut answer): the
client cannot know whether it was forwarded. A connection the hub refused carried no request; a client
(or load balancer) retries those elsewhere, so they are counted apart.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
import pytest

from tests.integration.test_operations import get_status, register
from tests.support.network import Network
from tests.support.partner import FakePlatform, cpo, emsp, token_header
from tests.support.process import HubProcess
from tests.support.servers import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CLIENTS = 20


@dataclass
class Tally:
    answered: int = 0
    answered_after_signal: int = 0
    refused: int = 0
    statuses: set[int] = field(default_factory=set)
    lost: list[str] = field(default_factory=list)
    last_answer_closed: list[bool] = field(default_factory=list)


async def client(url: str, headers: dict[str, str], signalled: asyncio.Event, tally: Tally, until: float) -> None:
    """One keep-alive client sending requests back to back until the hub refuses it."""
    closed = False
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
        while time.monotonic() < until:
            try:
                async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=20)) as r:
                    await r.read()
                    tally.answered += 1
                    tally.answered_after_signal += signalled.is_set()
                    tally.statuses.add(r.status)
                    closed = r.headers.get("Connection", "").lower() == "close"
            except aiohttp.ClientConnectorError:
                tally.refused += 1  # nothing was sent: the listener is gone
                break
            except Exception as exc:
                tally.lost.append(repr(exc))
    tally.last_answer_closed.append(closed)


def routed_request(msp: FakePlatform, station: FakePlatform) -> tuple[str, dict[str, str]]:
    url = msp.hub_endpoints[("locations", "SENDER")] + "/LOC1"
    role = station.party()
    return url, {"Authorization": token_header(msp.token_to_hub or ""),
                 "OCPI-from-country-code": "DE", "OCPI-from-party-id": "MSP",
                 "OCPI-to-country-code": role.country_code, "OCPI-to-party-id": role.party_id}


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_under_load_loses_no_request(net: Network, dsn: str, tmp_path: Path, workers: int) -> None:
    hub = HubProcess(free_port(), {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "adm",
                                   "OCPI_HUB_WORKERS": str(workers), "OCPI_HUB_DRAIN_SECONDS": "1",
                                   "OCPI_HUB_DATA_DIR": str(tmp_path / "data")}, tmp_path / "hub.log")
    try:
        hub.wait_ready()
        msp = await register(net, hub.base_url, emsp("emsp"))
        station = await register(net, hub.base_url, cpo("cpo", delay=0.02))  # requests are in flight
        await asyncio.sleep(1.0)  # every worker has seen both registrations (NOTIFY)
        url, headers = routed_request(msp, station)
        tally, signalled = Tally(), asyncio.Event()
        clients = [asyncio.create_task(client(url, headers, signalled, tally, time.monotonic() + 30))
                   for _ in range(CLIENTS)]
        await asyncio.sleep(1.0)
        assert tally.answered > 0 and not tally.lost, tally
        hub.proc.send_signal(signal.SIGTERM)
        signalled.set()
        await asyncio.sleep(0.3)
        readiness = [await asyncio.to_thread(get_status, f"{hub.base_url}/readyz") for _ in range(3 * workers)]
        assert set(readiness) == {503}, f"every worker is draining: {readiness}"
        await asyncio.gather(*clients)
        exit_code = await asyncio.to_thread(hub.proc.wait, 30)
    finally:
        hub.stop()
    assert tally.lost == [], f"{len(tally.lost)} lost of {tally.answered + len(tally.lost)}: {tally.lost[:3]}"
    assert tally.statuses == {200}
    assert tally.answered_after_signal >= CLIENTS, "clients were served through the drain"
    assert tally.refused == CLIENTS, "each client ended on a refused connection, having sent nothing"
    assert all(tally.last_answer_closed), "each client's last answer said Connection: close"
    assert exit_code == 0, hub.output()
    log = hub.output().splitlines()
    assert all(line.startswith("{") and json.loads(line) for line in log), "every log line is JSON"
    messages = [json.loads(line)["msg"] for line in log]
    assert messages.count("draining for 1 s") == workers and "stopped" in messages


async def test_a_worker_that_dies_makes_serve_exit_non_zero(dsn: str, tmp_path: Path) -> None:
    hub = HubProcess(free_port(), {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "adm",
                                   "OCPI_HUB_WORKERS": "2", "OCPI_HUB_DATA_DIR": str(tmp_path / "data")},
                     tmp_path / "hub.log")
    try:
        hub.wait_ready()
        workers = psutil.Process(hub.proc.pid).children()
        assert len(workers) == 2
        workers[0].kill()
        exit_code = await asyncio.to_thread(hub.proc.wait, 30)
    finally:
        hub.stop()
    assert exit_code == 1
    records = [json.loads(line) for line in hub.output().splitlines()]
    [failed] = [r for r in records if r["msg"] == "worker failed"]
    assert failed["pid"] == workers[0].pid and failed["exit_code"] == -signal.SIGKILL
    assert any(r["msg"] == "stopped" and r["logger"] == "ocpihub.serving" for r in records), "the other one drained"
