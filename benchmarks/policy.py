"""What party-level authorization costs.

* ``seed_agreements``: 10,000 parties (5,000 CPOs and 5,000 NSPs on platforms without module
  endpoints, so they receive no broadcast) joined by 10,000 agreements, plus the agreement between
  the benchmark's eMSP and CPO: the registry the hub GET/PUT runs with ``OCPI_HUB_AGREEMENTS=required``
  and ``open`` are measured on, in the same run.
* ``measure_body_view``: the per-request cost of the ownership body view (one msgspec pass that also
  checks the body is JSON) for a 1 KB and a 300 KB Location, against the JSON check alone it
  replaced, and against the view decoded in a pass of its own.
* ``measure_decisions``: the policy stage alone (authorize + admit) over a snapshot with those 10,000
  agreements, in ns per request.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import msgspec

from benchmarks.seed import _role, _sealed
from partners import agreements, agreements_store, store
from partners.model import InterfaceRole, Role
from partners.registry import AgreementRow, Party, build_snapshot
from partners.tokens import hash_token
from routing import body_view
from routing.modules import EMSP_SIDE, ROUTED_MODULES
from routing.policy import Ask, Policy

PARTIES_PER_PLATFORM = 500


def _key(prefix: str, n: int) -> tuple[str, str]:
    return (prefix + chr(65 + n // 1000), f"{n % 1000:03d}")


async def seed_agreements(dsn: str, parties: int = 10_000) -> int:
    """``parties`` parties (half CPO, half NSP) and as many agreements (each CPO with two NSPs), plus
    DE*MSP with NL*CPO; returns the number of agreements written."""
    half = parties // 2
    pool = await store.create_pool(dsn)
    try:
        for side, role, prefix in (("cpos", Role.CPO, "Q"), ("nsps", Role.NSP, "R")):
            for start in range(0, half, PARTIES_PER_PLATFORM):
                token = f"bench-{side}-{start}"
                platform_id = await store.create_platform(pool, name=f"bench-{side}-{start}",
                                                          token_hash=hash_token(token))
                await store.register_platform(
                    pool, platform_id, token_hash=hash_token(token), outbound_token=_sealed("unused", platform_id),
                    versions_url="http://127.0.0.1:9/versions", version="2.2.1", endpoints=[],
                    roles=[_role(role, *_key(prefix, n))
                           for n in range(start, min(half, start + PARTIES_PER_PLATFORM))],
                )
        now = datetime.datetime.now(datetime.UTC)
        pairs = [(_key("Q", n), _key("R", (n + k) % half)) for n in range(half) for k in (0, 1)]
        pairs.append((("NL", "CPO"), ("DE", "MSP")))
        candidates = [agreements.Candidate(cpo=c, emsp=e, modules=None, valid_from=now, valid_until=None)
                      for c, e in pairs]

        def check(roles_of: Any, existing: Any) -> list[agreements.Problem]:
            return agreements.check(candidates, roles_of=roles_of, existing=existing,
                                    modules=frozenset(ROUTED_MODULES), emsp_roles=EMSP_SIDE, now=now)

        created = await agreements_store.create(pool, candidates, check)
        return len(created)
    finally:
        await pool.close()


def _location_body(evses: int) -> bytes:
    from benchmarks.upstream import LOCATION

    evse = LOCATION["evses"][0]  # type: ignore[index]
    return json.dumps(dict(LOCATION, evses=[dict(evse, uid=f"EVSE{n}") for n in range(evses)])).encode()


def _best_ns(fn: Any, arg: Any, rounds: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for _ in range(repeat):
            fn(arg)
        best = min(best, (time.perf_counter_ns() - started) / repeat)
    return best


def measure_body_view(*, rounds: int = 5) -> list[dict[str, Any]]:
    """µs per request for the body view, the JSON check it replaced, and both as separate passes."""
    json_check = msgspec.json.Decoder(msgspec.Raw).decode
    rows = []
    for label, evses in (("1 KB", 2), ("300 KB", 855)):
        body = _location_body(evses)
        repeat = 20_000 if len(body) < 10_000 else 100
        view = _best_ns(body_view.read, body, rounds, repeat)
        check = _best_ns(json_check, body, rounds, repeat)
        rows.append({"location": label, "bytes": len(body), "view_and_json_check_us": round(view / 1000, 2),
                     "json_check_alone_us": round(check / 1000, 2),
                     "view_as_second_pass_us": round((view + check) / 1000, 2),
                     "view_extra_over_json_check_us": round((view - check) / 1000, 2)})
    return rows


def measure_decisions(agreement_count: int = 10_000, *, cases: int = 20_000, rounds: int = 5) -> dict[str, Any]:
    """ns per policy decision (authorize + admit) for a GET and a PUT, open vs required, over a
    snapshot with ``agreement_count`` agreements."""
    half = agreement_count // 2
    rows = []
    for n in range(agreement_count):  # each CPO with two NSPs, as seed_agreements writes them
        (ccc, cpid), (ecc, epid) = _key("Q", n % half), _key("R", (n % half + n // half) % half)
        rows.append(AgreementRow(id=n, cpo_country_code=ccc, cpo_party_id=cpid, emsp_country_code=ecc,
                                 emsp_party_id=epid, modules=None, valid_from=0.0, valid_until=None))
    rows.append(AgreementRow(id=-1, cpo_country_code="NL", cpo_party_id="CPO", emsp_country_code="DE",
                             emsp_party_id="MSP", modules=None, valid_from=0.0, valid_until=None))
    snapshot = build_snapshot([], [], rows)
    cpo = Party(country_code="NL", party_id="CPO", role=Role.CPO, platform_id=1)
    msp = Party(country_code="DE", party_id="MSP", role=Role.EMSP, platform_id=2)
    get = Ask(msp, "GET", "locations", InterfaceRole.SENDER, ("LOC1",), ())
    put = Ask(cpo, "PUT", "locations", InterfaceRole.RECEIVER, ("NL", "CPO", "LOC1"),
              body_view.read(_location_body(6)))
    out: dict[str, Any] = {"agreements": len(rows)}
    now = time.time()
    for mode, policy in (("open", Policy(agreements_required=False)), ("required", Policy(agreements_required=True))):
        for name, ask, receiver in (("get", get, cpo), ("put", put, msp)):
            def decide(_: Any, policy: Policy = policy, ask: Ask = ask, receiver: Party = receiver) -> None:
                policy.authorize(ask)
                policy.admit(snapshot, ask, receiver, now)

            out[f"{name}_{mode}_ns"] = round(_best_ns(decide, None, rounds, cases), 1)
    return out


if __name__ == "__main__":
    print(measure_body_view())
    print(measure_decisions())
