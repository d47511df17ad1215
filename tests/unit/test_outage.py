"""Backoff delays, the one-warning-per-outage bookkeeping, and which errors mean "database away"."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from partners import store
from partners.errors import DatabaseUnavailableError
from partners.outage import Backoff, Outage, describe


@pytest.mark.parametrize(("rand", "expected"), [
    (0.5, [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]),  # nominal: doubling, then the cap
    (0.0, [0.4, 0.8, 1.6, 3.2, 4.0, 4.0]),  # -20 %
    (1.0, [0.6, 1.2, 2.4, 4.8, 6.0, 6.0]),  # +20 %
])
def test_backoff_doubles_up_to_its_cap_within_the_jitter(rand: float, expected: list[float]) -> None:
    backoff = Backoff(rand=lambda: rand)
    assert [round(backoff.next(), 6) for _ in expected] == expected
    backoff.reset()
    assert round(backoff.next(), 6) == expected[0]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


DOWN = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

# (part, event) steps -> the warnings logged after each step
SCENARIOS = {
    "one part, one outage": (
        [("sync", "fail"), ("sync", "fail"), ("sync", "fail"), ("sync", "ok")],
        [["database unreachable"], [], [], ["database reachable again"]],
    ),
    "the outage ends with the last part back": (
        [("sync", "fail"), ("lease", "fail"), ("sync", "ok"), ("lease", "fail"), ("lease", "ok")],
        [["database unreachable"], [], [], [], ["database reachable again"]],
    ),
    "success without an outage says nothing": (
        [("sync", "ok"), ("lease", "ok")],
        [[], []],
    ),
    "two outages, two pairs of lines": (
        [("sync", "fail"), ("sync", "ok"), ("lease", "fail"), ("lease", "ok")],
        [["database unreachable"], ["database reachable again"], ["database unreachable"],
         ["database reachable again"]],
    ),
    "a fault that is not the database keeps its traceback and opens no outage": (
        [("sync", "bug"), ("sync", "ok")],
        [["sync failed"], []],
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_outage_logs_once_when_it_starts_and_once_when_it_ends(name: str, caplog: pytest.LogCaptureFixture) -> None:
    steps, expected = SCENARIOS[name]
    clock = Clock()
    outage = Outage(store.unreachable, clock=clock)
    caplog.set_level(logging.INFO, logger="ocpihub.database")
    for (part, event), lines in zip(steps, expected, strict=True):
        caplog.clear()
        clock.now += 1.5
        if event == "ok":
            outage.ok(part)
        else:
            outage.failed(part, DOWN if event == "fail" else ValueError("bad row"))
        assert [r.getMessage().split(";")[0] for r in caplog.records] == lines
        assert all((r.exc_info is not None) == (event == "bug") for r in caplog.records)
    assert not outage.down and outage.since is None


def test_outage_names_the_failing_parts_and_measures_its_length(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = Outage(store.unreachable, clock=clock)
    outage.failed("registry listener", DOWN)
    outage.failed("leader lease", DatabaseUnavailableError("x"))
    assert outage.down and set(outage.failing) == {"registry listener", "leader lease"}
    assert outage.failing["registry listener"] == "ConnectionRefusedError: [Errno 111] Connect call failed " \
                                                  "('127.0.0.1', 5432)"
    clock.now += 7.25
    caplog.clear()
    outage.ok("registry listener")
    outage.ok("leader lease")
    [line] = caplog.records
    assert line.__dict__["outage_seconds"] == 7.25 and outage.outages == 1


@pytest.mark.parametrize(("error", "expected"), [
    (ConnectionRefusedError(111, "refused"), True),
    (FileNotFoundError(2, "No such file or directory"), True),  # the unix socket is gone
    (TimeoutError(), True),
    (DatabaseUnavailableError("x"), True),
    (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
    (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), True),
    (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True),
    (asyncpg.exceptions.TooManyConnectionsError("too many clients"), True),
    (asyncpg.InterfaceError("connection is closed"), True),
    (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), False),
    (asyncpg.exceptions.UndefinedTableError('relation "platforms" does not exist'), False),
    (ValueError("bad row"), False),
])
def test_only_connection_level_errors_mean_the_database_is_away(error: BaseException, expected: bool) -> None:
    assert store.unreachable(error) is expected


def test_describe_names_the_first_cause_in_one_short_line() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "refused\nsecond line")
        except OSError as exc:
            raise DatabaseUnavailableError("the hub's database is unavailable") from exc
    except DatabaseUnavailableError as outer:
        assert describe(outer) == "ConnectionRefusedError: [Errno 111] refused"
    assert describe(TimeoutError()) == "TimeoutError"
    assert len(describe(ValueError("x" * 500))) == 200
