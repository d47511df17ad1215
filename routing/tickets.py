"""Short tickets: hub URLs of fixed length that stand for a partner's URL (a ``response_url``, a
``Location`` the hub cannot rebase), kept in PostgreSQL.

``response_url`` is an OCPI ``URL``, string(255). A ticket that carried the original URL inside it grew
with it (a 104-character eMSP URL became 257 characters), so a CPO that checks lengths refused the
command and one that truncates posted the result into the void. A ticket here is a random id (12
bytes) and a MAC of it (9 bytes), 28 characters in URL-safe base64: the hub's callback URL is its
public URL + 49 characters, whatever the original (149 characters for a 100-character public URL).

* The original, the parties and the expiry are written to the database before the request is
  forwarded (one INSERT, on commands and charging profiles only), so the ticket is redeemable on any
  replica, also after a restart. The issuing process keeps it in memory too: the callback, which
  usually lands on the same keep-alive connection's process, costs no database read there.
* The MAC (HMAC-SHA256 with the callback key every replica shares) lets a replica refuse a forged id
  without a database read, so a flood of made-up callback URLs costs no query.
* While the database is unreachable, callbacks fall back to the long self-contained form
  (``routing.callbacks``): a command is never refused for an outage. Such tickets, and those issued by
  an older hub, stay redeemable.
* Expired rows are deleted by the leader (``hub/tickets.py``).

Lifetimes follow the command (:func:`callback_expiry`): a ``response_url`` lives ``OCPI_HUB_CALLBACK_TTL``
(results of START_SESSION, STOP_SESSION, UNLOCK_CONNECTOR, CANCEL_RESERVATION and charging profiles
come within the timeout the receiver states, seconds to minutes); a RESERVE_NOW's lives until the
reservation's ``expiry_date`` plus that TTL (at most 31 days ahead); a ``Location`` ticket lives
``OCPI_HUB_LOCATION_TTL``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import os
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from partners.errors import DatabaseUnavailableError
from routing import callbacks
from routing.callbacks import CallbackRefusedError

_ID_BYTES = 12
_MAC_BYTES = 9
ID_CHARS = 16  # base64 of 12 bytes, no padding
MAC_CHARS = 12  # base64 of 9 bytes
RESERVATION_HORIZON = 31 * 24 * 3600.0


class Ticket(msgspec.Struct, frozen=True, kw_only=True):
    """What a ticket stands for. ``kind`` ``callback``: the receiver POSTs a result that goes to ``url``
    on the sender's platform; ``location``: the receiver (of a Location header) GETs ``url``."""

    kind: str
    sender_platform: int  # who asked: the result (or the object) comes from its platform's URL
    sender_party: str  # "DE*MSP"
    receiver_platform: int  # the one platform allowed to use the ticket
    receiver_party: str
    url: str
    module: str
    expires: float  # epoch seconds


class TicketStore(Protocol):
    async def save(self, ticket_id: str, ticket: Ticket) -> None:
        """Store a ticket; raises :class:`DatabaseUnavailableError` when the database is away."""
        ...

    async def load(self, ticket_id: str) -> Ticket | None: ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def is_short(text: str) -> bool:
    ticket_id, dot, mac = text.partition(".")
    return bool(dot) and len(ticket_id) == ID_CHARS and len(mac) == MAC_CHARS


def callback_expiry(command: str | None, expiry_date: Any, now: float, ttl: float) -> float:
    """When a ``response_url`` ticket expires: ``ttl`` after now, or for RESERVE_NOW ``ttl`` after the
    reservation's ``expiry_date`` (an OCPI DateTime) when that is later, capped at 31 days ahead. An
    ``expiry_date`` that is no DateTime counts as none."""
    if command != "RESERVE_NOW" or not isinstance(expiry_date, str):
        return now + ttl
    try:
        when = datetime.datetime.fromisoformat(expiry_date.replace("Z", "+00:00"))
    except ValueError:
        return now + ttl
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return min(max(now, when.timestamp()) + ttl, now + RESERVATION_HORIZON)


class TicketBook:
    """Issues and redeems tickets; the store is the database, the cache this process's memory."""

    def __init__(self, store: TicketStore, key: bytes, *, clock: Callable[[], float], cache_size: int = 10_000,
                 on_fallback: Callable[[], None] | None = None) -> None:
        self.store = store
        self.key = key
        self.clock = clock
        self._cache: dict[str, Ticket] = {}
        self._cache_size = cache_size
        self._on_fallback = on_fallback

    def _mac(self, ticket_id: str) -> str:
        return _b64(hmac.new(self.key, ticket_id.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES])

    def _remember(self, ticket_id: str, ticket: Ticket) -> None:
        if len(self._cache) >= self._cache_size:
            # Oldest first (dicts keep insertion order): those are the ones most likely used or expired.
            for old in list(self._cache)[: self._cache_size // 4 or 1]:
                del self._cache[old]
        self._cache[ticket_id] = ticket

    async def issue(self, ticket: Ticket) -> str:
        """The ticket text (the last segment of the hub URL). A callback ticket falls back to the long
        signed form while the database is away; a Location ticket raises DatabaseUnavailableError."""
        ticket_id = _b64(os.urandom(_ID_BYTES))
        try:
            await self.store.save(ticket_id, ticket)
        except DatabaseUnavailableError:
            if ticket.kind != "callback":
                raise
            if self._on_fallback is not None:
                self._on_fallback()
            return callbacks.issue(self.key, callbacks.Ticket(
                sender_platform=ticket.sender_platform, sender_party=ticket.sender_party,
                receiver_platform=ticket.receiver_platform, receiver_party=ticket.receiver_party,
                url=ticket.url, module=ticket.module, expires=int(ticket.expires)))
        self._remember(ticket_id, ticket)
        return f"{ticket_id}.{self._mac(ticket_id)}"

    async def redeem(self, text: str, *, caller_platform: int) -> Ticket:
        """The ticket behind a hub URL, if it is genuine, unexpired and ``caller_platform``'s; else
        :class:`CallbackRefusedError` (404)."""
        now = self.clock()
        if not is_short(text):
            old = callbacks.redeem(self.key, text, caller_platform=caller_platform, now=now)
            return Ticket(kind="callback", sender_platform=old.sender_platform, sender_party=old.sender_party,
                          receiver_platform=old.receiver_platform, receiver_party=old.receiver_party,
                          url=old.url, module=old.module, expires=old.expires)
        ticket_id, _, mac = text.partition(".")
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac(ticket_id).encode("ascii")):
            raise CallbackRefusedError("callback URL is not one the hub issued")
        ticket = self._cache.get(ticket_id)
        if ticket is None:
            ticket = await self.store.load(ticket_id)
            if ticket is None:
                raise CallbackRefusedError("callback URL has expired (or was never issued)")
            self._remember(ticket_id, ticket)
        if ticket.expires < now:
            self._cache.pop(ticket_id, None)
            raise CallbackRefusedError("callback URL has expired")
        if ticket.receiver_platform != caller_platform:
            raise CallbackRefusedError("callback URL was issued to another platform")
        return ticket


class MemoryTicketStore:
    """Tickets in this process only (a hub without a database: tests, benchmarks)."""

    def __init__(self) -> None:
        self._tickets: dict[str, Ticket] = {}

    async def save(self, ticket_id: str, ticket: Ticket) -> None:
        self._tickets[ticket_id] = ticket

    async def load(self, ticket_id: str) -> Ticket | None:
        return self._tickets.get(ticket_id)
