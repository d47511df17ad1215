"""What one serving process knows about its client connections: whether it is draining, which
connections have not sent their first request yet, and which are part-way through receiving one.

Each HTTP/1.1 connection (``hub.serving.protocol``) reports here; the serve loop reads it to decide
when the listener may close and to cut off clients that send too slowly (slowloris).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol


class Receiver(Protocol):
    """A connection receiving a request, as the slow-client sweep sees it."""

    async def receive_timed_out(self) -> None: ...


def expired(deadlines: Iterable[tuple[Receiver, float]], now: float) -> list[Receiver]:
    """The connections whose request is not complete at its deadline."""
    return [receiver for receiver, deadline in deadlines if deadline <= now]


def _ignore(kind: str) -> None:
    pass


class Connections:
    def __init__(self, *, receive_seconds: float, now: Callable[[], float] = time.monotonic) -> None:
        self.receive_seconds = receive_seconds
        self.now = now
        # From the first signal on: every answer says ``Connection: close``.
        self.draining = False
        # Accepted connections that have not sent a complete request head yet (nor closed).
        self.fresh = 0
        # Connection -> monotonic deadline by which its request (head and body) must have arrived.
        self.receiving: dict[Receiver, float] = {}
        # Reports to the app's metrics, wired by the serve loop: a tolerated deviation (its kind), a
        # client cut off for sending too slowly (the phase: head or body).
        self.tolerated: Callable[[str], None] = _ignore
        self.too_slow: Callable[[str], None] = _ignore

    async def sweep(self) -> None:
        """Cut off every connection whose request is overdue."""
        for receiver in expired(list(self.receiving.items()), self.now()):
            await receiver.receive_timed_out()
