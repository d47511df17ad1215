"""Cost of a version crossing: decode a body, translate it up or down, encode it again, for a ~1 KB
and a ~300 KB Location and Session (2.2.1 ↔ 2.1.1 and 2.2.1 ↔ 2.3.0), beside the cost of decoding
and encoding alone. In-process, one core; figures on a shared machine are indicative only.

Run alone: ``python -m benchmarks.translation [--tiny]``; ``measure()`` is what ``benchmarks.run``
can call.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from routing.versions import Context, OcpiVersion, Party, VersionedDocument, codec, translate

V211, V221, V230 = OcpiVersion.V2_1_1, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0
UPDATED = "2024-03-01T10:00:00Z"


def _connector(n: int) -> dict[str, Any]:
    return {"id": str(n), "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
            "max_voltage": 230, "max_amperage": 32, "tariff_ids": [f"AC-{n}"], "last_updated": UPDATED}


def location(evses: int) -> dict[str, Any]:
    """A 2.2.1 Location with ``evses`` EVSEs of two connectors each (one EVSE ≈ 0.6 KB)."""
    return {
        "country_code": "DE", "party_id": "HHC", "id": "HAM-0042", "publish": True, "name": "Fischmarkt",
        "address": "Grosse Elbstrasse 9", "city": "Hamburg", "postal_code": "22767", "country": "DEU",
        "coordinates": {"latitude": "53.545012", "longitude": "9.951230"}, "parking_type": "PARKING_LOT",
        "evses": [{"uid": f"HAM-0042-{n}", "evse_id": f"DE*HHC*E0042*{n}", "status": "AVAILABLE",
                   "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
                   "connectors": [_connector(1), _connector(2)], "last_updated": UPDATED} for n in range(evses)],
        "time_zone": "Europe/Berlin", "opening_times": {"twentyfourseven": True}, "last_updated": UPDATED,
    }


def session(periods: int) -> dict[str, Any]:
    """A 2.2.1 Session with ``periods`` charging periods (one period ≈ 0.15 KB)."""
    return {
        "country_code": "DE", "party_id": "HHC", "id": "S-7781", "start_date_time": "2024-03-02T08:00:00Z",
        "kwh": Decimal("31.250"), "cdr_token": {"country_code": "NL", "party_id": "EMS", "uid": "04A1B2C3",
                                                 "type": "RFID", "contract_id": "NL-EMS-C12345678"},
        "auth_method": "AUTH_REQUEST", "location_id": "HAM-0042", "evse_uid": "HAM-0042-0", "connector_id": "1",
        "currency": "EUR", "status": "ACTIVE", "last_updated": UPDATED,
        "charging_periods": [{"start_date_time": "2024-03-02T08:00:00Z", "dimensions": [
            {"type": "ENERGY", "volume": Decimal("0.125")}, {"type": "MAX_CURRENT", "volume": Decimal("31.5")}]}
            for _ in range(periods)],
        "total_cost": {"excl_vat": Decimal("18.44"), "incl_vat": Decimal("21.94")},
    }


CONTEXT = Context(owner=Party("DE", "HHC"), token_owner=Party("NL", "EMS"), token_uid="04A1B2C3", token_type="RFID",
                  location=VersionedDocument(V221, location(1)))


def _per_call_us(fn: Callable[[], object], rounds: int, batches: int) -> float:
    """Best of ``batches`` batches, microseconds per call."""
    best = float("inf")
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        best = min(best, (time.perf_counter() - start) / rounds)
    return best * 1e6


def _round_trip(body: bytes) -> Callable[[], bytes]:
    """Decoding and encoding alone: the floor under any translation."""
    return lambda: codec.encode(codec.decode(body))


def _crossing(body: bytes, module: str, kind: str, source: OcpiVersion, target: OcpiVersion) -> Callable[[], bytes]:
    """What a translated request costs the hub: decode, translate, encode."""
    def cross() -> bytes:
        return codec.encode(translate(codec.decode(body), module, kind, source, target, CONTEXT).document)
    return cross


def measure(tiny: bool = False) -> list[dict[str, Any]]:
    cases = (("location", "locations", "location", location), ("session", "sessions", "session", session))
    sizes = {"location": (1, 560), "session": (3, 2350)}  # ~1 KB and ~300 KB encoded
    batches = 1 if tiny else 5
    results = []
    for name, module, kind, make in cases:
        for count in sizes[name]:
            body = codec.encode(make(count))
            rounds = 1 if tiny else max(5, 2_000_000 // len(body))
            row: dict[str, Any] = {"object": name, "bytes": len(body),
                                   "decode_encode_us": _per_call_us(_round_trip(body), rounds, batches)}
            for label, source, target in (("down_2_1_1", V221, V211), ("up_2_3_0", V221, V230)):
                row[f"{label}_us"] = _per_call_us(_crossing(body, module, kind, source, target), rounds, batches)
                there = codec.encode(translate(codec.decode(body), module, kind, source, target, CONTEXT).document)
                row[f"{label}_back_us"] = _per_call_us(_crossing(there, module, kind, target, source), rounds,
                                                       batches)
            results.append(row)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="a few rounds only: checks that it runs")
    opts = parser.parse_args(argv)
    rows = measure(tiny=opts.tiny)
    print(f"{'object':9} {'bytes':>8} {'codec':>9} {'->2.1.1':>9} {'2.1.1->':>9} {'->2.3.0':>9} {'2.3.0->':>9}  (µs)")
    for r in rows:
        print(f"{r['object']:9} {r['bytes']:8d} {r['decode_encode_us']:9.1f} {r['down_2_1_1_us']:9.1f} "
              f"{r['down_2_1_1_back_us']:9.1f} {r['up_2_3_0_us']:9.1f} {r['up_2_3_0_back_us']:9.1f}")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
