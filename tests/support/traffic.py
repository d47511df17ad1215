"""Real forwarded traffic of every kind the hub counts, for tests that need its metrics to move (the
real-Prometheus test runs every dashboard query and alert expression against it).

A new kind of traffic (a new outcome, a policy denial, a rate limit, a queue filling up) is one more
function marked ``@scenario``: it gets the :class:`World` (a hub and partners of every temperament,
all real, on loopback) and makes a few requests. Every scenario runs in each round; a scenario that
needs a partner the world lacks adds it in :func:`build_world`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, Role, cpo, emsp, envelope, location
from tests.support.servers import free_port

HUB = ("NL", "HUB")
REQUEST_TIMEOUT = 0.5


@dataclass
class World:
    net: Network
    hub: RunningHub
    msp: FakePlatform  # an eMSP that answers everything
    picky: FakePlatform  # an eMSP that refuses pushed locations (400)
    station: FakePlatform  # a CPO that answers everything
    slow: FakePlatform  # a CPO answering after the hub's request timeout (4002)
    gone: FakePlatform  # a CPO whose endpoints refuse connections (4003, then OFFLINE)
    sloppy: FakePlatform  # a CPO whose Link headers point elsewhere (a tolerated deviation)
    laggard: FakePlatform  # an eMSP taking only tariffs, answering after the request timeout (a backlog)


Scenario = Callable[[World], Awaitable[None]]
SCENARIOS: list[Scenario] = []


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS.append(fn)
    return fn


# The broadcast backlog is kept tiny, so that one slow receiver fills it within a round: one delivery in
# flight per receiver, three waiting at most, none older than 0.3 s.
BROADCAST = {"broadcast_receiver_concurrency": 1, "broadcast_receiver_backlog_entries": 3, "broadcast_max_age": 0.3}


async def build_world(net: Network, **hub_settings: Any) -> World:
    hub = await net.hub(**({"request_timeout": REQUEST_TIMEOUT} | BROADCAST | hub_settings))
    picky = emsp("picky", cc="BE", pid="PIC")
    picky.answers[("locations", "RECEIVER")] = (400, envelope(status_code=2001, message="not wanted"), {})
    sloppy = cpo("sloppy", pid="SLP")
    sloppy.answers[("locations", "SENDER")] = (200, envelope([location(1, pid="SLP")]), {
        "Link": '<https://elsewhere.invalid/ocpi/locations?offset=1>; rel="next"'})
    return World(
        net=net, hub=hub,
        msp=await net.registered(hub, emsp("msp")),
        picky=await net.registered(hub, picky),
        station=await net.registered(hub, cpo("station")),
        slow=await net.registered(hub, cpo("slow", pid="SLO", delay=REQUEST_TIMEOUT * 2)),
        gone=await net.registered(hub, cpo("gone", pid="GON", module_base=f"http://127.0.0.1:{free_port()}")),
        sloppy=await net.registered(hub, sloppy),
        laggard=await net.registered(hub, FakePlatform(name="laggard", roles=[Role("EMSP", "DE", "LAG")],
                                                       modules=[("tariffs", "RECEIVER")], delay=REQUEST_TIMEOUT * 2)),
    )


async def run_round(world: World) -> None:
    for run in SCENARIOS:
        await run(world)


def _ok(status: int, what: str, *expected: int) -> None:
    assert status in (expected or (200,)), f"{what}: HTTP {status}"


@scenario
async def forwarded_gets(w: World) -> None:
    for n in (1, 2, 3):
        status, _, _ = await w.msp.call("GET", "locations", "SENDER", f"/LOC{n}", to=w.station.party())
        _ok(status, "GET a location")


@scenario
async def direct_pushes(w: World) -> None:
    status, _, _ = await w.station.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=w.msp.party(),
                                        body=location(1))
    _ok(status, "PUT a location to one eMSP")


@scenario
async def broadcast_push(w: World) -> None:
    # Delivered to the good eMSP, refused by the picky one ("rejected").
    status, _, _ = await w.station.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC2", to=HUB, body=location(2))
    _ok(status, "broadcast a location")


@scenario
async def receiver_times_out(w: World) -> None:
    status, _, answer = await w.msp.call("GET", "locations", "SENDER", "/LOC1", to=w.slow.party())
    _ok(status, "GET from a slow CPO")  # hub errors are OCPI answers: HTTP 200
    assert answer["status_code"] == 4002, answer


@scenario
async def receiver_unreachable(w: World) -> None:
    status, _, answer = await w.msp.call("GET", "locations", "SENDER", "/LOC1", to=w.gone.party())
    _ok(status, "GET from a CPO that is gone")
    assert answer["status_code"] == 4003, answer


@scenario
async def unknown_token(w: World) -> None:
    status, _, _ = await w.msp.call("GET", "locations", "SENDER", "/LOC1", to=w.station.party(), token="nope")
    _ok(status, "a request with an unknown token", 401)


@scenario
async def unknown_receiver(w: World) -> None:
    status, _, answer = await w.msp.call("GET", "locations", "SENDER", "/LOC1", to=("XX", "YYY"))
    _ok(status, "a request to nobody")
    assert answer["status_code"] == 4001, answer


@scenario
async def policy_denial(w: World) -> None:
    # A CPO writing another CPO's location: refused by the policy (rule ownership), nothing forwarded.
    status, _, answer = await w.station.call("PUT", "locations", "RECEIVER", "/NL/SLP/LOC1", to=w.msp.party(),
                                             body=location(1, pid="SLP"))
    _ok(status, "a push of another CPO's location")
    assert answer["status_code"] == 2001, answer


@scenario
async def sloppy_link_header(w: World) -> None:
    status, _, _ = await w.msp.call("GET", "locations", "SENDER", "", to=w.sloppy.party())
    _ok(status, "a list with a Link header pointing elsewhere")


@scenario
async def broadcast_backlog(w: World) -> None:
    # Tariffs reach the good eMSPs at once and the laggard one at a time: the second push waits, a PATCH
    # of it merges in (coalesced), the backlog's three places fill and further pushes are refused (429),
    # and what waits past 0.3 s expires.
    for n, (method, tariff) in enumerate([("PUT", "T1"), ("PUT", "T2"), ("PATCH", "T2"), ("PATCH", "T2"),
                                          ("PUT", "T3"), ("PUT", "T4"), ("PUT", "T5"), ("PUT", "T6")]):
        body = {"id": tariff, "last_updated": f"2026-01-01T00:00:{n:02d}Z"}
        status, _, _ = await w.station.call(method, "tariffs", "RECEIVER", f"/NL/CPO/{tariff}", to=HUB, body=body)
        _ok(status, f"broadcast tariff {tariff}", 200, 429)
