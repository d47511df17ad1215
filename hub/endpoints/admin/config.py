"""Admin resource ``/admin/config``: the settings in force that an operator checks from outside (for
now the outbound address policy and TLS), never a secret."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub import outbound
from hub.endpoints.admin.common import guarded
from hub.endpoints.ocpi_auth import hub_state
from hub.responses import admin_json


async def get_config(request: Request) -> Response:
    state = hub_state(request)
    return admin_json({"outbound": outbound.describe(state.config, state.forwarder.guard.policy)})


routes = [
    Route("/admin/config", guarded(get_config), methods=["GET"]),
]
