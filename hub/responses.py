"""Responses of the hub's own endpoints: the OCPI envelope and the admin API's JSON."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from partners.errors import HubError
from routing import envelope

_encoder = msgspec.json.Encoder()


def _ids(request: Request) -> dict[str, str]:
    return {
        "X-Request-ID": request.headers.get("x-request-id") or str(uuid.uuid4()),
        "X-Correlation-ID": request.headers.get("x-correlation-id") or str(uuid.uuid4()),
    }


def ocpi_ok(
    request: Request, data: Any = None, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        envelope.success_body(data), status_code=status, media_type="application/json",
        headers=_ids(request) | (headers or {}),
    )


def ocpi_error(request: Request, error: HubError) -> Response:
    extra = {name.decode("latin-1"): value.decode("latin-1") for name, value in error.headers()}
    return Response(
        envelope.error_body(error), status_code=error.http_status, media_type="application/json",
        headers=_ids(request) | extra,
    )


def admin_json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(data), status_code=status, media_type="application/json", headers=headers)


def admin_error(message: str, status: int, *, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    response = admin_json({"error": message, **extra}, status)
    response.headers.update(headers or {})
    return response
