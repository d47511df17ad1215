"""The perimeter stage: may this authenticated platform come in, from here, with this certificate,
at this rate? And the other side of authentication: addresses that keep failing it are throttled.

A throttled address is refused only for requests whose token the hub does not know (missing or
unknown): behind a proxy or NAT many partners share one address, and one client guessing there must
not lock the others out. Letting a valid token through teaches a guesser nothing, since credentials
tokens are random and it cannot hold one.

One call after authentication (:meth:`Perimeter.admit`) on every surface that takes a credentials
token (routed modules, callbacks, versions, credentials, hubclientinfo); :meth:`Perimeter.auth_failed`
where authentication fails; :meth:`Perimeter.admin_blocked`/:meth:`Perimeter.admin_failed` around the
admin token check. The decisions are the pure structures of ``routing.limits`` and ``routing.peer``;
the clock is passed in. Per request, a platform without allow-list or pins costs one dict lookup, one
identity check and the bucket's arithmetic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import msgspec

from partners.errors import HubError, PerimeterRefusedError, TooManyRequestsError
from partners.model import PlatformSettings
from partners.registry import Platform, Registry
from routing.limits import FailureThrottle, TokenBucket, address_key, retry_after_seconds
from routing.peer import AddressSet, ClientCertificate, PeerReader, Scope, parse_networks

log = logging.getLogger("ocpihub.perimeter")

RATE_LIMITED_KINDS = ("platform", "auth_failures", "admin")
"""Why a request got 429: the ``kind`` label of ``ocpihub_rate_limited_total``."""
REFUSAL_KINDS = ("address", "certificate")
"""Why a platform's request was refused: the ``kind`` label of ``ocpihub_perimeter_refusals_total``."""

_LOG_EVERY = 60.0  # seconds between two log lines about the same platform and kind


class PerimeterSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Hub-wide defaults; a platform's ``PlatformSettings`` override the rate limit."""

    rate_limit: float = 0.0  # requests/s per platform and process; 0: unlimited
    rate_limit_burst: int = 1
    auth_failures_per_minute: int = 0  # per client address; 0: not throttled
    trusted_proxies: tuple[str, ...] = ()  # CIDRs whose X-Forwarded-For and certificate header count
    client_cert_header: str | None = None  # the header a trusted proxy forwards the client certificate in


class PerimeterReport(Protocol):
    """Where refusals are counted (``hub.metrics`` implements it)."""

    def rate_limited(self, kind: str) -> None: ...

    def refused(self, kind: str) -> None: ...


class _Silent:
    def rate_limited(self, kind: str) -> None:
        pass

    def refused(self, kind: str) -> None:
        pass


class _Policy:
    """What one platform's settings mean for the perimeter, derived once per settings object."""

    __slots__ = ("bucket", "networks", "pinned", "rate_text", "settings", "sha256", "subjects")

    def __init__(self, settings: PlatformSettings, defaults: PerimeterSettings, bucket: TokenBucket | None,
                 now: float) -> None:
        self.settings = settings
        rate = settings.rate_limit if settings.rate_limit is not None else defaults.rate_limit
        burst = settings.rate_limit_burst if settings.rate_limit_burst is not None else defaults.rate_limit_burst
        if rate > 0:
            if bucket is None:
                bucket = TokenBucket(rate, burst, now)
            else:
                bucket.retune(rate, burst)
            self.bucket: TokenBucket | None = bucket
        else:
            self.bucket = None
        self.rate_text = f"{rate:g} requests/s (burst {burst})"
        # None rather than an empty set: the request path tests it without a call.
        self.networks = AddressSet(parse_networks(settings.allowed_networks)) if settings.allowed_networks else None
        self.sha256 = frozenset(p.replace(":", "").lower() for p in settings.client_cert_sha256 or ())
        self.subjects = frozenset(settings.client_cert_subjects or ())
        self.pinned = bool(self.sha256 or self.subjects)

    def matches(self, cert: ClientCertificate) -> bool:
        return cert.sha256 in self.sha256 or (cert.subject is not None and cert.subject in self.subjects)


