"""Losing the database and getting it back, as the hub's background tasks see it.

Routing never waits for the database (it reads the in-memory snapshot), so an outage is survived
by the parts that keep that snapshot fresh: the registry listener, the leader lease, the sharing of
learned routes, the still-alive checks. Each retries on its own :class:`Backoff`, and all report to
one :class:`Outage`, which writes one warning when the first part loses the database and one line
when the last part has it back: no traceback per retry.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

log = logging.getLogger("ocpihub.database")


class Backoff:
    """Delays between reconnection attempts: ``initial`` doubling up to ``maximum``, each drawn
    within ±``jitter`` of its nominal value so that replicas do not reconnect in lockstep."""

    def __init__(self, initial: float = 0.5, maximum: float = 5.0, *, jitter: float = 0.2,
                 rand: Callable[[], float] = random.random) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.rand = rand
        self._nominal = initial

    def next(self) -> float:
        nominal = self._nominal
        self._nominal = min(self.maximum, nominal * 2)
        return nominal * (1 - self.jitter + 2 * self.jitter * self.rand())

    def reset(self) -> None:
        self._nominal = self.initial


class Outage:
    """Which parts of this process currently cannot use the database, and since when.

    Only parts that retry until they succeed report here (a part that fails and never tries again
    would hold the outage open for ever)."""

    def __init__(self, unreachable: Callable[[BaseException], bool],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.unreachable = unreachable
        self.clock = clock
        self.failing: dict[str, str] = {}
        self.since: float | None = None
        self.outages = 0

    @property
    def down(self) -> bool:
        return bool(self.failing)

    def failed(self, part: str, error: BaseException) -> None:
        """``part`` failed and will retry. If the database was unreachable, the first failing part opens
        an outage (one warning, no traceback); any other error is a fault worth its traceback."""
        if not self.unreachable(error):
            log.warning("%s failed; retrying", part, exc_info=error, extra={"part": part})
            return
        first = not self.failing
        self.failing[part] = describe(error)
        if first:
            self.since = self.clock()
            self.outages += 1
            log.warning("database unreachable; routing goes on from the last registry snapshot, reconnecting "
                        "with backoff", extra={"part": part, "error": self.failing[part]})

    def ok(self, part: str) -> None:
        """``part`` used the database again. The last part to recover closes the outage (one line)."""
        if self.failing.pop(part, None) is None or self.failing:
            return
        seconds = self.clock() - (self.since or self.clock())
        self.since = None
        # A warning too, so that a log filtered to warnings shows where each outage ended.
        log.warning("database reachable again", extra={"outage_seconds": round(seconds, 3)})


def describe(error: BaseException) -> str:
    """The error in one short line: class and message of its first cause (asyncpg's name host and port,
    never a password)."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    return (f"{name}: {text}" if text else name)[:200]
