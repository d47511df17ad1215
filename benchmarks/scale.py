"""Scale (issue #14): the hub with a registry of 10 / 10,000 / 100,000 parties that changes all day.

* ``change``: one registry change at 100,000 parties, before (a full rebuild) and after (a delta), in
  this process (``benchmarks.scale_inprocess``).
* ``memory``: bytes per party and per learned open-routing entry, at the sizes of the mode.
* ``sizes``: hub GET throughput and latency (wrk, 16 connections) with registries of growing size
  (one party per platform, an agreement per CPO, ``OCPI_HUB_AGREEMENTS=required``), same run; and at
  the largest, the same load while the registry changes 10 times a second (``scale_seed.Churn``:
  registrations and status flips through the store, suspensions and agreement changes through the
  admin API). Each with the hub's event-loop lag (a 1 ms ticker inside the hub:
  ``benchmarks.probed_hub``).
* ``replicas``: two hubs on one PostgreSQL: time from a suspension (or its lifting) sent to one until
  the other routes accordingly, over many changes.
* ``learned``: the per-second read-back of learned routes on a replica, against the rows written since
  the last one, with a table of many rows.

Run on its own: ``python -m benchmarks.scale [--quick|--tiny] [--out DIR]`` (it writes ``scale.json``
there and plots into ``benchmarks/plots/`` on a full run); ``python -m benchmarks.run`` runs it as its
last section.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks import scale_inprocess, scale_seed, seed
from benchmarks.loadgen import run_load
from benchmarks.run import (
    GET_HEADERS,
    GET_PATH,
    LOAD_CPU,
    PLOTS,
    PY,
    RESULTS,
    SERVER_CPU,
    answered_ok,
    free_port,
    machine,
    pinned,
    process,
)
from hub.database import EmbeddedPostgres
from hub.learning import LearnedSync
from partners import store
from partners.pacing import Pacer
from routing.learned import LearnedRoutes

MODES: dict[str, dict[str, Any]] = {
    "tiny": {"sizes": [10, 1_000], "seconds": 1.0, "rounds": 1, "replica_changes": 10, "party_memory": [10_000],
             "learned_memory": [10_000, 100_000], "learned_table": 10_000, "change_parties": 10_000},
    "quick": {"sizes": [10, 10_000, 100_000], "seconds": 3.0, "rounds": 3, "replica_changes": 200,
              "party_memory": [100_000], "learned_memory": [100_000, 1_000_000], "learned_table": 100_000,
              "change_parties": 100_000},
    "full": {"sizes": [10, 10_000, 100_000], "seconds": 12.0, "rounds": 4, "replica_changes": 1000,
             "party_memory": [100_000, 1_000_000], "learned_memory": [100_000, 1_000_000],
             "learned_table": 1_000_000, "change_parties": 100_000},
}
CHURN_PER_SECOND = 10.0
OWN_PARTIES = 4  # the benchmark's callers (benchmarks.seed): DE*MSP, NL*CPO, DE*MS2, NL*CP2
REPLICA_TARGETS = 5


def _lag(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__bench__/lag", timeout=10) as r:
        result: dict[str, Any] = json.loads(r.read())
    return result


def _hub_env(dsn: str) -> dict[str, str]:
    return {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "bench", "OCPI_HUB_DRAIN_SECONDS": "0",
            "OCPI_HUB_SECRETS_KEY": seed.SECRETS_KEY, "OCPI_HUB_RATE_LIMIT": "0", "OCPI_HUB_AGREEMENTS": "required",
            # Still-alive probes would flip statuses of their own: the churn is only what the benchmark makes.
            "OCPI_HUB_STILL_ALIVE_SECONDS": "3600"}


def _point(port: int, seconds: float) -> dict[str, Any]:
    _lag(port)  # a new window
    result = run_load(f"http://127.0.0.1:{port}{GET_PATH}", headers=GET_HEADERS, connections=16, seconds=seconds,
                      cpu=LOAD_CPU)
    return {"rps": result.requests_per_second, "p50_ms": result.p(50), "p99_ms": result.p(99), "errors": result.errors,
            "lag": _lag(port), "generator": result.generator}


def _combined(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one case: medians of throughput and percentiles, the worst loop stall of all."""
    lags = [p["lag"] for p in points if p["lag"].get("ticks")]
    return {"rps": round(statistics.median(p["rps"] for p in points)),
            "p50_ms": round(statistics.median(p["p50_ms"] for p in points), 3),
            "p99_ms": round(statistics.median(p["p99_ms"] for p in points), 3),
            "errors": sum(p["errors"] for p in points), "rounds": len(points), "generator": points[0]["generator"],
            "lag": {"ticks": sum(lag["ticks"] for lag in lags),
                    "p99_ms": round(statistics.median(lag["p99_ms"] for lag in lags), 3) if lags else None,
                    "max_ms": max((lag["max_ms"] for lag in lags), default=None)}}


