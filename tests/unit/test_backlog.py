"""The broadcast backlog as tables: coalescing, order per object, limits, expiry, fairness, memory."""

from __future__ import annotations

import json
import random
import tracemalloc
from typing import Any

import pytest

from routing.backlog import (
    ENTRY_BYTES,
    Admitted,
    Backlog,
    Entry,
    Limits,
    Push,
    Reason,
    ReceiverKey,
    Refused,
    lane_key,
)

A: ReceiverKey = (1, "DE", "MSP")
B: ReceiverKey = (2, "BE", "MSP")
LOC = "/NL/CPO/LOC1"
BIG = 10**9


def limits(**kw: Any) -> Limits:
    values: dict[str, Any] = {"receiver_entries": BIG, "receiver_bytes": BIG, "total_entries": BIG,
                              "total_bytes": BIG, "max_age": 60.0, "receiver_concurrency": 4}
    return Limits(**(values | kw))


def push(method: str, path: str = LOC, body: Any = None, *, since: float = 0.0, query: str = "",
         module: str = "locations", raw: bytes | None = None) -> Push:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    return Push(module, method, path, query, data, since=since, correlation_id=f"c-{method}-{since}")


def admit(backlog: Backlog, p: Push, *receivers: ReceiverKey) -> Admitted:
    result = backlog.admit(p, receivers or (A,))
    assert isinstance(result, Admitted), result
    return result


def take_all(backlog: Backlog, now: float = 0.0) -> list[Entry]:
    out = []
    while (entry := backlog.take(now)) is not None:
        out.append(entry)
    return out


def deliveries(backlog: Backlog, now: float = 0.0) -> list[tuple[str, str, Any]]:
    """Deliver everything, one entry at a time: (method, path, decoded body) in delivery order."""
    out = []
    while (entry := backlog.take(now)) is not None:
        out.append((entry.method, entry.push.path, json.loads(entry.body) if entry.body else None))
        backlog.done(entry)
    return out


# -- coalescing: what a second push does to a waiting first one ---------------------------------

CASES = [
    # first, second, expected deliveries
    (("PUT", {"a": 1, "b": 1}), ("PUT", {"a": 2}), [("PUT", {"a": 2})]),
    (("PUT", {"a": 1, "b": 1}), ("PATCH", {"b": 2}), [("PUT", {"a": 1, "b": 2})]),
    (("PATCH", {"a": 1}), ("PATCH", {"b": 2}), [("PATCH", {"a": 1, "b": 2})]),
    (("PATCH", {"a": 1, "b": 1}), ("PATCH", {"a": 2, "b": 2, "c": 2}), [("PATCH", {"a": 2, "b": 2, "c": 2})]),
    (("PATCH", {"evses": [1, 2]}), ("PATCH", {"evses": [3]}), [("PATCH", {"evses": [3]})]),
    (("PATCH", {"a": 1}), ("PUT", {"a": 3}), [("PUT", {"a": 3})]),
    (("PUT", {"a": 1}), ("DELETE", None), [("DELETE", None)]),
    (("PATCH", {"a": 1}), ("DELETE", None), [("DELETE", None)]),
    (("DELETE", None), ("PUT", {"a": 1}), [("PUT", {"a": 1})]),
    (("DELETE", None), ("DELETE", None), [("DELETE", None)]),
    (("DELETE", None), ("PATCH", {"a": 1}), [("DELETE", None), ("PATCH", {"a": 1})]),
    (("POST", {"a": 1}), ("PUT", {"a": 2}), [("POST", {"a": 1}), ("PUT", {"a": 2})]),
    (("PUT", {"a": 1}), ("POST", {"a": 2}), [("PUT", {"a": 1}), ("POST", {"a": 2})]),
    (("PUT", [1]), ("PATCH", {"a": 2}), [("PUT", [1]), ("PATCH", {"a": 2})]),
    (("PATCH", {"a": 1}), ("PATCH", [2]), [("PATCH", {"a": 1}), ("PATCH", [2])]),
]


