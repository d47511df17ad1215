"""Fake OCPI platforms of each version, with the habits real stacks of that version have on the wire:
the hub's registration, token spellings and credentials are tested against them.

* :func:`stack_2_1_1`: flat credentials, plain tokens both ways, no roles on endpoints, 403 with a
  non-OCPI body for a token it does not know; optionally one that base64-decodes whatever arrives on
  its version-less ``/versions`` endpoint (and compares plain everywhere else).
* :func:`stack_ocn_2_2`: an OCN-era 2.2 client stack: version ``2.2`` only, plain tokens compared as
  exact strings (a base64 header gets 401 with 4001), no credentials endpoint of its own, HTML 404s,
  and it looks the hub's credentials endpoint up with role SENDER.
* :func:`stack_2_3_0`: a 2.3.0 platform (also offering 2.2.1) with its own credentials endpoint.

Every request that reaches it is recorded with its Authorization header, so a test proves what the
hub sent.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.support.partner import Role, envelope

Spelling = Literal["plain", "base64", "either", "decode"]
"""How a fake checks a token: the header must spell it plain, or base64, or either way; ``decode``:
base64-decode whatever arrives (leniently, as the quirky 2.1.1 stacks do) and compare."""

MODULES_2_1_1 = ("locations", "sessions", "cdrs", "tariffs", "tokens", "commands")


def header(token: str, spelling: Literal["plain", "base64"]) -> str:
    return f"Token {token}" if spelling == "plain" else "Token " + base64.b64encode(token.encode()).decode()


@dataclass
class Seen:
    method: str
    path: str
    authorization: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class VersionedPartner:
    name: str
    versions: list[str]
    party: Role
    sends: Literal["plain", "base64"] = "base64"
    accepts: Spelling = "either"
    versions_accepts: Spelling | None = None
    has_credentials: bool = True
    html_404: bool = False
    refusal: tuple[int, Any] = (401, envelope(status_code=2002, message="unknown token"))
    # The role under which it looks up the hub's credentials endpoint (None: any).
    credentials_role: str | None = "SENDER"
    # Seconds its versions endpoint waits before answering (to hold registrations in flight).
    versions_delay: float = 0.0
    base_url: str = ""
    token_for_hub: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    token_to_hub: str | None = None
    hub_versions_url: str = ""
    hub_endpoints: dict[tuple[str, str | None], str] = field(default_factory=dict)
    hub_credentials: dict[str, Any] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    extra_modules: list[str] = field(default_factory=list)
    unregistered: bool = False

    @property
    def version(self) -> str:
        return self.versions[-1]

    # -- server side ------------------------------------------------------------------------
    def app(self) -> Starlette:
        routes = [Route("/versions", self._versions, methods=["GET"])]
        for version in self.versions:
            routes.append(Route(f"/{version}", self._details(version), methods=["GET"]))
            if self.has_credentials:
                routes.append(Route(f"/{version}/credentials", self._credentials(version),
                                    methods=["GET", "POST", "PUT", "DELETE"]))
        routes.append(Route("/{rest:path}", self._module, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
        return Starlette(routes=routes)

    def _not_found(self) -> Response:
        if self.html_404:
            return HTMLResponse("<html><body><h1>404 Not Found</h1></body></html>", 404)
        return JSONResponse(envelope(status_code=2000, message="not found"), 404)

    async def _record(self, request: Request) -> Seen:
        seen = Seen(request.method, request.url.path, request.headers.get("authorization", ""), await request.body())
        self.seen.append(seen)
        return seen

    def _accepted(self, given: str, spelling: Spelling) -> bool:
        token = self.token_for_hub
        if spelling == "decode":
            _, _, value = given.partition(" ")
            try:
                return base64.b64decode(value).decode("latin-1") == token
            except (binascii.Error, ValueError):
                return False
        allowed = {"plain": [header(token, "plain")], "base64": [header(token, "base64")],
                   "either": [header(token, "plain"), header(token, "base64")]}[spelling]
        return given in allowed

    def _refuse(self) -> Response:
        status, body = self.refusal
        return JSONResponse(body, status)

    async def _versions(self, request: Request) -> Response:
        seen = await self._record(request)
        if not self._accepted(seen.authorization, self.versions_accepts or self.accepts):
            return self._refuse()
        if self.versions_delay:
            await asyncio.sleep(self.versions_delay)
        return JSONResponse(envelope([{"version": v, "url": f"{self.base_url}/{v}"} for v in self.versions]))

    def _details(self, version: str) -> Any:
        async def endpoint(request: Request) -> Response:
            seen = await self._record(request)
            if not self._accepted(seen.authorization, self.accepts):
                return self._refuse()
            return JSONResponse(envelope({"version": version, "endpoints": self.endpoints(version)}))
        return endpoint

    def endpoints(self, version: str) -> list[dict[str, str]]:
        base = f"{self.base_url}/{version}"
        modules = [*(MODULES_2_1_1 if version == "2.1.1" else (*MODULES_2_1_1, "hubclientinfo")),
                   *self.extra_modules]
        if version == "2.1.1":
            out = [{"identifier": m, "url": f"{base}/{m}"} for m in modules]
            if self.has_credentials:
                out.insert(0, {"identifier": "credentials", "url": f"{base}/credentials"})
            return out
        sender = self.party.role == "CPO"
        out = [{"identifier": m, "role": "RECEIVER" if m == "hubclientinfo" or (m in ("tokens", "commands")) == sender
                else "SENDER", "url": f"{base}/{m}"} for m in modules]
        if self.has_credentials:
            out.insert(0, {"identifier": "credentials", "role": "SENDER", "url": f"{base}/credentials"})
        return out

    def _credentials(self, version: str) -> Any:
        """Server side of the handshake: the hub registers with us (POST), updates (PUT), unregisters."""
        async def endpoint(request: Request) -> Response:
            seen = await self._record(request)
            if not self._accepted(seen.authorization, self.accepts):
                return self._refuse()
            if request.method in ("POST", "PUT"):
                self.hub_credentials = seen.json()
                self.token_to_hub = self.hub_credentials["token"]
                self.hub_versions_url = self.hub_credentials["url"]
                await self.discover_hub(self.hub_credentials["url"], version)
                self.token_for_hub = secrets.token_urlsafe(16)
                self.unregistered = False
                return JSONResponse(envelope(self.credentials(version)))
            if request.method == "DELETE":
                self.unregistered = True
                return JSONResponse(envelope())
            return JSONResponse(envelope(self.credentials(version)))
        return endpoint

    async def _module(self, request: Request) -> Response:
        seen = await self._record(request)
        known = [e["url"] for v in self.versions for e in self.endpoints(v) if e["identifier"] != "credentials"]
        if (request.method == "PATCH" and self.html_404) or not any(
                str(request.url).startswith(url) for url in known):
            return self._not_found()
        if not self._accepted(seen.authorization, self.accepts):
            return self._refuse()
        return JSONResponse(envelope())

    def credentials(self, version: str | None = None) -> dict[str, Any]:
        version = version or self.version
        me = self.party
        out: dict[str, Any] = {"token": self.token_for_hub, "url": f"{self.base_url}/versions"}
        details = {"name": f"{self.name}"}
        if version == "2.1.1":
            return out | {"business_details": details, "party_id": me.party_id, "country_code": me.country_code}
        return out | {"roles": [{"role": me.role, "business_details": details, "party_id": me.party_id,
                                 "country_code": me.country_code}]}

    def pushes(self) -> list[Seen]:
        return [s for s in self.seen if "/hubclientinfo" in s.path]

    def auth_on(self, path_part: str) -> list[str]:
        return [s.authorization for s in self.seen if path_part in s.path]

    # -- client side ------------------------------------------------------------------------
    def _auth(self) -> dict[str, str]:
        return {"Authorization": header(self.token_to_hub or "", self.sends)}

    async def discover_hub(self, versions_url: str, version: str | None = None) -> None:
        """Read the hub's versions and details the way this stack does: exact version match."""
        version = version or self.version
        async with aiohttp.ClientSession() as http:
            async with http.get(versions_url, headers=self._auth()) as r:
                listed = (await r.json())["data"]
            url = next(v["url"] for v in listed if v["version"] == version)
            async with http.get(url, headers=self._auth()) as r:
                details = (await r.json())["data"]
        self.hub_endpoints = {(e["identifier"], e.get("role")): e["url"] for e in details["endpoints"]}

    def hub_credentials_url(self) -> str:
        return self.hub_endpoints[("credentials", self.credentials_role if self.version != "2.1.1" else None)]

    async def send_credentials(self, method: str, token: str, version: str | None = None) -> tuple[int, Any]:
        """POST or PUT our credentials to the hub's credentials endpoint of ``version``, with ``token``
        (read from the hub's version details first, as a client does)."""
        version = version or self.version
        self.token_to_hub = token
        await self.discover_hub(self.hub_versions_url, version)
        async with aiohttp.ClientSession() as http, http.request(
            method, self.hub_credentials_url(), json=self.credentials(version), headers=self._auth(),
        ) as r:
            body = await r.json(content_type=None)
            return r.status, body

    async def register_with(self, versions_url: str, token_a: str) -> dict[str, Any]:
        """Partner-initiated registration in our highest version; keeps the token C the hub answers."""
        self.hub_versions_url = versions_url
        status, answer = await self.send_credentials("POST", token_a)
        assert status == 200 and answer["status_code"] == 1000, answer
        self.hub_credentials = answer["data"]
        self.token_to_hub = answer["data"]["token"]
        return dict(answer)

    async def get(self, url: str, token: str | None = None) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http, http.get(
            url, headers={"Authorization": header(token or self.token_to_hub or "", self.sends)}
        ) as r:
            return r.status, await r.json(content_type=None)


def stack_2_1_1(name: str, cc: str = "DE", pid: str = "OLD", role: str = "CPO", *,
                decodes_on_versions: bool = False) -> VersionedPartner:
    return VersionedPartner(name=name, versions=["2.1.1"], party=Role(role, cc, pid), sends="plain", accepts="plain",
                            versions_accepts="decode" if decodes_on_versions else None,
                            refusal=(403, {"detail": "Invalid token"}), credentials_role=None)


def stack_ocn_2_2(name: str, cc: str = "CH", pid: str = "OCN", role: str = "CPO") -> VersionedPartner:
    return VersionedPartner(name=name, versions=["2.2"], party=Role(role, cc, pid), sends="plain", accepts="plain",
                            has_credentials=False, html_404=True,
                            refusal=(401, envelope(status_code=4001, message="Unauthorized")))


def stack_2_3_0(name: str, cc: str = "FR", pid: str = "NEW", role: str = "EMSP", **kw: Any) -> VersionedPartner:
    return VersionedPartner(name=name, versions=["2.2.1", "2.3.0"], party=Role(role, cc, pid), sends="base64",
                            accepts="base64", **kw)
