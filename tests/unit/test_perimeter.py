"""The perimeter stage over a snapshot's platforms, with a clock the test moves."""

from __future__ import annotations

import hashlib
import ssl
from typing import Any

import pytest
import trustme

from partners.errors import PerimeterRefusedError, TooManyRequestsError, UnauthorizedError
from partners.model import ConnectionStatus, PlatformSettings
from partners.registry import Platform
from routing.perimeter import Perimeter, PerimeterSettings

CA = trustme.CA()
PEM_A = CA.issue_cert("a.example", common_name="a.example").cert_chain_pems[0].bytes().decode()
PEM_B = CA.issue_cert("b.example", common_name="b.example").cert_chain_pems[0].bytes().decode()
SHA_A = hashlib.sha256(ssl.PEM_cert_to_DER_cert(PEM_A)).hexdigest()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Report:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def rate_limited(self, kind: str) -> None:
        self.events.append(("limited", kind))

    def refused(self, kind: str) -> None:
        self.events.append(("refused", kind))


def platform(platform_id: int = 1, **settings: Any) -> Platform:
    return Platform(id=platform_id, name="p", status=ConnectionStatus.CONNECTED, registered=True,
                    versions_url=None, version="2.2.1", endpoints={}, parties=(),
                    settings=PlatformSettings(**settings))


def request(client: str = "192.0.2.1", headers: dict[str, str] | None = None,
            tls_pem: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"client": (client, 40000),
                           "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
                           "extensions": {}}
    if tls_pem:
        out["extensions"]["tls"] = {"client_cert_chain": [tls_pem]}
    return out


def perimeter(**settings: Any) -> tuple[Perimeter, Clock, Report]:
    clock, report = Clock(), Report()
    return Perimeter(PerimeterSettings(**settings), report=report, clock=clock), clock, report


def admitted(p: Perimeter, plat: Platform, scope: dict[str, Any]) -> bool:
    try:
        p.admit(plat, scope)
    except (PerimeterRefusedError, TooManyRequestsError):
        return False
    return True


def test_default_rate_limit_answers_429_with_retry_after_once_the_burst_is_spent() -> None:
    p, clock, report = perimeter(rate_limit=0.5, rate_limit_burst=2)
    plat = platform()
    assert admitted(p, plat, request()) and admitted(p, plat, request())
    with pytest.raises(TooManyRequestsError) as refused:
        p.admit(plat, request())
    assert refused.value.http_status == 429 and refused.value.ocpi_status == 2000
    assert refused.value.headers() == ((b"retry-after", b"2"),)
    assert "0.5 requests/s (burst 2)" in refused.value.message
    assert report.events == [("limited", "platform")]
    clock.now += 2.0
    assert admitted(p, plat, request())
    # Platforms have buckets of their own.
    assert admitted(p, platform(2), request())


def test_a_platform_override_replaces_the_default_and_zero_means_unlimited() -> None:
    p, _, _ = perimeter(rate_limit=1.0, rate_limit_burst=1)
    unlimited = platform(1, rate_limit=0)
    assert all(admitted(p, unlimited, request()) for _ in range(500))
    generous = platform(2, rate_limit_burst=5)
    assert [admitted(p, generous, request()) for _ in range(6)] == [True] * 5 + [False]


def test_changing_a_platforms_settings_keeps_its_spent_tokens() -> None:
    p, _, _ = perimeter(rate_limit=1.0, rate_limit_burst=3)
    assert [admitted(p, platform(), request()) for _ in range(3)] == [True] * 3
    # A new snapshot (new settings object) with a bigger burst: what was spent stays spent.
    assert not admitted(p, platform(rate_limit_burst=10), request())


def test_no_rate_limit_configured_admits_everything() -> None:
    p, _, report = perimeter()
    plat = platform()
    assert all(admitted(p, plat, request()) for _ in range(10_000))
    assert report.events == []


@pytest.mark.parametrize(("networks", "client", "forwarded", "trusted", "ok"), [
    (["192.0.2.0/24"], "192.0.2.77", None, (), True),
    (["192.0.2.0/24"], "198.51.100.1", None, (), False),
    (["192.0.2.0/24", "2001:db8::/32"], "2001:db8::5", None, (), True),
    (["192.0.2.0/24"], "::ffff:192.0.2.5", None, (), True),
    # Behind a trusted proxy, the forwarded client address is what counts...
    (["192.0.2.0/24"], "10.0.0.1", "192.0.2.9", ("10.0.0.0/8",), True),
    (["192.0.2.0/24"], "10.0.0.1", "198.51.100.1", ("10.0.0.0/8",), False),
    # ...and from anyone else the header is ignored.
    (["192.0.2.0/24"], "198.51.100.1", "192.0.2.9", ("10.0.0.0/8",), False),
    ([], "198.51.100.1", None, (), True),
])
def test_allowed_networks(networks: list[str], client: str, forwarded: str | None, trusted: tuple[str, ...],
                          ok: bool) -> None:
    p, _, report = perimeter(trusted_proxies=trusted)
    plat = platform(allowed_networks=networks) if networks else platform()
    scope = request(client, {"X-Forwarded-For": forwarded} if forwarded else None)
    assert admitted(p, plat, scope) is ok
    assert report.events == ([] if ok else [("refused", "address")])


