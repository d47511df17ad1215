"""Abuse limits as plain data structures: token buckets per platform, failure throttles per address.

Nothing here reads a clock or does I/O: every method takes ``now`` (seconds, monotonic), so the
decisions are table-tested without waiting. The limits are per process: a bucket lives in the
memory of the process that answers, because sharing it would cost a database round trip per
request (see the README, *Abuse limits*).
"""

from __future__ import annotations

import ipaddress
import math


def retry_after_seconds(wait: float) -> int:
    """A ``Retry-After`` value (whole seconds, at least 1) for a wait of ``wait`` seconds."""
    return max(1, math.ceil(wait))


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; a request takes one. Starts full."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float) -> float:
        """0.0 when a token was taken; otherwise the seconds until one will be there (nothing taken)."""
        tokens = self.tokens + (now - self.stamp) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        self.stamp = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return 0.0
        self.tokens = tokens
        return (1.0 - tokens) / self.rate

    def full(self, now: float) -> bool:
        return self.tokens + (now - self.stamp) * self.rate >= self.burst

    def retune(self, rate: float, burst: int) -> None:
        """New parameters, keeping what was already spent (an operator's change applies at once)."""
        self.rate = rate
        self.burst = float(burst)
        if self.tokens > self.burst:
            self.tokens = self.burst


def address_key(address: str) -> str:
    """What failures are counted by: the IPv4 address, or the /64 of an IPv6 one (one subscriber
    usually holds a whole /64, so counting single IPv6 addresses would throttle nobody)."""
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address.partition("%")[0])
    except ValueError:
        return address
    mapped = ip.ipv4_mapped
    if mapped is not None:
        return str(mapped)
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))


class FailureThrottle:
    """Failed authentications per client address: ``per_minute`` may fail in a burst, then one more
    every ``60 / per_minute`` seconds. An address out of failures is *blocked*: its requests without a
    known token are refused until one failure's worth has refilled (``routing.perimeter`` decides what
    a block applies to: not to tokens the hub knows, which other clients behind the address may hold).

    Memory is bounded: an address is forgotten once its bucket is full again, and past ``max_addresses``
    the oldest entries go first.
    """

    def __init__(self, per_minute: int, *, max_addresses: int = 100_000) -> None:
        self.per_minute = per_minute
        self.max_addresses = max_addresses
        self._buckets: dict[str, TokenBucket] = {}
        # Blocked addresses and when they may try again: checked on every request, so it is kept
        # apart from the buckets and is empty (one truth test) in the normal case.
        self.blocked: dict[str, float] = {}

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def blocked_for(self, key: str, now: float) -> float:
        """Seconds ``key`` must still wait (0.0: not blocked)."""
        until = self.blocked.get(key)
        if until is None:
            return 0.0
        if now >= until:
            del self.blocked[key]
            return 0.0
        return until - now

    def failed(self, key: str, now: float) -> float:
        """Count one failure of ``key``; returns how long it is blocked from now (0.0: not blocked)."""
        if not self.enabled:
            return 0.0
        waiting = self.blocked_for(key, now)
        if waiting:
            return waiting  # failures while blocked do not extend the block
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_addresses:
                self._forget(now)
            bucket = self._buckets[key] = TokenBucket(self.per_minute / 60.0, self.per_minute, now)
        bucket.take(now)
        if bucket.tokens >= 1.0:
            return 0.0
        wait = (1.0 - bucket.tokens) / bucket.rate
        self.blocked[key] = now + wait
        return wait

    def _forget(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.full(now) and k not in self.blocked]:
            del self._buckets[key]
        excess = len(self._buckets) - self.max_addresses // 2
        if excess > 0:
            for key in list(self._buckets)[:excess]:  # dicts keep insertion order: oldest first
                del self._buckets[key]
                self.blocked.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)
