"""What the routing stages report, as a Protocol that ``hub`` implements (metrics and the request
log). Metric labels come from closed sets only (module, interface, outcome): never a token, id or
URL; ids and parties go to the log line only."""

from __future__ import annotations

from typing import Protocol

from routing.versions import TOLERATED as TRANSLATION_TOLERATED
from routing.versions import Loss

OUTCOMES = ("ok", "rejected", "timeout", "connection", "protocol", "bad_answer", "busy", "unauthorized", "forbidden",
            "denied", "rate_limited", "too_large", "client_error", "server_error", "hub_error", "error", "client_gone",
            "backlog_full")
"""Every outcome a request or delivery can have: the ``outcome`` metric label's closed set."""

ANSWER_REFUSALS = ("too_large", "length_mismatch", "buffer_full")
"""Why the hub refused a receiver's answer (the ``reason`` label of ocpihub_answers_refused_total)."""

TOLERATED = ("link_header", "location_header", "content_length_and_chunked", "inbound_token_spelling",
             "outbound_token_spelling", "glued_path", "slash_redirect", "no_routing_headers", "unpaginated_answer",
             "empty_path_segment", "sender_inferred", "list_body", "answer_routing_headers",
             # partners' registration answers (partners.handshake.TOLERATED)
             "no_envelope", "single_version", "version_details_in_list",
             *TRANSLATION_TOLERATED)
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


class BroadcastRecord:
    """One accepted broadcast push: to how many receivers, how many entries it added to the backlog and
    how many waiting ones it superseded."""

    __slots__ = ("coalesced", "correlation_id", "method", "module", "queued", "receivers", "sender")

    def __init__(self, method: str, module: str, sender: str, correlation_id: str, receivers: int, queued: int,
                 coalesced: int) -> None:
        self.method = method
        self.module = module
        self.sender = sender
        self.correlation_id = correlation_id
        self.receivers = receivers
        self.queued = queued
        self.coalesced = coalesced


class BroadcastTally:
    """Broadcast counts since the last round (by module, outcome or refusal reason), the platforms that
    answered, and the backlog's state at the end of the round. Handed over in batches, so a delivery
    costs a dict increment, not a metric update."""

    __slots__ = ("accepted", "backlog_bytes", "backlog_entries", "coalesced", "contacted", "oldest_seconds",
                 "outcomes", "refused", "restored")

    def __init__(self) -> None:
        self.outcomes: dict[tuple[str, str], int] = {}
        self.accepted: dict[str, int] = {}
        self.coalesced: dict[str, int] = {}
        self.restored: dict[str, int] = {}
        self.refused: dict[str, int] = {}
        self.contacted: set[int] = set()
        self.backlog_entries = 0
        self.backlog_bytes = 0
        self.oldest_seconds = 0.0


class RoutingObserver(Protocol):
    def request_started(self) -> None: ...

    def request_done(self, record: RequestRecord) -> None: ...

    def broadcast(self, record: BroadcastRecord) -> None:
        """A broadcast push was accepted (one log line with its counts)."""
        ...

    def delivery_failed(self, record: RequestRecord) -> None:
        """One broadcast delivery failed (``record.outcome`` and ``record.detail`` say how)."""
        ...

    def broadcast_tally(self, tally: BroadcastTally) -> None:
        """Broadcast counts and backlog state, every round of the broadcaster."""
        ...

    def auth_failed(self) -> None: ...

    def tolerated(self, kind: str) -> None:
        """A partner deviated from the spec in a way the hub worked around (``kind`` names how)."""
        ...

    def denied(self, rule: str) -> None:
        """The policy refused a request (``rule``: one of ``routing.errors.RULES``)."""
        ...

    def translation_lost(self, losses: tuple[Loss, ...]) -> None:
        """A document crossed versions without these fields (``routing.versions.ALL_LOSSES``)."""
        ...


class NoObserver:
    def request_started(self) -> None:
        pass

    def request_done(self, record: RequestRecord) -> None:
        pass

    def broadcast(self, record: BroadcastRecord) -> None:
        pass

    def delivery_failed(self, record: RequestRecord) -> None:
        pass

    def broadcast_tally(self, tally: BroadcastTally) -> None:
        pass

    def auth_failed(self) -> None:
        pass

    def tolerated(self, kind: str) -> None:
        pass

    def denied(self, rule: str) -> None:
        pass

    def translation_lost(self, losses: tuple[Loss, ...]) -> None:
        pass
