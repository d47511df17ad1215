"""Broadcast delivery at scale, over the wire: order per object, coalescing, backpressure (429), expiry,
every outcome counted, the outbox across shutdown and replicas, and a hub that keeps answering its
health checks while pushes pour in. Limits are set small so that each runs in seconds."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from partners.outbox import OutboxRow, PostgresOutbox
from partners.store import create_pool, migrate
from tests.integration.test_hub_features import eventually
from tests.integration.test_operations import metric, register, scrape
from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, Received, cpo, emsp, envelope, location, token_header
from tests.support.process import HubProcess
from tests.support.servers import free_port, raw_tcp_server

pytestmark = pytest.mark.anyio
HUB = ("NL", "HUB")
STATUSES = ["AVAILABLE", "CHARGING", "BLOCKED", "OUTOFORDER", "AVAILABLE", "CHARGING"]


def pushes_to(platform: FakePlatform, prefix: str = "/receiver/locations") -> list[Received]:
    return [r for r in platform.received if r.path.startswith(prefix)]


def latest(platform: FakePlatform) -> dict[str, str]:
    """What a receiver that applies each push as it completes ends up with: status per path."""
    state: dict[str, str] = {}
    for r in pushes_to(platform):
        state[r.path] = r.json()["status"]
    return state


def stamp(n: int) -> str:
    return f"2026-01-01T00:00:{n:02d}Z"


async def wait_metric(hub: RunningHub, name: str, value: float, **labels: str) -> str:
    deadline = time.monotonic() + 5
    while True:
        text = await scrape(hub.base_url)
        if metric(text, name, **labels) == value:
            return text
        assert time.monotonic() < deadline, f"{name}{labels} = {metric(text, name, **labels)}, wanted {value}"
        await asyncio.sleep(0.05)


def total(text: str, name: str) -> float:
    """The sum of every series of a metric."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith((name + "{", name + " ")))


def accounted(text: str) -> tuple[float, float]:
    """(accepted + restored, every way a delivery can end + coalesced + still in the backlog)."""
    came = total(text, "ocpihub_broadcast_accepted_total") + total(text, "ocpihub_broadcast_restored_total")
    went = total(text, "ocpihub_broadcast_deliveries_total") + total(text, "ocpihub_broadcast_coalesced_total")
    return came, went + total(text, "ocpihub_broadcast_backlog_entries")


async def test_one_object_is_never_in_flight_twice_and_ends_in_its_latest_state(net: Network) -> None:
    hub = await net.hub()
    station = await net.registered(hub, cpo("cpo"))
    late = await net.registered(hub, emsp("late", "DE", "LAT", first_delay=0.3))
    quick = await net.registered(hub, emsp("quick", "BE", "QCK"))
    evses = [f"/NL/CPO/LOC{n}/EVSE{n}" for n in range(6)]
    for n, status in enumerate(STATUSES):
        for path in evses:
            status_code, _, answer = await station.call("PATCH", "locations", "RECEIVER", path, to=HUB,
                                                        body={"status": status, "last_updated": stamp(n)})
            assert status_code == 200 and answer["status_code"] == 1000
            await asyncio.sleep(0.005)
    wanted = {f"/receiver/locations{p}": STATUSES[-1] for p in evses}
    await eventually(lambda: latest(late) == wanted and latest(quick) == wanted, timeout=5)
    assert late.most_in_flight == 1, "never two deliveries in flight for one receiver and object"
    for path in wanted:
        seen = [r.json()["last_updated"] for r in pushes_to(late) if r.path == path]
        assert seen == sorted(set(seen)), f"an older state after a newer one: {seen}"
        assert seen[0] == stamp(0) and seen[-1] == stamp(len(STATUSES) - 1)
    text = await wait_metric(hub, "ocpihub_broadcast_accepted_total", 2 * len(evses) * len(STATUSES),
                             module="locations")
    assert metric(text, "ocpihub_broadcast_coalesced_total", module="locations") > 0, "the late one's waited"


async def test_a_waiting_put_absorbs_later_puts_and_patches(net: Network) -> None:
    hub = await net.hub()
    station = await net.registered(hub, cpo("cpo"))
    slow = await net.registered(hub, emsp("slow", delay=0.4))
    first = location(1)
    await station.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=HUB, body=first)
    await eventually(lambda: len(slow.received) == 1)  # in flight: nothing may coalesce into it
    second = dict(first, name="Second", city="Utrecht")
    await station.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=HUB, body=second)
    await station.call("PATCH", "locations", "RECEIVER", "/NL/CPO/LOC1", to=HUB, body={"name": "Third"})
    await station.call("PATCH", "locations", "RECEIVER", "/NL/CPO/LOC1", to=HUB, body={"publish": False})
    text = await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 2, module="locations", outcome="ok")
    assert [(r.method, r.path) for r in slow.received] == [("PUT", "/receiver/locations/NL/CPO/LOC1")] * 2
    assert slow.received[1].json() == dict(second, name="Third", publish=False), "one PUT with both PATCHes in"
    assert metric(text, "ocpihub_broadcast_coalesced_total", module="locations") == 2
    assert metric(text, "ocpihub_broadcast_accepted_total", module="locations") == 4