def _database(base: str, name: str) -> str:
    """A new database beside ``base``'s, and its DSN."""
    async def create() -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    parts = urllib.parse.urlparse(base)
    return urllib.parse.urlunparse(parts._replace(path=f"/{name}"))


def databases(base: str, upstream_base: str, mode: dict[str, Any]) -> dict[int, str]:
    """One database per registry size, each with the benchmark's callers, their agreement and the
    scale parties."""
    found = {}
    for size in mode["sizes"]:
        dsn = found[size] = _database(base, f"scale_{size}")
        started = time.perf_counter()
        asyncio.run(seed.seed(dsn, upstream_base))
        asyncio.run(scale_seed.agree(dsn, ("NL", "CPO"), ("DE", "MSP")))
        asyncio.run(scale_seed.grow(dsn, upstream_base, max(0, size - OWN_PARTIES)))
        print(f"  seeded {size} parties in {time.perf_counter() - started:.1f} s", flush=True)
    return found


def sizes(dsns: dict[int, str], upstream_base: str, mode: dict[str, Any], tmp: Path) -> list[dict[str, Any]]:
    """A hub per size, all running at once on the same core; measured in turns, round after round
    (and the largest once more with churn each round), so that the load of a shared machine falls on
    every case alike. Medians over the rounds."""
    largest = mode["sizes"][-1]
    rounds = mode["rounds"]
    seconds = max(1.0, mode["seconds"] / rounds)
    ports = {size: free_port() for size in dsns}
    points: dict[str, list[dict[str, Any]]] = {}
    churns: list[scale_seed.Churn] = []
    with contextlib.ExitStack() as stack:
        for size, dsn in dsns.items():
            stack.enter_context(process(pinned(SERVER_CPU, [PY, "-m", "benchmarks.probed_hub", str(ports[size])]),
                                        ports[size], _hub_env(dsn), tmp / f"scale-{size}.log", "/readyz"))
        for port in ports.values():
            answered_ok(port, GET_PATH, "GET", GET_HEADERS, None)
            run_load(f"http://127.0.0.1:{port}{GET_PATH}", headers=GET_HEADERS, connections=8, seconds=1,
                     cpu=LOAD_CPU)  # warm up
        for _ in range(rounds):
            for size, port in ports.items():
                points.setdefault(f"{size}", []).append(_point(port, seconds))
            churn = scale_seed.Churn(dsns[largest], f"http://127.0.0.1:{ports[largest]}", "bench", upstream_base,
                                     scale_size=largest - OWN_PARTIES, per_second=CHURN_PER_SECOND)
            thread = threading.Thread(target=asyncio.run, args=(churn.run(seconds + 0.5),))
            thread.start()
            time.sleep(0.3)  # the churn is under way when the load starts
            points.setdefault("churn", []).append(_point(ports[largest], seconds))
            thread.join()
            churns.append(churn)
    rows = []
    for size in dsns:
        row = _combined(points[f"{size}"]) | {"case": f"{size} parties", "parties": size}
        rows.append(row)
    changes = sorted(s for churn in churns for s in churn.seconds)
    kinds: dict[str, int] = {}
    for churn in churns:
        for kind, count in churn.kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
    rows.append(_combined(points["churn"]) | {
        "case": f"{largest} parties, {CHURN_PER_SECOND:g} changes/s", "parties": largest, "churn": True,
        "changes": len(changes), "change_kinds": kinds,
        "change_p50_ms": round(changes[len(changes) // 2] * 1000, 1) if changes else None,
        "change_p99_ms": round(changes[min(len(changes) - 1, int(len(changes) * .99))] * 1000, 1) if changes else None})
    for row in rows:
        print(f"  {row['case']:<28} {row['rps']:>7} req/s  p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  "
              f"loop lag p99 {row['lag']['p99_ms']} ms max {row['lag']['max_ms']} ms", flush=True)
    return rows


def _get(conn: http.client.HTTPConnection, target: tuple[str, str]) -> int:
    headers = GET_HEADERS | {"OCPI-to-country-code": target[0], "OCPI-to-party-id": target[1]}
    conn.request("GET", GET_PATH, headers=headers)
    code: int = json.loads(conn.getresponse().read())["status_code"]
    return code


def replicas(dsn: str, changes: int, tmp: Path) -> dict[str, Any]:
    """Suspend and unsuspend a few platforms through one hub; time until the other one routes so."""
    targets = [scale_seed.party_key(n) for n in range(0, 2 * REPLICA_TARGETS, 2)]  # CPOs
    for target in targets:
        asyncio.run(scale_seed.agree(dsn, target, ("DE", "MSP")))
    ports = free_port(), free_port()
    env = _hub_env(dsn) | {"OCPI_HUB_REGISTRY_RELOAD_SECONDS": "3600"}  # only the notifications, no safety net
    with process(pinned(SERVER_CPU, [PY, "-m", "benchmarks.probed_hub", str(ports[0])]), ports[0], env,
                 tmp / "replica-1.log", "/readyz"), \
         process(pinned(SERVER_CPU, [PY, "-m", "benchmarks.probed_hub", str(ports[1])]), ports[1], env,
                 tmp / "replica-2.log", "/readyz"):
        ids = asyncio.run(scale_seed.platform_ids(dsn, targets))
        admin = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=30)
        other = http.client.HTTPConnection("127.0.0.1", ports[1], timeout=30)
        suspended = [False] * len(targets)
        seconds, admin_seconds, polls = [], [], []
        for n in range(changes):
            i = n % len(targets)
            suspended[i] = not suspended[i]
            wanted = 4003 if suspended[i] else 1000
            started = time.perf_counter()
            admin.request("POST", f"/admin/platforms/{ids[i]}/{'suspend' if suspended[i] else 'unsuspend'}",
                          body=b"", headers={"Authorization": "Bearer bench"})
            admin.getresponse().read()
            admin_seconds.append(time.perf_counter() - started)
            count = 0
            while _get(other, targets[i]) != wanted:
                count += 1
                if time.perf_counter() - started > 10:
                    raise RuntimeError("a change did not reach the other replica within 10 s")
            seconds.append(time.perf_counter() - started)
            polls.append(count)
        lag = _lag(ports[1])
    seconds.sort()
    return {"changes": changes, "p50_ms": round(seconds[len(seconds) // 2] * 1000, 1),
            "p99_ms": round(seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))] * 1000, 1),
            "max_ms": round(seconds[-1] * 1000, 1), "admin_p50_ms": round(statistics.median(admin_seconds) * 1000, 1),
            "seconds": [round(s, 4) for s in seconds], "other_replica_lag": lag}