@pytest.mark.parametrize(("first", "second", "expected"), CASES,
                         ids=[f"{f[0]}-then-{s[0]}-{i}" for i, (f, s, _) in enumerate(CASES)])
def test_a_second_push_supersedes_or_queues(first: tuple[str, Any], second: tuple[str, Any],
                                            expected: list[tuple[str, Any]]) -> None:
    backlog = Backlog(limits())
    assert admit(backlog, push(first[0], body=first[1])) == Admitted(1, 0)
    result = admit(backlog, push(second[0], body=second[1], since=1.0))
    assert result == (Admitted(0, 1) if len(expected) == 1 else Admitted(1, 0))
    assert deliveries(backlog) == [(m, LOC, b) for m, b in expected]
    assert (backlog.entries, backlog.bytes) == (0, 0)


def test_a_merge_keeps_raw_values_byte_for_byte() -> None:
    backlog = Backlog(limits())
    admit(backlog, push("PATCH", raw=b'{"price":0.10,"n":12345678901234567890}'))
    admit(backlog, push("PATCH", raw=b'{"status":"CHARGING"}'))
    [entry] = take_all(backlog)
    assert entry.body is not None
    assert b'"price":0.10' in entry.body and b"12345678901234567890" in entry.body
    assert json.loads(entry.body) == {"price": 0.10, "n": 12345678901234567890, "status": "CHARGING"}


def test_the_newest_push_names_the_delivery_and_the_oldest_dates_it() -> None:
    backlog = Backlog(limits())
    admit(backlog, push("PUT", body={"a": 1}, since=5.0))
    admit(backlog, push("PATCH", body={"a": 2}, since=7.0))
    [entry] = take_all(backlog, now=7.0)
    assert entry.push.correlation_id == "c-PATCH-7.0" and entry.since == 5.0


def test_a_patch_merges_into_the_same_merge_for_every_receiver_sharing_the_body() -> None:
    backlog = Backlog(limits())
    admit(backlog, push("PUT", body={"a": 1, "b": 1}), A, B)
    admit(backlog, push("PATCH", body={"b": 2}), A, B)
    first, second = take_all(backlog)
    assert first.payload is second.payload, "one merged body in memory for both receivers"


@pytest.mark.parametrize(("pushes", "expected"), [
    # Siblings commute: the second PATCH of EVSE E1 merges past a PATCH of E2.
    ([("PATCH", "/E1", {"s": 1}), ("PATCH", "/E2", {"s": 1}), ("PATCH", "/E1", {"s": 2})],
     [("PATCH", "/E1", {"s": 2}), ("PATCH", "/E2", {"s": 1})]),
    # Never across the enclosing Location: the PUT between them keeps both PATCHes where they are.
    ([("PATCH", "/E1", {"s": 1}), ("PUT", "", {"evses": []}), ("PATCH", "/E1", {"s": 2})],
     [("PATCH", "/E1", {"s": 1}), ("PUT", "", {"evses": []}), ("PATCH", "/E1", {"s": 2})]),
    # Nor across an enclosed connector.
    ([("PUT", "/E1", {"s": 1}), ("PATCH", "/E1/C1", {"p": 1}), ("PUT", "/E1", {"s": 2})],
     [("PUT", "/E1", {"s": 1}), ("PATCH", "/E1/C1", {"p": 1}), ("PUT", "/E1", {"s": 2})]),
    # A trailing slash names the same object.
    ([("PUT", "/E1", {"s": 1}), ("PUT", "/E1/", {"s": 2})], [("PUT", "/E1/", {"s": 2})]),
])
def test_objects_inside_a_location_keep_their_order(pushes: list[tuple[str, str, Any]],
                                                    expected: list[tuple[str, str, Any]]) -> None:
    backlog = Backlog(limits())
    for i, (method, sub, body) in enumerate(pushes):
        admit(backlog, push(method, LOC + sub, body, since=float(i)))
    assert deliveries(backlog) == [(m, LOC + sub, b) for m, sub, b in expected]


