"""One command for every benchmark figure: ``python -m benchmarks.run`` (``--quick`` for a short run,
``--tiny`` for the test suite's smoke check); its last section, scale, also runs on its own
(``python -m benchmarks.scale``). Everything runs on loopback; every process it starts,
it stops. Writes ``benchmarks/results/latest.json`` (raw, not committed) and PNG plots in
``benchmarks/plots/``.

Pinning (when ``taskset`` exists and there are 2+ cores): the server under test on core 0; the load
generator and the fast upstream share core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import pstats
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import answer_memory, answer_stage, decision, json_check, perimeter, policy, seed, translation
from benchmarks.loadgen import LoadResult, have_wrk, run_load
from hub.database import EmbeddedPostgres

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PLOTS = HERE / "plots"
PY = sys.executable
SERVER_CPU, LOAD_CPU = (0, 1) if (os.cpu_count() or 1) >= 2 and shutil.which("taskset") else (None, None)

GET_PATH = "/ocpi/2.2.1/sender/locations/LOC1"
PUT_PATH = "/ocpi/2.2.1/receiver/locations/NL/CPO/LOC1"
# The pinned CPO of the perimeter variant pushes its own location (the policy refuses another owner's).
PERIMETER_PUT_PATH = "/ocpi/2.2.1/receiver/locations/NL/CP2/LOC1"


def _b64(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


GET_HEADERS = {"Authorization": _b64(seed.EMSP_TOKEN), "OCPI-from-country-code": "DE", "OCPI-from-party-id": "MSP",
               "OCPI-to-country-code": "NL", "OCPI-to-party-id": "CPO", "X-Correlation-ID": "bench"}
PUT_HEADERS = {"Authorization": _b64(seed.CPO_TOKEN), "OCPI-from-country-code": "NL", "OCPI-from-party-id": "CPO",
               "OCPI-to-country-code": "DE", "OCPI-to-party-id": "MSP", "X-Correlation-ID": "bench"}
# The same requests from the pinned, allow-listed callers, through a "proxy" (the load generator on loopback).
PERIMETER_HEADERS = (
    GET_HEADERS | {"Authorization": _b64(seed.PINNED_EMSP_TOKEN), "OCPI-from-party-id": "MS2"} | seed.PROXY_HEADERS,
    PUT_HEADERS | {"Authorization": _b64(seed.PINNED_CPO_TOKEN), "OCPI-from-party-id": "CP2"} | seed.PROXY_HEADERS,
)
# Every perimeter check on, limits never reached: what the checks cost, not what refusals cost.
PERIMETER_ENV = {"OCPI_HUB_RATE_LIMIT": "1000000000", "OCPI_HUB_RATE_LIMIT_BURST": "1000000000",
                 "OCPI_HUB_TRUSTED_PROXIES": "127.0.0.0/8",
                 "OCPI_HUB_TLS_CLIENT_CERT_HEADER": "X-Forwarded-Client-Cert"}


def put_body(party_id: str = "CPO") -> bytes:
    from benchmarks.upstream import LOCATION

    location = dict(LOCATION, party_id=party_id, evses=LOCATION["evses"] * 3, description="x" * 200)
    return json.dumps(location).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pinned(cpu: int | None, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if cpu is not None else command


def wait_port(port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


@contextlib.contextmanager
def process(command: list[str], port: int, env: dict[str, str] | None = None, log: Path | None = None,
            ready_path: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc=proc)
        if ready_path:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}",
                                                                          timeout=1):
                    break
                time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream cpo {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://cpo; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
"""


