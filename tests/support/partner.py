"""A small but real OCPI 2.2.1 platform for the tests: versions, credentials (both sides of the
handshake), and module endpoints that record what reaches them and answer like a CPO or eMSP would.

It checks the Authorization header on every request, so a test proves the hub used the right token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def envelope(data: Any = None, status_code: int = 1000, message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status_code": status_code, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if data is not None:
        out["data"] = data
    if message is not None:
        out["status_message"] = message
    return out


def token_header(token: str, *, plain: bool = False) -> str:
    return f"Token {token}" if plain else "Token " + base64.b64encode(token.encode()).decode()


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Role:
    role: str
    country_code: str
    party_id: str

    def credentials_role(self) -> dict[str, Any]:
        return {"role": self.role, "country_code": self.country_code, "party_id": self.party_id,
                "business_details": {"name": f"{self.role} {self.country_code}*{self.party_id}"}}


CPO_MODULES = [("locations", "SENDER"), ("sessions", "SENDER"), ("cdrs", "SENDER"), ("tariffs", "SENDER"),
               ("tokens", "RECEIVER"), ("commands", "RECEIVER"), ("chargingprofiles", "RECEIVER"),
               ("hubclientinfo", "RECEIVER")]
EMSP_MODULES = [("locations", "RECEIVER"), ("sessions", "RECEIVER"), ("cdrs", "RECEIVER"),
                ("tariffs", "RECEIVER"), ("tokens", "SENDER"), ("commands", "SENDER"),
                ("chargingprofiles", "SENDER"), ("hubclientinfo", "RECEIVER")]


def location(n: int, cc: str = "NL", pid: str = "CPO") -> dict[str, Any]:
    return {"country_code": cc, "party_id": pid, "id": f"LOC{n}", "publish": True,
            "address": "Main street 1", "city": "Amsterdam", "country": "NLD",
            "coordinates": {"latitude": "52.370", "longitude": "4.890"}, "time_zone": "Europe/Amsterdam",
            "evses": [{"uid": f"EVSE{n}", "status": "AVAILABLE",
                       "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                                       "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16,
                                       "last_updated": "2026-01-01T00:00:00Z"}],
                       "last_updated": "2026-01-01T00:00:00Z"}],
            "last_updated": "2026-01-01T00:00:00Z"}


@dataclass
class FakePlatform:
    name: str
    roles: list[Role]
    modules: list[tuple[str, str]]
    versions: list[str] = field(default_factory=lambda: ["2.2.1"])
    location_count: int = 7
    # Objects of other modules served on their SENDER list endpoint.
    list_counts: dict[str, int] = field(default_factory=lambda: {"cdrs": 5})
    page_size: int = 3
    base_url: str = ""
    # Where the module endpoints live, when not on base_url (a dead port, a misbehaving server).
    module_base: str | None = None
    # Token the hub must present to us, and the token we present to the hub.
    token_for_hub: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    token_to_hub: str | None = None
    hub_endpoints: dict[tuple[str, str], str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    clientinfo: list[Received] = field(default_factory=list)
    # A custom answer per (module, interface): status, body, extra headers.
    answers: dict[tuple[str, str], tuple[int, Any, dict[str, str]]] = field(default_factory=dict)
    # Answer versions and version details the sloppy way: no envelope, a single Version object, details
    # wrapped in a list, plain (not base64) tokens towards the hub.
    sloppy: bool = False
    # Seconds each module request waits before it is answered (a slow receiver).
    delay: float = 0.0
    # Seconds the first request for each path waits before it is answered (later ones do not wait).
    first_delay: float = 0.0
    # Module requests being handled now, per path, and the most there ever were at once for one path.
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: int = 0
    # Callback URLs (response_url) received on commands / charging profiles.
    response_urls: list[str] = field(default_factory=list)
    # Deviations of sloppy real stacks: "no_routing_headers" (answers without OCPI-from/-to), "no_total_count"
    # (paginated answers without X-Total-Count), "refuse_hub" (answers the hub's token with 401 on modules).
    quirks: set[str] = field(default_factory=set)

    # -- server side ------------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/versions", self._versions, methods=["GET"]),
            Route("/2.2.1", self._details, methods=["GET"]),
            Route("/2.2.1/credentials", self._credentials, methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/{iface}/{module}{rest:path}", self._module,
                  methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ])

    def _authorized(self, request: Request) -> bool:
        given = request.headers.get("authorization", "")
        return given in (token_header(self.token_for_hub), token_header(self.token_for_hub, plain=True))

    async def _versions(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse(envelope(status_code=2000, message="unauthorized"), 401)
        versions = [{"version": v, "url": f"{self.base_url}/{v}"} for v in self.versions]
        if self.sloppy:
            return JSONResponse(versions[0] if len(versions) == 1 else versions)
        return JSONResponse(envelope(versions))

    async def _details(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse(envelope(status_code=2000, message="unauthorized"), 401)
        endpoints = [{"identifier": "credentials", "role": "SENDER", "url": f"{self.base_url}/2.2.1/credentials"}]
        base = self.module_base or self.base_url
        endpoints += [{"identifier": m, "role": r, "url": f"{base}/{r.lower()}/{m}"} for m, r in self.modules]
        details = {"version": "2.2.1", "endpoints": endpoints}
        return JSONResponse(envelope([details] if self.sloppy else details))

    async def _credentials(self, request: Request) -> Response:
        """Receiver side of the handshake (the hub registers with us)."""
        if not self._authorized(request):
            return JSONResponse(envelope(status_code=2000, message="unauthorized"), 401)
        if request.method == "POST":
            theirs = json.loads(await request.body())
            self.token_to_hub = theirs["token"]
            await self.discover_hub(theirs["url"])
            self.token_for_hub = secrets.token_urlsafe(16)  # token C replaces A
            return JSONResponse(envelope(self.credentials()))
        if request.method == "DELETE":
            return JSONResponse(envelope())
        return JSONResponse(envelope(self.credentials()))

    def credentials(self) -> dict[str, Any]:
        return {"token": self.token_for_hub, "url": f"{self.base_url}/versions",
                "roles": [r.credentials_role() for r in self.roles]}

    async def _module(self, request: Request) -> Response:
        iface, module, rest = request.path_params["iface"], request.path_params["module"], request.path_params["rest"]
        body = await request.body()
        seen = Received(request.method, request.url.path, request.url.query,
                        {k.lower(): v for k, v in request.headers.items()}, body)
        # ClientInfo pushes arrive whenever the hub sees a change: kept apart from module traffic.
        (self.clientinfo if module == "hubclientinfo" else self.received).append(seen)
        if not self._authorized(request) or "refuse_hub" in self.quirks:
            return JSONResponse(envelope(status_code=2000, message="unauthorized"), 401)
        path = request.url.path
        first = path not in self.in_flight
        self.in_flight[path] = self.in_flight.get(path, 0) + 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight[path])
        try:
            if self.delay or (first and self.first_delay):
                await asyncio.sleep(self.delay + (self.first_delay if first else 0.0))
        finally:
            self.in_flight[path] -= 1
        answer = self.answers.get((module, iface.upper()))
        if answer is not None:
            status, data, headers = answer
            if isinstance(data, bytes):
                return Response(data, status, headers=headers)
            return JSONResponse(data, status, headers=headers)
        reply_headers = {"X-Request-ID": request.headers.get("x-request-id", ""),
                         "X-Correlation-ID": request.headers.get("x-correlation-id", "")}
        if "no_routing_headers" not in self.quirks and "ocpi-from-party-id" in request.headers:
            # A direct response: to = the requesting party, from = us (the party the request was for).
            for side, other in (("from", "to"), ("to", "from")):
                for field_name in ("country-code", "party-id"):
                    reply_headers[f"OCPI-{side}-{field_name}"] = request.headers.get(f"ocpi-{other}-{field_name}", "")
        if "claims_other_party" in self.quirks:
            reply_headers |= {"OCPI-from-country-code": "NL", "OCPI-from-party-id": "CPO",
                              "OCPI-to-country-code": "BE", "OCPI-to-party-id": "XYZ"}
        if module == "locations" and iface == "sender" and request.method == "GET" and rest.strip("/"):
            parts = rest.strip("/").split("/")
            data: Any = location(int(parts[0].removeprefix("LOC")), self.roles[0].country_code,
                                 self.roles[0].party_id)
            if len(parts) >= 2:
                data = data["evses"][0]
            if len(parts) >= 3:
                data = data["connectors"][0]
            return JSONResponse(envelope(data), headers=reply_headers)
        if iface == "sender" and request.method == "GET" and not rest.strip("/"):
            return self._page(module, request, reply_headers)
        if module in ("commands", "chargingprofiles") and iface == "receiver":
            url = request.query_params.get("response_url")
            if url is None and body:
                url = json.loads(body).get("response_url")
            if url:
                self.response_urls.append(url)
            return JSONResponse(envelope({"result": "ACCEPTED", "timeout": 30}), headers=reply_headers)
        if module == "tokens" and iface == "sender" and request.method == "POST":
            return JSONResponse(envelope({"allowed": "ALLOWED", "token": {"uid": rest.split("/")[1]}}),
                                headers=reply_headers)
        return JSONResponse(envelope(), status_code=201 if request.method == "POST" else 200, headers=reply_headers)

    def objects(self, module: str) -> list[dict[str, Any]]:
        me = self.roles[0]
        if module == "locations":
            return [location(n, me.country_code, me.party_id) for n in range(self.location_count)]
        return [{"country_code": me.country_code, "party_id": me.party_id, "id": f"{module.upper()}{n}",
                 "last_updated": "2026-01-01T00:00:00Z"} for n in range(self.list_counts.get(module, 0))]

    def _page(self, module: str, request: Request, reply_headers: dict[str, str]) -> Response:
        """A paginated GET as the spec describes it: X-Total-Count, X-Limit and a Link to the next page."""
        everything = self.objects(module)
        offset = int(request.query_params.get("offset", 0))
        limit = min(int(request.query_params.get("limit", self.page_size)), self.page_size)
        items = everything[offset:offset + limit]
        headers = reply_headers | {"X-Limit": str(self.page_size)}
        if "no_total_count" not in self.quirks:
            headers["X-Total-Count"] = str(len(everything))
        if offset + limit < len(everything):
            base = self.module_base or self.base_url
            next_url = f"{base}/sender/{module}?offset={offset + limit}&limit={limit}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return JSONResponse(envelope(items), headers=headers)

    # -- client side ------------------------------------------------------------------------
    async def discover_hub(self, versions_url: str) -> None:
        async with aiohttp.ClientSession() as http:
            auth = {"Authorization": token_header(self.token_to_hub or "")}
            async with http.get(versions_url, headers=auth) as r:
                versions = (await r.json())["data"]
            url = next(v["url"] for v in versions if v["version"] == "2.2.1")
            async with http.get(url, headers=auth) as r:
                details = (await r.json())["data"]
        self.hub_endpoints = {(e["identifier"], e["role"]): e["url"] for e in details["endpoints"]}

    async def register_with(self, versions_url: str, token_a: str) -> dict[str, Any]:
        """Partner-initiated registration: POST our credentials to the hub with its token A."""
        self.token_to_hub = token_a
        await self.discover_hub(versions_url)
        async with aiohttp.ClientSession() as http:
            async with http.post(self.hub_endpoints[("credentials", "SENDER")], json=self.credentials(),
                                 headers={"Authorization": token_header(token_a, plain=self.sloppy)}) as r:
                answer: dict[str, Any] = await r.json()
                assert r.status == 200, answer
        self.token_to_hub = answer["data"]["token"]
        return answer

    async def update_credentials(self) -> dict[str, Any]:
        """Credentials PUT: a fresh token B for the hub, and the hub's new token C for us."""
        self.token_for_hub = secrets.token_urlsafe(16)
        async with aiohttp.ClientSession() as http, http.put(
            self.hub_endpoints[("credentials", "SENDER")], json=self.credentials(),
            headers={"Authorization": token_header(self.token_to_hub or "")},
        ) as r:
            answer: dict[str, Any] = await r.json()
            assert r.status == 200 and answer["status_code"] == 1000, answer
        self.token_to_hub = answer["data"]["token"]
        return answer

    def party(self, index: int = 0) -> Role:
        return self.roles[index]

    async def raw(self, method: str, target: str, *, to: Role | tuple[str, str] | None = None,
                  body: Any = None, token: str | None = None) -> tuple[int, dict[str, str], Any]:
        """A request whose target goes on the wire exactly as written (``..``, ``%2e``, odd methods):
        HTTP clients normalise paths, so this one writes the request line itself."""
        base = self.hub_endpoints[("credentials", "SENDER")].split("/ocpi/", 1)[0]
        me = self.roles[0]
        headers = {"Authorization": token_header(token or self.token_to_hub or ""),
                   "OCPI-from-country-code": me.country_code, "OCPI-from-party-id": me.party_id}
        if to is not None:
            cc, pid = (to.country_code, to.party_id) if isinstance(to, Role) else to
            headers |= {"OCPI-to-country-code": cc, "OCPI-to-party-id": pid}
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        return await raw_request(base, method, target, headers, data)

    async def call(
        self,
        method: str,
        module: str,
        interface: str,
        suffix: str = "",
        *,
        to: Role | tuple[str, str] | None = None,
        sender: Role | None = None,
        body: Any = None,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
        url: str | None = None,
        token: str | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """A request to the hub's endpoint for module/interface, with routing headers."""
        endpoint = self.hub_endpoints[(module, interface)] if url is None else ""
        # The hub's endpoint URLs end in '/'; this partner joins a suffix with exactly one slash, and
        # calls a collection without a trailing slash.
        target = url or (endpoint.rstrip("/") + suffix if not suffix or suffix.startswith(("/", "?"))
                         else endpoint + suffix)
        h = {"Authorization": token_header(token or self.token_to_hub or ""),
             "X-Request-ID": secrets.token_hex(8), "X-Correlation-ID": secrets.token_hex(8)}
        me = sender or self.roles[0]
        h["OCPI-from-country-code"], h["OCPI-from-party-id"] = me.country_code, me.party_id
        if to is not None:
            cc, pid = (to.country_code, to.party_id) if isinstance(to, Role) else to
            h["OCPI-to-country-code"], h["OCPI-to-party-id"] = cc, pid
        h |= headers or {}
        h = {k: v for k, v in h.items() if v is not None}
        data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        async with aiohttp.ClientSession() as http, http.request(method, target, data=data, headers=h,
                                                                 allow_redirects=False) as r:
            raw = await r.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw
            got = {k.lower(): v for k, v in r.headers.items()}
            # What we sent, for tests that compare ids end to end.
            got["_sent_request_id"] = h.get("X-Request-ID", "")
            got["_sent_correlation_id"] = h.get("X-Correlation-ID", "")
            return r.status, got, payload


async def raw_request(base_url: str, method: str, target: str, headers: dict[str, str],
                      body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    """One HTTP/1.1 request over loopback with the request line written verbatim; (status, headers, body)."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        head = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
                f"Content-Length: {len(body or b'')}", *(f"{k}: {v}" for k, v in headers.items())]
        writer.write("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + (body or b""))
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(-1), 10)
    finally:
        writer.close()
    head_bytes, _, payload = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    got = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if got.get("transfer-encoding") == "chunked":
        chunks, rest = [], payload
        while rest:
            size_text, _, rest = rest.partition(b"\r\n")
            size = int(size_text, 16)
            if not size:
                break
            chunks.append(rest[:size])
            rest = rest[size + 2:]
        payload = b"".join(chunks)
    try:
        return status, got, json.loads(payload)
    except ValueError:
        return status, got, payload


def cpo(name: str, cc: str = "NL", pid: str = "CPO", **kw: Any) -> FakePlatform:
    return FakePlatform(name=name, roles=[Role("CPO", cc, pid)], modules=list(CPO_MODULES), **kw)


def emsp(name: str, cc: str = "DE", pid: str = "MSP", **kw: Any) -> FakePlatform:
    return FakePlatform(name=name, roles=[Role("EMSP", cc, pid)], modules=list(EMSP_MODULES), **kw)
