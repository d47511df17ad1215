"""What the perimeter stage costs per request, and what each way of learning a client certificate
costs: read from the hub's own TLS connection (once per connection, then a dict store per request)
or parsed from a trusted proxy's header (per request, cached by the header's value).

Pure CPU, no server: ``measure()`` returns nanoseconds per call for each case, and the one-off
costs of reading a certificate from a fresh TLS connection and of a TLS handshake for scale."""

from __future__ import annotations

import hashlib
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import trustme

from hub.tls import tls_extension
from partners.model import ConnectionStatus, PlatformSettings
from partners.registry import Platform
from routing.peer import certificate_from_header
from routing.perimeter import Perimeter, PerimeterSettings


def _platform(**settings: Any) -> Platform:
    return Platform(id=1, name="bench", status=ConnectionStatus.CONNECTED, registered=True, versions_url=None,
                    version="2.2.1", endpoints={}, parties=(), settings=PlatformSettings(**settings))


def _scope(client: str, headers: dict[str, str] | None = None, tls: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {"authorization": "Token x", "ocpi-from-country-code": "DE", "ocpi-from-party-id": "MSP",
            "ocpi-to-country-code": "NL", "ocpi-to-party-id": "CPO", "x-correlation-id": "bench"}
    raw = [(k.encode(), v.encode()) for k, v in (base | (headers or {})).items()]
    return {"client": (client, 50000), "headers": raw, "extensions": {"tls": tls} if tls else {}}


def _ns_per_call(call: Callable[[], object], n: int) -> float:
    call()
    started = time.perf_counter_ns()
    for _ in range(n):
        call()
    return (time.perf_counter_ns() - started) / n


def _handshake() -> tuple[ssl.SSLObject, float]:
    """A real TLS 1.3 handshake with a client certificate, over memory BIOs."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hub.example").configure_cert(server_ctx)
    ca.configure_trust(server_ctx)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    ca.issue_cert("partner.example").configure_cert(client_ctx)
    started = time.perf_counter_ns()
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="hub.example")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {client: False, server: False}
    while not all(done.values()):
        for side in (client, server):
            if not done[side]:
                try:
                    side.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    return server, (time.perf_counter_ns() - started) / 1e3


def measure(n: int = 20000) -> dict[str, Any]:
    server_side, handshake_us = _handshake()
    tls = tls_extension(server_side)
    pem = tls["client_cert_chain"][0]
    sha = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    xfcc = {"x-forwarded-client-cert": f"Hash={sha}"}
    escaped = {"x-forwarded-client-cert": quote(pem, safe="")}
    proxied = {"x-forwarded-for": "198.51.100.1, 203.0.113.7"}
    plain = Perimeter(PerimeterSettings())
    limited = Perimeter(PerimeterSettings(rate_limit=1e12, rate_limit_burst=10**9))
    behind = Perimeter(PerimeterSettings(rate_limit=1e12, rate_limit_burst=10**9, trusted_proxies=("127.0.0.1/32",),
                                         client_cert_header="x-forwarded-client-cert"))
    allow = _platform(allowed_networks=["203.0.113.0/24", "127.0.0.0/8"])
    pinned = _platform(client_cert_sha256=[sha])
    both = _platform(allowed_networks=["203.0.113.0/24"], client_cert_sha256=[sha])
    bare, local, remote = _platform(), _scope("127.0.0.1"), _scope("192.0.2.1", tls=tls)
    proxied_pin, proxied_pem = _scope("127.0.0.1", xfcc | proxied), _scope("127.0.0.1", escaped)
    cases: dict[str, Callable[[], object]] = {
        "no limits": lambda: plain.admit(bare, local),
        "rate limit": lambda: limited.admit(bare, local),
        "rate + allow-list (direct)": lambda: limited.admit(allow, local),
        "rate + pin (hub's TLS)": lambda: limited.admit(pinned, remote),
        "rate + allow-list + pin (proxy headers, Hash)": lambda: behind.admit(both, proxied_pin),
        "rate + pin (proxy header, escaped PEM)": lambda: behind.admit(pinned, proxied_pem),
    }
    out: dict[str, Any] = {name: round(_ns_per_call(call, n)) for name, call in cases.items()}
    raw = escaped["x-forwarded-client-cert"].encode()
    out["proxy header parsed uncached (first sight), ns"] = round(
        _ns_per_call(lambda: certificate_from_header(raw), max(200, n // 100)))
    out["client certificate read per TLS connection, ns"] = round(
        _ns_per_call(lambda: tls_extension(server_side), max(200, n // 100)))
    out["TLS 1.3 handshake with client certificate, us (for scale)"] = round(handshake_us)
    return out


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{value:>10}  {name}")
