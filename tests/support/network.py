"""A test's small OCPI world: one hub (or two), and the fake platforms around it, all over HTTP."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, TypeVar

import aiohttp
from starlette.applications import Starlette

from hub.app import HubApp
from hub.config import load
from routing.outbound_guard import Resolver
from tests.support.partner import FakePlatform
from tests.support.servers import free_port, served

# Every hub of a test shares one secrets key, as replicas of one deployment do.
TEST_SECRETS_KEY = "c2VjcmV0cy1rZXktb2YtdGhlLXRlc3Qtc3VpdGUtMzI="


class Servable(Protocol):
    """A fake platform: an app to serve, told its base URL."""

    base_url: str

    def app(self) -> Starlette: ...


P = TypeVar("P", bound=Servable)


@dataclass
class RunningHub:
    app: HubApp
    base_url: str
    admin_token: str

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    async def admin(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        async with aiohttp.ClientSession() as http, http.request(
            method, self.base_url + path, json=body, headers=headers
        ) as r:
            raw = await r.read()
            return r.status, (await r.json(content_type=None)) if raw else None

    async def admin_raw(self, method: str, path: str, data: bytes, content_type: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.admin_token}", "Content-Type": content_type}
        async with aiohttp.ClientSession() as http, http.request(
            method, self.base_url + path, data=data, headers=headers
        ) as r:
            return r.status, await r.json(content_type=None)

    async def invite(self, name: str = "test") -> str:
        status, body = await self.admin("POST", "/admin/invitations", {"name": name})
        assert status == 201, body
        token: str = body["token"]
        return token


class Network:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.stack = contextlib.AsyncExitStack()
        self._partner_stacks: dict[int, contextlib.AsyncExitStack] = {}

    async def hub(self, log_stream: BinaryIO | None = None, resolver: Resolver | None = None,
                  **settings: Any) -> RunningHub:
        port = free_port()
        config = load({}, port=port, host="127.0.0.1", **({"secrets_key": TEST_SECRETS_KEY} | settings))
        admin_token = secrets.token_urlsafe(12)
        app = HubApp(config, self.dsn, admin_token=admin_token, log_stream=log_stream, resolver=resolver)
        base = await self.stack.enter_async_context(served(app, port))
        return RunningHub(app, base, admin_token)

    async def partner(self, platform: P, host: str = "127.0.0.1", *, name: str | None = None,
                      tls: tuple[str, str] | None = None) -> P:
        """Serve ``platform`` on ``host``; it calls itself ``name`` in its URLs when given (a name the
        test's resolver stub maps to ``host``), over https when ``tls`` (certificate, key files) is."""
        port = free_port(host)
        platform.base_url = f"{'https' if tls else 'http'}://{name or host}:{port}"
        await self._serve_partner(platform, port, host, tls)
        return platform

    async def _serve_partner(self, platform: Servable, port: int, host: str = "127.0.0.1",
                             tls: tuple[str, str] | None = None) -> None:
        own = contextlib.AsyncExitStack()
        await own.enter_async_context(served(platform.app(), port, host, tls))
        self._partner_stacks[id(platform)] = own
        self.stack.push_async_callback(self._stop_if_running, platform)

    async def _stop_if_running(self, platform: Servable) -> None:
        own = self._partner_stacks.pop(id(platform), None)
        if own is not None:
            await own.aclose()

    async def stop_partner(self, platform: Servable) -> None:
        """Take a partner off the network (its port then refuses connections)."""
        await self._stop_if_running(platform)

    async def restart_partner(self, platform: Servable) -> None:
        """Bring a stopped partner back on the same port."""
        await self._serve_partner(platform, int(platform.base_url.rsplit(":", 1)[1]))

    async def registered(self, hub: RunningHub, platform: FakePlatform) -> FakePlatform:
        """Serve ``platform`` and register it with the hub the usual way (partner-initiated)."""
        await self.partner(platform)
        await platform.register_with(hub.versions_url, await hub.invite(platform.name))
        return platform

    async def close(self) -> None:
        await self.stack.aclose()