@pytest.mark.parametrize(("module", "path", "query", "expected"), [
    ("locations", "/NL/CPO/LOC1", "", "locations/NL/CPO/LOC1?"),
    ("locations", "/NL/CPO/LOC1/EVSE1/1", "", "locations/NL/CPO/LOC1?"),
    ("tokens", "/DE/MSP/TOK1", "type=RFID", "tokens/DE/MSP/TOK1?type=RFID"),
    ("tokens", "/DE/MSP/TOK1", "type=APP_USER", "tokens/DE/MSP/TOK1?type=APP_USER"),
    ("tariffs", "/NL/CPO/", "", "tariffs/NL/CPO?"),
])
def test_lane_is_the_client_owned_object(module: str, path: str, query: str, expected: str) -> None:
    assert lane_key(module, path, query) == expected


# -- order, in flight, fairness ------------------------------------------------------------------


def test_nothing_coalesces_into_a_delivery_in_flight_and_its_successor_waits() -> None:
    backlog = Backlog(limits())
    admit(backlog, push("PUT", body={"s": "AVAILABLE"}))
    [first] = take_all(backlog)
    assert admit(backlog, push("PATCH", body={"s": "CHARGING"})) == Admitted(1, 0)
    assert admit(backlog, push("PATCH", body={"s": "BLOCKED"})) == Admitted(0, 1)
    assert take_all(backlog) == [], "one delivery in flight per receiver and object"
    backlog.done(first)
    assert deliveries(backlog) == [("PATCH", LOC, {"s": "BLOCKED"})]


def test_receivers_and_objects_are_parallel_but_each_receiver_is_capped() -> None:
    backlog = Backlog(limits(receiver_concurrency=2))
    for n in range(5):
        admit(backlog, push("PUT", f"/NL/CPO/LOC{n}", {"n": n}), A, B)
    taken = take_all(backlog)
    assert [e.receiver for e in taken] == [A, B, A, B], "receivers take turns, two in flight each"
    backlog.done(taken[0])
    [next_one] = take_all(backlog)
    assert next_one.receiver == A and next_one.push.path == "/NL/CPO/LOC2"


def test_requeued_entry_is_first_again() -> None:
    backlog = Backlog(limits())
    admit(backlog, push("PUT", body={"s": 1}))
    [entry] = take_all(backlog)
    admit(backlog, push("PATCH", body={"s": 2}))
    backlog.requeue(entry)
    assert [(e.method, json.loads(e.body or b"")) for e in backlog.drain()] == [("PUT", {"s": 1}), ("PATCH", {"s": 2})]
    assert (backlog.entries, backlog.bytes) == (0, 0)


# -- limits: all receivers or none ---------------------------------------------------------------


@pytest.mark.parametrize(("kw", "reason"), [
    ({"receiver_entries": 2}, Reason.RECEIVER_ENTRIES),
    ({"receiver_bytes": 2 * ENTRY_BYTES + 60}, Reason.RECEIVER_BYTES),
    ({"total_entries": 4}, Reason.TOTAL_ENTRIES),
    ({"total_bytes": 4 * ENTRY_BYTES + 100}, Reason.TOTAL_BYTES),
])
def test_a_push_over_a_limit_is_refused_for_every_receiver(kw: dict[str, int], reason: Reason) -> None:
    backlog = Backlog(limits(**kw))
    admit(backlog, push("PUT", "/NL/CPO/LOC1", {"n": 1}), A, B)
    admit(backlog, push("PUT", "/NL/CPO/LOC2", {"n": 2}), A, B)
    before = (backlog.entries, backlog.bytes)
    refused = backlog.admit(push("PUT", "/NL/CPO/LOC3", {"n": 3}), (B, A))
    assert isinstance(refused, Refused) and refused.reason is reason
    assert (backlog.entries, backlog.bytes) == before, "nothing was queued for anyone"
    assert len(deliveries(backlog)) == 4


