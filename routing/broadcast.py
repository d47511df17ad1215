"""Broadcast push: one request from a party, delivered to every eligible receiver.

The sender is answered as soon as the deliveries are scheduled (the spec has the hub answer the
push itself and does not report delivery errors back). Deliveries run concurrently under one bound
for the whole process, each with its own X-Request-ID and the sender's X-Correlation-ID, from the
hub's own party; a slow receiver holds one slot, not the others. Each outcome is reported to the
observer (metrics and a log line). On shutdown the hub waits for scheduled deliveries to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from partners.registry import PartyKey
from routing.forward import Forwarder, Outcome, UpstreamFailure, forwarded_headers
from routing.headerless import sends_routing_headers
from routing.observe import RequestRecord, RoutingObserver
from routing.resolve import Route

log = logging.getLogger("ocpihub.broadcast")


class Broadcaster:
    def __init__(self, forwarder: Forwarder, observer: RoutingObserver, *, concurrency: int) -> None:
        self.forwarder = forwarder
        self.observer = observer
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, routes: list[Route], *, module: str, method: str, suffix: str, query: str, body: bytes | None,
              hub_party: PartyKey, correlation_id: str, sender_label: str) -> None:
        for route in routes:
            task = asyncio.create_task(self._deliver(route, module, method, suffix, query, body, hub_party,
                                                     correlation_id, sender_label))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Wait for every scheduled delivery (bounded by ``timeout``)."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout)

    async def _deliver(self, route: Route, module: str, method: str, suffix: str, query: str, body: bytes | None,
                       hub_party: PartyKey, correlation_id: str, sender_label: str) -> None:
        assert route.platform.outbound_auth is not None
        url = route.endpoint.rstrip("/") + suffix if suffix else route.endpoint
        if query:
            url = f"{url}?{query}"
        request_id = str(uuid.uuid4())
        headers = forwarded_headers(route.platform.outbound_auth, request_id, correlation_id, hub_party,
                                    route.party.key, json_body=body is not None,
                                    routing=sends_routing_headers(route.platform))
        started = time.perf_counter()
        status = 0
        async with self._slots:
            try:
                response = await self.forwarder.send(method, url, headers, body, route.party.label, route.platform)
                status = response.status
                outcome = Outcome.OK.value if status < 400 else "rejected"
            except UpstreamFailure as failure:
                outcome = failure.outcome.value
                log.warning("broadcast delivery failed", extra={
                    "receiver": route.party.label, "outcome": outcome, "correlation_id": correlation_id})
            except Exception:
                outcome = "error"
                log.exception("broadcast delivery failed", extra={"receiver": route.party.label,
                                                                  "correlation_id": correlation_id})
        self.observer.delivered(RequestRecord(method, module, "broadcast", outcome, status,
                                              time.perf_counter() - started, sender_label, route.party.label,
                                              request_id, correlation_id, receiver_platform=route.platform.id))