async def learned(dsn: str, table_rows: int) -> list[dict[str, Any]]:
    """A replica's read-back with ``table_rows`` learned routes stored, as other replicas add 0, 100 and
    10,000: event-loop time (merging) and wall time (with the query)."""
    await store.migrate(dsn)
    pool = await store.create_pool(dsn)
    try:
        async with pool.acquire() as conn:
            await conn.copy_records_to_table(
                "learned_routes", columns=["kind", "owner_country_code", "owner_party_id", "object_id",
                                           "country_code", "party_id"],
                records=[("session", "NL", f"C{n % 50:02d}", f"S{n:012d}", "DE", f"M{n % 70:02d}")
                         for n in range(table_rows)])
        reader = LearnedSync(LearnedRoutes(max_per_kind=2 * table_rows), pool)
        started = time.perf_counter()
        await reader.sync_once(Pacer(1.0))
        rows = [{"table_rows": table_rows, "new_rows": table_rows, "wall_ms": round((time.perf_counter() - started)
                                                                                    * 1000, 1), "first": True}]
        for new in (0, 100, 10_000, 0):
            start = len(rows) * 100_000_000
            await store.save_learned(pool, [("location", "NL", "CPO", f"L{start + n}", "DE", "MSP")
                                            for n in range(new)])
            read, busy = reader.rows_read, reader.pacer.busy_seconds
            started = time.perf_counter()
            await reader.sync_once()
            rows.append({"table_rows": table_rows, "new_rows": new, "rows_read": reader.rows_read - read,
                         "loop_ms": round((reader.pacer.busy_seconds - busy) * 1000, 2),
                         "wall_ms": round((time.perf_counter() - started) * 1000, 1)})
        return rows
    finally:
        await pool.close()


