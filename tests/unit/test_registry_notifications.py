"""What a registry NOTIFY carries (kind and ids, in payloads PostgreSQL accepts), the pacing of
background work, and which ClientInfo pushes a change makes: pure parts, as tables."""

from __future__ import annotations

import asyncio
from collections.abc import Generator

import pytest

from hub.liveness import status_changes
from partners import changes
from partners.changes import EVERYTHING, Changed
from partners.model import ConnectionStatus, Role
from partners.pacing import Pacer, pause_after
from partners.registry import PartyRow, PlatformRow, Snapshot, build_snapshot
from partners.sync import Change


@pytest.mark.parametrize(("platforms", "agreements", "payloads"), [
    ([], [], []),
    ([12], [], ["platform:12"]),
    ([15, 12, 12], [7], ["platform:12,15", "agreement:7"]),
    ([], [3, 1], ["agreement:1,3"]),
])
def test_payloads_name_kind_and_ids(platforms: list[int], agreements: list[int], payloads: list[str]) -> None:
    assert changes.encode(platforms=platforms, agreements=agreements) == payloads


def test_many_ids_are_spread_over_payloads_postgresql_accepts() -> None:
    ids = range(10**9, 10**9 + 5000)
    payloads = changes.encode(agreements=ids)
    assert len(payloads) > 1 and all(len(p.encode()) < 8000 for p in payloads)
    decoded = [changes.decode(p) for p in payloads]
    assert set().union(*(d.agreements for d in decoded)) == set(ids)


@pytest.mark.parametrize(("payload", "expected"), [
    ("platform:12", Changed(platforms=frozenset({12}))),
    ("platform:1,2", Changed(platforms=frozenset({1, 2}))),
    ("agreement:9", Changed(agreements=frozenset({9}))),
    ("*", EVERYTHING),
    ("register", EVERYTHING),  # an older hub's payload: re-check everything
    ("platform:", EVERYTHING),
    ("platform:1,x", EVERYTHING),
    ("party:NL:CPO", EVERYTHING),
    ("", EVERYTHING),
])
def test_payloads_not_understood_mean_everything(payload: str, expected: Changed) -> None:
    assert changes.decode(payload) == expected


@pytest.mark.parametrize(("spent", "share", "pause"), [
    (0.001, 0.1, 0.009),
    (0.002, 0.5, 0.002),
    (0.001, 1.0, 0.0),
    (0.0, 0.1, 0.0),
])
def test_pause_keeps_a_job_to_its_share(spent: float, share: float, pause: float) -> None:
    assert pause_after(spent, share) == pytest.approx(pause)
    if spent:
        assert spent / (spent + pause_after(spent, share)) == pytest.approx(share)


def test_pacer_runs_steps_to_their_result_and_counts_loop_time() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    def steps() -> Generator[None, None, str]:
        for _ in range(3):
            now[0] += 0.001  # each slice takes a millisecond of the loop
            yield
        now[0] += 0.001
        return "done"

    told: list[float] = []
    pacer = Pacer(0.5, clock, on_busy=told.append)
    assert asyncio.run(pacer.run(steps())) == "done"
    assert told == [pytest.approx(0.004)] and pacer.busy_seconds == pytest.approx(0.004)
    with pytest.raises(ValueError):
        Pacer(0.0)


def _snapshot(*platforms: tuple[int, ConnectionStatus, list[tuple[str, str, Role]]]) -> Snapshot:
    return build_snapshot(
        [PlatformRow(id=i, name="", status=s, token_hash=None, outbound_token="o", versions_url=None, version=None,
                     endpoints=[]) for i, s, _ in platforms],
        [PartyRow(platform_id=i, country_code=cc, party_id=pid, role=role, business_name="", last_updated="t")
         for i, _, parties in platforms for cc, pid, role in parties])


CON, OFF = ConnectionStatus.CONNECTED, ConnectionStatus.OFFLINE
A, B = ("NL", "AAA", Role.CPO), ("DE", "BBB", Role.EMSP)


@pytest.mark.parametrize(("before", "after", "named", "pushed"), [
    ([(1, CON, [A])], [(1, OFF, [A])], {1}, [("AAA", OFF)]),  # status flip
    ([(1, CON, [A])], [(1, CON, [A])], {1}, []),  # a change that left the status alone
    ([], [(1, CON, [A])], {1}, [("AAA", CON)]),  # registered
    ([(1, CON, [A])], [], {1}, [("AAA", ConnectionStatus.SUSPENDED)]),  # removed: invalidated
    ([(1, CON, [A]), (2, OFF, [B])], [(1, OFF, [A]), (2, CON, [B])], {1}, [("AAA", OFF)]),  # only what is named
    ([(1, OFF, [A]), (2, CON, [])], [(1, OFF, []), (2, CON, [A])], {1, 2}, [("AAA", CON)]),  # taken over
    ([(1, OFF, [A]), (2, CON, [])], [(1, OFF, []), (2, CON, [A])], {1}, []),  # its new platform's change pushes
])
def test_pushes_follow_the_status_of_the_parties_of_the_platforms_named(
        before: list, after: list, named: set[int], pushed: list[tuple[str, ConnectionStatus]]) -> None:
    change = Change(before=_snapshot(*before), after=_snapshot(*after), platforms=frozenset(named), kind="delta")
    assert [(party.party_id, status) for party, status in status_changes(change)] == pushed


def test_the_first_snapshot_pushes_nothing() -> None:
    snapshot = _snapshot((1, CON, [A]))
    assert status_changes(Change(before=_snapshot(), after=snapshot, platforms=None, kind="full")) == []
