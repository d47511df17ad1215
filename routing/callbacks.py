"""Self-contained signed callback tickets: the long form of a hub callback URL.

The ticket carries everything needed to deliver the callback (who asked, who must answer, the
original URL), signed with a key that every replica reads from the database. No state is kept per
request, so the callback may land on another replica, or after a restart; only the platform the
request was sent to may use it, and only until it expires.

Its length grows with the original URL, so the hub issues short tickets kept in the database
(``routing.tickets``) and falls back to this form only while the database is unreachable; tickets of
this form issued before an upgrade stay redeemable until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import msgspec

from partners.errors import ForbiddenError


class CallbackRefusedError(ForbiddenError):
    """2001 with HTTP 404: the callback (or Location) URL is not one the hub issued, has expired, or was
    issued to another platform: for the caller, no such resource (transport chapter: a server may answer
    404 for what does not belong to the caller)."""

    http_status = 404


class Ticket(msgspec.Struct, array_like=True, frozen=True):
    sender_platform: int
    sender_party: str  # "NL*ABC"
    receiver_platform: int
    receiver_party: str
    url: str
    module: str
    expires: int


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Ticket)
_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(key: bytes, ticket: Ticket) -> str:
    payload = _encoder.encode(ticket)
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return f"{_b64(payload)}.{_b64(mac)}"


def redeem(key: bytes, text: str, *, caller_platform: int, now: float) -> Ticket:
    """The ticket behind a callback URL, if it is genuine, unexpired and ``caller_platform``'s."""
    payload_text, _, mac_text = text.partition(".")
    try:
        payload = _unb64(payload_text)
        mac = _unb64(mac_text)
    except (ValueError, TypeError):
        raise CallbackRefusedError("callback URL is not one the hub issued") from None
    expected = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise CallbackRefusedError("callback URL is not one the hub issued")
    ticket = _decoder.decode(payload)
    if ticket.expires < now:
        raise CallbackRefusedError("callback URL has expired")
    if ticket.receiver_platform != caller_platform:
        raise CallbackRefusedError("callback URL was issued to another platform")
    return ticket
