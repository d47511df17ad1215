"""The outbound policy at the moment of connecting: resolve, check every address, hand back only
checked addresses to connect to, and count and log every refusal.

Both outbound clients ask here on every new connection: the lean forwarding client through
:meth:`OutboundGuard.addresses`, aiohttp (the fallback forwarder and the registration client)
through a resolver and a socket factory (:meth:`OutboundGuard.aiohttp_connector`), the latter also
covering IP literals, for which aiohttp asks no resolver. Pooled connections were checked when they
were opened, so a request on a kept-alive connection costs nothing here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from partners.errors import HubError
from routing.outbound_policy import (
    DEFAULT_ALLOW,
    OutboundPolicy,
    OutboundRefused,
    Rule,
    Target,
    check_address,
    check_url,
    host_address,
    parse_allow,
    safe_url,
    unmapped,
)

log = logging.getLogger("ocpihub.outbound")

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Host name and port to IP address texts (a test injects a stub; the default asks the system)."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class OutboundGuard:
    def __init__(self, policy: OutboundPolicy | None = None, *, resolver: Resolver | None = None,
                 on_refused: Callable[[Rule], None] | None = None, resolve_timeout: float = 5.0) -> None:
        self.policy = policy or OutboundPolicy(allow=parse_allow(DEFAULT_ALLOW))
        self.resolver = resolver or system_resolver
        self.on_refused = on_refused
        self.resolve_timeout = resolve_timeout

    def check_url(self, url: str) -> Target:
        """What can be decided without resolving (scheme, userinfo, an address literal); raises
        :class:`OutboundRefused`."""
        return check_url(url, self.policy)

    async def addresses(self, host: str, port: int, url: str = "") -> list[str]:
        """The addresses to connect to for ``host:port``, every one of them checked: a name that
        resolves to any refused address is refused whole (no choosing the allowed half of an answer an
        attacker controls). Raises :class:`OutboundRefused`, or ``socket.gaierror`` when the name does
        not resolve."""
        url = url or host
        literal = host_address(host)
        found = [literal] if literal is not None else [_address(text) for text in await self.resolver(host, port)]
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, "no address")
        for address in found:
            rule = check_address(address, port, self.policy)
            if rule is not None:
                raise OutboundRefused(rule, url, host, str(address))
        return [str(unmapped(a)) for a in found]

    async def check(self, url: str) -> None:
        """The whole check for a URL the hub will call later (registration, response_url): the URL,
        then every address its host resolves to now. A name that does not resolve (or not in time) is
        let through: the check at connect time decides then."""
        target = self.check_url(url)
        if target.address is None:
            try:
                async with asyncio.timeout(self.resolve_timeout):
                    await self.addresses(target.host, target.port, safe_url(url))
            except (OSError, TimeoutError) as exc:
                if isinstance(exc, OutboundRefused):
                    raise
                log.info("could not resolve %s while checking a partner URL; checked again at connect time",
                         target.host)

    async def check_all(self, urls: Iterable[str]) -> None:
        """:meth:`check` for each URL, resolving each (scheme, host, port) once."""
        seen: set[tuple[str, str, int]] = set()
        for url in urls:
            target = self.check_url(url)
            if (target.scheme, target.host, target.port) not in seen:
                seen.add((target.scheme, target.host, target.port))
                await self.check(url)

    async def require(self, url: str, *, platform: int | None, what: str, error: type[HubError]) -> None:
        """:meth:`check`, with a refusal reported and raised as ``error`` (an OCPI error for the caller)."""
        try:
            await self.check(url)
        except OutboundRefused as refused:
            self.report(refused, platform=platform, what=what)
            raise error(f"{what}: {refused.message}") from None

    def refused_in_header(self, value: str, *, platform: int | None, what: str) -> bool:
        """Whether a Link or Location header names an absolute URL the hub would refuse to call (then it
        is reported here and dropped by the caller). Only what can be decided without resolving: the
        hub never calls these URLs itself, it rebases them onto its own endpoints."""
        for url in _header_urls(value):
            try:
                self.check_url(url)
            except OutboundRefused as refused:
                self.report(refused, platform=platform, what=what)
                return True
        return False

    def report(self, refused: OutboundRefused, *, platform: int | None, what: str) -> None:
        """One log line and one count per refusal: rule, host, address, and on whose behalf. Never the
        URL's query or user information (a partner may have put secrets there), never a token."""
        log.warning("outbound call refused", extra={
            "platform": platform, "rule": refused.rule.value, "host": refused.host,
            "address": refused.address or None, "for": what})
        if self.on_refused is not None:
            self.on_refused(refused.rule)

    # -- aiohttp -----------------------------------------------------------------------------
    def aiohttp_connector(self, *, ssl_context: ssl.SSLContext | None = None, **options: Any) -> aiohttp.TCPConnector:
        """A connector that resolves through :meth:`addresses` and checks the address of every socket
        it opens (IP literals too, which skip the resolver)."""
        return aiohttp.TCPConnector(resolver=_Resolver(self), socket_factory=self._socket, use_dns_cache=False,
                                    ssl=ssl_context if ssl_context is not None else True, **options)

    def _socket(self, addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        address = _address(str(sockaddr[0]))
        rule = check_address(address, int(sockaddr[1]), self.policy)
        if rule is not None:
            raise OutboundRefused(rule, str(address), str(address), str(address))
        return socket.socket(family, type_, proto)


class _Resolver(AbstractResolver):
    def __init__(self, guard: OutboundGuard) -> None:
        self.guard = guard

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        out: list[ResolveResult] = []
        for text in await self.guard.addresses(host, port):
            version = ipaddress.ip_address(text).version
            out.append(ResolveResult(hostname=host, host=text, port=port,
                                     family=socket.AF_INET6 if version == 6 else socket.AF_INET,
                                     proto=0, flags=socket.AI_NUMERICHOST))
        return out

    async def close(self) -> None:
        pass


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def _header_urls(value: str) -> list[str]:
    """The absolute URLs in a Link (``<url>; rel=...``) or Location header; relative ones are the
    hub's to rebase and never leave it."""
    if "<" in value:
        urls = []
        pos = 0
        while (start := value.find("<", pos)) >= 0:
            end = value.find(">", start)
            if end < 0:
                break
            urls.append(value[start + 1:end].strip())
            pos = end
    else:
        urls = [value.strip()]
    return [u for u in urls if "://" in u]