async def test_waiting_patches_merge_field_by_field(net: Network) -> None:
    hub = await net.hub()
    station = await net.registered(hub, cpo("cpo"))
    slow = await net.registered(hub, emsp("slow", delay=0.4))
    path = "/NL/CPO/LOC1/EVSE1"
    await station.call("PATCH", "locations", "RECEIVER", path, to=HUB, body={"status": "CHARGING"})
    await eventually(lambda: len(slow.received) == 1)
    await station.call("PATCH", "locations", "RECEIVER", path, to=HUB,
                       body={"status": "AVAILABLE", "last_updated": "2026-01-01T00:00:01Z"})
    await station.call("PATCH", "locations", "RECEIVER", path, to=HUB,
                       body={"capabilities": ["RFID_READER"], "last_updated": "2026-01-01T00:00:02Z"})
    await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 2, module="locations", outcome="ok")
    assert slow.received[1].method == "PATCH"
    assert slow.received[1].json() == {"status": "AVAILABLE", "capabilities": ["RFID_READER"],
                                       "last_updated": "2026-01-01T00:00:02Z"}


async def test_a_full_backlog_refuses_the_push_for_everyone_and_drops_nothing(net: Network) -> None:
    hub = await net.hub(broadcast_receiver_backlog_entries=3, broadcast_receiver_concurrency=1)
    station = await net.registered(hub, cpo("cpo"))
    slow = await net.registered(hub, emsp("slow", "DE", "SLO", delay=0.3))
    quick = await net.registered(hub, emsp("quick", "BE", "QCK"))
    answers = []
    for n in range(5):
        answers.append(await station.call("PUT", "locations", "RECEIVER", f"/NL/CPO/LOC{n}", to=HUB,
                                          body=location(n)))
    assert [status for status, _, _ in answers] == [200, 200, 200, 429, 429]
    _, headers, body = answers[3]
    assert headers["retry-after"] == "1"
    assert body["status_code"] == 4000 and "DE*SLO" in body["status_message"]
    assert "nothing of this push was accepted" in body["status_message"]
    wanted = {f"/receiver/locations/NL/CPO/LOC{n}" for n in range(3)}
    await eventually(lambda: {r.path for r in slow.received} == wanted, timeout=5)
    assert {r.path for r in quick.received} == wanted, "a refused push reaches nobody"
    text = await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 6, module="locations", outcome="ok")
    assert metric(text, "ocpihub_broadcast_refused_total", reason="receiver_entries") == 2
    assert metric(text, "ocpihub_requests_total", module="locations", outcome="backlog_full",
                  status_class="4xx") == 2
    came, went = accounted(text)
    assert came == went == 6


