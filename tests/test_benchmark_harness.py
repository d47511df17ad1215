"""The benchmark harness itself works (on a tiny setting); its figures are not judged here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.parametrize("loadgen", ["auto", "asyncio"])
def test_tiny_benchmark_run_produces_results(tmp_path: Path, loadgen: str) -> None:
    if loadgen == "auto" and not shutil.which("wrk"):
        pytest.skip("wrk is not installed: 'auto' would run the same built-in generator as 'asyncio'")
    # The scale section (its own database and five hubs) once per suite: with wrk, in the 'auto' run.
    scale = loadgen == "auto" or not shutil.which("wrk")
    env = dict(os.environ, OCPI_BENCH_LOADGEN=loadgen, OCPI_BENCH_SCALE="1" if scale else "0")
    out = subprocess.run([sys.executable, "-m", "benchmarks.run", "--tiny", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    results = json.loads((tmp_path / "latest.json").read_text())
    by_server = {(r["server"], r["method"]): r for r in results["forwarding"]}
    for key in (("direct", "GET"), ("hub", "GET"), ("hub", "PUT"), ("hub (agreements required)", "GET"),
                ("hub (agreements required)", "PUT"), ("hub (perimeter on)", "GET"), ("hub (perimeter on)", "PUT"),
                ("hub (translated 1 KB)", "GET"), ("hub (translated 1 KB)", "PUT"),
                ("hub (translated 300 KB)", "GET"), ("hub (translated 300 KB)", "PUT")):
        assert by_server[key]["rps"] > 0 and by_server[key]["errors"] == 0, by_server[key]
    assert results["policy"]["agreements"] == results["policy"]["parties"] + 1
    assert [v["location"] for v in results["policy"]["body_view"]] == ["1 KB", "300 KB"]
    assert results["policy"]["body_view"][1]["bytes"] > 250_000
    decision = results["policy"]["decision"]
    assert all(decision[f"{m}_{mode}_ns"] > 0 for m in ("get", "put") for mode in ("open", "required"))
    assert results["summary"]["agreements_required_over_open_get"] > 0
    assert [d["parties"] for d in results["decision"]] == [10, 1000]
    assert all(d["ns_per_decision"] > 0 and d["bytes_per_party"] > 0 for d in results["decision"])
    assert results["profile_top"], "the profiled hub wrote a profile on SIGTERM"
    assert results["summary"]["perimeter_on_over_off_get"] > 0
    assert results["summary"]["translated_300kb_over_same_version_put"] > 0
    assert [(row["object"], row["bytes"] > 250_000) for row in results["translation"]][:2] == [
        ("location", False), ("location", True)]
    assert all(ns > 0 for ns in results["perimeter"].values())
    [fanout] = results["fanout"]
    assert fanout["receivers"] == 11 and fanout["all_delivered_s"] >= fanout["slowest_receiver_s"]
    assert [row["body"] for row in results["json_check"]] and all(row["strict_ns"] > 0 for row in results["json_check"])
    soak = results["answer_memory"]
    assert soak["statuses"] == {"normal 200": 300, "oversized 200/4003": 10}, soak
    assert soak["peak_rss_mb"] >= soak["idle_rss_mb"] > 0
    if not scale:
        assert "scale" not in results
        return
    scale = results["scale"]
    steady = [r for r in scale["sizes"] if not r.get("churn")]
    [churned] = [r for r in scale["sizes"] if r.get("churn")]
    assert [r["parties"] for r in steady] == [10, 1000]
    assert all(r["rps"] > 0 and r["errors"] == 0 and r["lag"]["ticks"] > 0 for r in scale["sizes"])
    assert churned["changes"] > 0 and set(churned["change_kinds"]) <= {"register", "suspension", "status", "agreement"}
    assert scale["replicas"]["changes"] == len(scale["replicas"]["seconds"]) == 10
    assert 0 < scale["change"]["status_delta_ms"] < scale["change"]["full_rebuild_ms"]
    assert {r["kind"] for r in scale["memory"]} == {"party", "learned"} and all(r["bytes_each"] > 0
                                                                               for r in scale["memory"])
    assert [(r["new_rows"], r["rows_read"]) for r in scale["learned"] if not r.get("first")] == [
        (0, 0), (100, 100), (10_000, 10_000), (0, 0)], "the read-back reads what was written since, once"


@pytest.mark.slow
def test_tiny_broadcast_benchmark_run_produces_results(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "benchmarks.broadcast", "--tiny", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    results = json.loads((tmp_path / "broadcast.json").read_text())
    assert results["raw_client"]["requests_per_second"] > 0
    [in_process] = results["in_process"]
    assert in_process["broadcast_cpu_us_per_delivery"] > 0 and in_process["raw_client_cpu_over_broadcast_cpu"] > 0
    [row] = results["receivers"]
    assert row["receivers"] == 10 and row["sustained"]["deliveries_per_second"] > 0
    overload = row["overload"]
    assert overload["healthz_p99_ms"] is not None and overload["healthz_failures"] == 0
    assert overload["answers"].get("200", 0) + overload["answers"].get("429", 0) == overload["pushes_sent"]
    assert overload["failed"] == 0 and overload["expired"] == 0
    churn = results["churn"]
    assert churn["evses_pushed"] > 0 and churn["slow_receiver_has_latest"] == churn["evses_pushed"]


@pytest.mark.parametrize("module", sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "__init__"))
def test_every_benchmark_module_imports(module: str) -> None:
    # The --tiny run starts only some of the servers (not the Hypercorn ceiling or the naive forwarders):
    # a module the full run needs must not break unseen.
    out = subprocess.run([sys.executable, "-c", f"import benchmarks.{module}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
