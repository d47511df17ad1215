"""Keeping a background job to a share of the event loop.

A job that runs on the event loop (applying registry changes, comparing versions, merging learned
routes, walking platforms for still-alive checks) is written as slices of work; between two slices
the :class:`Pacer` lets the loop run for long enough that the job's slices take at most ``share`` of
the loop's time. Requests on the loop therefore wait at most one slice (about a millisecond) for a
job, and a job never takes more than its share, however much work arrives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator
from typing import TypeVar

T = TypeVar("T")


def pause_after(spent: float, share: float) -> float:
    """Seconds to leave the loop to others after a slice that took ``spent`` seconds, so that slices
    take at most ``share`` (0 < share <= 1) of the time."""
    return spent * (1.0 - share) / share if share < 1.0 else 0.0


class Pacer:
    def __init__(self, share: float, clock: Callable[[], float] = time.perf_counter, *,
                 on_busy: Callable[[float], None] | None = None) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError("share must be in (0, 1]")
        self.share = share
        self.clock = clock
        self.on_busy = on_busy  # told the loop time of each run (a metric)
        self.busy_seconds = 0.0  # loop time the paced slices took, in all

    async def run(self, steps: Generator[None, None, T]) -> T:
        """Drive ``steps`` (a generator yielding between slices and returning its result) to its end."""
        busy = 0.0
        try:
            while True:
                started = self.clock()
                try:
                    next(steps)
                except StopIteration as done:
                    busy += self.clock() - started
                    return done.value  # type: ignore[no-any-return]
                spent = self.clock() - started
                busy += spent
                await self.pause(spent)
        finally:
            self.busy_seconds += busy
            if self.on_busy is not None:
                self.on_busy(busy)

    async def pause(self, spent: float) -> None:
        """After a slice of ``spent`` seconds: at least one turn of the loop, longer to keep to the share."""
        await asyncio.sleep(pause_after(spent, self.share))
