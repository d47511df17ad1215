"""The routing decision (authenticate + check sender + resolve receiver + pick endpoint) as a pure
in-process microbenchmark, over registries of growing size: ns per decision, bytes per party, and
the time to rebuild the snapshot (done in a thread on every registry change)."""

from __future__ import annotations

import base64
import gc
import random
import time
import tracemalloc

from partners.model import ConnectionStatus, InterfaceRole, Role
from partners.registry import PartyRow, PlatformRow, Snapshot, build_snapshot
from partners.tokens import hash_token
from routing.resolve import authenticate, check_sender, resolve_receiver, to_key

MODULES = ("locations", "sessions", "cdrs", "tariffs", "tokens", "commands")


def registry_rows(size: int) -> tuple[list[PlatformRow], list[PartyRow]]:
    """``size`` platforms, one party each, alternately CPO and eMSP, with 12 endpoints each."""
    platforms, parties = [], []
    for n in range(size):
        role = Role.CPO if n % 2 == 0 else Role.EMSP
        endpoints = [{"identifier": m, "role": i, "url": f"https://p{n}.example.com/ocpi/2.2.1/{i.lower()}/{m}"}
                     for m in MODULES for i in ("SENDER", "RECEIVER")]
        platforms.append(PlatformRow(id=n, name=f"p{n}", status=ConnectionStatus.CONNECTED,
                                     token_hash=hash_token(f"token-{n}"), outbound_token=f"out-{n}",
                                     versions_url=f"https://p{n}.example.com/versions", version="2.2.1",
                                     endpoints=endpoints))
        # Unique keys: the country code counts thousands, the party id the rest.
        parties.append(PartyRow(platform_id=n, country_code="".join(chr(65 + d) for d in divmod(n // 1000, 26)),
                                party_id=f"{n % 1000:03d}", role=role, business_name="", last_updated=""))
    return platforms, parties


Case = tuple[bytes, bytes, bytes, bytes, bytes]


def decisions(snapshot: Snapshot, parties: list[PartyRow], count: int) -> list[Case]:
    """Random eMSP -> CPO GETs on locations: (auth header, from cc, from pid, to cc, to pid)."""
    rng = random.Random(7)
    emsps = [p for p in parties if p.role is Role.EMSP]
    cpos = [p for p in parties if p.role is Role.CPO]
    out = []
    for _ in range(count):
        caller, target = rng.choice(emsps), rng.choice(cpos)
        header = b"Token " + base64.b64encode(f"token-{caller.platform_id}".encode())
        out.append((header, caller.country_code.encode(), caller.party_id.encode(),
                    target.country_code.encode(), target.party_id.encode()))
    return out


def time_decisions(snapshot: Snapshot, cases: list[Case], rounds: int) -> float:
    """Best-of-rounds nanoseconds per decision."""
    sender_side = InterfaceRole.SENDER
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for header, fcc, fpid, tcc, tpid in cases:
            platform = authenticate(snapshot, header)
            check_sender(platform, fcc, fpid, "locations", sender_side)
            key = to_key(tcc, tpid)
            assert key is not None
            resolve_receiver(snapshot, key, "locations", sender_side)
        best = min(best, (time.perf_counter_ns() - start) / len(cases))
    return best


def measure(size: int, *, cases: int = 20000, rounds: int = 5) -> dict[str, float]:
    platforms, parties = registry_rows(size)
    gc.collect()
    started = time.perf_counter()
    build_snapshot(platforms, parties)  # timed without tracemalloc, which slows allocation down
    build_ms = (time.perf_counter() - started) * 1000
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    snapshot = build_snapshot(platforms, parties)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    work = decisions(snapshot, parties, cases)
    time_decisions(snapshot, work, 1)  # warm the auth cache, as in steady state
    ns = time_decisions(snapshot, work, rounds)
    return {"parties": size, "ns_per_decision": round(ns, 1), "bytes_per_party": round((after - before) / size),
            "snapshot_build_ms": round(build_ms, 1)}


if __name__ == "__main__":
    for n in (10, 1000, 100000):
        print(measure(n))
