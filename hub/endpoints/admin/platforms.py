"""Admin resource ``/admin/platforms``: list, show, suspend, unsuspend and remove platforms."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.endpoints.admin.common import Handler, guarded
from hub.endpoints.ocpi_auth import hub_state
from hub.responses import admin_error, admin_json
from partners import store
from partners.model import ConnectionStatus


async def list_platforms(request: Request) -> Response:
    state = hub_state(request)
    out = []
    for platform_id in await store.list_platform_ids(state.pool):
        details = await store.platform_details(state.pool, platform_id)
        if details is not None:
            out.append(details)
    return admin_json(out)


def _platform_id(request: Request) -> int | None:
    try:
        return int(request.path_params["platform_id"])
    except ValueError:
        return None


async def get_platform(request: Request) -> Response:
    platform_id = _platform_id(request)
    details = None if platform_id is None else await store.platform_details(hub_state(request).pool, platform_id)
    if details is None:
        return admin_error("no such platform", 404)
    return admin_json(details)


async def delete_platform(request: Request) -> Response:
    state = hub_state(request)
    platform_id = _platform_id(request)
    if platform_id is None or not await store.delete_platform(state.pool, platform_id):
        return admin_error("no such platform", 404)
    await state.sync.reload()
    return Response(status_code=204)


def _set_status(status: ConnectionStatus) -> Handler:
    async def handler(request: Request) -> Response:
        state = hub_state(request)
        platform_id = _platform_id(request)
        if platform_id is None or not await store.set_status(state.pool, platform_id, status):
            return admin_error("no such platform", 404)
        await state.sync.reload()
        return admin_json(await store.platform_details(state.pool, platform_id))
    return handler


routes = [
    Route("/admin/platforms", guarded(list_platforms), methods=["GET"]),
    Route("/admin/platforms/{platform_id}", guarded(get_platform), methods=["GET"]),
    Route("/admin/platforms/{platform_id}", guarded(delete_platform), methods=["DELETE"]),
    Route("/admin/platforms/{platform_id}/suspend", guarded(_set_status(ConnectionStatus.SUSPENDED)),
          methods=["POST"]),
    Route("/admin/platforms/{platform_id}/unsuspend", guarded(_set_status(ConnectionStatus.CONNECTED)),
          methods=["POST"]),
]