def test_the_byte_limits_count_the_correlation_id_the_sender_chose() -> None:
    backlog = Backlog(limits(receiver_bytes=ENTRY_BYTES + 1000))
    with_long_id = Push("locations", "DELETE", LOC, "", None, since=0.0, correlation_id="c" * 2000)
    assert isinstance(backlog.admit(with_long_id, (A,)), Refused)
    admit(backlog, Push("locations", "DELETE", LOC, "", None, since=0.0, correlation_id="c"))


def test_a_full_backlog_still_absorbs_a_push_that_coalesces() -> None:
    backlog = Backlog(limits(receiver_entries=1))
    admit(backlog, push("PUT", body={"s": 1}))
    assert isinstance(backlog.admit(push("PUT", "/NL/CPO/LOC2", {"s": 1}), (A,)), Refused)
    assert admit(backlog, push("PATCH", body={"s": 2})) == Admitted(0, 1)


def test_the_refusal_names_the_receiver_and_its_limit() -> None:
    backlog = Backlog(limits(receiver_entries=1))
    admit(backlog, push("PUT", body={}), B)
    assert backlog.admit(push("PUT", "/NL/CPO/X", {}), (A, B)) == Refused(Reason.RECEIVER_ENTRIES, B, 1, 1)


def test_a_closed_backlog_refuses_everything() -> None:
    backlog = Backlog(limits())
    backlog.accepting = False
    assert backlog.admit(push("PUT", body={}), (A,)) == Refused(Reason.SHUTTING_DOWN)


def test_restored_entries_ignore_the_limits_but_still_coalesce() -> None:
    backlog = Backlog(limits(receiver_entries=1))
    assert backlog.restore(push("PUT", "/NL/CPO/LOC1", {"s": 1}), A) is False
    assert backlog.restore(push("PUT", "/NL/CPO/LOC2", {"s": 1}), A) is False
    assert backlog.restore(push("PATCH", "/NL/CPO/LOC2", {"s": 2}), A) is True
    assert backlog.entries == 2
    assert isinstance(backlog.admit(push("PUT", "/NL/CPO/LOC3", {}), (A,)), Refused)


# -- expiry and age ------------------------------------------------------------------------------


def test_entries_older_than_max_age_expire_and_are_handed_back() -> None:
    backlog = Backlog(limits(max_age=10.0))
    admit(backlog, push("PUT", "/NL/CPO/LOC1", {}, since=0.0), A, B)
    admit(backlog, push("PUT", "/NL/CPO/LOC2", {}, since=5.0), A)
    assert backlog.oldest_since() == 0.0
    assert backlog.expire(9.0) == []
    expired = backlog.expire(12.0)
    assert [(e.receiver, e.push.path) for e in expired] == [(A, "/NL/CPO/LOC1"), (B, "/NL/CPO/LOC1")]
    assert backlog.oldest_since() == 5.0 and backlog.entries == 1
    [entry] = take_all(backlog, now=12.0)
    assert entry.push.path == "/NL/CPO/LOC2"


def test_take_skips_expired_entries_and_reports_them() -> None:
    backlog = Backlog(limits(max_age=10.0))
    admit(backlog, push("PUT", "/NL/CPO/LOC1", {}, since=0.0))
    admit(backlog, push("PUT", "/NL/CPO/LOC2", {}, since=8.0))
    [entry] = take_all(backlog, now=15.0)
    assert entry.push.path == "/NL/CPO/LOC2"
    assert [e.push.path for e in backlog.expired_on_take] == ["/NL/CPO/LOC1"]
    backlog.done(entry)
    assert (backlog.entries, backlog.bytes, backlog.oldest_since()) == (0, 0, None)


def test_coalescing_keeps_the_age_of_the_oldest_state() -> None:
    backlog = Backlog(limits(max_age=10.0))
    admit(backlog, push("PUT", body={"s": 1}, since=0.0))
    admit(backlog, push("PATCH", body={"s": 2}, since=9.0))
    assert len(backlog.expire(11.0)) == 1


# -- the whole thing against a model of a receiver -------------------------------------------------


