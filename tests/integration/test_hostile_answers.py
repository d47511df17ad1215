"""Receivers that answer badly, seen by the caller through a real hub: a 4003 in words and a metric,
never a 200 with a broken body, and never more answer bytes in memory than the budget."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.integration.test_operations import metric, scrape
from tests.support.network import Network
from tests.support.partner import FakePlatform, cpo, emsp

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def receiver(head: bytes, body: bytes, gate: asyncio.Event | None = None) -> AsyncIterator[str]:
    """A receiver that writes ``head``, waits for ``gate`` (if any), then writes ``body``, on every request."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with contextlib.suppress(Exception):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(head)
                await writer.drain()
                if gate is not None:
                    await gate.wait()
                writer.write(body)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for writer in writers:
            writer.close()



def hostile_cpo(base: str) -> FakePlatform:
    """A CPO whose module endpoints are the hostile server. It takes no ClientInfo (the hub tells a
    newcomer who is there): only the request under test reaches that server."""
    station = cpo("cpo", module_base=base)
    station.modules.remove(("hubclientinfo", "RECEIVER"))
    return station

async def test_answer_longer_than_its_content_length_is_a_4003_not_a_broken_200(net: Network) -> None:
    hub = await net.hub(request_timeout=2.0)
    msp = await net.registered(hub, emsp("emsp"))
    body = '{"data":{"city":"Düsseldorf"},"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}'.encode()
    declared = len(body.decode())  # characters, not bytes
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % declared
    async with receiver(head, body) as base:
        station = await net.registered(hub, hostile_cpo(base))
        status, _, answer = await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party())
    assert status == 200 and answer["status_code"] == 4003, answer
    assert f"more than the {declared} bytes" in answer["status_message"]
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_answers_refused_total", reason="length_mismatch") == 1
    assert metric(text, "ocpihub_requests_total", module="locations", outcome="bad_answer") == 1
    assert metric(text, "ocpihub_upstream_errors_total", kind="bad_answer") == 1


async def test_declared_answer_over_the_cap_is_refused_before_reading(net: Network) -> None:
    hub = await net.hub(request_timeout=2.0, max_answer_bytes=100_000, answer_buffer_bytes=100_000,
                        offline_after_failures=2)
    msp = await net.registered(hub, emsp("emsp"))
    never = asyncio.Event()  # the body never comes: the hub must not wait for it
    async with receiver(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n", b"", never) as base:
        station = await net.registered(hub, hostile_cpo(base))
        for _ in range(3):
            status, _, answer = await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party())
            assert status == 200 and answer["status_code"] == 4003, answer
    assert "5000000 bytes" in answer["status_message"] and "OCPI_HUB_MAX_ANSWER_BYTES" in answer["status_message"]
    assert metric(await scrape(hub.base_url), "ocpihub_answers_refused_total", reason="too_large") == 3
    # A receiver that answers too much is alive: it is not taken OFFLINE (which would refuse all its traffic).
    _, platforms = await hub.admin("GET", "/admin/platforms")
    assert {p["status"] for p in platforms} == {"CONNECTED"}


async def test_concurrent_large_answers_beyond_the_budget_get_429(net: Network) -> None:
    hub = await net.hub(request_timeout=3.0, max_answer_bytes=100_000, answer_buffer_bytes=150_000)
    msp = await net.registered(hub, emsp("emsp"))
    payload = b'{"data":"' + b"x" * 79_950 + b'","status_code":1000}'
    gate = asyncio.Event()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload)
    async with receiver(head, payload, gate) as base:
        station = await net.registered(hub, hostile_cpo(base))
        first = asyncio.create_task(msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party()))
        await asyncio.sleep(0.3)  # its 80 KB are reserved while the receiver holds back the body
        status, headers, answer = await msp.call("GET", "locations", "SENDER", "/LOC2", to=station.party())
        assert status == 429 and answer["status_code"] == 4003 and headers["retry-after"] == "1", answer
        assert "OCPI_HUB_ANSWER_BUFFER_BYTES" in answer["status_message"]
        gate.set()
        status, _, answer = await first
        assert status == 200 and len(answer["data"]) == 79_950
        status, _, _ = await msp.call("GET", "locations", "SENDER", "/LOC3", to=station.party())
        assert status == 200, "the budget was given back once the first answer was written"
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_answers_refused_total", reason="buffer_full") == 1
    assert metric(text, "ocpihub_requests_total", module="locations", outcome="busy", status_class="4xx") == 1
    assert metric(text, "ocpihub_upstream_errors_total", kind="protocol") == 0, "the receiver did nothing wrong"
