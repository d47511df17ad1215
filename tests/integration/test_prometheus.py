"""Prometheus, for real: the alerting rules pass ``promtool check rules``, and a real Prometheus scraping a
real hub under real forwarded traffic runs every Grafana panel query (each returns data) and every alert
expression (each parses and evaluates, and names only metrics the hub exports).

The dashboard and the rules file are read as they are, so a panel or rule added later is checked too; a
panel that needs a new kind of traffic to show data gets a scenario in ``tests/support/traffic.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_operations import scrape
from tests.support.network import Network
from tests.support.prometheus import Prometheus, PrometheusError, binaries, cache_dir, fetched
from tests.support.traffic import World, build_world, run_round

pytestmark = pytest.mark.slow

CHART = Path(__file__).resolve().parents[2] / "helm" / "ocpi-hub"
RULES = CHART / "alerts" / "ocpi-hub.rules.yaml"
DASHBOARD = CHART / "dashboards" / "ocpi-hub.json"
# Grafana's built-in variables, as Grafana would fill them in for a short time range at a 1 s scrape.
GRAFANA = {"$__rate_interval": "10s", "$__interval": "2s", "$__range": "1m"}


@pytest.fixture(scope="module")
def tools() -> tuple[str, str]:
    found = binaries()
    if isinstance(found, str):
        pytest.skip(found)
    return found


def test_prometheus_is_unpacked_into_the_tests_cache_not_installed(tools: tuple[str, str]) -> None:
    # apt-get install needed root and, under systemd, started a prometheus service on :9090 as a side effect.
    unpacked = fetched(cache_dir() / "prometheus")
    if isinstance(unpacked, str):
        pytest.skip(f"using prometheus from PATH: {unpacked}")
    assert tools == unpacked
    for binary in tools:
        assert Path(binary).is_relative_to(cache_dir()), binary
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "version 2." in out.stdout + out.stderr, out


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def panel_queries() -> list[tuple[str, str]]:
    """``(panel title, PromQL)`` for every target of every panel, rows' panels included."""
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"] for v in dashboard.get("templating", {}).get("list", [])}

    def walk(panels: list[dict[str, Any]]) -> list[tuple[str, str]]:
        found = []
        for panel in panels:
            found += walk(panel.get("panels", []))
            found += [(panel["title"], promql(t["expr"], variables)) for t in panel.get("targets", []) if "expr" in t]
        return found

    return walk(dashboard["panels"])


def promql(expr: str, variables: set[str]) -> str:
    for name, value in GRAFANA.items():
        expr = expr.replace(name, value)
    for name in variables:  # a dashboard variable selects everything, as Grafana's "All" does
        expr = re.sub(r"\$(\{" + re.escape(name) + r"\}|" + re.escape(name) + r"\b)", ".*", expr)
    return expr