def _apply(state: dict[str, Any], method: str, path: str, body: Any) -> None:
    """What a receiver does with a push: PUT replaces the object (and what it contains), PATCH
    replaces the fields it names, DELETE removes the object."""
    if method == "PUT":
        for key in [k for k in state if k.startswith(path + "/")]:
            del state[key]
        state[path] = dict(body)
    elif method == "PATCH":
        state[path] = {**state.get(path, {}), **body}
    else:
        for key in [k for k in state if k == path or k.startswith(path + "/")]:
            del state[key]


@pytest.mark.parametrize("seed", range(12))
def test_receivers_end_with_what_the_pushes_say_however_they_interleave(seed: int) -> None:
    """Random pushes (PUT/PATCH/DELETE of Locations, EVSEs and connectors) to three receivers,
    interleaved with random deliveries: every receiver ends with exactly the state it would have had
    with every push delivered one by one, never has two deliveries in flight for one object, and the
    counters add up at every step."""
    rng = random.Random(seed)
    receivers = [A, B, (3, "FR", "MS1")]
    backlog = Backlog(limits(receiver_concurrency=3, max_age=1e9))
    truth: dict[ReceiverKey, dict[str, Any]] = {r: {} for r in receivers}
    seen: dict[ReceiverKey, dict[str, Any]] = {r: {} for r in receivers}
    in_flight: list[Entry] = []
    paths = [f"/NL/CPO/L{loc}{sub}" for loc in range(3) for sub in ("", "/E1", "/E2", "/E1/C1")]
    pushed = coalesced = delivered = 0
    for step in range(400):
        if rng.random() < 0.55:
            method = rng.choice(["PUT", "PATCH", "PATCH", "PATCH", "DELETE"])
            path = rng.choice(paths)
            body = {rng.choice("abc"): step} if method != "DELETE" else None
            if method == "PUT":
                body = {"a": step, "b": step, "c": step}
            targets = rng.sample(receivers, rng.randint(1, 3))
            result = admit(backlog, push(method, path, body, since=float(step)), *targets)
            pushed += len(targets)
            coalesced += result.coalesced
            for r in targets:
                _apply(truth[r], method, path, body)
        elif in_flight and rng.random() < 0.5:
            entry = in_flight.pop(rng.randrange(len(in_flight)))
            _apply(seen[entry.receiver], entry.method, entry.push.path, json.loads(entry.body) if entry.body else None)
            backlog.done(entry)
            delivered += 1
        else:
            entry = backlog.take(float(step))
            if entry is not None:
                lanes = {(e.receiver, e.push.lane) for e in in_flight}
                assert (entry.receiver, entry.push.lane) not in lanes, "two in flight for one object"
                in_flight.append(entry)
        assert backlog.entries == pushed - coalesced - delivered, "every accepted delivery is accounted for"
        assert backlog.bytes >= backlog.entries * ENTRY_BYTES
    while in_flight or backlog.entries:
        for entry in in_flight:
            _apply(seen[entry.receiver], entry.method, entry.push.path, json.loads(entry.body) if entry.body else None)
            backlog.done(entry)
        in_flight = take_all(backlog, now=400.0)
    assert seen == truth
    assert coalesced > 0 and pushed > coalesced
    assert (backlog.entries, backlog.bytes) == (0, 0)


# -- memory: the byte limits count what the backlog really holds -------------------------------------


def test_entry_bytes_covers_what_an_entry_costs_in_memory() -> None:
    backlog = Backlog(limits())
    receivers = [(n, "DE", f"{n:03d}") for n in range(50)]
    pushes = [push("PATCH", f"/NL/CPO/LOC{n}/EVSE1", {"status": "AVAILABLE"}) for n in range(400)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for p in pushes:
            admit(backlog, p, *receivers)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    entries = len(pushes) * len(receivers)
    assert backlog.entries == entries
    assert used / entries <= ENTRY_BYTES, f"{used / entries:.0f} bytes an entry"
    assert backlog.bytes >= used, "the total counts at least what is held"
