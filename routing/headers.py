"""The request headers the routing stages read, picked out of the ASGI header list in one pass."""

from __future__ import annotations

from collections.abc import Iterable


class RequestHeaders:
    __slots__ = (
        "authorization",
        "content_length",
        "content_type",
        "correlation_id",
        "from_country_code",
        "from_party_id",
        "request_id",
        "to_country_code",
        "to_party_id",
    )

    def __init__(self) -> None:
        self.authorization: bytes | None = None
        self.from_country_code: bytes | None = None
        self.from_party_id: bytes | None = None
        self.to_country_code: bytes | None = None
        self.to_party_id: bytes | None = None
        self.request_id: bytes | None = None
        self.correlation_id: bytes | None = None
        self.content_type: bytes | None = None
        self.content_length: bytes | None = None


# ASGI servers give header names lower-cased.
_SLOTS: dict[bytes, str] = {
    b"authorization": "authorization",
    b"ocpi-from-country-code": "from_country_code",
    b"ocpi-from-party-id": "from_party_id",
    b"ocpi-to-country-code": "to_country_code",
    b"ocpi-to-party-id": "to_party_id",
    b"x-request-id": "request_id",
    b"x-correlation-id": "correlation_id",
    b"content-type": "content_type",
    b"content-length": "content_length",
}


def read_headers(raw: Iterable[tuple[bytes, bytes]]) -> RequestHeaders:
    headers = RequestHeaders()
    slots = _SLOTS
    for name, value in raw:
        slot = slots.get(name)
        if slot is not None:
            setattr(headers, slot, value.strip())
    return headers