def measure(mode_name: str, tmp: Path) -> dict[str, Any]:
    mode = MODES[mode_name]
    results: dict[str, Any] = {"mode": mode_name, "machine": machine()}
    print("scale: one registry change, before (full rebuild) and after (delta), in-process:", flush=True)
    results["change"] = scale_inprocess.change(mode["change_parties"])
    print(f"  {results['change']}", flush=True)
    print("scale: memory per party and per learned route:", flush=True)
    results["memory"] = (scale_inprocess.memory("party", mode["party_memory"])
                         + scale_inprocess.memory("learned", mode["learned_memory"]))
    for row in results["memory"]:
        print(f"  {row}", flush=True)
    pg = EmbeddedPostgres(tmp / "scale-db")
    base = pg.start()
    try:
        up_port = free_port()
        upstream_base = f"http://127.0.0.1:{up_port}"
        print("scale: registries of each size, one database each:", flush=True)
        dsns = databases(base, upstream_base, mode)
        dsn = dsns[mode["sizes"][-1]]
        with process(pinned(LOAD_CPU, [PY, "-m", "benchmarks.upstream", str(up_port)]), up_port):
            print("scale: hub GET vs registry size, and under churn (hubs side by side, in turns):", flush=True)
            results["sizes"] = sizes(dsns, upstream_base, mode, tmp)
            print("scale: a change on one replica, seen by the other:", flush=True)
            results["replicas"] = replicas(dsn, mode["replica_changes"], tmp)
            print(f"  p50 {results['replicas']['p50_ms']} ms  p99 {results['replicas']['p99_ms']} ms  "
                  f"max {results['replicas']['max_ms']} ms over {mode['replica_changes']} changes", flush=True)
        print("scale: learned-route read-back:", flush=True)
        results["learned"] = asyncio.run(learned(dsn, mode["learned_table"]))
        for row in results["learned"]:
            print(f"  {row}", flush=True)
    finally:
        pg.stop()
    results["summary"] = summarize(results)
    print(json.dumps(results["summary"], indent=2), flush=True)
    return results


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    plain = [r for r in results.get("sizes", []) if not r.get("churn")]
    churned = next((r for r in results.get("sizes", []) if r.get("churn")), None)
    if len(plain) >= 2 and plain[0]["rps"]:
        out["largest_over_smallest_rps"] = round(plain[-1]["rps"] / plain[0]["rps"], 3)  # goal >= 0.95
    if churned and plain:
        base = plain[-1]
        out["churn_over_steady_rps"] = round(churned["rps"] / base["rps"], 3) if base["rps"] else None  # >= 0.9
        out["churn_p99_ms"], out["steady_p99_ms"] = churned["p99_ms"], base["p99_ms"]
        limit = base["p99_ms"] + 5 if base["p99_ms"] < 10 else base["p99_ms"] * 1.5
        out["churn_p99_goal_ms"] = round(limit, 2)
        out["churn_loop_lag_max_ms"], out["steady_loop_lag_max_ms"] = churned["lag"].get("max_ms"), \
            base["lag"].get("max_ms")
        out["churn_loop_lag_p99_ms"], out["steady_loop_lag_p99_ms"] = churned["lag"].get("p99_ms"), \
            base["lag"].get("p99_ms")
    replica = results.get("replicas")
    if replica:
        out["replica_p50_ms"], out["replica_p99_ms"] = replica["p50_ms"], replica["p99_ms"]  # goal p99 < 1000
    change = results.get("change")
    if change:
        out["change_full_rebuild_ms"], out["change_delta_ms"] = change["full_rebuild_ms"], change["status_delta_ms"]
    return out


