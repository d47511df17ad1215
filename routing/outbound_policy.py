"""Where the hub may connect: one pure decision over a URL, the addresses its host resolved to, and
the operator's settings.

Every URL the hub calls (except the admin's) comes from a partner, and the hub calls it with its own
token from inside the operator's network. So an address is refused unless it is public or the
operator opened its range (``OCPI_HUB_OUTBOUND_ALLOW``); the hub's own listener is refused even
inside an opened range (no self-loops). All spellings of one address are one address: the legacy
IPv4 forms (``127.1``, ``2130706433``, ``0x7f000001``), IPv4-mapped IPv6, and the IPv4 embedded in
NAT64, 6to4 and Teredo addresses are judged by the IPv4 address they lead to.

Nothing here does I/O: resolving names and connecting to the checked address is
``routing.outbound_guard``'s job.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_ALLOW = "127.0.0.0/8,::1/128"
"""The built-in allow-list: partners on the same machine work without configuration."""


class Rule(enum.StrEnum):
    """Why a URL or address is refused: the closed set of the ``reason`` metric label."""

    SCHEME = "scheme"
    PLAIN_HTTP = "plain_http"
    USERINFO = "userinfo"
    MALFORMED = "malformed"
    SELF = "self"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    LINK_LOCAL = "link_local"
    SHARED = "shared"
    MULTICAST = "multicast"
    UNSPECIFIED = "unspecified"
    BROADCAST = "broadcast"
    RESERVED = "reserved"


_ADDRESS_WORDS = {
    Rule.SELF: "the hub itself",
    Rule.LOOPBACK: "a loopback address",
    Rule.PRIVATE: "a private address",
    Rule.LINK_LOCAL: "a link-local address",
    Rule.SHARED: "a carrier-grade NAT address",
    Rule.MULTICAST: "a multicast address",
    Rule.UNSPECIFIED: "an unspecified address",
    Rule.BROADCAST: "the broadcast address",
    Rule.RESERVED: "a reserved (non-public) address",
}


class OutboundRefused(OSError):
    """The policy refuses a URL or an address. An ``OSError`` so that it passes through aiohttp's
    connector (which wraps only ``OSError`` from resolvers and socket factories) and can be told
    apart there (``exc.os_error``).

    ``message`` names the URL (without userinfo) and the rule, never the resolved address: telling a
    partner what an internal name resolves to would make registration an oracle for internal DNS.
    """

    def __init__(self, rule: Rule, url: str, host: str, address: str = "") -> None:
        super().__init__(None, f"{rule.value}: {host}")
        self.rule = rule
        self.url = url
        self.host = host
        self.address = address

    @property
    def message(self) -> str:
        return f"the hub does not connect to {self.url}: {self.why}"

    @property
    def why(self) -> str:
        rule = self.rule
        if rule is Rule.SCHEME:
            return "only http and https URLs are allowed"
        if rule is Rule.PLAIN_HTTP:
            return "plain http is not allowed to partners (https only)"
        if rule is Rule.USERINFO:
            return "a URL with user information (user@ or user:password@) is not allowed"
        if rule is Rule.MALFORMED:
            return "not a valid URL"
        verb = "is" if rule is Rule.SELF or host_address(self.host) is not None else "resolves to"
        return f"{self.host} {verb} {_ADDRESS_WORDS[rule]} (outbound address policy)"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class OutboundPolicy:
    """The operator's settings, parsed. ``own_listeners`` are the (range, port) pairs the hub itself
    listens on; ``own_hosts`` the (host name, port) of its public URL."""

    allow: tuple[Network, ...] = ()
    allow_http: bool = True
    own_listeners: tuple[tuple[Network, int], ...] = ()
    own_hosts: frozenset[tuple[str, int]] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks that need no resolution; ``address`` is set when its host is an
    IP address in any spelling (then nothing is left to resolve)."""

    scheme: str
    host: str
    port: int
    address: Address | None


def parse_allow(text: str) -> tuple[Network, ...]:
    """``"10.1.0.0/16, fd00::/8"`` as networks; raises ``ValueError`` naming the entry that is not a
    CIDR range."""
    out: list[Network] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an address range (CIDR, e.g. 10.20.0.0/16)") from None
    return tuple(out)


def policy(*, allow: str, allow_http: bool, listen_host: str, listen_port: int, public_url: str,
           local_addresses: Iterable[str] = ()) -> OutboundPolicy:
    """The policy from the hub's settings. A wildcard listener (``0.0.0.0``, ``::``) is reachable on
    every loopback address and on each of ``local_addresses`` (the machine's interfaces)."""
    listeners: list[tuple[Network, int]] = [(_net("0.0.0.0/32"), listen_port), (_net("::/128"), listen_port)]
    listen = host_address(listen_host)
    if listen is None or listen.is_unspecified:
        hosts = ["127.0.0.0/8", "::1/128", *local_addresses]
    else:
        hosts = [str(listen)]
    for host in hosts:
        listeners.append((_net(host), listen_port))
    own_hosts: set[tuple[str, int]] = set()
    public = urlsplit(public_url)
    if public.hostname:
        try:
            public_port = public.port or _default_port(public.scheme)
        except ValueError:
            public_port = 0
        own_hosts.add((public.hostname.lower(), public_port))
    return OutboundPolicy(allow=parse_allow(allow), allow_http=allow_http, own_listeners=tuple(listeners),
                          own_hosts=frozenset(own_hosts))


