"""Slow clients (slowloris) against a real hub process: 500 connections that trickle their request
are cut off in bounded time while normal requests keep being answered."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import aiohttp
import pytest

from tests.integration.test_operations import metric, scrape
from tests.support.process import HubProcess
from tests.support.servers import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SLOW_HEADS = 500
SLOW_BODIES = 20
RECEIVE_SECONDS = 2


async def trickle(port: int, start: bytes, drip: bytes) -> tuple[float, bytes]:
    """Send ``start``, then ``drip`` every 0.5 s until the hub closes; when it closed and what it said."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    began = time.monotonic()
    writer.write(start)
    answer = b""

    async def drip_forever() -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                await asyncio.sleep(0.5)
                writer.write(drip)
                await writer.drain()

    dripping = asyncio.create_task(drip_forever())
    try:
        with contextlib.suppress(ConnectionError):
            async with asyncio.timeout(20):
                while chunk := await reader.read(65536):
                    answer += chunk
    finally:
        dripping.cancel()
        writer.close()
    return time.monotonic() - began, answer


async def test_500_slow_connections_are_cut_off_while_normal_traffic_flows(dsn: str, tmp_path: Path) -> None:
    hub = HubProcess(free_port(), {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "adm",
                                   "OCPI_HUB_RECEIVE_SECONDS": str(RECEIVE_SECONDS)}, tmp_path / "hub.log")
    try:
        hub.wait_ready()
        slow = [asyncio.create_task(trickle(hub.port, b"GET /ocpi/versions HTTP/1.1\r\nHost: x\r\n", b"X-A: b\r\n"))
                for _ in range(SLOW_HEADS)]
        # A body only an authenticated caller gets to send (others are answered 401 before it is read).
        slow += [asyncio.create_task(trickle(hub.port, b"POST /admin/invitations HTTP/1.1\r\nHost: x\r\n"
                                             b"Authorization: Bearer adm\r\nContent-Length: 1000\r\n\r\n{", b" "))
                 for _ in range(SLOW_BODIES)]
        await asyncio.sleep(0.5)
        normal = []
        async with aiohttp.ClientSession() as http:
            for _ in range(30):  # one request every 0.1 s while the slow ones hang on
                began = time.monotonic()
                async with http.get(f"{hub.base_url}/healthz", timeout=aiohttp.ClientTimeout(total=10)) as r:
                    normal.append((r.status, time.monotonic() - began))
                await asyncio.sleep(0.1)
        results = await asyncio.gather(*slow)
        text = await scrape(hub.base_url)
    finally:
        assert hub.stop() == 0, hub.output()
    assert {status for status, _ in normal} == {200}
    assert max(seconds for _, seconds in normal) < 5, "normal requests were not held up behind the slow ones"
    heads, bodies = results[:SLOW_HEADS], results[SLOW_HEADS:]
    assert all(answer.startswith(b"HTTP/1.1 408") for _, answer in heads), {a[:20] for _, a in heads}
    assert all(answer == b"" for _, answer in bodies), "a cut-off body gets no answer, just the close"
    # Cut off after RECEIVE_SECONDS, found by a sweep each second: all within a bounded time.
    assert all(RECEIVE_SECONDS - 0.1 < seconds < RECEIVE_SECONDS + 3 for seconds, _ in results), \
        sorted(seconds for seconds, _ in results)[::50]
    assert metric(text, "ocpihub_slow_clients_total", phase="head") == SLOW_HEADS
    assert metric(text, "ocpihub_slow_clients_total", phase="body") == SLOW_BODIES
