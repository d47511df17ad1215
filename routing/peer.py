"""Who is at the other end of a request: its client address and its TLS client certificate.

Both come from the connection itself (the ASGI ``client`` and the ASGI TLS extension, see
``hub/tls.py``) unless the connection comes from a configured trusted proxy: then from the
proxy's ``X-Forwarded-For`` and client-certificate header. Those headers are ignored from anyone
else, so a partner cannot claim another address or certificate by sending them.

Everything is computed only when a decision needs it (an allow-list, a pin, a failed
authentication), and parsed results are cached: a request that needs neither costs nothing here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import unquote

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Scope = MutableMapping[str, Any]

_CACHE_MAX = 4096


def parse_networks(texts: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (``10.0.0.0/8``, ``2001:db8::/32``; a bare address is one host). Host bits set are an
    error (``10.1.2.3/8`` is ambiguous): ``ValueError`` names the culprit."""
    out = []
    for text in texts:
        try:
            out.append(ipaddress.ip_network(text.strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a network in CIDR notation ({exc})") from None
    return tuple(out)


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a client or proxy gives it; IPv4-mapped IPv6 (``::ffff:10.0.0.1``, what a
    dual-stack listener reports) becomes the IPv4 address. ``None`` for anything else."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 10.0.0.1:443
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class AddressSet:
    """Membership of addresses in a set of networks, cached per address text."""

    __slots__ = ("_cache", "networks")

    def __init__(self, networks: tuple[IPNetwork, ...]) -> None:
        self.networks = networks
        self._cache: dict[str, bool] = {}

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        known = self._cache.get(address)
        if known is not None:
            return known
        ip = parse_address(address)
        found = ip is not None and any(ip in net for net in self.networks)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[address] = found
        return found

    def __bool__(self) -> bool:
        return bool(self.networks)


def header(scope: Scope, name: bytes) -> bytes | None:
    """All values of one request header, comma-joined in order (``None`` when absent)."""
    found: bytes | None = None
    for key, value in scope["headers"]:
        if key == name:
            found = value if found is None else found + b"," + value
    return found


class ClientCertificate:
    """A client certificate as pins compare it: the SHA-256 of its DER bytes in lower-case hex, and
    its subject in RFC 4514 text (``CN=partner.example,O=Partner BV,C=NL``), when known."""

    __slots__ = ("sha256", "subject")

    def __init__(self, sha256: str, subject: str | None) -> None:
        self.sha256 = sha256
        self.subject = subject

    def __repr__(self) -> str:
        return f"ClientCertificate(sha256={self.sha256[:16]}..., subject={self.subject!r})"


def certificate_from_der(der: bytes) -> ClientCertificate:
    from cryptography import x509

    subject: str | None
    try:
        subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        subject = None
    return ClientCertificate(hashlib.sha256(der).hexdigest(), subject)


def _pem_to_der(pem: str) -> bytes | None:
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = pem.find(begin)
    stop = pem.find(end, start)
    if start < 0 or stop < 0:
        return None
    body = "".join(pem[start + len(begin):stop].split())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


def _xfcc_elements(value: str) -> list[dict[str, str]]:
    """Envoy's ``x-forwarded-client-cert``: elements separated by ``,``, pairs by ``;``, values
    possibly double-quoted (and then holding commas, semicolons and ``\\"``)."""
    elements: list[dict[str, str]] = []
    pairs: dict[str, str] = {}
    key, buf, quoted, i = "", [], False, 0
    while i <= len(value):
        c = value[i] if i < len(value) else ","
        if quoted:
            if c == "\\" and i + 1 < len(value):
                buf.append(value[i + 1])
                i += 1
            elif c == '"':
                quoted = False
            else:
                buf.append(c)
        elif c == '"':
            quoted = True
        elif c == "=" and not key:
            key, buf = "".join(buf).strip().lower(), []
        elif c in ";,":
            if key:
                pairs[key] = "".join(buf).strip()
            key, buf = "", []
            if c == ",":
                if pairs:
                    elements.append(pairs)
                pairs = {}
        else:
            buf.append(c)
        i += 1
    return elements


_XFCC_KEYS = frozenset({"by", "hash", "cert", "chain", "subject", "uri", "dns"})


def certificate_from_header(value: bytes) -> ClientCertificate | None:
    """A client certificate as a TLS-terminating proxy forwards it, in any of the common shapes:
    Envoy's ``x-forwarded-client-cert`` (``Hash=...;Subject="...";Cert="..."``: the last element, the
    one our proxy added), a URL-escaped PEM (nginx ``$ssl_client_escaped_cert``, ingress-nginx
    ``ssl-client-cert``, Traefik), or base64 DER (HAProxy ``ssl_c_der,base64``). ``None`` when the
    value is none of these."""
    text = value.decode("latin-1").strip()
    if not text:
        return None
    first_key = text.split(";", 1)[0].split(",", 1)[0].partition("=")[0].strip().lower()
    if first_key in _XFCC_KEYS:
        elements = _xfcc_elements(text)
        if not elements:
            return None
        last = elements[-1]
        if "cert" in last:
            found = certificate_from_header(last["cert"].encode("latin-1"))
            if found is not None:
                return found
        digest = last.get("hash", "").lower()
        if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
            return ClientCertificate(digest, last.get("subject") or None)
        return None
    text = unquote(text)
    if "-----BEGIN" in text:
        der = _pem_to_der(text)
    else:
        try:
            der = base64.b64decode("".join(text.split(",")[0].split()), validate=True)
        except (binascii.Error, ValueError):
            der = None
    return certificate_from_der(der) if der else None


class PeerReader:
    """Reads a request's client address and certificate, trusting forwarded headers only from
    ``trusted_proxies``. ``cert_header`` names the header a proxy puts the client certificate in."""

    def __init__(self, trusted_proxies: tuple[IPNetwork, ...] = (), cert_header: str | None = None) -> None:
        self.proxies = AddressSet(trusted_proxies)
        self.cert_header = cert_header.lower().encode("latin-1") if cert_header else None
        self._from_chain: dict[str, ClientCertificate | None] = {}
        self._from_header: dict[bytes, ClientCertificate | None] = {}
        self._forwarded: dict[tuple[str, bytes], str] = {}

    def via_proxy(self, scope: Scope) -> bool:
        if not self.proxies:
            return False
        client = scope.get("client")
        return client is not None and client[0] in self.proxies

    def address(self, scope: Scope) -> str | None:
        """The client's address: the connection's peer, or behind trusted proxies the right-most
        ``X-Forwarded-For`` entry that is not itself a trusted proxy."""
        client = scope.get("client")
        peer: str | None = client[0] if client else None
        if peer is None or not self.proxies or peer not in self.proxies:
            return peer
        forwarded = header(scope, b"x-forwarded-for")
        if not forwarded:
            return peer
        key = (peer, forwarded)
        known = self._forwarded.get(key)
        if known is None:
            known = self._client_of(peer, forwarded)
            if len(self._forwarded) >= _CACHE_MAX:
                self._forwarded.clear()
            self._forwarded[key] = known
        return known

    def _client_of(self, peer: str, forwarded: bytes) -> str:
        hops = [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
        for hop in reversed(hops):
            ip = parse_address(hop)
            if ip is None:
                return peer  # a hop we cannot read: stop at what we know for sure
            text = str(ip)
            if text not in self.proxies:
                return text
        return str(parse_address(hops[0])) if hops else peer

    def certificate(self, scope: Scope) -> ClientCertificate | None:
        """The client certificate the request came with: from the trusted proxy's header when it came
        through one, else from the TLS connection (ASGI TLS extension), else ``None``."""
        if self.via_proxy(scope):
            if self.cert_header is None:
                return None
            value = header(scope, self.cert_header)
            if not value:
                return None
            cached = self._from_header.get(value, False)
            if cached is not False:
                return cached  # type: ignore[return-value]
            found = certificate_from_header(value)
            if len(self._from_header) >= _CACHE_MAX:
                self._from_header.clear()
            self._from_header[value] = found
            return found
        extensions = scope.get("extensions")
        tls = extensions.get("tls") if extensions else None
        chain = tls.get("client_cert_chain") if tls else None
        if not chain:
            return None
        pem: str = chain[0]
        known = self._from_chain.get(pem, False)
        if known is not False:
            return known  # type: ignore[return-value]
        der = _pem_to_der(pem)
        cert = certificate_from_der(der) if der else None
        if len(self._from_chain) >= _CACHE_MAX:
            self._from_chain.clear()
        self._from_chain[pem] = cert
        return cert
