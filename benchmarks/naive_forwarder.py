"""Baseline (b): the forwarder anyone would write first. Starlette on Hypercorn, target from a
dict, a plain HTTP client to forward, no auth, no OCPI rules, no metrics, no logs.
Run: ``python -m benchmarks.naive_forwarder aiohttp|httpx PORT UPSTREAM_BASE``."""

from __future__ import annotations

import sys
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TARGETS: dict[tuple[str, str], str] = {}
client: Any = None
CLIENT = "aiohttp"


async def forward(request: Request) -> Response:
    global client
    key = (request.headers.get("ocpi-to-country-code", ""), request.headers.get("ocpi-to-party-id", ""))
    url = TARGETS[key] + "/" + request.path_params["rest"]
    body = await request.body()
    headers = {"Content-Type": "application/json"}
    if CLIENT == "httpx":
        import httpx

        if client is None:
            client = httpx.AsyncClient(limits=httpx.Limits(max_connections=100, max_keepalive_connections=100))
        r = await client.request(request.method, url, content=body, headers=headers)
        return Response(r.content, r.status_code, media_type="application/json")
    import aiohttp

    if client is None:
        client = aiohttp.ClientSession()
    async with client.request(request.method, url, data=body, headers=headers) as upstream:
        return Response(await upstream.read(), upstream.status, media_type="application/json")


def build(upstream_base: str) -> Starlette:
    TARGETS[("NL", "CPO")] = upstream_base
    TARGETS[("DE", "MSP")] = upstream_base
    return Starlette(routes=[Route("/ocpi/2.2.1/{iface}/{module}/{rest:path}", forward,
                                   methods=["GET", "PUT", "POST", "PATCH", "DELETE"])])


if __name__ == "__main__":
    import uvloop
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    CLIENT = sys.argv[1]
    config = Config()
    config.bind = [f"127.0.0.1:{sys.argv[2]}"]
    config.accesslog = None
    uvloop.run(serve(build(sys.argv[3]), config))  # type: ignore[arg-type]
