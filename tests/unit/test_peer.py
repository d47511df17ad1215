"""Who is at the other end: client address and client certificate, from the connection or from a
trusted proxy's headers (and never from anyone else's)."""

from __future__ import annotations

import base64
import hashlib
import ssl
from typing import Any
from urllib.parse import quote

import pytest
import trustme

from routing.peer import (
    AddressSet,
    PeerReader,
    certificate_from_header,
    parse_address,
    parse_networks,
)

CA = trustme.CA()
LEAF = CA.issue_cert("partner.example", common_name="partner.example", organization_name="Partner BV")
PEM = LEAF.cert_chain_pems[0].bytes().decode()
DER = ssl.PEM_cert_to_DER_cert(PEM)
SHA256 = hashlib.sha256(DER).hexdigest()


def scope(client: str | None = "127.0.0.1", headers: dict[str, str] | None = None,
          tls_pem: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "client": (client, 50000) if client else None,
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "extensions": {},
    }
    if tls_pem is not None:
        out["extensions"]["tls"] = {"client_cert_chain": [tls_pem] if tls_pem else []}
    return out


@pytest.mark.parametrize(("text", "expected"), [
    ("10.0.0.1", "10.0.0.1"), (" 10.0.0.1 ", "10.0.0.1"), ("10.0.0.1:443", "10.0.0.1"),
    ("::ffff:10.0.0.1", "10.0.0.1"), ("[2001:db8::1]:443", "2001:db8::1"), ("2001:db8::1", "2001:db8::1"),
    ("unknown", None), ("", None), ("10.0.0.256", None),
])
def test_addresses_are_read_the_ways_clients_and_proxies_write_them(text: str, expected: str | None) -> None:
    ip = parse_address(text)
    assert (str(ip) if ip is not None else None) == expected


def test_networks_must_be_cidrs_without_host_bits() -> None:
    assert [str(n) for n in parse_networks(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"])] == \
        ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]
    with pytest.raises(ValueError, match=r"10\.1\.2\.3/8"):
        parse_networks(["10.1.2.3/8"])


@pytest.mark.parametrize(("address", "inside"), [
    ("10.9.9.9", True), ("::ffff:10.9.9.9", True), ("11.0.0.1", False), ("2001:db8:5::1", True),
    ("2001:db9::1", False), ("garbage", False),
])
def test_address_set_membership(address: str, inside: bool) -> None:
    allowed = AddressSet(parse_networks(["10.0.0.0/8", "2001:db8::/32"]))
    assert (address in allowed) is inside
    assert (address in allowed) is inside  # the cached answer is the same


PROXIES = parse_networks(["127.0.0.1/32", "10.0.0.0/8"])


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("127.0.0.1", None, "127.0.0.1"),                                   # a proxy that did not say
    ("127.0.0.1", "203.0.113.5", "203.0.113.5"),
    ("127.0.0.1", "198.51.100.1, 203.0.113.5", "203.0.113.5"),          # right-most is what our proxy saw
    ("127.0.0.1", "203.0.113.5, 10.1.1.1", "203.0.113.5"),              # our own proxies are skipped
    ("127.0.0.1", "10.2.2.2, 10.1.1.1", "10.2.2.2"),                    # all ours: the left-most
    ("127.0.0.1", "203.0.113.5:4711", "203.0.113.5"),
    ("127.0.0.1", "garbage, 203.0.113.5", "203.0.113.5"),
    ("127.0.0.1", "203.0.113.5, garbage", "127.0.0.1"),                 # unreadable hop: stop at the proxy
    ("192.0.2.1", "203.0.113.5", "192.0.2.1"),                          # not a trusted proxy: header ignored
])
def test_client_address_trusts_forwarded_for_only_from_trusted_proxies(
        peer: str, forwarded: str | None, expected: str) -> None:
    reader = PeerReader(PROXIES)
    assert reader.address(scope(peer, {"X-Forwarded-For": forwarded} if forwarded else None)) == expected


def test_without_trusted_proxies_forwarded_for_means_nothing() -> None:
    assert PeerReader().address(scope("127.0.0.1", {"X-Forwarded-For": "203.0.113.5"})) == "127.0.0.1"
    assert PeerReader().address(scope(None)) is None


def test_several_forwarded_for_headers_read_as_one_list() -> None:
    s = scope("127.0.0.1")
    s["headers"] = [(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-for", b"203.0.113.5")]
    assert PeerReader(PROXIES).address(s) == "203.0.113.5"


ESCAPED_PEM = quote(PEM, safe="")
B64_DER = base64.b64encode(DER).decode()


@pytest.mark.parametrize("value", [
    f'By=spiffe://hub;Hash={SHA256};Subject="CN=partner.example,O=Partner BV";URI=',         # Envoy
    f'Hash={"0" * 64};Subject="CN=x",By=spiffe://hub;Hash={SHA256.upper()};Subject="CN=partner.example"',
    f'By=spiffe://hub;Cert="{ESCAPED_PEM}"',                                                # Envoy with the cert
    ESCAPED_PEM,                                                                              # nginx, ingress-nginx
    PEM,                                                                                      # unescaped PEM
    B64_DER,                                                                                  # HAProxy, Traefik
    f"{B64_DER},{B64_DER}",                                                                   # Traefik chain
])
def test_proxy_certificate_headers_in_every_common_shape(value: str) -> None:
    cert = certificate_from_header(value.encode("latin-1"))
    assert cert is not None and cert.sha256 == SHA256
    assert cert.subject is not None and "CN=partner.example" in cert.subject


@pytest.mark.parametrize("value", ["", "hello", "Hash=abc", "-----BEGIN CERTIFICATE-----\nnot base64\n"
                                   "-----END CERTIFICATE-----", "By=x;URI=y"])
def test_unreadable_certificate_headers_give_no_certificate(value: str) -> None:
    assert certificate_from_header(value.encode()) is None


def test_certificate_from_the_tls_connection() -> None:
    reader = PeerReader()
    cert = reader.certificate(scope("192.0.2.1", tls_pem=PEM))
    assert cert is not None and cert.sha256 == SHA256 and cert.subject is not None
    assert "O=Partner BV" in cert.subject
    assert reader.certificate(scope("192.0.2.1", tls_pem=PEM)) is cert  # parsed once per certificate
    assert reader.certificate(scope("192.0.2.1", tls_pem="")) is None
    assert reader.certificate(scope("192.0.2.1")) is None


def test_certificate_header_counts_only_from_a_trusted_proxy() -> None:
    reader = PeerReader(PROXIES, "X-Forwarded-Client-Cert")
    header = {"X-Forwarded-Client-Cert": f"Hash={SHA256}"}
    via_proxy = reader.certificate(scope("10.0.0.5", header))
    assert via_proxy is not None and via_proxy.sha256 == SHA256
    # Straight from a client: its own header is ignored, and only its TLS certificate counts.
    assert reader.certificate(scope("192.0.2.1", header)) is None
    other = CA.issue_cert("other.example").cert_chain_pems[0].bytes().decode()
    direct = reader.certificate(scope("192.0.2.1", header, tls_pem=other))
    assert direct is not None and direct.sha256 != SHA256
    # Through the proxy, the connection's own certificate (the proxy's) does not stand in for the client's.
    assert reader.certificate(scope("10.0.0.5", tls_pem=other)) is None
