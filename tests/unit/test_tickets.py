"""Short tickets without a server: fixed length, redemption rules, lifetimes per command, the outage fallback."""

from __future__ import annotations

import datetime

import pytest

from partners.errors import DatabaseUnavailableError
from routing import callbacks
from routing.callbacks import CallbackRefusedError
from routing.modules import CALLBACK_PREFIX
from routing.tickets import MemoryTicketStore, Ticket, TicketBook, callback_expiry

KEY = b"k" * 32
NOW = 1_800_000_000.0


def ticket(url: str = "https://msp.example/cb/1", *, expires: float = NOW + 60, kind: str = "callback") -> Ticket:
    return Ticket(kind=kind, sender_platform=1, sender_party="DE*MSP", receiver_platform=2, receiver_party="NL*CPO",
                  url=url, module="commands", expires=expires)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class DownStore(MemoryTicketStore):
    async def save(self, ticket_id: str, ticket: Ticket) -> None:
        raise DatabaseUnavailableError("the hub's database is unavailable")


@pytest.mark.anyio
async def test_callback_url_has_a_fixed_length_within_url_255() -> None:
    book = TicketBook(MemoryTicketStore(), KEY, clock=Clock())
    public_url = "https://" + "h" * 84 + ".example"  # 100 characters
    assert len(public_url) == 100
    lengths = set()
    for original_length in (20, 104, 255):
        original = "https://msp.example/" + "x" * (original_length - 20)
        assert len(original) == original_length
        lengths.add(len(public_url + CALLBACK_PREFIX + await book.issue(ticket(original))))
    assert lengths == {150}, "the hub's callback URL does not grow with the original"


@pytest.mark.anyio
async def test_ticket_round_trip_and_refusals() -> None:
    clock = Clock()
    store = MemoryTicketStore()
    book = TicketBook(store, KEY, clock=clock)
    text = await book.issue(ticket())
    assert await book.redeem(text, caller_platform=2) == ticket()
    # Another replica: same key and database, nothing in its memory.
    assert await TicketBook(store, KEY, clock=clock).redeem(text, caller_platform=2) == ticket()
    with pytest.raises(CallbackRefusedError, match="another platform"):
        await book.redeem(text, caller_platform=3)
    forged = text[:-2] + ("AA" if not text.endswith("AA") else "BB")
    with pytest.raises(CallbackRefusedError, match="not one the hub issued"):
        await book.redeem(forged, caller_platform=2)
    unknown_id = "A" * 16
    with pytest.raises(CallbackRefusedError, match="not one the hub issued"):
        await book.redeem(f"{unknown_id}.{text.split('.')[1]}", caller_platform=2)
    with pytest.raises(CallbackRefusedError, match="expired"):
        await book.redeem(f"{unknown_id}.{book._mac(unknown_id)}", caller_platform=2)  # genuine MAC, no row
    clock.now += 61
    with pytest.raises(CallbackRefusedError, match="expired") as caught:
        await book.redeem(text, caller_platform=2)
    assert (caught.value.http_status, caught.value.ocpi_status) == (404, 2001)


@pytest.mark.anyio
async def test_while_the_database_is_away_callbacks_fall_back_to_the_long_form() -> None:
    fallbacks: list[None] = []
    book = TicketBook(DownStore(), KEY, clock=Clock(), on_fallback=lambda: fallbacks.append(None))
    text = await book.issue(ticket())
    assert fallbacks and len(text) > 40  # self-contained: carries the original
    redeemed = await book.redeem(text, caller_platform=2)
    assert (redeemed.url, redeemed.kind, redeemed.receiver_platform) == ("https://msp.example/cb/1", "callback", 2)
    with pytest.raises(DatabaseUnavailableError):
        await book.issue(ticket(kind="location"))  # a Location has the old salvage to fall back on


@pytest.mark.anyio
async def test_tickets_of_an_older_hub_stay_redeemable() -> None:
    old = callbacks.Ticket(sender_platform=1, sender_party="DE*MSP", receiver_platform=2, receiver_party="NL*CPO",
                           url="https://msp.example/cb/9", module="commands", expires=int(NOW + 60))
    book = TicketBook(MemoryTicketStore(), KEY, clock=Clock())
    assert (await book.redeem(callbacks.issue(KEY, old), caller_platform=2)).url == "https://msp.example/cb/9"


def _in(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(NOW + seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("command", "expiry_date", "expected"), [
    ("START_SESSION", None, NOW + 3600),
    ("STOP_SESSION", _in(7200), NOW + 3600),  # only RESERVE_NOW's expiry_date counts
    ("UNLOCK_CONNECTOR", None, NOW + 3600),
    (None, None, NOW + 3600),  # charging profiles
    ("RESERVE_NOW", _in(7200), NOW + 7200 + 3600),  # until the reservation ends, and the TTL again
    ("RESERVE_NOW", _in(-600), NOW + 3600),  # already past: the TTL from now
    ("RESERVE_NOW", _in(400 * 86400), NOW + 31 * 86400),  # bounded
    ("RESERVE_NOW", "tomorrow", NOW + 3600),
    ("RESERVE_NOW", 12345, NOW + 3600),
    ("RESERVE_NOW", "2027-02-01T00:00:00", datetime.datetime(2027, 2, 1, tzinfo=datetime.UTC).timestamp() + 3600),
])
def test_callback_lifetime_follows_the_command(command: str | None, expiry_date: object, expected: float) -> None:
    assert callback_expiry(command, expiry_date, NOW, 3600) == expected