def _net(text: str) -> Network:
    return ipaddress.ip_network(text, strict=False)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


# A host made only of these characters may be an IPv4 address in a legacy spelling, which the C
# library's resolver (inet_aton) accepts: 127.1, 2130706433, 0x7f000001, 0177.0.0.1.
_LEGACY_IPV4 = re.compile(r"[0-9A-Fa-fXx.]+")
# What a host name may hold; anything else (backslashes, percent signs, spaces) is parsed differently
# by different URL parsers, so it is refused rather than guessed.
_HOST_CHARS = re.compile(r"[A-Za-z0-9._-]+")


def host_address(host: str) -> Address | None:
    """The IP address a URL host names, in any spelling the C library would accept; None for a name."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(bare) and any(c.isdigit() for c in bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def check_url(url: str, policy: OutboundPolicy) -> Target:
    """Everything that can be decided before resolving: scheme, userinfo, shape, and the address when
    the host is one. Raises :class:`OutboundRefused`."""
    shown = safe_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused(Rule.MALFORMED, shown, "") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise OutboundRefused(Rule.SCHEME, shown, parts.hostname or "")
    if "@" in parts.netloc:
        raise OutboundRefused(Rule.USERINFO, shown, parts.hostname or "")
    host = parts.hostname
    if not host or port == 0:
        raise OutboundRefused(Rule.MALFORMED, shown, host or "")
    if scheme == "http" and not policy.allow_http:
        raise OutboundRefused(Rule.PLAIN_HTTP, shown, host)
    port = port or _default_port(scheme)
    address = host_address(host)
    if address is None:
        if not _HOST_CHARS.fullmatch(host):
            raise OutboundRefused(Rule.MALFORMED, shown, host)
        if (host.rstrip("."), port) in policy.own_hosts:
            raise OutboundRefused(Rule.SELF, shown, host)
    else:
        rule = check_address(address, port, policy)
        if rule is not None:
            raise OutboundRefused(rule, shown, host, str(address))
    return Target(scheme, host, port, address)


def check_address(address: Address, port: int, policy: OutboundPolicy) -> Rule | None:
    """Why the hub may not connect to ``address:port`` (None: it may)."""
    address = unmapped(address)
    for network, listen_port in policy.own_listeners:
        if port == listen_port and address.version == network.version and address in network:
            return Rule.SELF
    for network in policy.allow:
        if address.version == network.version and address in network:
            return None
    return classify(address)


def unmapped(address: Address) -> Address:
    """The IPv4 address an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) is: the kernel connects to
    that very address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_V4: tuple[tuple[Network, Rule], ...] = tuple((_net(n), r) for n, r in (
    ("0.0.0.0/8", Rule.UNSPECIFIED),
    ("127.0.0.0/8", Rule.LOOPBACK),
    ("10.0.0.0/8", Rule.PRIVATE),
    ("172.16.0.0/12", Rule.PRIVATE),
    ("192.168.0.0/16", Rule.PRIVATE),
    ("100.64.0.0/10", Rule.SHARED),
    ("169.254.0.0/16", Rule.LINK_LOCAL),
    ("224.0.0.0/4", Rule.MULTICAST),
    ("255.255.255.255/32", Rule.BROADCAST),
))
_V6: tuple[tuple[Network, Rule], ...] = tuple((_net(n), r) for n, r in (
    ("::/128", Rule.UNSPECIFIED),
    ("::1/128", Rule.LOOPBACK),
    ("fe80::/10", Rule.LINK_LOCAL),
    ("fc00::/7", Rule.PRIVATE),
    ("fec0::/10", Rule.PRIVATE),  # site-local: deprecated, still routed inside some networks
    ("64:ff9b:1::/48", Rule.PRIVATE),  # local-use NAT64 (RFC 8215)
    ("ff00::/8", Rule.MULTICAST),
))
_NAT64 = _net("64:ff9b::/96")
_COMPATIBLE = _net("::/96")  # IPv4-compatible IPv6 (deprecated)


def classify(address: Address) -> Rule | None:
    """The class of an address that makes it non-public, by the built-in rules (no allow-list)."""
    if isinstance(address, ipaddress.IPv4Address):
        for network, rule in _V4:
            if address in network:
                return rule
        return None if address.is_global else Rule.RESERVED
    if address.ipv4_mapped is not None:
        return classify(address.ipv4_mapped)
    for network, rule in _V6:
        if address in network:
            return rule
    embedded = _embedded_ipv4(address)
    for inner in embedded:
        inner_rule = classify(inner)
        if inner_rule is not None:
            return inner_rule
    if address in _COMPATIBLE:
        return Rule.RESERVED
    if embedded and address in _NAT64:
        return None  # a public IPv4 address reached through NAT64
    return None if address.is_global else Rule.RESERVED


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: NAT64 (64:ff9b::/96), 6to4 (2002::/16), Teredo
    (server and client), IPv4-compatible (::a.b.c.d)."""
    if address in _NAT64 or address in _COMPATIBLE:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    return []


def safe_url(url: str) -> str:
    """The URL as it may be shown in a message or a log line: without user information (a password
    may sit there), and at most 200 characters."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:200]
    if "@" in parts.netloc:
        url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return url[:200]
