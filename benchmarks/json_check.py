"""The JSON check every routed body passes, as an in-process microbenchmark: msgspec's syntax check
alone (what the hub did before) against ``partners.strict_json.check`` (syntax, UTF-8, nesting), on
bodies of the sizes and alphabets partners send. ``python -m benchmarks.json_check`` prints the rows."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import msgspec

from benchmarks.upstream import LOCATION
from partners import strict_json

_syntax_only = msgspec.json.Decoder(msgspec.Raw).decode


def bodies() -> dict[str, bytes]:
    ascii_location = dict(LOCATION, evses=LOCATION["evses"] * 3, description="x" * 200)
    accented = dict(ascii_location, city="Düsseldorf", address="Königsallee 1", description="Ladesäule " * 20)
    return {
        "location, ASCII": json.dumps(ascii_location).encode(),
        "location, accented": json.dumps(accented, ensure_ascii=False).encode(),
        "page of 300, accented": json.dumps([accented] * 300, ensure_ascii=False).encode(),
    }


def _ns_per_call(check: Callable[[bytes], Any], body: bytes, budget_s: float) -> float:
    calls = 0
    started = time.perf_counter()
    while True:
        for _ in range(50):
            check(body)
        calls += 50
        elapsed = time.perf_counter() - started
        if elapsed >= budget_s:
            return elapsed / calls * 1e9


def measure(*, seconds_per_point: float = 0.3, rounds: int = 5) -> list[dict[str, Any]]:
    """Each check timed in alternating rounds, the fastest round kept: on a shared machine the minimum
    is the figure least disturbed by other load."""
    rows = []
    for name, body in bodies().items():
        before = after = float("inf")
        for _ in range(rounds):
            before = min(before, _ns_per_call(_syntax_only, body, seconds_per_point / rounds))
            after = min(after, _ns_per_call(strict_json.check, body, seconds_per_point / rounds))
        rows.append({"body": name, "bytes": len(body), "syntax_only_ns": round(before),
                     "strict_ns": round(after), "added_ns": round(after - before)})
    return rows


if __name__ == "__main__":
    for row in measure():
        print(row)
