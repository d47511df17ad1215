from __future__ import annotations

import pytest

from partners.errors import ForbiddenError
from routing import callbacks

KEY = b"k" * 32
TICKET = callbacks.Ticket(sender_platform=1, sender_party="DE*MSP", receiver_platform=2, receiver_party="NL*CPO",
                          url="https://msp/cb/1", module="commands", expires=1000)


def test_ticket_round_trip() -> None:
    assert callbacks.redeem(KEY, callbacks.issue(KEY, TICKET), caller_platform=2, now=999) == TICKET


@pytest.mark.parametrize(("mutate", "caller", "now", "message"), [
    (lambda t: t, 3, 999, "another platform"),
    (lambda t: t, 2, 1001, "expired"),
    (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), 2, 999, "not one the hub issued"),
    (lambda t: "garbage", 2, 999, "not one the hub issued"),
    (lambda t: t.split(".")[0] + "." + callbacks.issue(b"x" * 32, TICKET).split(".")[1], 2, 999, "not one"),
])
def test_ticket_refused(mutate, caller: int, now: float, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ForbiddenError, match=message):
        callbacks.redeem(KEY, mutate(callbacks.issue(KEY, TICKET)), caller_platform=caller, now=now)
