"""The hub's answer to ``routing.observe.RoutingObserver``: each routed request goes to the metrics, the
request log, and the liveness tracker (as evidence of contact); broadcasts arrive as one log line per
push, one per failed delivery, and counts in rounds."""

from __future__ import annotations

from hub.access_log import AccessLog
from hub.liveness import Liveness
from hub.metrics import Metrics
from routing.observe import BroadcastRecord, BroadcastTally, RequestRecord
from routing.versions import Loss

_UNREACHABLE = frozenset({"connection", "protocol"})


class HubObserver:
    def __init__(self, metrics: Metrics, access_log: AccessLog, liveness: Liveness) -> None:
        self.metrics = metrics
        self.access_log = access_log
        self.liveness = liveness

    def request_started(self) -> None:
        self.metrics.started()

    def request_done(self, record: RequestRecord) -> None:
        self.metrics.request(record)
        self.access_log.write(record)
        self._evidence(record)

    def broadcast(self, record: BroadcastRecord) -> None:
        self.access_log.broadcast(record)

    def delivery_failed(self, record: RequestRecord) -> None:
        self.access_log.write(record, "delivery failed", level="WARNING")
        if record.outcome in _UNREACHABLE:
            self.liveness.failed(record.receiver_platform)

    def broadcast_tally(self, tally: BroadcastTally) -> None:
        self.metrics.broadcast(tally)
        for platform_id in tally.contacted:
            self.liveness.contact(platform_id)

    def auth_failed(self) -> None:
        self.metrics.auth_failed()

    def tolerated(self, kind: str) -> None:
        self.metrics.tolerated(kind)

    def denied(self, rule: str) -> None:
        self.metrics.denied(rule)

    def translation_lost(self, losses: tuple[Loss, ...]) -> None:
        self.metrics.translation_lost(losses)

    def _evidence(self, record: RequestRecord) -> None:
        if record.outcome == "ok":
            self.liveness.contact(record.sender_platform)
            self.liveness.contact(record.receiver_platform)
        elif record.outcome in _UNREACHABLE:
            self.liveness.failed(record.receiver_platform)
