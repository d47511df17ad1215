"""Fake OCPI platforms of each version that roam: they serve their own objects (paginated or, like
OCN-era 2.2 stacks, all at once), answer commands and authorizations in their version's shapes, record
every request that reaches them with all its headers, and call the hub's module endpoints of their
version the way stacks of that version do (2.1.1: no routing headers, plain token).

Built on :class:`tests.support.versioned_partner.VersionedPartner`, which does their registration.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from starlette.requests import Request
from starlette.responses import Response

from routing.versions import codec
from tests.support.partner import Role, envelope
from tests.support.versioned_partner import VersionedPartner, header


@dataclass
class Call:
    """A request that reached the fake."""

    method: str
    module: str
    rest: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(codec.encode(data), status, headers=headers, media_type="application/json")


@dataclass
class RoamingPartner(VersionedPartner):
    # The party's own objects, per module, in its version (served on its SENDER endpoints).
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Objects per page; None: every object at once, no X-Total-Count, no Link (OCN-era 2.2 stacks).
    page_size: int | None = 2
    # What its commands endpoint answers (the CPO's direct answer), and its real-time authorizations.
    command_answer: dict[str, Any] = field(default_factory=lambda: {"result": "ACCEPTED", "timeout": 30})
    authorization: dict[str, Any] | None = None
    calls: list[Call] = field(default_factory=list)

    # -- server side ------------------------------------------------------------------------
    async def _module(self, request: Request) -> Response:
        seen = await self._record(request)
        path = request.url.path
        version = next((v for v in self.versions if path.startswith(f"/{v}/")), None)
        if version is None:
            return self._not_found()
        module, _, rest = path[len(version) + 2:].partition("/")
        call = Call(request.method, module, rest.strip("/"), dict(parse_qsl(request.url.query)),
                    {k.lower(): v for k, v in request.headers.items()}, seen.body)
        if module != "hubclientinfo":
            self.calls.append(call)
        if (request.method == "PATCH" and self.html_404) or module not in (*self._modules(), "hubclientinfo"):
            return self._not_found()
        if not self._accepted(seen.authorization, self.accepts):
            return self._refuse()
        if module == "commands" and request.method == "POST" and "/" not in call.rest and self.party.role == "CPO":
            return _json(envelope(self.command_answer))
        if module == "tokens" and call.rest.endswith("/authorize") and self.authorization is not None:
            return _json(envelope(self.authorization))
        if request.method == "GET" and module in self.objects:
            return self._get(call, version)
        return _json(envelope(), 201 if request.method == "POST" else 200)

    def endpoints(self, version: str) -> list[dict[str, str]]:
        out = super().endpoints(version)
        for endpoint in out:
            if endpoint["identifier"] == "payments":  # the PTP owns payments (SENDER), the CPO receives them
                endpoint["role"] = "SENDER" if self.party.role == "PTP" else "RECEIVER"
        return out

    def _modules(self) -> tuple[str, ...]:
        return ("locations", "sessions", "cdrs", "tariffs", "tokens", "commands", *self.extra_modules)

    def _get(self, call: Call, version: str) -> Response:
        everything = self.objects[call.module]
        rest = call.rest
        if call.module == "payments":  # terminals/{id}: its objects are Terminals
            rest = rest.partition("/")[2]
        if rest:
            wanted = rest.split("/")[0]
            found = next((o for o in everything if wanted in (o.get("id"), o.get("uid"), o.get("terminal_id"))), None)
            if found is None:
                return _json(envelope(status_code=2003, message="unknown object"), 404)
            return _json(envelope(found))
        if self.page_size is None:
            return _json(envelope(everything))
        offset = int(call.query.get("offset", 0))
        limit = min(int(call.query.get("limit", self.page_size)), self.page_size)
        headers = {"X-Total-Count": str(len(everything)), "X-Limit": str(self.page_size)}
        if offset + limit < len(everything):
            next_query = urlencode({"offset": offset + limit, "limit": limit})
            headers["Link"] = f'<{self.base_url}/{version}/{call.module}?{next_query}>; rel="next"'
        return _json(envelope(everything[offset:offset + limit]), headers=headers)

    def calls_to(self, module: str, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.module == module and (method is None or c.method == method)]

    # -- client side ------------------------------------------------------------------------
    def _routing(self, to: Role | None) -> dict[str, str]:
        """The headers a stack of this version sends beside its token: none in 2.1.1."""
        if self.version == "2.1.1":
            return {}
        me = self.party
        headers = {"X-Request-ID": secrets.token_hex(8), "X-Correlation-ID": secrets.token_hex(8),
                   "OCPI-from-country-code": me.country_code, "OCPI-from-party-id": me.party_id}
        if to is not None:
            headers |= {"OCPI-to-country-code": to.country_code, "OCPI-to-party-id": to.party_id}
        return headers

    def hub_url(self, module: str, interface: str | None = None) -> str:
        """The hub's endpoint of ``module`` as its version details list it (2.1.1: no interface role)."""
        return self.hub_endpoints[(module, None if self.version == "2.1.1" else interface)]

    async def call(self, method: str, module: str, suffix: str = "", *, interface: str | None = None,
                   body: Any = None, to: Role | None = None, query: dict[str, Any] | None = None,
                   url: str | None = None) -> tuple[int, dict[str, str], Any]:
        """A request to the hub's module endpoint, built as partner libraries do: ``{endpoint}{suffix}``."""
        target = url or self.hub_url(module, interface) + suffix
        if query:
            target += "?" + urlencode(query)
        headers = {"Authorization": header(self.token_to_hub or "", self.sends)} | self._routing(to)
        data = codec.encode(body) if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with aiohttp.ClientSession() as http, http.request(method, target, data=data, headers=headers,
                                                                 allow_redirects=False) as r:
            raw = await r.read()
            got = {k.lower(): v for k, v in r.headers.items()}
            try:
                return r.status, got, json.loads(raw)
            except ValueError:
                return r.status, got, raw

    async def post_result(self, response_url: str, result: dict[str, Any], to: Role | None = None) -> tuple[int, Any]:
        """An asynchronous command result to the ``response_url`` it was given (OCN-era stacks add the
        reversed routing headers and a fresh correlation id; 2.1.1 stacks nothing)."""
        headers = {"Authorization": header(self.token_to_hub or "", self.sends), "Content-Type": "application/json",
                   **self._routing(to)}
        async with aiohttp.ClientSession() as http, http.post(response_url, data=codec.encode(result),
                                                              headers=headers) as r:
            return r.status, await r.json(content_type=None)