class Perimeter:
    def __init__(self, settings: PerimeterSettings | None = None, registry: Registry | None = None,
                 report: PerimeterReport | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings = settings or PerimeterSettings()
        self.registry = registry
        self.report: PerimeterReport = report or _Silent()
        self.clock = clock
        self.peer = PeerReader(parse_networks(settings.trusted_proxies), settings.client_cert_header)
        self.failures = FailureThrottle(settings.auth_failures_per_minute)
        self.admin_failures = FailureThrottle(settings.auth_failures_per_minute)
        self._policies: dict[int, _Policy] = {}
        self._logged: dict[tuple[int, str], float] = {}

    # -- after authentication ------------------------------------------------------------------
    def admit(self, platform: Platform, scope: Scope) -> None:
        """Raise unless ``platform`` may make this request: inside its allow-list, with a pinned certificate,
        and within its rate. Its address's failed authentications do not count here: the token is known."""
        now = self.clock()
        policy = self._policies.get(platform.id)
        if policy is None or policy.settings is not platform.settings:
            policy = self._derive(platform, now)
        if policy.networks is not None:
            address = self.peer.address(scope)
            if address not in policy.networks:
                self._log(platform.id, "address", now, "refused a request from an address outside the platform's "
                          "allowed_networks", address=address)
                self.report.refused("address")
                raise PerimeterRefusedError(
                    f"this platform's requests are not allowed from address {address or 'unknown'}")
        if policy.pinned:
            cert = self.peer.certificate(scope)
            if cert is None or not policy.matches(cert):
                self._log(platform.id, "certificate", now, "refused a request without the platform's pinned "
                          "client certificate", certificate=repr(cert))
                self.report.refused("certificate")
                if cert is None:
                    raise PerimeterRefusedError("this platform is pinned to a TLS client certificate; the request "
                                                "came without one")
                raise PerimeterRefusedError(f"this platform is pinned to other TLS client certificates than the "
                                            f"one presented (SHA-256 {cert.sha256})")
        bucket = policy.bucket
        if bucket is not None:
            wait = bucket.take(now)
            if wait:
                self._log(platform.id, "rate", now, "platform over its rate limit")
                self.report.rate_limited("platform")
                retry = retry_after_seconds(wait)
                raise TooManyRequestsError(f"rate limit of {policy.rate_text} exceeded for this platform; "
                                           f"retry after {retry} s", retry)

    def screen(self, scope: Scope) -> None:
        """Raise 429 if the client's address is blocked for failed authentications (free when none is):
        for a token the snapshot does not know, before work such as a database lookup is done for it."""
        if self.failures.blocked:
            self._refuse_if_blocked(scope, self.clock())

    def _derive(self, platform: Platform, now: float) -> _Policy:
        old = self._policies.get(platform.id)
        policy = _Policy(platform.settings, self.settings, old.bucket if old is not None else None, now)
        self._policies[platform.id] = policy
        if self.registry is not None and len(self._policies) > 2 * len(self.registry.snapshot.platforms) + 64:
            live = self.registry.snapshot.platforms
            for platform_id in [p for p in self._policies if p not in live]:
                del self._policies[platform_id]
        return policy

    def _refuse_if_blocked(self, scope: Scope, now: float) -> None:
        address = self.peer.address(scope)
        if address is None:
            return
        wait = self.failures.blocked_for(address_key(address), now)
        if wait:
            self.report.rate_limited("auth_failures")
            raise _blocked_error(wait)

    # -- failed authentication ---------------------------------------------------------------
    def auth_failed(self, scope: Scope, error: HubError) -> HubError:
        """Count a failed authentication against the client's address; the error to answer with:
        ``error`` itself, or 429 once the address has failed too often."""
        if not self.failures.enabled:
            return error
        wait = self._count_failure(self.failures, scope, "credentials token")
        if not wait:
            return error
        self.report.rate_limited("auth_failures")
        return _blocked_error(wait)

    def admin_blocked(self, scope: Scope) -> float:
        """Seconds the client must wait before it may try an admin token again (0.0: it may)."""
        if not self.admin_failures.blocked:
            return 0.0
        address = self.peer.address(scope)
        wait = self.admin_failures.blocked_for(address_key(address), self.clock()) if address else 0.0
        if wait:
            self.report.rate_limited("admin")
        return wait

    def admin_failed(self, scope: Scope) -> float:
        """Count a wrong admin token; seconds the client is now blocked for (0.0: not blocked)."""
        if not self.admin_failures.enabled:
            return 0.0
        wait = self._count_failure(self.admin_failures, scope, "admin token")
        if wait:
            self.report.rate_limited("admin")
        return wait

    def _count_failure(self, throttle: FailureThrottle, scope: Scope, what: str) -> float:
        address = self.peer.address(scope)
        if address is None:
            return 0.0
        key = address_key(address)
        now = self.clock()
        was_blocked = key in throttle.blocked
        wait = throttle.failed(key, now)
        if wait and not was_blocked:
            log.warning("client address throttled after %d failed authentications with a wrong %s",
                        throttle.per_minute, what, extra={"address": key, "retry_after": retry_after_seconds(wait)})
        return wait

    def _log(self, platform_id: int, kind: str, now: float, message: str, **fields: object) -> None:
        last = self._logged.get((platform_id, kind))
        if last is not None and now - last < _LOG_EVERY:
            return
        if len(self._logged) > 10_000:
            self._logged.clear()
        self._logged[(platform_id, kind)] = now
        log.warning(message, extra={"platform": platform_id, **fields})


def _blocked_error(wait: float) -> TooManyRequestsError:
    retry = retry_after_seconds(wait)
    return TooManyRequestsError(f"too many failed authentications from this address; retry after {retry} s", retry)
