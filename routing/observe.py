"""What the routing stages report, as a Protocol that ``hub`` implements (metrics and the request
log). Metric labels come from closed sets only (module, interface, outcome): never a token, id or
URL; ids and parties go to the log line only."""

from __future__ import annotations

from typing import Protocol

OUTCOMES = ("ok", "rejected", "timeout", "connection", "protocol", "bad_answer", "busy", "unauthorized", "forbidden",
            "denied", "rate_limited", "too_large", "client_error", "server_error", "hub_error", "error", "client_gone")
"""Every outcome a request or delivery can have: the ``outcome`` metric label's closed set."""

ANSWER_REFUSALS = ("too_large", "length_mismatch", "buffer_full")
"""Why the hub refused a receiver's answer (the ``reason`` label of ocpihub_answers_refused_total)."""

TOLERATED = ("link_header", "location_header", "content_length_and_chunked", "inbound_token_spelling",
             "outbound_token_spelling")
"""Partner deviations the hub works around (the ``kind`` label of ocpihub_tolerated_deviations_total)."""


class RequestRecord:
    """One routed request, as reported once it is answered."""

    __slots__ = ("correlation_id", "detail", "interface", "method", "module", "outcome", "receiver",
                 "receiver_platform", "request_id", "seconds", "sender", "sender_platform", "status")

    def __init__(self, method: str, module: str, interface: str, outcome: str, status: int, seconds: float,
                 sender: str, receiver: str, request_id: str, correlation_id: str, detail: str = "",
                 sender_platform: int = -1, receiver_platform: int = -1) -> None:
        self.method = method
        self.module = module
        self.interface = interface
        self.outcome = outcome
        self.status = status
        self.seconds = seconds
        self.sender = sender
        self.receiver = receiver
        self.request_id = request_id
        self.correlation_id = correlation_id
        # Why a request failed (a hub error's message: names parties, never tokens).
        self.detail = detail
        # The platforms behind sender and receiver (-1: not known), as evidence of contact for liveness.
        self.sender_platform = sender_platform
        self.receiver_platform = receiver_platform


class RoutingObserver(Protocol):
    def request_started(self) -> None: ...

    def request_done(self, record: RequestRecord) -> None: ...

    def delivered(self, record: RequestRecord) -> None:
        """One broadcast delivery finished (``record.outcome`` says how)."""
        ...

    def auth_failed(self) -> None: ...

    def tolerated(self, kind: str) -> None:
        """A partner deviated from the spec in a way the hub worked around (``kind`` names how)."""
        ...

    def denied(self, rule: str) -> None:
        """The policy refused a request (``rule``: one of ``routing.errors.RULES``)."""
        ...


class NoObserver:
    def request_started(self) -> None:
        pass

    def request_done(self, record: RequestRecord) -> None:
        pass

    def delivered(self, record: RequestRecord) -> None:
        pass

    def auth_failed(self) -> None:
        pass

    def tolerated(self, kind: str) -> None:
        pass

    def denied(self, rule: str) -> None:
        pass
