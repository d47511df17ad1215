"""The OCPI response envelope as bytes, for answers the hub writes itself."""

from __future__ import annotations

import time

import msgspec

from partners.errors import HubError
from partners.model import Envelope

_encoder = msgspec.json.Encoder()
_last: tuple[int, str] = (0, "")


def timestamp() -> str:
    """Now as an OCPI DateTime (UTC, seconds), formatted at most once per second."""
    global _last
    now = int(time.time())
    if _last[0] != now:
        _last = (now, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))
    return _last[1]


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def error_body(error: HubError) -> bytes:
    return _encoder.encode(
        Envelope(status_code=error.ocpi_status, status_message=error.message, timestamp=timestamp())
    )


def success_body(data: object = None) -> bytes:
    return _encoder.encode(Envelope(status_code=1000, data=data, timestamp=timestamp()))