@pytest.mark.parametrize(("pins", "tls_pem", "ok"), [
    ({"client_cert_sha256": [SHA_A]}, PEM_A, True),
    ({"client_cert_sha256": [":".join(SHA_A[i:i + 2] for i in range(0, 64, 2)).upper()]}, PEM_A, True),
    ({"client_cert_sha256": [SHA_A]}, PEM_B, False),
    ({"client_cert_sha256": [SHA_A]}, None, False),
    ({"client_cert_subjects": ["CN=b.example"]}, PEM_B, False),  # trustme adds an OU: subjects match whole
    ({"client_cert_sha256": ["00" * 32], "client_cert_subjects": ["placeholder"]}, PEM_A, False),
    ({}, None, True),
])
def test_certificate_pins(pins: dict[str, list[str]], tls_pem: str | None, ok: bool) -> None:
    p, _, report = perimeter()
    assert admitted(p, platform(**pins), request(tls_pem=tls_pem)) is ok
    assert report.events == ([] if ok else [("refused", "certificate")])


def test_a_subject_pin_matches_the_whole_rfc4514_subject() -> None:
    from cryptography import x509

    subject = x509.load_pem_x509_certificate(PEM_B.encode()).subject.rfc4514_string()
    p, _, _ = perimeter()
    plat = platform(client_cert_subjects=[subject])
    assert admitted(p, plat, request(tls_pem=PEM_B))
    assert not admitted(p, plat, request(tls_pem=PEM_A))


def test_refusal_messages_say_what_was_wrong_without_secrets() -> None:
    p, _, _ = perimeter()
    with pytest.raises(PerimeterRefusedError, match="came without one"):
        p.admit(platform(client_cert_sha256=[SHA_A]), request())
    with pytest.raises(PerimeterRefusedError, match=r"not allowed from address 198\.51\.100\.1"):
        p.admit(platform(allowed_networks=["192.0.2.0/24"]), request("198.51.100.1"))
    error = PerimeterRefusedError("x")
    assert (error.http_status, error.ocpi_status) == (200, 2000)


def test_failed_authentications_block_unknown_tokens_from_the_address_until_refilled() -> None:
    p, clock, report = perimeter(auth_failures_per_minute=2)
    bad = UnauthorizedError("unknown credentials token")
    assert p.auth_failed(request("192.0.2.1"), bad) is bad
    blocked = p.auth_failed(request("192.0.2.1"), bad)
    assert isinstance(blocked, TooManyRequestsError) and blocked.headers() == ((b"retry-after", b"30"),)
    # Blocked: another unknown token from there is refused before anything looks it up...
    with pytest.raises(TooManyRequestsError):
        p.screen(request("192.0.2.1"))
    assert isinstance(p.auth_failed(request("192.0.2.1"), bad), TooManyRequestsError)
    # ...but a platform whose token the hub knows is let in from there: partners behind one proxy or NAT
    # share the address, and a guesser learns nothing from a token it cannot have.
    assert admitted(p, platform(), request("192.0.2.1"))
    assert admitted(p, platform(2), request("192.0.2.1"))
    # Other addresses are untouched.
    p.screen(request("192.0.2.2"))
    assert p.auth_failed(request("192.0.2.2"), bad) is bad
    assert report.events == [("limited", "auth_failures")] * 3
    clock.now += 30
    p.screen(request("192.0.2.1"))


def test_ipv6_failures_count_per_64() -> None:
    p, _, _ = perimeter(auth_failures_per_minute=1)
    bad = UnauthorizedError("x")
    assert isinstance(p.auth_failed(request("2001:db8:1:2::1"), bad), TooManyRequestsError)
    with pytest.raises(TooManyRequestsError):
        p.screen(request("2001:db8:1:2::ffff"))
    p.screen(request("2001:db8:1:3::1"))


def test_admin_failures_have_their_own_throttle() -> None:
    p, clock, report = perimeter(auth_failures_per_minute=3)
    scope = request("192.0.2.1")
    assert [p.admin_failed(scope) for _ in range(3)][:2] == [0.0, 0.0]
    assert p.admin_blocked(scope) == pytest.approx(20.0)
    assert p.admin_blocked(request("192.0.2.2")) == 0.0
    assert admitted(p, platform(), scope)  # OCPI traffic from there is not the admin API's business
    clock.now += 20
    assert p.admin_blocked(scope) == 0.0
    assert ("limited", "admin") in report.events


def test_throttling_off_never_turns_401_into_429() -> None:
    p, _, _ = perimeter(auth_failures_per_minute=0)
    bad = UnauthorizedError("x")
    assert all(p.auth_failed(request(), bad) is bad for _ in range(1000))
    assert all(p.admin_failed(request()) == 0.0 for _ in range(1000))
