"""The versions module: ``GET /ocpi/versions`` (every version the hub speaks) and ``GET /ocpi/{version}``
(that version's details, ``routing.version_endpoints``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from hub.endpoints.ocpi_auth import caller, hub_state
from hub.responses import ocpi_error, ocpi_ok
from partners.errors import HubError
from partners.model import Version
from routing.version_endpoints import HUB_VERSIONS, version_details, version_path
from routing.versions.version import OcpiVersion


async def versions(request: Request) -> Response:
    try:
        await caller(request)
    except HubError as error:
        return ocpi_error(request, error)
    base = hub_state(request).config.base_url
    return ocpi_ok(request, [Version(version=v.value, url=base + version_path(v)) for v in HUB_VERSIONS])


def details(version: OcpiVersion) -> Callable[[Request], Awaitable[Response]]:
    """The version details endpoint of ``version``."""

    async def endpoint(request: Request) -> Response:
        try:
            await caller(request)
        except HubError as error:
            return ocpi_error(request, error)
        return ocpi_ok(request, version_details(version, hub_state(request).config.base_url))

    return endpoint
