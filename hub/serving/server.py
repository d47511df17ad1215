"""One serving process: Hypercorn on a socket the caller bound, and a shutdown that loses nothing.

On SIGTERM (or SIGINT where the process owns the terminal):
1. drain: ``/readyz`` answers 503 and every answer says ``Connection: close`` for
   ``OCPI_HUB_DRAIN_SECONDS``, while the listener still accepts (load balancers move away; clients
   finish on fresh connections);
2. the listener refuses new connections, the ones already queued are accepted and get a moment to send
   their request (``hub.serving.listener``), then it closes;
3. idle connections close, requests in flight finish within ``OCPI_HUB_SHUTDOWN_GRACE_SECONDS``, the
   lifespan closes (broadcasts delivered, request log flushed), and the process logs "stopped".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from hub import tls
from hub.config import Config
from hub.serving import listener, protocol
from hub.serving.connections import Connections

log = logging.getLogger("ocpihub.serving")

# After the listener closes: how long a just-accepted connection may take to send its request head
# before it is treated as idle and closed.
FIRST_REQUEST_WAIT = 1.0


def hypercorn_config(config: Config, sock: socket.socket) -> protocol.ServerConfig:
    hc = protocol.ServerConfig()
    hc.bind = [f"fd://{os.dup(sock.fileno())}"]  # Hypercorn owns (and closes) its own descriptor
    hc.accesslog = None  # the hub writes its own request log
    hc.errorlog = logging.getLogger("hypercorn.error")  # through the JSON handler
    hc.graceful_timeout = config.shutdown_grace_seconds
    # The lifespan's shutdown delivers broadcasts for a while, then writes the rest to the outbox.
    hc.shutdown_timeout = max(60.0, config.broadcast_shutdown_seconds + config.broadcast_persist_seconds + 10)
    hc.keep_alive_timeout = config.keep_alive_seconds
    # Hypercorn's read_timeout would also cut clients waiting for a slow answer; the protocol's
    # per-request deadlines bound slow senders instead.
    hc.read_timeout = None
    hc.connections = Connections(receive_seconds=config.receive_seconds)
    tls.configure(hc, config)
    return hc


def run(app: Any, config: Config, sock: socket.socket, *, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT),
        parent_pid: int | None = None) -> None:
    """Serve ``app`` (a :class:`hub.app.HubApp`) on ``sock`` until one of ``signals``; return once stopped."""

    async def main() -> None:
        stop, hurry = asyncio.Event(), asyncio.Event()

        def signalled() -> None:
            if stop.is_set() and not hurry.is_set():
                log.info("second signal: ending the drain now")
                hurry.set()
            stop.set()

        loop = asyncio.get_running_loop()
        for sig in signals:
            loop.add_signal_handler(sig, signalled)
        await serve(app, config, sock, stop=stop, hurry=hurry, parent_pid=parent_pid)

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


async def serve(app: Any, config: Config, sock: socket.socket, *, stop: asyncio.Event,
                hurry: asyncio.Event | None = None, parent_pid: int | None = None) -> None:
    """Serve until ``stop`` is set, then drain (cut short when ``hurry`` is set) and stop as the module
    says."""
    from hypercorn.asyncio import serve as hypercorn_serve

    protocol.install()
    hc = hypercorn_config(config, sock)
    connections = hc.connections
    # The app's state (metrics, readiness) exists once its lifespan started; a bare ASGI app has none.
    connections.tolerated = lambda kind: _state(app) and _state(app).metrics.tolerated(kind)
    connections.too_slow = lambda phase: _state(app) and _state(app).metrics.slow_client(phase)
    loop = asyncio.get_running_loop()

    async def shutdown_trigger() -> None:
        await stop.wait()
        connections.draining = True
        if _state(app) is not None:
            _state(app).draining = True
        log.info(f"draining for {config.drain_seconds:g} s", extra={"drain_seconds": config.drain_seconds})
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for((hurry or asyncio.Event()).wait(), config.drain_seconds)
        await listener.stop_accepting(sock)
        deadline = loop.time() + FIRST_REQUEST_WAIT
        while connections.fresh > 0 and loop.time() < deadline:
            await asyncio.sleep(0.005)
        sock.close()
        log.info(f"listener closed; requests in flight get up to {config.shutdown_grace_seconds:g} s",
                 extra={"shutdown_grace_seconds": config.shutdown_grace_seconds})

    background = [loop.create_task(_every(1.0, connections.sweep))]
    if parent_pid is not None:
        background.append(loop.create_task(_orphaned(parent_pid, stop)))
    try:
        await hypercorn_serve(app, hc, shutdown_trigger=shutdown_trigger)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
    log.info("stopped")


def _state(app: Any) -> Any:
    return getattr(app, "state", None)


async def _every(seconds: float, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await action()
        except Exception:
            log.exception("periodic serving task failed")


async def _orphaned(parent_pid: int, stop: asyncio.Event) -> None:
    """A worker whose supervisor died (SIGKILL, OOM) shuts down instead of serving on unsupervised."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(1.0)
    log.warning("supervisor gone: shutting down")
    stop.set()


