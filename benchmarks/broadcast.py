"""Broadcast at the scale of a real hub (issue #19): ``python -m benchmarks.broadcast`` (``--quick`` for a
short run, ``--tiny`` for the test suite's smoke check). Writes ``benchmarks/results/broadcast.json``.

Every figure is a ratio against a baseline measured in the same run, on the same pinning (the hub on core
0; load generator and receivers on core 1):

* **raw client**: the hub's own outbound client (``routing.upstream_client``) alone, on the hub's core,
  sending the same PATCH to the same receiver as fast as it can: what deliveries/s could be at best.
* **in process**: the broadcaster alone (backlog, workers, forwarder; pushes by direct call) and the raw
  client, one after the other in one process: CPU time per delivery against CPU time per request, the
  figure that holds up best on a shared machine.
* **sustained**, at 10, 100 and 1,000 receivers: open-loop status PATCHes (random EVSEs out of 100,000, so
  little coalesces) at the highest rate the hub delivers without refusing or growing its backlog (a
  saturating probe first, then 0.9x of it, lowered until clean). Deliveries/s against the raw client.
* **overload**, at 3x that push rate: deliveries/s against the sustained maximum, the hub's RSS growth,
  ``/healthz`` latency (a probe every 50 ms), and what happened to the excess: refused with 429 or
  absorbed by coalescing, with counts.
* **status churn**: 10,000 EVSEs changing at random, pushed at 0.8x the 100-receiver knee to 100 fast
  receivers, with and without one more receiver that takes 200 ms an answer (as many at once as makes it
  take about half the push rate): deliveries/s to the fast ones in both runs, what coalescing absorbed,
  and whether the slow one ends with the latest accepted status of every EVSE.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import seed
from benchmarks.run import LOAD_CPU, PY, RESULTS, SERVER_CPU, free_port, pinned, process
from hub.database import EmbeddedPostgres

SENDER_HEADERS = {"Authorization": "Token " + base64.b64encode(seed.CPO_TOKEN.encode()).decode(),
                  "OCPI-from-country-code": "NL", "OCPI-from-party-id": "CPO", "OCPI-to-country-code": "NL",
                  "OCPI-to-party-id": "HUB", "X-Correlation-ID": "bench", "Content-Type": "application/json"}
PUSH_PATH = "/ocpi/2.2.1/receiver/locations"
STATUSES = ("AVAILABLE", "CHARGING", "BLOCKED", "OUTOFORDER")
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
MAX_OUTSTANDING = 1024  # pushes the generator keeps open at once; beyond, it records them as not sent
CONNECTIONS = 32  # keep-alive connections the generator pushes on (a CPO's client pool, not one per push)


def stamp(seq: int) -> str:
    """A distinct, ordered ``last_updated`` per push, so a receiver's final state can be checked."""
    return (EPOCH + datetime.timedelta(milliseconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def status_body(seq: int) -> bytes:
    return json.dumps({"status": STATUSES[seq % 4], "last_updated": stamp(seq)}).encode()


# -- load generator and raw client (separate, pinned processes) --------------------------------------


async def _generate(base: str, rate: float, seconds: float, objects: int, seed_value: int) -> dict[str, Any]:
    """Open-loop PATCHes at ``rate``/s for ``seconds``, each to a random EVSE with none of its own open."""
    from routing.upstream_client import UpstreamClient

    client = UpstreamClient(connect_timeout=5, connections_per_host=CONNECTIONS)
    rng = random.Random(seed_value)
    headers = list(SENDER_HEADERS.items())
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    open_objects: set[int] = set()
    accepted: dict[int, str] = {}
    tasks: set[asyncio.Task[None]] = set()
    not_sent = 0

    async def one(obj: int, seq: int) -> None:
        started = time.perf_counter()
        try:
            answer = await client.request("PATCH", f"{base}/NL/CPO/LOC{obj}/EVSE1", headers, status_body(seq))
            statuses[str(answer.status)] += 1
            if answer.status == 200:
                accepted[obj] = stamp(seq)
        except Exception as exc:  # counted, not raised: the generator must keep its pace
            statuses[type(exc).__name__] += 1
        latencies.append(time.perf_counter() - started)
        open_objects.discard(obj)

    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    while (elapsed := loop.time() - start) < seconds:
        for _ in range(int(elapsed * rate) - sent):
            sent += 1
            if len(open_objects) >= min(MAX_OUTSTANDING, objects // 2):
                not_sent += 1
                continue
            obj = rng.randrange(objects)
            while obj in open_objects:
                obj = rng.randrange(objects)
            open_objects.add(obj)
            task = asyncio.create_task(one(obj, sent))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.002)
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    await client.close()
    latencies.sort()
    return {"sent": sent - not_sent, "not_sent": not_sent, "statuses": dict(statuses),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2) if latencies else None,
            "accepted": {f"/receiver/locations/NL/CPO/LOC{k}/EVSE1": v for k, v in accepted.items()}}


async def _raw_client(url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """The hub's own outbound client alone: the same PATCH as fast as it goes, ``concurrency`` at once."""
    from routing.upstream_client import UpstreamClient

    client = UpstreamClient(connect_timeout=5, connections_per_host=concurrency)
    headers = list(SENDER_HEADERS.items())
    body = status_body(1)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await client.request("PATCH", url, headers, body)
            done += 1

    started = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    await client.close()
    return {"requests_per_second": round(done / elapsed), "cpu_us_per_request": round(cpu / done * 1e6, 1)}


async def _in_process(url_base: str, receivers: int, pushes: int) -> dict[str, Any]:
    """The broadcaster (backlog, workers, forwarder; pushes by direct call, no HTTP in front) against the
    raw client, one after the other in one process: CPU time per delivery and per request measured the
    same way at nearly the same moment, so that what else runs on the machine weighs on both alike."""
    from partners.model import ConnectionStatus, InterfaceRole, Role
    from partners.registry import Party, Platform, Registry, Snapshot
    from routing.broadcast import Broadcaster, BroadcastSettings
    from routing.forward import Forwarder
    from routing.observe import NoObserver
    from routing.resolve import Route

    raw = await _raw_client(f"{url_base}/receiver/locations/NL/CPO/LOC1/EVSE1", 2.0, 64)
    parties = tuple(Party(country_code="DE", party_id=f"{n:03d}", role=Role.EMSP, platform_id=1)
                    for n in range(receivers))
    endpoint = f"{url_base}/receiver/locations"
    platform = Platform(id=1, name="receivers", status=ConnectionStatus.CONNECTED, registered=True, versions_url=None,
                        version="2.2.1", endpoints={("locations", InterfaceRole.RECEIVER): endpoint}, parties=parties,
                        outbound_auth="Token YmVuY2g=")
    registry = Registry()
    registry.swap(Snapshot({1: platform}, {}, {}))
    routes = [Route(party, platform, endpoint) for party in parties]
    forwarder = Forwarder(connect_timeout=5, request_timeout=30, connections_per_receiver=64)
    broadcaster = Broadcaster(forwarder, NoObserver(), registry, BroadcastSettings(), hub_party=("NL", "HUB"))
    await broadcaster.start()
    started, cpu = time.perf_counter(), time.process_time()
    for k in range(pushes):
        broadcaster.push(routes, module="locations", method="PATCH", suffix=f"/NL/CPO/LOC{k}/EVSE1", query="",
                         body=status_body(k), correlation_id="bench", sender_label="NL*CPO")
        while broadcaster.backlog.entries > 20 * receivers + 2000:
            await asyncio.sleep(0.001)
    while broadcaster.backlog.entries:
        await asyncio.sleep(0.001)
    cpu, elapsed = time.process_time() - cpu, time.perf_counter() - started
    await broadcaster.close()
    await forwarder.close()
    deliveries = pushes * receivers
    per_delivery = cpu / deliveries * 1e6
    return {"receivers": receivers, "raw_client_cpu_us_per_request": raw["cpu_us_per_request"],
            "broadcast_cpu_us_per_delivery": round(per_delivery, 1),
            "raw_client_cpu_over_broadcast_cpu": round(raw["cpu_us_per_request"] / per_delivery, 3),
            "raw_client_requests_per_second": raw["requests_per_second"],
            "broadcast_deliveries_per_second": round(deliveries / elapsed)}


def _run_async(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def load(url_base: str, rate: float, seconds: float, objects: int, out: Path, seed_value: int = 1) -> dict[str, Any]:
    """Run the generator in its own process on the load core; its result as a dict."""
    import subprocess

    command = pinned(LOAD_CPU, [PY, "-m", "benchmarks.broadcast", "load", url_base, str(rate), str(seconds),
                                str(objects), str(out), str(seed_value)])
    subprocess.run(command, check=True, timeout=seconds + 120)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# -- observing the hub ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used: what a delivery costs, whatever else shares the core."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(port: int) -> dict[str, float]:
    """Every ocpihub_broadcast_* sample of the hub, summed over labels but ``outcome``/``reason``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = Counter()
    for line in text.splitlines():
        if not line.startswith("ocpihub_broadcast_"):
            continue
        name, _, value = line.rpartition(" ")
        metric = name.partition("{")[0]
        for label in ("outcome", "reason"):
            if f'{label}="' in name:
                metric += ":" + name.split(f'{label}="', 1)[1].split('"', 1)[0]
        out[metric] += float(value)
    return out


class Watch:
    """A thread beside the hub: ``/healthz`` every 50 ms (latency) and the hub's RSS every 0.5 s."""

    def __init__(self, port: int, pid: int) -> None:
        self.port = port
        self.pid = pid
        self.health: list[float] = []
        self.failures = 0
        self.rss: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss_now(self) -> int:
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=10) as r:
                    r.read()
                self.health.append(time.perf_counter() - started)
            except OSError:
                self.failures += 1
            if n % 10 == 0:
                with contextlib.suppress(OSError):
                    self.rss.append(self.rss_now())
            n += 1
            self._stop.wait(max(0.0, 0.05 - (time.perf_counter() - started)))

    def health_p99_ms(self) -> float | None:
        if not self.health:
            return None
        ordered = sorted(self.health)
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1)


def wait_drained(port: int, timeout: float) -> float:
    """Seconds until the hub's backlog is empty (raises past ``timeout``)."""
    started = time.monotonic()
    while scrape(port)["ocpihub_broadcast_backlog_entries"] > 0:
        if time.monotonic() - started > timeout:
            raise RuntimeError("broadcast backlog did not drain in time")
        time.sleep(0.1)
    return time.monotonic() - started


def push_window(port: int, pid: int, receivers: int, rate: float, seconds: float, tmp: Path,
                objects: int = 100_000, watch: Watch | None = None) -> dict[str, Any]:
    """Push at ``rate`` for ``seconds``: deliveries/s while pushing, the hub's CPU time per delivery, and
    what the hub did with the pushes."""
    before = scrape(port)
    cpu = cpu_seconds(pid)
    started = time.monotonic()
    generated = load(f"http://127.0.0.1:{port}{PUSH_PATH}", rate, seconds, objects, tmp / "load.json")
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu
    after = scrape(port)

    def delta(name: str) -> float:
        return after[name] - before[name]

    row = {"receivers": receivers, "push_rate": round(rate, 1), "seconds": round(elapsed, 1),
           "pushes_sent": generated["sent"], "generator_not_sent": generated["not_sent"],
           "answers": generated["statuses"], "push_p99_ms": generated["p99_ms"],
           "deliveries_per_second": round(delta("ocpihub_broadcast_deliveries_total:ok") / elapsed),
           "hub_cpu_share": round(cpu / elapsed, 2),
           "hub_cpu_us_per_delivery": round(cpu / max(1.0, delta("ocpihub_broadcast_deliveries_total:ok")) * 1e6, 1),
           # Counted per reason (backlog_full, shutting_down): the sum of them all.
           "refused_429": int(sum(after[k] - before[k] for k in after
                                  if k.partition(":")[0] == "ocpihub_broadcast_refused_total")),
           "coalesced": int(delta("ocpihub_broadcast_coalesced_total")),
           "expired": int(delta("ocpihub_broadcast_deliveries_total:expired")),
           "failed": int(sum(delta(f"ocpihub_broadcast_deliveries_total:{o}")
                             for o in ("rejected", "timeout", "connection", "protocol", "bad_answer", "busy",
                                       "error", "gone"))),
           "backlog_at_end": int(after["ocpihub_broadcast_backlog_entries"])}
    if watch is not None:
        row["healthz_p99_ms"] = watch.health_p99_ms()
        row["healthz_failures"] = watch.failures
    return row


# -- the scenarios -----------------------------------------------------------------------------------------


def hub_process(dsn: str, port: int, log: Path, **env: str) -> Any:
    # As benchmarks.run starts its hubs: the seed's secrets key, and no per-platform rate limit (the one
    # sender pushes far more than the default 200 requests a second).
    hub_env = {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "bench", "OCPI_HUB_DRAIN_SECONDS": "0",
               "OCPI_HUB_SECRETS_KEY": seed.SECRETS_KEY, "OCPI_HUB_RATE_LIMIT": "0",
               "OCPI_HUB_BROADCAST_SHUTDOWN_SECONDS": "0"} | {f"OCPI_HUB_{k.upper()}": v for k, v in env.items()}
    return process(pinned(SERVER_CPU, [PY, "-m", "hub.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]),
                   port, hub_env, log, "/readyz")


def receivers_scenario(dsn: str, up_base: str, n: int, cc: str, windows: dict[str, Any], raw: dict[str, float],
                       tmp: Path) -> dict[str, Any]:
    platform_id = asyncio.run(seed.seed_receivers(dsn, up_base, n, cc))
    port = free_port()
    try:
        with hub_process(dsn, port, tmp / f"hub-{n}.log") as proc:
            idle_rss = Watch(port, proc.pid).rss_now()
            # A probe above anything deliverable (1.5x the raw client's rate): deliveries/s while the
            # backlog grows is what the workers manage with pushes pouring in.
            probe = push_window(port, proc.pid, n, 1.5 * raw["requests_per_second"] / n, windows["probe"], tmp)
            wait_drained(port, 300)
            # Then the knee: the highest push rate delivered without refusals or a growing backlog. From
            # 0.9x the probe's delivery rate: up by 25% while clean, down by 20% while not, then bisect.
            rate = 0.9 * probe["deliveries_per_second"] / n
            sustained: dict[str, Any] | None = None
            tried = []
            clean_rate: float | None = None
            unclean_rate: float | None = None
            for _ in range(windows["steps"]):
                row = push_window(port, proc.pid, n, rate, windows["sustained"], tmp)
                wait_drained(port, 300)
                clean = row["refused_429"] == 0 and row["backlog_at_end"] <= max(2 * n, 0.05 * row["pushes_sent"] * n)
                tried.append({"push_rate": row["push_rate"], "deliveries_per_second": row["deliveries_per_second"],
                              "backlog_at_end": row["backlog_at_end"], "clean": clean})
                if clean:
                    clean_rate = rate
                    if sustained is None or row["deliveries_per_second"] > sustained["deliveries_per_second"]:
                        sustained = row
                else:
                    unclean_rate = rate
                if unclean_rate is None:
                    rate *= 1.25
                elif clean_rate is None:
                    rate *= 0.8
                else:
                    rate = (clean_rate + unclean_rate) / 2
            if sustained is None:
                sustained = row
            rate = sustained["push_rate"]
            with Watch(port, proc.pid) as watch:
                overload = push_window(port, proc.pid, n, 3 * rate, windows["overload"], tmp, watch=watch)
                peak_rss = max(watch.rss, default=idle_rss)
            drain = wait_drained(port, 600)
            after_rss = Watch(port, proc.pid).rss_now()
    finally:
        asyncio.run(seed.remove(dsn, platform_id))
    overload.update(rss_idle_mb=round(idle_rss / 2**20), rss_peak_growth_mb=round((peak_rss - idle_rss) / 2**20),
                    rss_after_drain_growth_mb=round((after_rss - idle_rss) / 2**20), drain_seconds=round(drain, 1))
    return {"receivers": n, "probe": probe, "knee_search": tried, "sustained": sustained, "overload": overload,
            "sustained_over_raw_client": round(sustained["deliveries_per_second"] / raw["requests_per_second"], 3),
            # The same ratio from CPU time per operation: what a dedicated core would give, whatever else ran.
            "raw_client_cpu_over_hub_cpu_per_delivery": round(
                raw["cpu_us_per_request"] / max(0.1, sustained["hub_cpu_us_per_delivery"]), 3),
            "overload_over_sustained": round(overload["deliveries_per_second"]
                                             / max(1, sustained["deliveries_per_second"]), 3)}


def recorder_state(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_state", timeout=10) as r:
        state: dict[str, Any] = json.loads(r.read())
    return state


def churn_scenario(dsn: str, up_base: str, rate: float, seconds: float, objects: int, receivers: int,
                   tmp: Path, baseline: bool = True) -> dict[str, Any]:
    """Status churn with and (``baseline``) without one slow receiver (200 ms an answer)."""
    slow_port = free_port()
    out: dict[str, Any] = {"objects": objects, "fast_receivers": receivers, "push_rate": round(rate, 1)}
    fast_id = asyncio.run(seed.seed_receivers(dsn, up_base, receivers, "CH"))
    try:
        # A 200 ms receiver takes receiver_concurrency / 0.2 s deliveries a second: set so that it takes
        # about half the push rate, whatever this machine manages, its backlog grows and coalescing has to
        # absorb the excess (bounded by the EVSEs, not the pushes). A max age beyond the run keeps
        # everything until the slow one has it.
        per_receiver = max(1, int(0.5 * rate * 0.2))
        out["slow_receiver_takes_per_second"] = per_receiver / 0.2
        env = {"broadcast_receiver_concurrency": str(per_receiver), "broadcast_max_age": "900"}
        alone: dict[str, Any] = {"deliveries_per_second": 0}
        if baseline:
            port = free_port()
            with hub_process(dsn, port, tmp / "churn-alone.log", **env) as hub:
                alone = push_window(port, hub.pid, receivers, rate, seconds, tmp, objects)
                wait_drained(port, 300)
        with process(pinned(LOAD_CPU, [PY, "-m", "benchmarks.recorder", str(slow_port), "200"]), slow_port):
            slow_id = asyncio.run(seed.seed_receivers(dsn, f"http://127.0.0.1:{slow_port}", 1, "SL"))
            try:
                port = free_port()
                with hub_process(dsn, port, tmp / "churn-slow.log", **env) as hub:
                    with_slow = push_window(port, hub.pid, receivers + 1, rate, seconds, tmp, objects)
                    slow_in_window = recorder_state(slow_port)["requests"]
                    accepted: dict[str, str] = json.loads((tmp / "load.json").read_text())["accepted"]
                    drain = wait_drained(port, 600)
                    recorded = recorder_state(slow_port)
            finally:
                asyncio.run(seed.remove(dsn, slow_id))
    finally:
        asyncio.run(seed.remove(dsn, fast_id))
    state = {path.removeprefix("/receiver/locations"): v for path, v in recorded["state"].items()}
    wanted = {path.removeprefix("/receiver/locations"): v for path, v in accepted.items()}
    latest = sum(1 for path, v in wanted.items() if state.get(path) == v)
    fast_with_slow = with_slow["deliveries_per_second"] - slow_in_window / with_slow["seconds"]
    out.update(alone=alone, with_slow=with_slow, slow_receiver_deliveries=recorded["requests"],
               slow_receiver_drain_seconds=round(drain, 1), evses_pushed=len(wanted),
               slow_receiver_has_latest=latest,
               fast_deliveries_per_second_alone=alone["deliveries_per_second"],
               fast_deliveries_per_second_with_slow=round(fast_with_slow),
               fast_with_slow_over_alone=(round(fast_with_slow / alone["deliveries_per_second"], 3)
                                          if baseline else None))
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "load":
        base, rate, seconds, objects, out, seed_value = args[1:7]
        result = _run_async(_generate(base, float(rate), float(seconds), int(objects), int(seed_value)))
        Path(out).write_text(json.dumps(result))
        return 0
    if args and args[0] == "rawclient":
        print(json.dumps(_run_async(_raw_client(args[1], float(args[2]), int(args[3])))))
        return 0
    if args and args[0] == "inprocess":
        print(json.dumps(_run_async(_in_process(args[1], int(args[2]), int(args[3])))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter windows, 10 and 100 receivers")
    parser.add_argument("--tiny", action="store_true", help="smoke check for the test suite (about a minute)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args(args)
    if opts.tiny:
        sizes, windows = [10], {"probe": 1.0, "sustained": 1.0, "steps": 1, "overload": 1.5, "churn": 1.5, "raw": 0.5}
        churn = {"objects": 500, "receivers": 10}
    elif opts.quick:
        sizes, windows = [10, 100], {"probe": 3.0, "sustained": 5.0, "steps": 5, "overload": 10.0, "churn": 10.0,
                                     "raw": 3.0}
        churn = {"objects": 10_000, "receivers": 100}
    else:
        sizes, windows = [10, 100, 1000], {"probe": 5.0, "sustained": 10.0, "steps": 6, "overload": 30.0,
                                           "churn": 30.0, "raw": 10.0}
        churn = {"objects": 10_000, "receivers": 100}
    opts.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"mode": "tiny" if opts.tiny else "quick" if opts.quick else "full",
                               "pinning": f"hub core {SERVER_CPU}, load and receivers core {LOAD_CPU}"}
    with tempfile.TemporaryDirectory(prefix="ocpi-bcast-") as tmp_text:
        tmp = Path(tmp_text)
        pg = EmbeddedPostgres(tmp / "db")
        dsn = pg.start()
        try:
            up_port = free_port()
            up_base = f"http://127.0.0.1:{up_port}"
            asyncio.run(seed.seed(dsn, up_base))
            with process(pinned(LOAD_CPU, [PY, "-m", "benchmarks.upstream", str(up_port)]), up_port):
                import subprocess

                raw_out = subprocess.run(pinned(SERVER_CPU, [PY, "-m", "benchmarks.broadcast", "rawclient",
                                                             f"{up_base}/receiver/locations/NL/CPO/LOC1/EVSE1",
                                                             str(windows["raw"]), "64"]),
                                         check=True, capture_output=True, text=True, timeout=120)
                raw = json.loads(raw_out.stdout)
                results["raw_client"] = raw
                print(f"raw client: {raw}", flush=True)
                results["in_process"] = []
                for n in sizes:
                    pushes = max(20, (6_000 if opts.tiny else 60_000) // n)
                    done = subprocess.run(pinned(SERVER_CPU, [PY, "-m", "benchmarks.broadcast", "inprocess", up_base,
                                                              str(n), str(pushes)]),
                                          check=True, capture_output=True, text=True, timeout=600)
                    results["in_process"].append(json.loads(done.stdout))
                    print(f"in process: {results['in_process'][-1]}", flush=True)
                results["receivers"] = []
                for n, cc in zip(sizes, ("RA", "RB", "RC"), strict=False):
                    row = receivers_scenario(dsn, up_base, n, cc, windows, raw, tmp)
                    results["receivers"].append(row)
                    print(json.dumps({k: v for k, v in row.items() if k != "probe"}), flush=True)
                knee = next((r for r in results["receivers"] if r["receivers"] == churn["receivers"]),
                            results["receivers"][-1])
                rate = 0.8 * knee["sustained"]["push_rate"] * knee["receivers"] / churn["receivers"]
                results["churn"] = churn_scenario(dsn, up_base, rate, windows["churn"], churn["objects"],
                                                  churn["receivers"], tmp, baseline=not opts.tiny)
                print(json.dumps({k: v for k, v in results["churn"].items() if k not in ("alone", "with_slow")}),
                      flush=True)
        finally:
            pg.stop()
    results["summary"] = summary(results)
    print(json.dumps(results["summary"], indent=2), flush=True)
    (opts.out / "broadcast.json").write_text(json.dumps(results, indent=2))
    return 0


def summary(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"raw_client": results["raw_client"],
                           "in_process_cpu_ratio": {r["receivers"]: r["raw_client_cpu_over_broadcast_cpu"]
                                                    for r in results["in_process"]}}
    for row in results["receivers"]:
        n = row["receivers"]
        over = row["overload"]
        out[f"receivers_{n}"] = {
            "sustained_deliveries_per_second": row["sustained"]["deliveries_per_second"],
            "knee_pushes_per_second": row["sustained"]["push_rate"],
            "sustained_over_raw_client": row["sustained_over_raw_client"],
            "raw_client_cpu_over_hub_cpu_per_delivery": row["raw_client_cpu_over_hub_cpu_per_delivery"],
            "sustained_hub_cpu_share": row["sustained"]["hub_cpu_share"],
            "overload_over_sustained": row["overload_over_sustained"],
            "overload_rss_growth_mb": over["rss_peak_growth_mb"],
            "overload_healthz_p99_ms": over["healthz_p99_ms"],
            "overload_refused_429": over["refused_429"], "overload_coalesced": over["coalesced"],
            "overload_still_queued_at_end": over["backlog_at_end"], "overload_drain_seconds": over["drain_seconds"],
            "overload_expired": over["expired"],
        }
    churn = results["churn"]
    out["churn"] = {"fast_with_slow_over_alone": churn["fast_with_slow_over_alone"],
                    "coalesced_while_pushing": churn["with_slow"]["coalesced"],
                    "refused_429": churn["with_slow"]["refused_429"],
                    "slow_receiver_has_latest": f"{churn['slow_receiver_has_latest']} of {churn['evses_pushed']}",
                    "slow_receiver_drain_seconds": churn["slow_receiver_drain_seconds"]}
    with contextlib.suppress(statistics.StatisticsError):
        out["mean_sustained_over_raw_client"] = round(statistics.mean(
            r["sustained_over_raw_client"] for r in results["receivers"]), 3)
    return out


if __name__ == "__main__":
    sys.exit(main())
