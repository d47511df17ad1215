"""Prometheus metrics of the hub.

Labels come from closed sets (module, interface, outcome, status class, kind, role, status);
children are bound once per label combination and cached in a dict, so the hot path pays a dict
lookup, not ``.labels()``. The known combinations are created at startup so their series exist at 0.

With several Hypercorn workers, ``PROMETHEUS_MULTIPROC_DIR`` must be set (``ocpi-hub serve
--workers N`` does it) before ``prometheus_client`` is imported: each worker writes its values to
files there, and a scrape of any worker sums them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from importlib import metadata

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.outbound_auth import STATUSES as REFUSED_STATUSES
from partners.registry import Registry
from partners.sync import Change
from routing.backlog import Reason
from routing.broadcast import BROADCAST_MODULES, DELIVERY_OUTCOMES
from routing.errors import RULES
from routing.modules import ROUTED_MODULES
from routing.observe import ANSWER_REFUSALS, OUTCOMES, TOLERATED, BroadcastTally, RequestRecord
from routing.outbound_policy import Rule
from routing.perimeter import RATE_LIMITED_KINDS, REFUSAL_KINDS
from routing.versions import ALL_LOSSES, Loss

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UPSTREAM_ERROR_KINDS = ("timeout", "connection", "protocol", "bad_answer")
REGISTRY_UPDATE_KINDS = ("full", "delta")
BACKGROUND_JOBS = ("registry", "learned_routes", "still_alive")

# A `_created` series beside every counter and histogram child doubles the series a scrape carries (and
# its cost); nothing reads them: the dashboard and the alerts take rate()/increase() of the counters.
# Process-wide, as prometheus_client has it: the hub's process exports no other metrics.
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _RegistryCollector(Collector):
    """Platforms and parties by status/role, read at scrape time from the counts each registry change
    keeps up to date (``partners.party_views``): a scrape costs the same at any registry size."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[GaugeMetricFamily]:
        views = self.registry.snapshot.views
        platforms = GaugeMetricFamily("ocpihub_platforms", "Platforms known to the hub, by status", labels=["status"])
        for status, n in sorted(views.platforms_by_status.items()):
            platforms.add_metric([status], n)
        yield platforms
        parties = GaugeMetricFamily("ocpihub_parties", "Parties known to the hub, by role and status",
                                    labels=["role", "status"])
        for (role, status), n in sorted(views.parties_by_role_status.items()):
            parties.add_metric([role, status], n)
        yield parties


_Children = dict[tuple[str, ...], Callable[[float], None]]


def _bound(family: Counter, label_sets: list[tuple[str, ...]]) -> _Children:
    return {labels: family.labels(*labels).inc for labels in label_sets}


def _inc(children: _Children, family: Counter, key: tuple[str, ...], n: int) -> None:
    """Add ``n`` to a bound child (bound on first use for a label set not created at startup)."""
    inc = children.get(key)
    if inc is None:
        inc = children[key] = family.labels(*key).inc
    inc(n)


def _status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "none"


