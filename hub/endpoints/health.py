"""Liveness, readiness and the metrics scrape."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.endpoints.ocpi_auth import hub_state


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> Response:
    state = hub_state(request)
    problems = []
    if state.draining:
        problems.append("draining")
    if state.registry.version == 0:
        problems.append("registry not loaded")
    try:
        async with state.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")
    except Exception:
        problems.append("database unreachable")
    # Parts still reconnecting after an outage (the registry listener, the leader lease, ...).
    problems += [f"{part} reconnecting" for part in state.outage.failing]
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    # A large scrape takes long enough to stall routing: render it off the event loop.
    body = await asyncio.to_thread(hub_state(request).metrics.render)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
