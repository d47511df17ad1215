"""How much of receivers' answers this process may hold in memory: per answer, and all together.

Every answer is buffered whole before it goes back to the caller (an answer the hub could not read
exactly must become a 4003, never a 200 with half a body), so a receiver's answer size is the hub's
memory. Two bounds:

* ``max_answer``: one answer's body, checked against a declared Content-Length before a byte of the
  body is read, and while reading a chunked or close-delimited body;
* ``limit``: the bytes of every answer held at once (being read, or waiting to be written to its
  caller), so that N concurrent large answers cannot together take more than this.

A plain counter: the event loop is single-threaded, and taking or giving back is one addition.
"""

from __future__ import annotations

# Defaults of OCPI_HUB_MAX_ANSWER_BYTES and OCPI_HUB_ANSWER_BUFFER_BYTES. A page of 1000 big Locations or
# CDRs is a few MB; 16 MiB leaves room for that. 128 MiB across all answers keeps a 512 MiB pod well clear
# of its limit however many receivers answer large at once.
DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024
DEFAULT_ANSWER_BUFFER_BYTES = 128 * 1024 * 1024


class AnswerBudget:
    __slots__ = ("limit", "max_answer", "used")

    def __init__(self, *, limit: int, max_answer: int) -> None:
        self.limit = limit
        self.max_answer = max_answer
        self.used = 0

    def take(self, size: int) -> bool:
        """Reserve ``size`` bytes; False (nothing reserved) when that would exceed the limit."""
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size

    def too_large(self, declared: int | None = None) -> str:
        """Why an answer over ``max_answer`` was refused (the message goes to the caller)."""
        size = f"of {declared} bytes " if declared is not None else ""
        return (f"receiver answer {size}is larger than the hub's limit of {self.max_answer} bytes "
                "(OCPI_HUB_MAX_ANSWER_BYTES)")

    def exhausted(self) -> str:
        """Why an answer was not read because the budget is spent (the message goes to the caller)."""
        return (f"the hub holds {self.used} bytes of answers in flight and its limit (OCPI_HUB_ANSWER_BUFFER_BYTES) "
                f"is {self.limit}: the receiver's answer was not read; retry shortly")