def measure_server(name: str, port: int, path: str, method: str, headers: dict[str, str], body: bytes | None,
                   connections: list[int], seconds: float) -> list[dict[str, Any]]:
    rows = []
    url = f"http://127.0.0.1:{port}{path}"
    run_load(url, method=method, headers=headers, body=body, connections=8, seconds=1, cpu=LOAD_CPU)  # warm up
    for c in connections:
        result: LoadResult = run_load(url, method=method, headers=headers, body=body, connections=c,
                                      seconds=seconds, cpu=LOAD_CPU)
        rows.append({"server": name, "method": method, "connections": c, "rps": round(result.requests_per_second),
                     "p50_ms": result.p(50), "p90_ms": result.p(90), "p99_ms": result.p(99),
                     "errors": result.errors, "percentiles_ms": result.percentiles_ms, "generator": result.generator})
        print(f"  {name:<16} {method:<4} c={c:<3} {result.requests_per_second:>8.0f} req/s  p50 {result.p(50):.2f} ms"
              f"  p99 {result.p(99):.2f} ms  errors {result.errors}", flush=True)
    return rows


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    pinning = f"server core {SERVER_CPU}, load+upstream core {LOAD_CPU}" if SERVER_CPU is not None else "none"
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(), "pinning": pinning,
            "load_generator": "wrk -t1" if have_wrk() else "built-in asyncio (aiohttp)",
            "hypercorn": "1 worker, uvloop, HTTP/1.1 (h11), keep-alive",
            "hub_outbound_client": "routing.upstream_client (asyncio + httptools); compared: aiohttp"}