def test_alert_rules_pass_promtool(tools: tuple[str, str]) -> None:
    out = subprocess.run([tools[1], "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in out.stdout
    for rule in alert_rules():
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), rule["alert"]


def rule(name: str) -> dict[str, Any]:
    [found] = [r for r in alert_rules() if r["alert"] == name]
    return found


@pytest.mark.parametrize(("outcomes", "fires"), [
    ({"unauthorized": 10, "denied": 3, "ok": 0}, False),  # probes the hub refuses: nothing was forwarded
    ({"timeout": 2, "connection": 1, "unauthorized": 10, "ok": 0}, True),  # forwarded, none succeeded
    ({"bad_answer": 1, "ok": 0}, True),
    ({"timeout": 5, "ok": 1}, False),
    ({"ok": 0}, False),  # idle
], ids=["refused-probes-only", "forwards-failing", "bad-answers", "some-success", "idle"])
def test_no_successful_forwards_counts_only_requests_that_reached_a_receiver(
    tools: tuple[str, str], tmp_path: Path, outcomes: dict[str, int], fires: bool
) -> None:
    alert = rule("OcpiHubNoSuccessfulForwards")
    series = [{"series": f'ocpihub_requests_total{{module="locations",interface="receiver",outcome="{o}",'
                         f'status_class="2xx"}}', "values": f"0+{per_minute}x40"}
              for o, per_minute in outcomes.items()]
    expected = [{"exp_labels": alert["labels"], "exp_annotations": alert["annotations"]}] if fires else []
    tests = {"rule_files": [str(RULES)], "evaluation_interval": "1m",
             "tests": [{"interval": "1m", "input_series": series,
                        "alert_rule_test": [{"eval_time": "30m", "alertname": alert["alert"],
                                             "exp_alerts": expected}]}]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(tests))
    out = subprocess.run([tools[1], "test", "rules", str(tmp_path / "test.yaml")], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_promql_fills_in_grafana_variables() -> None:
    assert promql('rate(x{job=~"$job"}[$__rate_interval])', {"job"}) == 'rate(x{job=~".*"}[10s])'
    assert promql("sum(x{i=~\"${instance}\"})", {"instance"}) == 'sum(x{i=~".*"})'


@pytest.mark.anyio
async def test_every_panel_and_alert_runs_on_a_real_prometheus_scraping_a_real_hub(
    tools: tuple[str, str], net: Network, tmp_path: Path
) -> None:
    world = await build_world(net)
    target = world.hub.base_url.removeprefix("http://")
    prometheus = Prometheus(tools[0], tmp_path / "prometheus", [target], [RULES])
    try:
        await asyncio.to_thread(prometheus.wait_ready)
        await scraped(prometheus, "up == 1")  # the first scrape comes up to an interval after start
        started = time.time()
        for _ in range(3):  # three rounds over a few scrapes: counters move between samples
            await run_round(world)
            await asyncio.sleep(0.6)
        await seen_by_prometheus(prometheus, world)

        # Over the traffic's time range, as Grafana draws a panel: some value, and where the query is a
        # rate, some movement (a series that exists at 0 from startup does not count as data then).
        empty, broken = [], []
        for title, expr in panel_queries():
            try:
                result = await asyncio.to_thread(prometheus.query_range, expr, started, time.time())
            except PrometheusError as exc:
                broken.append(f"{title}: {expr}: {exc}")
                continue
            values = [float(v) for series in result for _, v in series["values"]]
            moving = re.search(r"\b(rate|irate|increase|delta|deriv)\(", expr) is not None
            if not any(math.isfinite(v) and (v != 0 or not moving) for v in values):
                empty.append(f"{title}: {expr} -> {result}")
        assert not broken, "panel queries Prometheus refuses:\n" + "\n".join(broken)
        assert not empty, "panel queries without data (add traffic in tests/support/traffic.py):\n" + "\n".join(empty)

        exported = exported_metrics(await scrape(world.hub.base_url))
        for rule in alert_rules():
            try:
                await asyncio.to_thread(prometheus.query, rule["expr"])
            except PrometheusError as exc:
                broken.append(f"{rule['alert']}: {exc}")
            unknown = set(re.findall(r"\bocpihub_[a-z_]+", rule["expr"])) - exported
            if unknown:
                broken.append(f"{rule['alert']} names metrics the hub does not export: {sorted(unknown)}")
        assert not broken, "\n".join(broken)

        # Prometheus itself loaded the file and evaluates every rule without error, and the one
        # condition this traffic creates (a CPO unreachable long enough to be OFFLINE) is pending.
        rules = await eventually_evaluated(prometheus)
        assert {r["name"] for r in rules} == {r["alert"] for r in alert_rules()}
        assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
        await scraped(prometheus, 'ALERTS{alertname="OcpiHubPartiesOffline", role="CPO"}')
    finally:
        await asyncio.to_thread(prometheus.stop)


def exported_metrics(text: str) -> set[str]:
    return {re.sub(r"_(bucket|count|sum|created)$", "", m)
            for m in re.findall(r"^(ocpihub_[a-z_]+)", text, flags=re.MULTILINE)}


async def scraped(prometheus: Prometheus, expr: str, timeout: float = 10.0) -> None:
    """Wait until ``expr`` has a result in Prometheus."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(prometheus.query, expr):
        assert time.monotonic() < deadline, f"Prometheus has no {expr}"
        await asyncio.sleep(0.1)


async def seen_by_prometheus(prometheus: Prometheus, world: World, timeout: float = 10.0) -> None:
    """Wait until Prometheus has scraped the hub after the last request (its request count caught up)."""
    text = await scrape(world.hub.base_url)
    total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith("ocpihub_requests_total{"))
    await scraped(prometheus, f"sum(ocpihub_requests_total) >= {total}", timeout)


async def eventually_evaluated(prometheus: Prometheus, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The rules Prometheus loaded, once it has evaluated each at least once."""
    deadline = time.monotonic() + timeout
    while True:
        groups = (await asyncio.to_thread(prometheus.api, "rules"))["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if rules and all(r.get("health") != "unknown" for r in rules):
            return rules
        assert time.monotonic() < deadline, f"rules not evaluated: {rules}"
        await asyncio.sleep(0.2)
