"""Keeps one process's registry in step with the database.

One background task owns a LISTEN connection: a NOTIFY (sent by every registry write, in any
replica) or the periodic safety-net timer triggers a full reload, which builds a new snapshot and
swaps it in. The notification callback only sets an event; reloading happens in the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from partners import store
from partners.outage import Backoff, Outage
from partners.registry import Registry, Snapshot, build_snapshot
from partners.secrets import Keyring, SecretsKeyError, outbound_token_context

log = logging.getLogger("ocpihub.registry")


class _Unsealer:
    """Opens the sealed outbound tokens of one reload, reusing what the previous reload opened: a
    token that did not change is not decrypted again (100,000 platforms would cost ~0.3 s each time)."""

    def __init__(self, keyring: Keyring, previous: dict[tuple[int, bytes], str]) -> None:
        self.keyring = keyring
        self.previous = previous
        self.opened: dict[tuple[int, bytes], str] = {}

    def __call__(self, platform_id: int, sealed: bytes) -> str:
        key = (platform_id, sealed)
        token = self.previous.get(key)
        if token is None:
            try:
                token = self.keyring.open(sealed, outbound_token_context(platform_id)).decode("utf-8")
            except SecretsKeyError as exc:
                raise SecretsKeyError(f"outbound token of platform {platform_id}: {exc}") from None
        self.opened[key] = token
        return token


class RegistrySync:
    def __init__(
        self,
        registry: Registry,
        pool: store.Pool,
        dsn: str,
        *,
        keyring: Keyring,
        full_reload_seconds: float = 30.0,
        on_reload: Callable[[], None] | None = None,
        on_reload_failed: Callable[[], None] | None = None,
        outage: Outage | None = None,
    ) -> None:
        self.registry = registry
        self.keyring = keyring
        self._opened: dict[tuple[int, bytes], str] = {}
        self.pool = pool
        self.dsn = dsn
        self.full_reload_seconds = full_reload_seconds
        self.on_reload = on_reload
        self.on_reload_failed = on_reload_failed
        self.outage = outage or Outage(store.unreachable)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.listening = False

    async def reload(self) -> None:
        """Build a new snapshot from the database and swap it in (serialised, last writer wins).

        Building is CPU work that grows with the registry (100,000 platforms: most of a second), so it
        runs in a thread: requests keep being served on the event loop meanwhile, from the old snapshot.
        """
        async with self._lock:
            records = await store.load_registry(self.pool)
            unsealer = _Unsealer(self.keyring, self._opened)
            snapshot = await asyncio.to_thread(self._build, unsealer, *records)
            self._opened = unsealer.opened
            self.registry.swap(snapshot)
        if self.on_reload is not None:
            self.on_reload()

    @staticmethod
    def _build(unseal: _Unsealer, platforms: list[Any], parties: list[Any], agreements: list[Any]) -> Snapshot:
        return build_snapshot(*store.registry_rows(platforms, parties, unseal, agreements))

    async def start(self) -> None:
        await self.reload()
        self._task = asyncio.create_task(self._run(), name="registry-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = Backoff()
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await store.listen(self.dsn)
                await conn.add_listener(store.CHANNEL, self._notified)
                conn.add_termination_listener(self._notified)
                self.listening = True
                # Anything missed while we were not listening is picked up by this reload.
                await self.reload()
                self.outage.ok("registry listener")
                backoff.reset()
                while not conn.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.full_reload_seconds)
                    self._wake.clear()
                    await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The snapshot in memory stays in use meanwhile: routing does not wait for this.
                if self.on_reload_failed is not None:
                    self.on_reload_failed()
                self.outage.failed("registry listener", exc)
                await asyncio.sleep(backoff.next())
            finally:
                self.listening = False
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
