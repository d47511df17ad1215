"""The versions module: ``GET /ocpi/versions`` and ``GET /ocpi/2.2.1`` (version details)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hub.endpoints.ocpi_auth import caller, hub_state
from hub.responses import ocpi_error, ocpi_ok
from partners.errors import HubError
from partners.model import Endpoint, InterfaceRole, Version, VersionDetails
from routing.modules import PREFIX, ROUTED_MODULES, VERSION, hub_endpoint_path


def version_details(base_url: str) -> VersionDetails:
    """Every module the hub offers, one endpoint per interface role, so that a CPO and an eMSP can
    each use the hub exactly as they would use their counterparty."""
    credentials_url = f"{base_url}{PREFIX}/credentials"
    endpoints = [
        Endpoint(identifier="credentials", role=InterfaceRole.RECEIVER, url=credentials_url),
        Endpoint(identifier="credentials", role=InterfaceRole.SENDER, url=credentials_url),
    ]
    endpoints.append(Endpoint(identifier="hubclientinfo", role=InterfaceRole.SENDER,
                              url=f"{base_url}{PREFIX}/hubclientinfo"))
    for module in ROUTED_MODULES:
        for interface in (InterfaceRole.SENDER, InterfaceRole.RECEIVER):
            endpoints.append(
                Endpoint(identifier=module, role=interface, url=base_url + hub_endpoint_path(module, interface))
            )
    return VersionDetails(version=VERSION, endpoints=endpoints)


async def versions(request: Request) -> Response:
    try:
        await caller(request)
    except HubError as error:
        return ocpi_error(request, error)
    base = hub_state(request).config.base_url
    return ocpi_ok(request, [Version(version=VERSION, url=f"{base}{PREFIX}")])


async def details(request: Request) -> Response:
    try:
        await caller(request)
    except HubError as error:
        return ocpi_error(request, error)
    return ocpi_ok(request, version_details(hub_state(request).config.base_url))
