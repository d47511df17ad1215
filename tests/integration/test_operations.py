"""What an operator relies on: metrics that move by the right amounts, readiness and graceful
shutdown, several workers, request logs without tokens."""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from tests.support.network import Network
from tests.support.partner import FakePlatform, cpo, emsp
from tests.support.process import HubProcess
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text scrape (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def scrape(base_url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/metrics") as r:
        assert r.status == 200
        return await r.text()


async def test_metrics_move_by_the_right_amounts(net: Network) -> None:
    hub = await net.hub(request_timeout=0.5)
    msp = await net.registered(hub, emsp("emsp"))
    station = await net.registered(hub, cpo("cpo"))
    before = await scrape(hub.base_url)
    ok = {"module": "locations", "interface": "SENDER", "outcome": "ok", "status_class": "2xx"}
    assert metric(before, "ocpihub_requests_total", **ok) == 0, "known series exist from the start at 0"
    for _ in range(5):
        await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party())
    await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party(), token="wrong")
    await msp.call("GET", "locations", "SENDER", "/LOC1", to=("XX", "YYY"))
    after = await scrape(hub.base_url)
    assert metric(after, "ocpihub_requests_total", **ok) == 5
    assert metric(after, "ocpihub_requests_total", module="locations", outcome="unauthorized") == 1
    # 4001 is an OCPI answer: HTTP 200 (status codes chapter), the outcome says what it was.
    assert metric(after, "ocpihub_requests_total", module="locations", outcome="hub_error",
                  status_class="2xx") == 1
    assert metric(after, "ocpihub_auth_failures_total") == 1
    assert metric(after, "ocpihub_request_duration_seconds_count", module="locations") == 7
    assert metric(after, "ocpihub_parties", role="CPO", status="CONNECTED") == 1
    assert metric(after, "ocpihub_platforms", status="CONNECTED") == 2
    assert metric(after, "ocpihub_requests_in_flight") == 0
    assert metric(after, "ocpihub_build_info") == 1
    assert "_created" not in after, "no *_created series doubling the counters"
    # No outage here: both kinds of unsaved drops are listed, at 0 (metric() would read an absent one as 0).
    for what in ("learned_routes", "token_facts"):
        assert f'ocpihub_unsaved_dropped_total{{what="{what}"}} 0.0' in after, what
    # The first load is the one reload; each registration since came as a delta, not a rebuild.
    assert metric(after, "ocpihub_registry_reloads_total") == 1
    assert metric(after, "ocpihub_registry_updates_total", kind="delta") >= 2


async def test_upstream_errors_are_counted_by_kind(net: Network) -> None:
    hub = await net.hub(request_timeout=1.0)
    msp = await net.registered(hub, emsp("emsp"))
    gone = await net.registered(hub, cpo("gone", pid="GON", module_base=f"http://127.0.0.1:{free_port()}"))
    await msp.call("GET", "locations", "SENDER", "/LOC1", to=gone.party())
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_upstream_errors_total", kind="connection") == 1
    assert metric(text, "ocpihub_requests_total", module="locations", outcome="connection",
                  status_class="2xx") == 1


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
async def test_sigterm_drains_and_finishes_in_flight_requests(net: Network, dsn: str, tmp_path: Path) -> None:
    hub = HubProcess(free_port(), {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "adm",
                                   "OCPI_HUB_DRAIN_SECONDS": "1.5"}, tmp_path / "hub.log")
    try:
        hub.wait_ready()
        msp = await register(net, hub.base_url, emsp("emsp"))
        slow = await register(net, hub.base_url, cpo("slow", delay=2.5))
        in_flight = asyncio.create_task(msp.call("GET", "locations", "SENDER", "/LOC1", to=slow.party()))
        await asyncio.sleep(0.3)
        hub.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        assert await asyncio.to_thread(get_status, f"{hub.base_url}/readyz") == 503, "draining: not ready"
        assert await asyncio.to_thread(get_status, f"{hub.base_url}/healthz") == 200, "but alive"
        status, _, body = await in_flight
        assert status == 200 and body["data"]["id"] == "LOC1", "the request in flight completed"
        assert await asyncio.to_thread(hub.proc.wait, 30) == 0
    finally:
        hub.stop()


