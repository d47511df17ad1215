"""Stopping the hub's background tasks the same way everywhere, and running their I/O in bounded batches."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` and wait until it has stopped (its CancelledError is the expected end)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def bounded(items: Iterable[T], work: Callable[[T], Awaitable[None]], concurrency: int) -> None:
    """``work(item)`` for every item, at most ``concurrency`` at once (items are taken as workers free
    up, so a million items cost ``concurrency`` tasks, not a million). ``work`` handles its own errors."""
    source = iter(items)

    async def worker() -> None:
        for item in source:
            await work(item)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