async def test_deliveries_waiting_too_long_expire_with_a_count_and_a_log_line(
        net: Network, caplog: pytest.LogCaptureFixture) -> None:
    hub = await net.hub(broadcast_max_age=0.3, broadcast_receiver_concurrency=1)
    station = await net.registered(hub, cpo("cpo"))
    slow = await net.registered(hub, emsp("slow", delay=0.8))
    with caplog.at_level(logging.WARNING, logger="ocpihub.broadcast"):
        for n in range(3):
            await station.call("PUT", "locations", "RECEIVER", f"/NL/CPO/LOC{n}", to=HUB, body=location(n))
        text = await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 2, module="locations",
                                 outcome="expired")
    assert [r.path for r in slow.received] == ["/receiver/locations/NL/CPO/LOC0"]
    [line] = [r for r in caplog.records if "waited too long" in r.getMessage()]
    assert line.__dict__["count"] == 2 and line.__dict__["max_age"] == 0.3
    await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 1, module="locations", outcome="ok")
    assert metric(text, "ocpihub_broadcast_backlog_entries") <= 1


async def test_every_outcome_is_counted_and_every_failure_logged(net: Network,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="ocpihub.request")  # as `ocpi-hub serve` configures it by default
    log = io.BytesIO()
    hub = await net.hub(log_stream=log, request_timeout=1.5, broadcast_receiver_concurrency=1,
                        broadcast_shutdown_seconds=0.1)
    station = await net.registered(hub, cpo("cpo"))
    await net.registered(hub, emsp("fine", "DE", "FIN"))
    refusing = await net.registered(hub, emsp("refusing", "DE", "REF"))
    refusing.answers[("tariffs", "RECEIVER")] = (200, envelope(status_code=2001, message="no"), {})
    await net.registered(hub, emsp("slowpoke", "DE", "SLW", delay=5.0))
    down = await net.registered(hub, emsp("down", "DE", "DWN"))
    await net.stop_partner(down)
    await net.registered(hub, emsp("going", "DE", "GNG", delay=1.0))
    async with raw_tcp_server("garbage") as port:
        await net.registered(hub, emsp("garbage", "DE", "GRB", module_base=f"http://127.0.0.1:{port}"))

        async def tariff(n: int) -> None:
            status, _, _ = await station.call("PUT", "tariffs", "RECEIVER", f"/NL/CPO/T{n}", to=HUB,
                                              body={"id": f"T{n}", "last_updated": "2026-01-01T00:00:00Z"})
            assert status == 200

        await tariff(0)
        await tariff(1)
        _, platforms = await hub.admin("GET", "/admin/platforms")
        [going_id] = [p["id"] for p in platforms if any(x["party_id"] == "GNG" for x in p["parties"])]
        assert (await hub.admin("POST", f"/admin/platforms/{going_id}/suspend"))[0] == 200
        await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 1, module="tariffs", outcome="gone")
        await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 2, module="tariffs", outcome="timeout")
        await tariff(2)  # the suspended platform is no receiver any more; the slow one is still busy with it
        await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 3, module="tariffs", outcome="protocol")
        await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 3, module="tariffs", outcome="connection")
        await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 3, module="tariffs", outcome="rejected")
        await wait_metric(hub, "ocpihub_broadcast_deliveries_total", 4, module="tariffs", outcome="ok")
        state = hub.app.state
        assert state is not None
        await state.routing.broadcaster.close()  # what the hub does at shutdown; it keeps serving /metrics
    text = await scrape(hub.base_url)
    outcomes = {o: metric(text, "ocpihub_broadcast_deliveries_total", module="tariffs", outcome=o)
                for o in ("ok", "rejected", "timeout", "connection", "protocol", "gone", "persisted", "expired")}
    assert outcomes == {"ok": 4, "rejected": 3, "timeout": 2, "connection": 3, "protocol": 3, "gone": 1,
                        "persisted": 1, "expired": 0}
    assert metric(text, "ocpihub_broadcast_accepted_total", module="tariffs") == 17
    assert accounted(text) == (17, 17)
    assert metric(text, "ocpihub_upstream_errors_total", kind="timeout") == 2
    assert await PostgresOutbox(state.pool).count() == 1
    await asyncio.sleep(0.3)  # the request log is written every 200 ms
    failed = [json.loads(line) for line in log.getvalue().splitlines() if b'"delivery failed"' in line]
    assert sorted(f["outcome"] for f in failed) == sorted(["rejected"] * 3 + ["timeout"] * 2 + ["connection"] * 3
                                                          + ["protocol"] * 3 + ["gone"])
    assert all(f["level"] == "WARNING" and f["detail"] and f["correlation_id"] for f in failed)
    assert sum("OCPI 2001" in f["detail"] for f in failed) == 3
    assert len([line for line in log.getvalue().splitlines() if b'"msg":"broadcast"' in line]) == 3


