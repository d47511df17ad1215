"""The CPU-bound half of the scale benchmark, in this process (no server, no database):

* ``change``: what one registry change costs at N parties: before this work, every change rebuilt the
  snapshot from all rows (``build_snapshot``); now it is applied as a delta (``partners.delta``). Both
  timed, the delta also by its longest slice (the longest the event loop is held), for the kinds of
  change the hub sees: a status flip, a new registration, an agreement ending; and the safety net's
  comparison of every row version.
* ``memory``: bytes per party of the snapshot and per learned open-routing entry, measured in a fresh
  process each (resident memory before and after, so that the figure includes what the allocator
  really holds), at the sizes asked. Run one: ``python -m benchmarks.scale_inprocess memory KIND N``.
"""

from __future__ import annotations

import copy
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from benchmarks import decision
from partners import delta
from partners.model import ConnectionStatus, Role
from partners.registry import AgreementRow, PartyRow, PlatformRow, Snapshot, build_snapshot
from partners.tokens import hash_token
from routing.learned import Kind, LearnedRoutes

ROOT = Path(__file__).resolve().parent.parent


def _agreements(parties: list[PartyRow]) -> list[AgreementRow]:
    """Each CPO with the eMSP after it (about one agreement per two parties)."""
    rows = []
    for n in range(0, len(parties) - 1, 2):
        cpo, emsp = parties[n], parties[n + 1]
        rows.append(AgreementRow(id=n + 1, cpo_country_code=cpo.country_code, cpo_party_id=cpo.party_id,
                                 emsp_country_code=emsp.country_code, emsp_party_id=emsp.party_id, modules=None,
                                 valid_from=0.0, valid_until=None, row_version=1))
    return rows


def _timed(steps: Generator[None, None, Any]) -> tuple[Any, float, float]:
    """Run ``steps``: (result, total ms, longest slice ms)."""
    total = longest = 0.0
    while True:
        started = time.perf_counter()
        try:
            next(steps)
        except StopIteration as done:
            spent = time.perf_counter() - started
            return done.value, (total + spent) * 1000, max(longest, spent) * 1000
        spent = time.perf_counter() - started
        total += spent
        longest = max(longest, spent)


def change(size: int, repeats: int = 15) -> dict[str, Any]:
    platforms, parties = decision.registry_rows(size)
    for n, row in enumerate(platforms):
        row.row_version = n + 1
    agreement_rows = _agreements(parties)
    gc.collect()
    started = time.perf_counter()
    snapshot = build_snapshot(platforms, parties, agreement_rows)
    rebuild_ms = (time.perf_counter() - started) * 1000
    out: dict[str, Any] = {"parties": size, "agreements": len(agreement_rows), "full_rebuild_ms": round(rebuild_ms, 1)}
    kinds: dict[str, list[tuple[float, float]]] = {"status": [], "registration": [], "agreement": []}
    for k in range(repeats):
        n = (k * 7919) % size
        # A status flip: the platform's row and its party's last_updated change, as store.set_status writes them.
        row, party = copy.copy(platforms[n]), copy.copy(parties[n])
        row.status = (ConnectionStatus.OFFLINE if row.status is ConnectionStatus.CONNECTED
                      else ConnectionStatus.CONNECTED)
        row.row_version += 10_000_000
        party.last_updated = f"2026-01-01T00:00:{k:02d}Z"
        (snapshot, _), total, longest = _timed(delta.apply(snapshot, {row.id: (row, [party])}, {}))
        kinds["status"].append((total, longest))
        # A new platform registering with one party.
        new_id = size + 1 + k
        new = PlatformRow(id=new_id, name="new", status=ConnectionStatus.CONNECTED, token_hash=hash_token(f"new-{k}"),
                          outbound_token="out", versions_url="https://new.example.com/versions", version="2.2.1",
                          endpoints=platforms[n].endpoints, row_version=1)
        new_party = PartyRow(platform_id=new_id, country_code="ZZ", party_id=f"N{k:02d}", role=Role.CPO,
                             business_name="", last_updated="2026-01-01T00:00:00Z")
        (snapshot, _), total, longest = _timed(delta.apply(snapshot, {new_id: (new, [new_party])}, {}))
        kinds["registration"].append((total, longest))
        # An agreement ending.
        ended = copy.copy(agreement_rows[k % len(agreement_rows)]) if agreement_rows else None
        if ended is not None:
            ended.in_force = False
            (snapshot, _), total, longest = _timed(delta.apply(snapshot, {}, {ended.id: ended}))
            kinds["agreement"].append((total, longest))
    for kind, runs in kinds.items():
        if runs:
            out[f"{kind}_delta_ms"] = round(statistics.median(t for t, _ in runs), 3)
            out[f"{kind}_longest_slice_ms"] = round(max(s for _, s in runs), 3)
    # The safety net: every row's version compared with the snapshot (nothing changed).
    versions = [(p.id, p.row_version) for p in snapshot.platforms.values()]
    agreement_versions = [(a.id, a.row_version) for entry in snapshot.agreements.values() for a in entry]
    _, total, longest = _timed(delta.differences(snapshot, versions, agreement_versions))
    out["safety_net_compare_ms"], out["safety_net_longest_slice_ms"] = round(total, 1), round(longest, 3)
    out["speedup_status_change"] = round(rebuild_ms / out["status_delta_ms"], 1) if out.get("status_delta_ms") else None
    return out


def _resident() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def memory_of(kind: str, count: int) -> float:
    """Bytes per party (``kind`` = party) or per learned entry (``learned``), in this process."""
    if kind == "party":
        platforms, parties = decision.registry_rows(count)
        agreement_rows = _agreements(parties)
        gc.collect()
        before = _resident()
        snapshot: Snapshot | None = build_snapshot(platforms, parties, agreement_rows)
        gc.collect()
        used = _resident() - before
        assert snapshot is not None
        return used / count
    learned = LearnedRoutes(max_per_kind=count)
    owners = [(f"N{n % 26:01d}", f"C{n:02d}") for n in range(100)]
    gc.collect()
    before = _resident()
    for n in range(count):
        # As rows read back from the database: fresh strings and tuples each time.
        owner, target = owners[n % 100], owners[(n * 7) % 100]
        learned.merge(Kind.SESSION, ("".join(owner[0]), "".join(owner[1])), f"SESSION-{n:012d}",
                      ("".join(target[0]), "".join(target[1])))
    gc.collect()
    return (_resident() - before) / count


def memory(kind: str, counts: list[int]) -> list[dict[str, Any]]:
    """Each size in a fresh process (a process's allocator keeps what it once held)."""
    rows = []
    for count in counts:
        out = subprocess.run([sys.executable, "-m", "benchmarks.scale_inprocess", "memory", kind, str(count)],
                             cwd=ROOT, capture_output=True, text=True, timeout=1800, check=True)
        rows.append({"kind": kind, "count": count, "bytes_each": round(float(out.stdout.strip()))})
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["memory"]:
        print(memory_of(sys.argv[2], int(sys.argv[3])))
    else:
        print(json.dumps(change(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=2))
