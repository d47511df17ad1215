"""What issue #11 added to every routed request, per call, without a server: path confinement of a
clean URL and of one glued to the module without ``/``, and the answer stage (``_respond_upstream``:
the receiver's headers filtered, routing headers added where the receiver sent none).

Pure CPU: ``measure()`` returns nanoseconds per call for each case. The forwarding benchmark in
``benchmarks.run`` measures the whole path; its upstream answers without routing headers, so every
hub request there pays the fill case below."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from partners.registry import Registry
from routing.forward import Forwarder
from routing.handler import RoutingApp, RoutingSettings, _Parties
from routing.paths import confine
from routing.upstream_client import Response

_BASE = [(b"content-type", b"application/json"), (b"x-request-id", b"r"), (b"x-correlation-id", b"c"),
         (b"date", b"Mon, 01 Jan 2026 00:00:00 GMT"), (b"server", b"upstream"), (b"content-length", b"1000")]
_ROUTING = [(b"ocpi-from-country-code", b"NL"), (b"ocpi-from-party-id", b"CPO"),
            (b"ocpi-to-country-code", b"DE"), (b"ocpi-to-party-id", b"MSP")]


def _ns_per_call(call: Callable[[], object], n: int) -> float:
    call()
    started = time.perf_counter_ns()
    for _ in range(n):
        call()
    return (time.perf_counter_ns() - started) / n


async def _answers(n: int) -> dict[str, float]:
    app = RoutingApp(Registry(), Forwarder(connect_timeout=1, request_timeout=1, connections_per_receiver=1),
                     RoutingSettings(public_url="http://hub", hub_party=("NL", "HUB"), max_body_bytes=1000,
                                     callback_ttl=60), b"k" * 32)
    parties = _Parties()
    parties.answer_from, parties.answer_to, parties.receiver_platform = ("NL", "CPO"), ("DE", "MSP"), 1
    parties.rebase = ("http://cpo/ocpi/locations", "http://hub/ocpi/2.2.1/sender/locations")

    async def sink(message: MutableMapping[str, Any]) -> None:
        pass

    out = {}
    for name, headers in (("answer stage, receiver sent routing headers", _BASE + _ROUTING),
                          ("answer stage, hub adds routing headers", _BASE)):
        upstream = Response(200, headers, b"{}")
        await app._respond_upstream(sink, upstream, b"r", b"c", parties)
        started = time.perf_counter_ns()
        for _ in range(n):
            await app._respond_upstream(sink, upstream, b"r", b"c", parties)
        out[name] = (time.perf_counter_ns() - started) / n
    await app.forwarder.close()
    return out


def measure(n: int = 100_000) -> dict[str, int]:
    clean = b"/ocpi/2.2.1/sender/locations/LOC1/EVSE1/1"
    glued = b"/ocpi/2.2.1/sender/locationsLOC1/EVSE1/1"
    cases = {
        "confine, clean URL": lambda: confine("GET", clean, ""),
        "confine, '{endpoint}{id}' glued": lambda: confine("GET", glued, ""),
    }
    out = {name: round(_ns_per_call(call, n)) for name, call in cases.items()}
    out.update({name: round(ns) for name, ns in asyncio.run(_answers(n)).items()})
    return out


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{value:>10}  {name}")