async def test_health_and_direct_routing_keep_answering_while_pushes_pour_in(net: Network) -> None:
    # No per-platform rate limit: every 429 here is the backlog's.
    hub = await net.hub(broadcast_backlog_entries=200, broadcast_receiver_backlog_entries=50,
                        broadcast_receiver_concurrency=2, rate_limit=0)
    station = await net.registered(hub, cpo("cpo"))
    receivers = [await net.registered(hub, emsp(f"msp{n}", "DE", f"M{n:02d}", delay=0.02)) for n in range(4)]
    url = station.hub_endpoints[("locations", "RECEIVER")]
    headers = {"Authorization": token_header(station.token_to_hub or ""),
               "OCPI-from-country-code": "NL", "OCPI-from-party-id": "CPO", "OCPI-to-country-code": "NL",
               "OCPI-to-party-id": "HUB", "Content-Type": "application/json"}
    answers: dict[int, int] = {}
    health: list[float] = []
    stop = time.monotonic() + 1.5

    async def pusher(http: aiohttp.ClientSession, worker: int) -> None:
        n = 0
        while time.monotonic() < stop:
            body = json.dumps({"status": "CHARGING", "last_updated": stamp(n % 60)}).encode()
            async with http.patch(f"{url}/NL/CPO/LOC{worker}-{n % 40}/EVSE1", data=body, headers=headers) as r:
                await r.read()
                answers[r.status] = answers.get(r.status, 0) + 1
            n += 1

    async def prober(http: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            async with http.get(f"{hub.base_url}/healthz", timeout=aiohttp.ClientTimeout(total=5)) as r:
                assert r.status == 200
            health.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(pusher(http, w) for w in range(8)), prober(http))
        direct = await receivers[0].call("GET", "locations", "SENDER", "/LOC1", to=station.party())
    assert direct[0] == 200, "direct routing still works"
    assert set(answers) == {200, 429} and answers[429] > 0, answers
    assert len(health) >= 10 and max(health) < 1.0, f"healthz took up to {max(health):.3f} s"
    # Everything accepted reaches every receiver (coalesced or not): nothing accepted was dropped.
    text = await wait_metric(hub, "ocpihub_broadcast_backlog_entries", 0)
    came, went = accounted(text)
    assert came == went == 4 * answers[200]
    assert metric(text, "ocpihub_broadcast_deliveries_total", module="locations", outcome="expired") == 0
    assert total(text, "ocpihub_broadcast_refused_total") == answers[429]


async def test_a_replica_takes_over_what_a_stopping_one_left_in_the_outbox(net: Network) -> None:
    first = await net.hub(broadcast_shutdown_seconds=0.1, broadcast_receiver_concurrency=1)
    second = await net.hub()
    station = await net.registered(first, cpo("cpo"))
    slow = await net.registered(first, emsp("slow", delay=0.3))
    for n, status in enumerate(STATUSES[:3]):
        for evse in range(5):
            await station.call("PATCH", "locations", "RECEIVER", f"/NL/CPO/LOC{evse}/EVSE1", to=HUB,
                               body={"status": status, "last_updated": stamp(n)})
    state = first.app.state
    assert state is not None
    await state.routing.broadcaster.close()
    left = metric(await scrape(first.base_url), "ocpihub_broadcast_deliveries_total", module="locations",
                  outcome="persisted")
    assert left >= 4, "most of the slow receiver's backlog was left"
    wanted = {f"/receiver/locations/NL/CPO/LOC{evse}/EVSE1": STATUSES[2] for evse in range(5)}
    await eventually(lambda: latest(slow) == wanted, timeout=8)
    text = await wait_metric(second, "ocpihub_broadcast_restored_total", left, module="locations")
    assert metric(text, "ocpihub_broadcast_deliveries_total", module="locations", outcome="ok") + metric(
        text, "ocpihub_broadcast_coalesced_total", module="locations") == left
    assert await PostgresOutbox(state.pool).count() == 0