def roaming_2_1_1(name: str, cc: str, pid: str, role: str, **kw: Any) -> RoamingPartner:
    """A 2.1.1 stack: flat credentials, plain tokens both ways, no routing headers, endpoints without roles."""
    return RoamingPartner(name=name, versions=["2.1.1"], party=Role(role, cc, pid), sends="plain", accepts="plain",
                          refusal=(403, {"detail": "Invalid token"}), credentials_role=None,
                          command_answer={"result": "ACCEPTED"}, **kw)


def roaming_ocn_2_2(name: str, cc: str, pid: str, role: str, **kw: Any) -> RoamingPartner:
    """An OCN-era 2.2 client stack: exact-match plain tokens, no credentials endpoint of its own, no
    pagination, HTML 404s (PATCH included), a CommandResponse whose message is a plain string."""
    return RoamingPartner(name=name, versions=["2.2"], party=Role(role, cc, pid), sends="plain", accepts="plain",
                          has_credentials=False, html_404=True, page_size=None,
                          refusal=(401, envelope(status_code=4001, message="Unauthorized")),
                          command_answer={"result": "ACCEPTED", "timeout": 30, "message": "Command sent"}, **kw)


def roaming_2_3_0(name: str, cc: str, pid: str, role: str, **kw: Any) -> RoamingPartner:
    return RoamingPartner(name=name, versions=["2.2.1", "2.3.0"], party=Role(role, cc, pid), sends="base64",
                          accepts="base64", **kw)
