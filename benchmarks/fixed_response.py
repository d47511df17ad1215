"""Ceiling baseline: a raw ASGI app on the same Hypercorn configuration that answers every request
with the same ~1 KB Location, forwarding nothing. No forwarder on this server can beat it.
Run: ``python -m benchmarks.fixed_response PORT``."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from benchmarks.upstream import BODY

HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Any]],
              send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    import uvloop
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{sys.argv[1]}"]
    config.accesslog = None
    uvloop.run(serve(app, config))  # type: ignore[arg-type]
