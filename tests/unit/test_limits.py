"""The abuse-limit data structures, with time passed in."""

from __future__ import annotations

import pytest

from routing.limits import FailureThrottle, TokenBucket, address_key, retry_after_seconds


@pytest.mark.parametrize(("rate", "burst", "times", "expected"), [
    # A full bucket lets `burst` requests through at once, then one per 1/rate seconds.
    (1.0, 3, [0, 0, 0, 0], [0.0, 0.0, 0.0, 1.0]),
    (2.0, 1, [0, 0, 0.25, 0.5, 0.5], [0.0, 0.5, 0.25, 0.0, 0.5]),
    # Refill stops at the burst: a long quiet spell does not bank more than `burst`.
    (10.0, 2, [0, 100, 100, 100], [0.0, 0.0, 0.0, 0.1]),
    # A refused request takes nothing: waiting the answered time is enough.
    (1.0, 1, [0, 0.5, 1.0], [0.0, 0.5, 0.0]),
])
def test_token_bucket_answers_wait_times(rate: float, burst: int, times: list[float], expected: list[float]) -> None:
    bucket = TokenBucket(rate, burst, now=0.0)
    assert [round(bucket.take(t), 6) for t in times] == expected


def test_retuning_a_bucket_keeps_what_was_spent() -> None:
    bucket = TokenBucket(1.0, 10, now=0.0)
    for _ in range(9):
        assert bucket.take(0.0) == 0.0
    bucket.retune(100.0, 5)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == pytest.approx(0.01)
    bucket.retune(1.0, 100)
    assert bucket.take(50.0) == 0.0 and bucket.tokens == pytest.approx(49.0)


@pytest.mark.parametrize(("wait", "header"), [(0.001, 1), (1.0, 1), (1.01, 2), (59.5, 60)])
def test_retry_after_is_whole_seconds_at_least_one(wait: float, header: int) -> None:
    assert retry_after_seconds(wait) == header


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("::ffff:198.51.100.4", "198.51.100.4"),
    ("fe80::1%eth0", "fe80::/64"),
    ("not an address", "not an address"),
])
def test_failures_are_counted_per_ipv4_address_and_per_ipv6_64(address: str, key: str) -> None:
    assert address_key(address) == key


def test_an_address_is_blocked_after_its_failures_and_released_as_they_refill() -> None:
    throttle = FailureThrottle(per_minute=3)  # one failure refills every 20 s
    assert [throttle.failed("a", 0.0) for _ in range(2)] == [0.0, 0.0]
    assert throttle.blocked_for("a", 0.0) == 0.0
    assert throttle.failed("a", 0.0) == pytest.approx(20.0)
    assert throttle.blocked_for("a", 5.0) == pytest.approx(15.0)
    assert throttle.blocked_for("b", 5.0) == 0.0  # others are not affected
    # Failing again while blocked does not extend the block.
    assert throttle.failed("a", 10.0) == pytest.approx(10.0)
    assert throttle.blocked_for("a", 20.0) == 0.0 and not throttle.blocked
    # One failure's worth refilled: the next failure blocks again at once.
    assert throttle.failed("a", 20.0) == pytest.approx(20.0)


def test_a_disabled_throttle_never_blocks() -> None:
    throttle = FailureThrottle(per_minute=0)
    assert not throttle.enabled
    assert all(throttle.failed("a", 0.0) == 0.0 for _ in range(100))
    assert not throttle.blocked and len(throttle) == 0


def test_the_failure_table_stays_bounded_and_forgets_refilled_addresses_first() -> None:
    throttle = FailureThrottle(per_minute=60, max_addresses=10)
    for n in range(10):
        throttle.failed(f"old{n}", 0.0)  # one failure each: refilled a second later
    throttle.failed("busy", 5.0)
    assert len(throttle) <= 10
    assert "busy" in throttle._buckets and not any(k.startswith("old") for k in throttle._buckets)
    for n in range(100):
        throttle.failed(f"new{n}", 5.0)
    assert len(throttle) <= 10
