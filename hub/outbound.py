"""The hub's outbound side assembled from its configuration: the address policy (with the hub's own
listeners), the guard that applies it at connect time, and the TLS contexts; and how the policy is
told to the operator (start-up log line, ``GET /admin/config``)."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.config import Config
from routing.outbound_guard import OutboundGuard, Resolver
from routing.outbound_policy import OutboundPolicy, Rule, policy
from routing.outbound_tls import TlsContexts

log = logging.getLogger("ocpihub.outbound")

_SIOCGIFADDR = 0x8915


def local_addresses() -> list[str]:
    """The machine's own interface addresses, read from the kernel (no DNS): a hub listening on every
    interface would call itself through any of them. Linux; elsewhere, an empty list."""
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            with contextlib.suppress(OSError):
                raw = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
                found.append(socket.inet_ntoa(raw[20:24]))
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            found.append(str(ipaddress.IPv6Address(bytes.fromhex(line.split()[0]))))
    return found


def build_policy(config: Config) -> OutboundPolicy:
    wildcard = config.host in ("0.0.0.0", "::", "")
    return policy(allow=config.outbound_allow_ranges, allow_http=config.outbound_allow_http,
                  listen_host=config.host, listen_port=config.port, public_url=config.base_url,
                  local_addresses=local_addresses() if wildcard else ())


def build(config: Config, on_refused: Callable[[Rule], None],
          resolver: Resolver | None = None) -> tuple[OutboundGuard, TlsContexts]:
    guard = OutboundGuard(build_policy(config), resolver=resolver, on_refused=on_refused,
                          resolve_timeout=config.connect_timeout)
    return guard, TlsContexts(config.outbound_ca_file)


def describe(config: Config, outbound: OutboundPolicy) -> dict[str, Any]:
    """The policy in force, for the operator (no secret in it)."""
    return {
        "allow": [str(n) for n in outbound.allow],
        "allow_source": "built-in default" if config.outbound_allow is None else "OCPI_HUB_OUTBOUND_ALLOW",
        "allow_http": outbound.allow_http,
        "refused": "loopback, private, link-local, carrier-grade NAT, multicast, unspecified, broadcast and other "
                   "non-public addresses (in any spelling, also behind a name), outside the allowed ranges; the hub's "
                   "own listener always; schemes other than http(s); user information in URLs",
        "own_listeners": [f"{net}:{port}" for net, port in outbound.own_listeners],
        "own_hosts": sorted(f"{host}:{port}" for host, port in outbound.own_hosts),
        "redirects": "never followed",
        "tls": {"verify": "system CA store" + (f" and {config.outbound_ca_file}" if config.outbound_ca_file else ""),
                "per_platform": "outbound_tls setting (pin_sha256, or verify=false)"},
    }


def announce(config: Config, outbound: OutboundPolicy) -> None:
    """The policy, once, at start-up."""
    allowed = ", ".join(str(n) for n in outbound.allow) or "nothing beyond public addresses"
    if config.outbound_allow is None:
        note = (" (the built-in default for partners on this machine: set OCPI_HUB_OUTBOUND_ALLOW to the ranges "
                "partners may use, or empty for public addresses only)")
    else:
        note = ""
    log.info("outbound policy: the hub calls public addresses and %s%s; plain http %s; its own listener never",
             allowed, note, "allowed" if outbound.allow_http else "refused (https only)",
             extra={"outbound": describe(config, outbound)})