def plot(results: dict[str, Any], directory: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install -e '.[bench]'): no plots", flush=True)
        return
    directory.mkdir(parents=True, exist_ok=True)
    plain = [r for r in results["sizes"] if not r.get("churn")]
    churned = [r for r in results["sizes"] if r.get("churn")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot([r["parties"] for r in plain], [r["rps"] for r in plain], marker="o", label="steady registry")
    left.plot([r["parties"] for r in churned], [r["rps"] for r in churned], marker="s", linestyle="",
              label=f"{CHURN_PER_SECOND:g} changes/s")
    left.set(xscale="log", xlabel="parties in the registry", ylabel="GET req/s (16 connections)", ylim=(0, None),
             title="Throughput")
    right.plot([r["parties"] for r in plain], [r["p99_ms"] for r in plain], marker="o", label="request p99")
    right.plot([r["parties"] for r in plain], [r["lag"].get("p99_ms", 0) for r in plain], marker="^",
               label="event-loop lag p99")
    right.plot([r["parties"] for r in churned], [r["p99_ms"] for r in churned], marker="s", linestyle="",
               label="request p99, churn")
    right.plot([r["parties"] for r in churned], [r["lag"].get("p99_ms", 0) for r in churned], marker="v",
               linestyle="", label="loop lag p99, churn")
    right.set(xscale="log", xlabel="parties in the registry", ylabel="ms", ylim=(0, None), title="Latency")
    for ax in (left, right):
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(directory / "scale_throughput.png", dpi=80)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for kind, label in (("party", "bytes per party (snapshot)"), ("learned", "bytes per learned route")):
        rows = [r for r in results["memory"] if r["kind"] == kind]
        ax.plot([r["count"] for r in rows], [r["bytes_each"] for r in rows], marker="o", label=label)
    ax.set(xscale="log", xlabel="entries", ylabel="bytes each (resident memory)", ylim=(0, None),
           title="Memory per party and per learned route")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(directory / "scale_memory.png", dpi=80)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    seconds = results["replicas"]["seconds"]
    ax.plot([s * 1000 for s in seconds], [(n + 1) / len(seconds) for n in range(len(seconds))])
    ax.set(xlabel="ms from a change sent to one replica until the other routes so", ylabel="fraction of changes",
           title=f"Two replicas, {len(seconds)} changes")
    fig.tight_layout()
    fig.savefig(directory / "scale_replicas.png", dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--quick", action="store_true")
    args.add_argument("--tiny", action="store_true")
    args.add_argument("--out", type=Path, default=RESULTS)
    opts = args.parse_args(argv)
    mode = "tiny" if opts.tiny else "quick" if opts.quick else "full"
    opts.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ocpi-scale-") as tmp:
        results = measure(mode, Path(tmp))
    (opts.out / "scale.json").write_text(json.dumps(results, indent=2))
    if mode != "tiny":
        plot(results, PLOTS if mode == "full" else opts.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
