"""A deliberately cheap OCPI receiver for benchmarks: a bare asyncio protocol that answers every
request on a kept-alive connection with the same ~1 KB Location envelope, so that the server under
test, not the upstream, is the bottleneck. Run: ``python -m benchmarks.upstream PORT [DELAY_MS [SHAPE]]``;
SHAPE ``2.1.1`` or ``2.1.1-300k`` answers with a 2.1.1 Location of ~1 KB or ~300 KB instead (a 2.1.1
CPO, whose answers the hub translates)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import cast

LOCATION = {
    "country_code": "NL", "party_id": "CPO", "id": "LOC1", "publish": True, "name": "Benchmark Plaza",
    "address": "Stationsplein 1", "city": "Amsterdam", "postal_code": "1012AB", "country": "NLD",
    "coordinates": {"latitude": "52.378900", "longitude": "4.900000"},
    "evses": [{"uid": f"EVSE{n}", "evse_id": f"NL*CPO*E{n:05d}", "status": "AVAILABLE",
               "capabilities": ["RFID_READER"],
               "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                               "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 32,
                               "tariff_ids": ["T1"], "last_updated": "2026-01-01T00:00:00Z"}],
               "last_updated": "2026-01-01T00:00:00Z"} for n in range(2)],
    "time_zone": "Europe/Amsterdam", "last_updated": "2026-01-01T00:00:00Z",
}


def location_2_1_1(evses: int) -> dict[str, object]:
    """A 2.1.1 Location of DE*OLD (no owner fields in 2.1.1) with ``evses`` EVSEs (one ≈ 0.37 KB)."""
    return {
        "id": "LOC1", "type": "PARKING_LOT", "name": "Benchmark Plaza", "address": "Stationsplein 1",
        "city": "Amsterdam", "postal_code": "1012AB", "country": "NLD",
        "coordinates": {"latitude": "52.378900", "longitude": "4.900000"},
        "evses": [{"uid": f"EVSE{n}", "evse_id": f"DE*OLD*E{n:05d}", "status": "AVAILABLE",
                   "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
                   "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                                   "power_type": "AC_3_PHASE", "voltage": 230, "amperage": 32, "tariff_id": "T1",
                                   "last_updated": "2026-01-01T00:00:00Z"}],
                   "last_updated": "2026-01-01T00:00:00Z"} for n in range(evses)],
        "time_zone": "Europe/Amsterdam", "opening_times": {"twentyfourseven": True},
        "last_updated": "2026-01-01T00:00:00Z",
    }


SHAPES = {"2.2.1": LOCATION, "2.1.1": location_2_1_1(2), "2.1.1-300k": location_2_1_1(810)}


def envelope(shape: str) -> bytes:
    return json.dumps({"data": SHAPES[shape], "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}).encode()


def response(shape: str) -> bytes:
    body = envelope(shape)
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-ID: bench\r\n"
            b"X-Correlation-ID: bench\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


BODY = envelope("2.2.1")  # what the Hypercorn ceiling answers (benchmarks.fixed_response)
RESPONSE = response("2.2.1")


DELAY = 0.0  # seconds before each answer: a receiver that takes its time (fan-out benchmark)


class Upstream(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            assert self.transport is not None
            if DELAY:
                asyncio.get_running_loop().call_later(DELAY, self.transport.write, RESPONSE)
            else:
                self.transport.write(RESPONSE)


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Upstream, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    DELAY = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    if len(sys.argv) > 3:
        RESPONSE = response(sys.argv[3])
    try:
        import uvloop

        uvloop.run(main(int(sys.argv[1])))
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