def top_costs(profile: Path, count: int = 15) -> list[dict[str, Any]]:
    stats = pstats.Stats(str(profile))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (filename, line, func), (_, ncalls, tottime, cumtime, _) in sorted(
        stats.stats.items(), key=lambda kv: kv[1][2], reverse=True  # type: ignore[attr-defined]
    )[:count]:
        where = filename.split("site-packages/")[-1].replace(str(HERE.parent) + "/", "")
        rows.append({"function": f"{where}:{line}({func})", "calls": ncalls, "tottime_s": round(tottime, 3),
                     "share": round(tottime / total, 3) if total else 0.0, "cumtime_s": round(cumtime, 3)})
    return rows


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--quick", action="store_true", help="short runs, fewer concurrency levels")
    args.add_argument("--tiny", action="store_true", help="smoke check for the test suite (about 20 s)")
    args.add_argument("--out", type=Path, default=RESULTS)
    args.add_argument("--plot-only", action="store_true", help="redraw the plots from the last results file")
    opts = args.parse_args(argv)
    if opts.plot_only:
        from benchmarks import scale

        latest = json.loads((opts.out / "latest.json").read_text())
        plot(latest, PLOTS)
        if "scale" in latest:
            scale.plot(latest["scale"], PLOTS)
        return 0
    seconds = 1.0 if opts.tiny else 3.0 if opts.quick else 10.0
    levels = [4] if opts.tiny else [16] if opts.quick else [1, 16, 64]
    opts.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "seconds_per_point": seconds, "forwarding": []}
    print(f"machine: {results['machine']}", flush=True)

    with tempfile.TemporaryDirectory(prefix="ocpi-bench-") as tmp_text:
        tmp = Path(tmp_text)
        pg = EmbeddedPostgres(tmp / "db")
        dsn = pg.start()
        try:
            up_port, direct_port = free_port(), free_port()
            upstream_base = f"http://127.0.0.1:{up_port}"
            asyncio.run(seed.seed(dsn, upstream_base))
            # Every hub below runs with the same registry: 10,000 more parties and 10,000 agreements, so
            # that "agreements required" and "open" differ only in the policy mode.
            started = time.perf_counter()
            parties = 1000 if opts.tiny else POLICY_PARTIES  # the smoke run checks the harness, not the scale
            agreement_count = asyncio.run(policy.seed_agreements(dsn, parties))
            results["policy"] = {"parties": parties, "agreements": agreement_count,
                                 "seed_s": round(time.perf_counter() - started, 1)}
            print(f"seeded {parties} parties and {agreement_count} agreements", flush=True)
            body = put_body()
            with process(pinned(LOAD_CPU, [PY, "-m", "benchmarks.upstream", str(up_port)]), up_port), \
                 process(pinned(SERVER_CPU, [PY, "-m", "benchmarks.upstream", str(direct_port)]), direct_port):
                servers: list[tuple[str, list[str], dict[str, str], str | None]] = []
                hub_env = {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "bench", "OCPI_HUB_DRAIN_SECONDS": "0",
                           "OCPI_HUB_SECRETS_KEY": seed.SECRETS_KEY, "OCPI_HUB_RATE_LIMIT": "0"}
                hub_cmd = [PY, "-m", "hub.cli", "serve", "--host", "127.0.0.1", "--port"]
                servers.append(("hub", hub_cmd, hub_env, "/readyz"))
                servers.append(("hub (agreements required)", hub_cmd, hub_env | {"OCPI_HUB_AGREEMENTS": "required"},
                                "/readyz"))
                servers.append(("hub (perimeter on)", hub_cmd, hub_env | PERIMETER_ENV, "/readyz"))
                if not opts.tiny:
                    servers.append(("hub (logs off)", hub_cmd, hub_env | {"OCPI_HUB_LOG_LEVEL": "WARNING"}, "/readyz"))
                    servers.append(("hub (aiohttp client)", hub_cmd, hub_env | {"OCPI_HUB_OUTBOUND_CLIENT": "aiohttp"},
                                    "/readyz"))
                    servers.append(("hypercorn ceiling", [PY, "-m", "benchmarks.fixed_response"], {}, None))
                    servers.append(("naive (aiohttp)", [PY, "-m", "benchmarks.naive_forwarder", "aiohttp"], {}, None))
                    servers.append(("naive (httpx)", [PY, "-m", "benchmarks.naive_forwarder", "httpx"], {}, None))
                print("forwarding:", flush=True)
                results["forwarding"] += measure_server("direct", direct_port, GET_PATH, "GET", {}, None, levels,
                                                        seconds)
                for name, command, env, ready in servers:
                    port = free_port()
                    full = [*command, str(port)]
                    if name.startswith("naive"):
                        full.append(upstream_base)
                    on = "perimeter" in name
                    get_headers, put_headers = PERIMETER_HEADERS if on else (GET_HEADERS, PUT_HEADERS)
                    put_path = PERIMETER_PUT_PATH if on else PUT_PATH
                    put = put_body("CP2") if on else body  # same size: the pinned CPO owns CP2's locations
                    log_name = name.split()[0] + ("-perimeter" if on else "-required" if "required" in name else "")
                    with process(pinned(SERVER_CPU, full), port, env, tmp / f"{log_name}.log", ready):
                        if name.startswith("hub"):
                            answered_ok(port, GET_PATH, "GET", get_headers, None)
                            answered_ok(port, put_path, "PUT", put_headers, put)
                        results["forwarding"] += measure_server(name, port, GET_PATH, "GET", get_headers, None,
                                                                levels, seconds)
                        results["forwarding"] += measure_server(name, port, put_path, "PUT", put_headers, put,
                                                                levels, seconds)
                        if name == "hub":
                            results["forwarding"] += translated(dsn, port, upstream_base, levels, seconds)
                if shutil.which("nginx") and not opts.tiny:
                    port = free_port()
                    (tmp / "nginx.conf").write_text(NGINX_CONF.format(dir=tmp, port=port, upstream=up_port))
                    with process(pinned(SERVER_CPU, ["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)]), port):
                        results["forwarding"] += measure_server("nginx", port, GET_PATH, "GET", GET_HEADERS, None,
                                                                levels, seconds)

                # Where the hub's time goes: the same GET load against a hub under cProfile.
                port = free_port()
                profile = opts.out / "hub.prof"
                command = pinned(SERVER_CPU, [PY, "-m", "cProfile", "-o", str(profile), "-m", "hub.cli", "serve",
                                              "--host", "127.0.0.1", "--port", str(port)])
                with process(command, port, hub_env | {"OCPI_HUB_LOG_LEVEL": "WARNING"}, tmp / "prof.log", "/readyz"):
                    run_load(f"http://127.0.0.1:{port}{GET_PATH}", headers=GET_HEADERS, connections=16,
                             seconds=seconds, cpu=LOAD_CPU)
                results["profile_top"] = top_costs(profile) if profile.exists() else []
                sizes = [10] if opts.tiny else [10, 100] if opts.quick else [10, 100, 1000]
                results["fanout"] = fanout(dsn, hub_cmd, hub_env, sizes, tmp)
        finally:
            pg.stop()

    print("policy stage and ownership body view (in-process):", flush=True)
    results["policy"]["body_view"] = policy.measure_body_view(rounds=3 if opts.tiny else 5)
    results["policy"]["decision"] = policy.measure_decisions(cases=2000 if opts.tiny else 20000)
    for row in results["policy"]["body_view"]:
        print(f"  {row}", flush=True)
    print(f"  {results['policy']['decision']}", flush=True)
    print("routing decision vs registry size:", flush=True)
    sizes = [10, 1000] if opts.tiny else [10, 1000, 100000]
    results["decision"] = [decision.measure(n, cases=2000 if opts.tiny else 20000) for n in sizes]
    for row in results["decision"]:
        print(f"  {row}", flush=True)
    for row in results["fanout"]:
        print(f"  fan-out {row}", flush=True)
    print("perimeter stage, ns per request (and one-off costs):", flush=True)
    results["perimeter"] = perimeter.measure(2000 if opts.tiny else 200000)
    for name, value in results["perimeter"].items():
        print(f"  {value:>10}  {name}", flush=True)
    print("JSON check per routed body (strict vs syntax only):", flush=True)
    results["json_check"] = json_check.measure(seconds_per_point=0.1 if opts.tiny else 0.5)
    for row in results["json_check"]:
        print(f"  {row}", flush=True)
    print("version crossing in-process (decode, translate, encode), µs:", flush=True)
    results["translation"] = translation.measure(tiny=opts.tiny)
    for row in results["translation"]:
        print(f"  {row}", flush=True)
    print("answer memory soak (hub RSS, normal + oversized answers):", flush=True)
    results["answer_memory"] = answer_memory.measure(normal=300, oversized=10) if opts.tiny else answer_memory.measure()
    print(f"  {results['answer_memory']}", flush=True)
    print("path confinement and answer stage, ns per request:", flush=True)
    results["answer_stage"] = answer_stage.measure(2000 if opts.tiny else 200000)
    for name, value in results["answer_stage"].items():
        print(f"  {value:>10}  {name}", flush=True)
    results["summary"] = summarize(results)
    print(json.dumps(results["summary"], indent=2), flush=True)
    # The scale section last (registries of 100,000 parties, churn, replicas: its own database and hubs);
    # OCPI_BENCH_SCALE=0 leaves it out (the test suite runs it once, not in every smoke run).
    from benchmarks import scale

    if os.environ.get("OCPI_BENCH_SCALE") != "0":
        mode = "tiny" if opts.tiny else "quick" if opts.quick else "full"
        with tempfile.TemporaryDirectory(prefix="ocpi-scale-") as tmp_text:
            results["scale"] = scale.measure(mode, Path(tmp_text))
        results["summary"]["scale"] = results["scale"]["summary"]
    (opts.out / "latest.json").write_text(json.dumps(results, indent=2))
    if not opts.tiny:
        # Only a full run replaces the committed plots; a quick one draws next to its results.
        plot(results, opts.out if opts.quick else PLOTS)
        if "scale" in results:
            scale.plot(results["scale"], opts.out if opts.quick else PLOTS)
    return 0


FANOUT_DELAY_MS = 20
POLICY_PARTIES = 10_000


def answered_ok(port: int, path: str, method: str, headers: dict[str, str], body: bytes | None) -> None:
    """One request before the load: a hub that refused it (a policy denial is HTTP 200 with an OCPI
    error code) would otherwise be measured refusing."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as r:
        answer = json.loads(r.read())
    if answer.get("status_code") != 1000:
        raise RuntimeError(f"{method} {path} was answered {answer}: the benchmark would measure a refusal")


def _metric_sum(port: int, name: str, **labels: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _wait(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark condition not reached in time")
        time.sleep(0.005)


def fanout(dsn: str, hub_cmd: list[str], hub_env: dict[str, str], sizes: list[int], tmp: Path) -> list[dict[str, Any]]:
    """Broadcast a Location to N receivers that each take FANOUT_DELAY_MS to answer: time until every
    delivery is done, against the slowest single receiver."""
    rows = []
    slow_port, port = free_port(), free_port()
    slow_base = f"http://127.0.0.1:{slow_port}"
    url = f"http://127.0.0.1:{port}{PUT_PATH}"
    headers = dict(PUT_HEADERS, **{"OCPI-to-country-code": "NL", "OCPI-to-party-id": "HUB"})
    body = put_body()
    with process(pinned(LOAD_CPU, [PY, "-m", "benchmarks.upstream", str(slow_port), str(FANOUT_DELAY_MS)]),
                 slow_port), \
         process(pinned(SERVER_CPU, [*hub_cmd, str(port)]), port, hub_env | {"OCPI_HUB_LOG_LEVEL": "WARNING"},
                 tmp / "fanout.log", "/readyz"):
        emsps = _metric_sum(port, "ocpihub_parties", role="EMSP")  # the seeded callers
        for n, cc in zip(sizes, ("FA", "FB", "FC", "FD"), strict=False):
            platform_id = asyncio.run(seed.seed_receivers(dsn, slow_base, n, cc))
            _wait(lambda n=n: _metric_sum(port, "ocpihub_parties", role="EMSP") == emsps + n)
            times = []
            for _ in range(3):
                before = _metric_sum(port, "ocpihub_broadcast_deliveries_total")
                request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
                started = time.perf_counter()
                with urllib.request.urlopen(request, timeout=10) as r:
                    answered = time.perf_counter() - started
                    assert r.status == 200
                _wait(lambda before=before, n=n: _metric_sum(port, "ocpihub_broadcast_deliveries_total")
                      >= before + n + 1)
                times.append((time.perf_counter() - started, answered))
            total, answered = sorted(times)[1]
            rows.append({"receivers": n + 1, "all_delivered_s": round(total, 3),
                         "sender_answered_s": round(answered, 4),
                         "slowest_receiver_s": FANOUT_DELAY_MS / 1000,
                         "ratio_to_slowest": round(total / (FANOUT_DELAY_MS / 1000), 1)})
            asyncio.run(seed.remove(dsn, platform_id))
            _wait(lambda: _metric_sum(port, "ocpihub_parties", role="EMSP") == emsps)
    return rows


def translated(dsn: str, port: int, sink_base: str, levels: list[int], seconds: float) -> list[dict[str, Any]]:
    """GET and PUT of a ~1 KB and a ~300 KB Location across versions, on the hub measured above: a 2.2.1
    eMSP reads a 2.1.1 CPO's Location (the answer is translated up), a 2.2.1 CPO pushes a Location to a 2.1.1
    eMSP (the body is translated down). The 2.1.1 parties exist only while these rows are measured, so that
    every other figure is taken with the registry it always had."""
    rows: list[dict[str, Any]] = []
    small_port, large_port = free_port(), free_port()
    upstream = [PY, "-m", "benchmarks.upstream"]
    with process(pinned(LOAD_CPU, [*upstream, str(small_port), "0", "2.1.1"]), small_port), \
         process(pinned(LOAD_CPU, [*upstream, str(large_port), "0", "2.1.1-300k"]), large_port):
        cpos = _metric_sum(port, "ocpihub_parties", role="CPO")
        emsps = _metric_sum(port, "ocpihub_parties", role="EMSP")
        ids = asyncio.run(seed.seed_versions(dsn, f"http://127.0.0.1:{small_port}", f"http://127.0.0.1:{large_port}",
                                             sink_base))
        try:
            # All three in the hub's registry (each registration reloads it on its own).
            _wait(lambda: _metric_sum(port, "ocpihub_parties", role="CPO") == cpos + 2
                  and _metric_sum(port, "ocpihub_parties", role="EMSP") == emsps + 1)
            for size, cpo, evses in (("1 KB", "OLD", 1), ("300 KB", "OL3", 560)):
                name = f"hub (translated {size})"
                get_headers = GET_HEADERS | {"OCPI-to-country-code": "DE", "OCPI-to-party-id": cpo}
                put_headers = PUT_HEADERS | {"OCPI-to-country-code": "DE", "OCPI-to-party-id": "OLM"}
                body = json.dumps(dict(translation.location(evses), country_code="NL", party_id="CPO",
                                       id="LOC1")).encode()
                answered_ok(port, GET_PATH, "GET", get_headers, None)
                answered_ok(port, PUT_PATH, "PUT", put_headers, body)
                rows += measure_server(name, port, GET_PATH, "GET", get_headers, None, levels, seconds)
                rows += measure_server(name, port, PUT_PATH, "PUT", put_headers, body, levels, seconds)
        finally:
            for platform_id in ids:
                asyncio.run(seed.remove(dsn, platform_id))
    return rows


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    def pick(server: str, method: str, connections: int) -> dict[str, Any] | None:
        return next((r for r in results["forwarding"] if r["server"] == server and r["method"] == method
                     and r["connections"] == connections), None)

    levels = sorted({r["connections"] for r in results["forwarding"]})
    c = 16 if 16 in levels else levels[-1]
    out: dict[str, Any] = {"connections": c}
    hub_get, naive_get, direct = pick("hub", "GET", c), pick("naive (aiohttp)", "GET", c), pick("direct", "GET", c)
    if hub_get and naive_get:
        out["hub_over_naive_get"] = round(hub_get["rps"] / naive_get["rps"], 2)
    required = "hub (agreements required)"
    required_get, required_put = pick(required, "GET", c), pick(required, "PUT", c)
    for method in ("GET", "PUT"):
        on, off = pick("hub (perimeter on)", method, c), pick("hub", method, c)
        if on and off:
            out[f"perimeter_on_over_off_{method.lower()}"] = round(on["rps"] / off["rps"], 2)
    hub_put, naive_put = pick("hub", "PUT", c), pick("naive (aiohttp)", "PUT", c)
    if hub_get and required_get:
        out["agreements_required_over_open_get"] = round(required_get["rps"] / hub_get["rps"], 3)
    if hub_put and required_put:
        out["agreements_required_over_open_put"] = round(required_put["rps"] / hub_put["rps"], 3)
    if hub_put and naive_put:
        out["hub_over_naive_put"] = round(hub_put["rps"] / naive_put["rps"], 2)
    ceiling = pick("hypercorn ceiling", "GET", c)
    if hub_get and ceiling:
        out["hub_share_of_hypercorn_ceiling_get"] = round(hub_get["rps"] / ceiling["rps"], 2)
    one_hub, one_direct = pick("hub", "GET", 1), pick("direct", "GET", 1)
    if one_hub and one_direct:
        out["hub_added_latency_p50_ms_at_c1"] = round(one_hub["p50_ms"] - one_direct["p50_ms"], 3)
    if hub_get and direct:
        out["hub_added_latency_p50_ms"] = round(hub_get["p50_ms"] - direct["p50_ms"], 3)
    for size in ("1 KB", "300 KB"):
        for method in ("GET", "PUT"):
            crossed, same = pick(f"hub (translated {size})", method, c), pick("hub", method, c)
            if crossed and same:
                out[f"translated_{size.replace(' ', '').lower()}_over_same_version_{method.lower()}"] = round(
                    crossed["rps"] / same["rps"], 3)
    soak = results.get("answer_memory")
    if soak:
        out["answer_memory_peak_over_idle_mb"] = soak["peak_over_idle_mb"]
    decisions = results.get("decision", [])
    if len(decisions) >= 2:
        out["decision_ns_change_smallest_to_largest"] = round(
            decisions[-1]["ns_per_decision"] / decisions[0]["ns_per_decision"] - 1, 3)
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
    rows = results["forwarding"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for server in dict.fromkeys(r["server"] for r in rows):
        pts = [r for r in rows if r["server"] == server and r["method"] == "GET"]
        ax.plot([r["connections"] for r in pts], [r["rps"] for r in pts], marker="o", label=server)
    ax.set(xlabel="concurrent connections", ylabel="requests/s (GET, 1 KB Location)", xscale="log", yscale="log",
           title="Throughput vs concurrency")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(directory / "throughput.png", dpi=80)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    c = results["summary"]["connections"]
    for r in rows:
        if r["connections"] == c and r["method"] == "GET":
            pts = sorted((float(k), v) for k, v in r["percentiles_ms"].items())
            ax.plot([v for _, v in pts], [k / 100 for k, _ in pts], label=r["server"])
    ax.set(xlabel="latency (ms)", ylabel="fraction of requests", xscale="log", title=f"Latency CDF, GET, c={c}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(directory / "latency_cdf.png", dpi=80)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    d = results["decision"]
    ax.plot([r["parties"] for r in d], [r["ns_per_decision"] for r in d], marker="o")
    ax.set(xlabel="registered parties", ylabel="ns per routing decision", xscale="log", ylim=(0, None),
           title="Routing decision cost vs registry size")
    fig.tight_layout()
    fig.savefig(directory / "decision.png", dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