async def register(net: Network, hub_url: str, platform: FakePlatform) -> FakePlatform:
    await net.partner(platform)
    async with aiohttp.ClientSession() as http, http.post(
        f"{hub_url}/admin/invitations", headers={"Authorization": "Bearer adm"}
    ) as r:
        invitation = await r.json()
    await platform.register_with(invitation["versions_url"], invitation["token"])
    return platform


@pytest.mark.slow
async def test_two_workers_share_one_metrics_view(net: Network, dsn: str, tmp_path: Path) -> None:
    hub = HubProcess(free_port(), {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "adm",
                                   "OCPI_HUB_WORKERS": "2", "OCPI_HUB_DATA_DIR": str(tmp_path / "data")},
                     tmp_path / "hub.log")
    try:
        hub.wait_ready()
        msp = await register(net, hub.base_url, emsp("emsp"))
        station = await register(net, hub.base_url, cpo("cpo"))
        await asyncio.sleep(1.0)  # both workers have seen both registrations (NOTIFY)
        for _ in range(20):  # a new connection each: the kernel spreads them over the workers
            status, _, _ = await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party())
            assert status == 200
        for _ in range(20):  # the last answer may reach us a moment before its worker counts it
            if metric(await scrape(hub.base_url), "ocpihub_requests_total", module="locations", outcome="ok") == 20:
                break
            await asyncio.sleep(0.1)
        for _ in range(6):
            text = await scrape(hub.base_url)
            assert metric(text, "ocpihub_requests_total", module="locations", interface="SENDER", outcome="ok",
                          status_class="2xx") == 20
        pids = {p.name for p in (tmp_path / "data" / "prometheus").iterdir()}
        assert len({re.sub(r"\D", "", p) for p in pids}) >= 2, f"files of both workers: {pids}"
    finally:
        assert hub.stop() == 0, hub.output()
    assert "Traceback" not in hub.output()


def test_metric_helper_reads_labels() -> None:
    text = 'x_total{a="1",b="2"} 3.0\nx_total{a="1",b="3"} 4.0\ny 5.0\n'
    assert (metric(text, "x_total", b="3"), metric(text, "y"), metric(text, "x_total", a="9")) == (4.0, 5.0, 0.0)



async def test_dashboard_uses_only_metrics_the_hub_exports(net: Network) -> None:
    from tests.test_helm_chart import dashboard_metric_names

    hub = await net.hub()
    msp = await net.registered(hub, emsp("emsp"))
    station = await net.registered(hub, cpo("cpo"))
    await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party())
    text = await scrape(hub.base_url)
    exported = {re.sub(r"_(bucket|count|sum|created)$", "", m)
                for m in re.findall(r"^(ocpihub_[a-z_]+)", text, flags=re.MULTILINE)}
    used = dashboard_metric_names()
    assert used <= exported, f"the dashboard queries metrics the hub does not export: {used - exported}"


async def test_request_log_names_inferred_and_open_routed_parties(net: Network,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="ocpihub.request")  # as `ocpi-hub serve` configures it by default
    log = io.BytesIO()
    hub = await net.hub(log_stream=log)
    msp = await net.registered(hub, emsp("emsp"))
    station = await net.registered(hub, cpo("cpo"))
    session = {"id": "S7", "cdr_token": {"country_code": "DE", "party_id": "MSP", "uid": "T"}}
    no_headers = {"OCPI-from-country-code": None, "OCPI-from-party-id": None}
    status, headers, _ = await station.call("PUT", "sessions", "RECEIVER", "/NL/CPO/S7", body=session,
                                            headers=no_headers)  # type: ignore[arg-type]
    assert status == 200
    await asyncio.sleep(0.4)  # the request log is written in batches every 200 ms
    lines = [json.loads(line) for line in log.getvalue().decode().splitlines()]
    [routed] = [r for r in lines if r.get("msg") == "routed" and r["correlation_id"] == headers["_sent_correlation_id"]]
    assert (routed["from"], routed["to"], routed["ocpi_module"], routed["status"]) == ("NL*CPO", "DE*MSP", "sessions",
                                                                                      200)
    for secret in (msp.token_to_hub, station.token_to_hub, msp.token_for_hub, station.token_for_hub):
        assert secret and secret not in str(lines)
