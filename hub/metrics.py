"""Prometheus metrics of one hub process.

Label values come from closed sets; children are bound once per label combination and cached in
a dict, so the hot path pays a dict lookup, not ``.labels()``.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from partners.registry import Registry
from routing.observe import RequestRecord

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _RegistryCollector(Collector):
    """Platforms and parties by status/role, computed from the snapshot at scrape time."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.registry.snapshot
        platforms = GaugeMetricFamily("ocpihub_platforms", "Platforms known to the hub, by status", labels=["status"])
        for status, n in sorted(Tally(p.status.value for p in snapshot.platforms.values()).items()):
            platforms.add_metric([status], n)
        yield platforms
        parties = GaugeMetricFamily("ocpihub_parties", "Parties known to the hub, by role and status",
                                    labels=["role", "status"])
        tally = Tally((p.role.value, snapshot.platforms[p.platform_id].status.value) for p in snapshot.parties())
        for (role, status), n in sorted(tally.items()):
            parties.add_metric([role, status], n)
        yield parties


class Metrics:
    def __init__(self, registry: Registry) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("ocpihub_requests", "Routed requests by module, interface and outcome",
                                ["module", "interface", "outcome"], registry=r)
        self.duration = Histogram("ocpihub_request_duration_seconds",
                                  "Time from request to answer on the routing path, by module",
                                  ["module"], buckets=BUCKETS, registry=r)
        self.auth_failures = Counter("ocpihub_auth_failures", "Requests refused for a missing or unknown token",
                                     registry=r)
        self.tolerated_deviations = Counter("ocpihub_tolerated_deviations",
                                            "Partner deviations from the spec the hub worked around", ["kind"],
                                            registry=r)
        self.deliveries = Counter("ocpihub_broadcast_deliveries", "Broadcast push deliveries by module and outcome",
                                  ["module", "outcome"], registry=r)
        self.registry_reloads = Counter("ocpihub_registry_reloads", "Registry snapshots rebuilt", registry=r)
        info = Gauge("ocpihub_build_info", "Build of the running hub", ["version"], registry=r)
        try:
            version = metadata.version("ocpi-hub")
        except metadata.PackageNotFoundError:
            version = "unknown"
        info.labels(version).set(1)
        r.register(_RegistryCollector(registry))
        self._request_children: dict[tuple[str, str, str], Callable[[], None]] = {}
        self._duration_children: dict[str, Callable[[float], None]] = {}

    def request(self, record: RequestRecord) -> None:
        module = record.module
        key = (module, record.interface, record.outcome)
        inc = self._request_children.get(key)
        if inc is None:
            inc = self._request_children[key] = self.requests.labels(*key).inc
        inc()
        observe = self._duration_children.get(module)
        if observe is None:
            observe = self._duration_children[module] = self.duration.labels(module).observe
        observe(record.seconds)

    def delivery(self, record: RequestRecord) -> None:
        self.deliveries.labels(record.module, record.outcome).inc()

    def auth_failed(self) -> None:
        self.auth_failures.inc()

    def tolerated(self, kind: str) -> None:
        self.tolerated_deviations.labels(kind).inc()

    def reloaded(self) -> None:
        self.registry_reloads.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