class Metrics:
    def __init__(self, registry: Registry) -> None:
        self.snapshot_source = registry
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("ocpihub_requests", "Requests on the routing path by module, interface, outcome "
                                "and HTTP status class", ["module", "interface", "outcome", "status_class"], registry=r)
        self.duration = Histogram("ocpihub_request_duration_seconds",
                                  "Time from request to answer on the routing path, by module",
                                  ["module"], buckets=BUCKETS, registry=r)
        self.in_flight = Gauge("ocpihub_requests_in_flight", "Requests on the routing path being handled",
                               registry=r, multiprocess_mode="livesum")
        self.upstream_errors = Counter("ocpihub_upstream_errors", "Forwards and deliveries that got no usable "
                                       "answer, by kind", ["kind"], registry=r)
        self.deliveries = Counter("ocpihub_broadcast_deliveries", "Broadcast deliveries by module and how they "
                                  "ended", ["module", "outcome"], registry=r)
        self.broadcast_accepted = Counter("ocpihub_broadcast_accepted", "Broadcast deliveries accepted into the "
                                          "backlog (one per receiver of each accepted push)", ["module"], registry=r)
        self.broadcast_coalesced = Counter("ocpihub_broadcast_coalesced", "Broadcast deliveries that superseded "
                                           "one still waiting for the same receiver and object", ["module"],
                                           registry=r)
        self.broadcast_restored = Counter("ocpihub_broadcast_restored", "Broadcast deliveries taken over from the "
                                          "outbox", ["module"], registry=r)
        self.broadcast_refused = Counter("ocpihub_broadcast_refused", "Broadcast pushes refused with 429, by the "
                                         "limit they hit", ["reason"], registry=r)
        self.backlog_entries = Gauge("ocpihub_broadcast_backlog_entries", "Broadcast deliveries waiting or in "
                                     "flight", registry=r, multiprocess_mode="livesum")
        self.backlog_bytes = Gauge("ocpihub_broadcast_backlog_bytes", "Memory the broadcast backlog holds",
                                   registry=r, multiprocess_mode="livesum")
        self.backlog_oldest = Gauge("ocpihub_broadcast_backlog_oldest_seconds", "How long the longest-waiting "
                                    "broadcast delivery has waited", registry=r, multiprocess_mode="livemax")
        self.backlog_limit_entries = Gauge("ocpihub_broadcast_backlog_limit_entries", "Configured limit of "
                                           "waiting broadcast deliveries", registry=r, multiprocess_mode="livesum")
        self.backlog_limit_bytes = Gauge("ocpihub_broadcast_backlog_limit_bytes", "Configured limit of the "
                                         "broadcast backlog's memory", registry=r, multiprocess_mode="livesum")
        self.auth_failures = Counter("ocpihub_auth_failures", "Requests refused for a missing or unknown token",
                                     registry=r)
        self.tolerated_deviations = Counter("ocpihub_tolerated_deviations",
                                            "Partner deviations from the spec the hub worked around", ["kind"],
                                            registry=r)
        self.registry_reloads = Counter("ocpihub_registry_reloads", "Registry snapshots rebuilt", registry=r)
        self.unsaved_dropped = Counter("ocpihub_unsaved_dropped", "Entries learned while the database was "
                                       "unreachable that were dropped unsaved (the queue was full), by what",
                                       ["what"], registry=r)
        for what in ("learned_routes", "token_facts"):
            self.unsaved_dropped.labels(what)
        self.registry_reload_failures = Counter("ocpihub_registry_reload_failures",
                                                "Registry reloads (or listener reconnections) that failed",
                                                registry=r)
        updates = Counter("ocpihub_registry_updates", "Registry snapshots swapped in, by kind (full: built from "
                          "every row; delta: made from the previous one and the rows that changed)", ["kind"],
                          registry=r)
        self._updates = {kind: updates.labels(kind).inc for kind in REGISTRY_UPDATE_KINDS}
        loop_time = Counter("ocpihub_background_loop_seconds", "Event-loop time taken by background jobs, by job "
                            "(each paced to OCPI_HUB_BACKGROUND_LOOP_SHARE)", ["job"], registry=r)
        self._loop_time = {job: loop_time.labels(job).inc for job in BACKGROUND_JOBS}
        self.slow_clients = Counter("ocpihub_slow_clients", "Client connections cut off because a request head "
                                    "or body did not arrive in time (OCPI_HUB_RECEIVE_SECONDS), by phase",
                                    ["phase"], registry=r)
        self._slow_children = {phase: self.slow_clients.labels(phase).inc for phase in ("head", "body")}
        self.outbound_refusals = Counter("ocpihub_outbound_refused", "Outbound calls the address policy refused "
                                         "before connecting, by rule", ["reason"], registry=r)
        self._refused_children = {rule: self.outbound_refusals.labels(rule.value).inc for rule in Rule}
        self.policy_denials = Counter("ocpihub_policy_denials", "Requests the policy refused, by rule", ["rule"],
                                      registry=r)
        self._denial_children = {rule: self.policy_denials.labels(rule).inc for rule in RULES}
        limited = Counter("ocpihub_rate_limited", "Requests answered 429 by an abuse limit, by kind", ["kind"],
                          registry=r)
        refusals = Counter("ocpihub_perimeter_refusals", "Requests with a valid token refused for their client "
                           "address or certificate, by kind", ["kind"], registry=r)
        self._limited = {kind: limited.labels(kind).inc for kind in RATE_LIMITED_KINDS}
        refused_hub = Counter("ocpihub_receiver_auth_refusals", "Answers 401/403 of platforms to the hub's own "
                              "requests (the hub's token for them is broken), by HTTP status", ["status"], registry=r)
        self._refused_hub = {status: refused_hub.labels(status).inc for status in REFUSED_STATUSES}
        self._refused = {kind: refusals.labels(kind).inc for kind in REFUSAL_KINDS}
        self.answers_refused = Counter("ocpihub_answers_refused", "Receivers' answers the hub refused to pass on, "
                                       "by reason (too_large, length_mismatch, buffer_full)", ["reason"], registry=r)
        losses = Counter("ocpihub_translation_losses", "Fields a document crossing OCPI versions could not carry, "
                         "by module and field (the closed set of routing.versions.losses)", ["module", "field"],
                         registry=r)
        self._loss_children = {loss: losses.labels(loss.module, loss.field).inc
                               for loss in sorted(ALL_LOSSES)}
        info = Gauge("ocpihub_build_info", "Build of the running hub", ["version"], registry=r,
                     multiprocess_mode="max")
        try:
            version = metadata.version("ocpi-hub")
        except metadata.PackageNotFoundError:
            version = "unknown"
        info.labels(version).set(1)
        r.register(_RegistryCollector(registry))
        self._request_children: dict[tuple[str, str, str, str], Callable[[], None]] = {}
        self._duration_children: dict[str, Callable[[float], None]] = {}
        self._upstream_children = {kind: self.upstream_errors.labels(kind).inc for kind in UPSTREAM_ERROR_KINDS}
        self._tolerated = {kind: self.tolerated_deviations.labels(kind).inc for kind in TOLERATED}
        self._answer_refused_children = {reason: self.answers_refused.labels(reason).inc
                                         for reason in ANSWER_REFUSALS}
        for module in (*ROUTED_MODULES, "callback"):
            self._duration_children[module] = self.duration.labels(module).observe
            for interface in ("SENDER", "RECEIVER") if module != "callback" else ("-",):
                for outcome, status_class in (("ok", "2xx"), ("timeout", "2xx"), ("connection", "2xx")):
                    self._child(module, interface, outcome, status_class)
        # Broadcast series, bound once; tallies arrive in rounds and add n to each.
        self._delivery_children = _bound(self.deliveries, [(m, o) for m in BROADCAST_MODULES
                                                           for o in DELIVERY_OUTCOMES])
        self._accepted_children = _bound(self.broadcast_accepted, [(m,) for m in BROADCAST_MODULES])
        self._coalesced_children = _bound(self.broadcast_coalesced, [(m,) for m in BROADCAST_MODULES])
        self._restored_children = _bound(self.broadcast_restored, [(m,) for m in BROADCAST_MODULES])
        self._broadcast_refused_children = _bound(self.broadcast_refused, [(r.value,) for r in Reason])

    def _child(self, module: str, interface: str, outcome: str, status_class: str) -> Callable[[], None]:
        key = (module, interface, outcome, status_class)
        inc = self._request_children.get(key)
        if inc is None:
            inc = self._request_children[key] = self.requests.labels(*key).inc
        return inc

    def started(self) -> None:
        self.in_flight.inc()

    def request(self, record: RequestRecord) -> None:
        self.in_flight.dec()
        self._child(record.module, record.interface, record.outcome, _status_class(record.status))()
        observe = self._duration_children.get(record.module)
        if observe is None:
            observe = self._duration_children[record.module] = self.duration.labels(record.module).observe
        observe(record.seconds)
        upstream = self._upstream_children.get(record.outcome)
        if upstream is not None:
            upstream()

    def backlog_limits(self, entries: int, size: int) -> None:
        self.backlog_limit_entries.set(entries)
        self.backlog_limit_bytes.set(size)

    def broadcast(self, tally: BroadcastTally) -> None:
        """One round of broadcast counts (a few dict lookups and increments, not one per delivery)."""
        for key, n in tally.outcomes.items():
            _inc(self._delivery_children, self.deliveries, key, n)
            upstream = self._upstream_children.get(key[1])
            if upstream is not None:
                upstream(n)
        for module, n in tally.accepted.items():
            _inc(self._accepted_children, self.broadcast_accepted, (module,), n)
        for module, n in tally.coalesced.items():
            _inc(self._coalesced_children, self.broadcast_coalesced, (module,), n)
        for module, n in tally.restored.items():
            _inc(self._restored_children, self.broadcast_restored, (module,), n)
        for reason, n in tally.refused.items():
            _inc(self._broadcast_refused_children, self.broadcast_refused, (reason,), n)
        self.backlog_entries.set(tally.backlog_entries)
        self.backlog_bytes.set(tally.backlog_bytes)
        self.backlog_oldest.set(tally.oldest_seconds)

    def auth_failed(self) -> None:
        self.auth_failures.inc()

    def tolerated(self, kind: str) -> None:
        inc = self._tolerated.get(kind)
        if inc is None:
            inc = self._tolerated[kind] = self.tolerated_deviations.labels(kind).inc
        inc()

    def receiver_auth_refused(self, status: str) -> None:
        self._refused_hub[status]()

    def slow_client(self, phase: str) -> None:
        self._slow_children[phase]()

    def outbound_refused(self, rule: Rule) -> None:
        self._refused_children[rule]()

    def rate_limited(self, kind: str) -> None:
        self._limited[kind]()

    def refused(self, kind: str) -> None:
        self._refused[kind]()

    def denied(self, rule: str) -> None:
        self._denial_children[rule]()

    def translation_lost(self, losses: tuple[Loss, ...]) -> None:
        for loss in losses:
            self._loss_children[loss]()

    def answer_refused(self, reason: str) -> None:
        self._answer_refused_children[reason]()

    def reloaded(self) -> None:
        self.registry_reloads.inc()

    def reload_failed(self) -> None:
        self.registry_reload_failures.inc()

    def dropped_unsaved(self, what: str, n: int) -> None:
        self.unsaved_dropped.labels(what).inc(n)

    def registry_changed(self, change: Change) -> None:
        self._updates[change.kind]()

    def background(self, job: str) -> Callable[[float], None]:
        """What a paced job reports its event-loop time to."""
        return self._loop_time[job]

    def render(self) -> bytes:
        if multiprocess_dir() is None:
            return generate_latest(self.registry)
        scrape = CollectorRegistry()
        multiprocess.MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
        scrape.register(_RegistryCollector(self.snapshot_source))
        return generate_latest(scrape)


assert set(UPSTREAM_ERROR_KINDS) <= set(OUTCOMES)
