"""Request bodies of the hub's own endpoints (credentials, admin), read under OCPI_HUB_MAX_BODY_BYTES.

Starlette's ``request.body()`` reads whatever arrives, however large, and raises ``ClientDisconnect``
(an unexpected error: 500) when the caller half-closes in the middle of its body. Here a declared
Content-Length over the limit is refused before a byte is read, a body that grows past the limit is
refused without reading the rest, and a body cut short is the caller's error, not the hub's.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from partners.errors import InvalidJsonError, PayloadTooLargeError


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or :class:`PayloadTooLargeError` (413) / :class:`InvalidJsonError` (400: the body never
    arrived whole, so it never reached the OCPI layer)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise InvalidJsonError("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLargeError(f"request body of {declared} bytes is over the hub's limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"request body is over the hub's limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidJsonError("the request body ended before it was complete") from None
    return b"".join(chunks)