async def test_outbox_rows_are_claimed_once_in_order_by_concurrent_replicas(dsn: str) -> None:
    await migrate(dsn)
    pool = await create_pool(dsn)
    try:
        outbox = PostgresOutbox(pool)
        rows = [OutboxRow(platform_id=1, country_code="DE", party_id="MSP", module="locations", method="PATCH",
                          path=f"/NL/CPO/LOC{n}", query="", body=b'{"n":%d}' % n, correlation_id="c", sender="NL*CPO",
                          accepted_at=1000.0 + n) for n in range(300)]
        await outbox.save(rows[:150])
        await outbox.save(rows[150:])
        claims = await asyncio.gather(*(outbox.claim(120) for _ in range(4)))
        taken = [row for claim in claims for row in claim]
        assert sorted(taken, key=lambda r: r.accepted_at) == rows, "every row once, none twice"
        assert all(claim == sorted(claim, key=lambda r: r.accepted_at) for claim in claims), "each claim in order"
        assert await outbox.count() == 0 and await outbox.claim(10) == []
    finally:
        await pool.close()


@pytest.mark.slow
async def test_sigterm_writes_the_backlog_and_the_next_start_delivers_the_latest_state(
        net: Network, dsn: str, tmp_path: Path) -> None:
    env = {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "adm", "OCPI_HUB_BROADCAST_SHUTDOWN_SECONDS": "0.2",
           "OCPI_HUB_BROADCAST_RECEIVER_CONCURRENCY": "1"}
    hub = HubProcess(free_port(), env, tmp_path / "first.log")
    try:
        hub.wait_ready()
        station = await register(net, hub.base_url, cpo("cpo"))
        slow = await register(net, hub.base_url, emsp("slow", "DE", "SLO", delay=0.3))
        quick = await register(net, hub.base_url, emsp("quick", "BE", "QCK"))
        for n, status in enumerate(STATUSES[:3]):
            for evse in range(8):
                status_code, _, _ = await station.call("PATCH", "locations", "RECEIVER", f"/NL/CPO/LOC{evse}/EVSE1",
                                                       to=HUB, body={"status": status, "last_updated": stamp(n)})
                assert status_code == 200
        wanted = {f"/receiver/locations/NL/CPO/LOC{evse}/EVSE1": STATUSES[2] for evse in range(8)}
        await eventually(lambda: latest(quick) == wanted, timeout=10)
        quick_count = len(quick.received)
        assert latest(slow) != wanted, "the slow receiver still has a backlog"
        hub.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(hub.proc.wait, 30) == 0
    finally:
        hub.stop()
    lines = [json.loads(line) for line in hub.output().splitlines() if line.startswith("{")]
    [persisted] = [line for line in lines if line["msg"] == "wrote the broadcast backlog to the outbox"]
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM broadcast_outbox") == persisted["count"] > 0
    finally:
        await conn.close()

    again = HubProcess(free_port(), env, tmp_path / "second.log")
    try:
        again.wait_ready()
        await eventually(lambda: latest(slow) == wanted, timeout=10)
        assert len(quick.received) == quick_count, "what was delivered is not delivered again"
    finally:
        assert again.stop() == 0
    [taken] = [json.loads(line) for line in again.output().splitlines()
               if line.startswith("{") and "took over" in line]
    assert taken["count"] == persisted["count"]
