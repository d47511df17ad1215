"""Admin resource ``/admin/platforms``: list, show, suspend, unsuspend and remove platforms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.endpoints.admin.common import Handler, body_bytes, guarded
from hub.endpoints.ocpi_auth import hub_state
from hub.responses import admin_error, admin_json
from partners import agreements_store, store, strict_json
from partners.model import PlatformSettings
from partners.registration import OperationRefusedError, Registrar
from partners.registry import Platform


async def list_platforms(request: Request) -> Response:
    state = hub_state(request)
    out = []
    for platform_id in await store.list_platform_ids(state.pool):
        details = await store.platform_details(state.pool, platform_id)
        if details is not None:
            out.append(details)
    return admin_json(out)


_MAX_ID = 2**63 - 1  # platforms.id is a PostgreSQL bigint


def _platform_id(request: Request) -> int | None:
    """The id in the path, or None when it cannot name a platform (not digits, or beyond a bigint)."""
    text: str = request.path_params["platform_id"]
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= _MAX_ID:
        return None
    return int(text)


async def get_platform(request: Request) -> Response:
    """A platform with its parties, each with the roaming agreements (not ended) that name it, and when it
    last refused the hub's credentials."""
    pool = hub_state(request).pool
    platform_id = _platform_id(request)
    details = None if platform_id is None else await store.platform_details(pool, platform_id)
    if details is None:
        return admin_error("no such platform", 404)
    agreements = await agreements_store.of_parties(pool, [(p["country_code"], p["party_id"])
                                                          for p in details["parties"]])
    for party in details["parties"]:
        party["agreements"] = agreements.get((party["country_code"], party["party_id"]), [])
    # When the platform last refused the hub's own token (401/403): its outbound token needs a new handshake.
    details["last_outbound_auth_failure"] = await store.outbound_auth_failure(pool, details["id"])
    return admin_json(details)


async def delete_platform(request: Request) -> Response:
    """``DELETE /admin/platforms/{id}``; with ``?notify=true`` the hub first DELETEs its credentials on the
    platform's side (OCPI unregistration), and removes nothing if that fails."""
    state = hub_state(request)
    platform_id = _platform_id(request)
    notify = request.query_params.get("notify", "false").lower()
    if notify not in ("true", "false"):
        return admin_error("notify must be true or false", 400)
    if notify == "true":
        platform = None if platform_id is None else state.registry.snapshot.platforms.get(platform_id)
        if platform is None:
            return admin_error("no such platform", 404)
        try:
            removed = await state.registrar.remove(platform, notify=True)
        except OperationRefusedError as refused:
            # Caught here rather than in ``guarded`` to say the way out, which only this request has.
            return admin_error(f"{refused}; remove it without notify", 409)
        if not removed:
            return admin_error("no such platform", 404)
        return Response(status_code=204)
    if platform_id is None or not await store.delete_platform(state.pool, platform_id):
        return admin_error("no such platform", 404)
    await state.sync.refresh(platforms=[platform_id])
    return Response(status_code=204)


def _as_client(action: Callable[[Registrar, Platform], Awaitable[None]]) -> Handler:
    """``POST /admin/platforms/{id}/rotate`` or ``/refresh``: the hub acts as the platform's OCPI client."""
    async def handler(request: Request) -> Response:
        state = hub_state(request)
        platform_id = _platform_id(request)
        platform = None if platform_id is None else state.registry.snapshot.platforms.get(platform_id)
        if platform is None:
            return admin_error("no such platform", 404)
        # A refusal (parties it may not register, bad roles, a platform that cannot be asked) is answered by
        # ``guarded``; nothing was changed.
        await action(state.registrar, platform)
        return admin_json(await store.platform_details(state.pool, platform.id))
    return handler


def _set_suspended(suspended: bool) -> Handler:
    async def handler(request: Request) -> Response:
        state = hub_state(request)
        platform_id = _platform_id(request)
        if platform_id is None or not await store.set_suspended(state.pool, platform_id, suspended):
            return admin_error("no such platform", 404)
        await state.sync.refresh(platforms=[platform_id])
        return admin_json(await store.platform_details(state.pool, platform_id))
    return handler


def _check_settings(merged: dict[str, Any]) -> None:
    msgspec.convert(merged, PlatformSettings)


async def update_settings(request: Request) -> Response:
    """``PATCH /admin/platforms/{id}/settings``: set (or, with ``null``, clear) per-platform settings;
    unknown or malformed settings are refused with nothing written."""
    state = hub_state(request)
    platform_id = _platform_id(request)
    try:
        changes = strict_json.decode(await body_bytes(request), object)
    except strict_json.InvalidJson as exc:
        return admin_error(f"invalid request body: {exc}", 400)
    if not isinstance(changes, dict):
        return admin_error("invalid request body: expected a JSON object of settings", 400)
    try:
        merged = None if platform_id is None else await store.update_platform_settings(
            state.pool, platform_id, changes, _check_settings)
    except msgspec.ValidationError as exc:
        return admin_error(f"invalid settings: {exc}", 400)
    if merged is None or platform_id is None:
        return admin_error("no such platform", 404)
    await state.sync.refresh(platforms=[platform_id])
    return admin_json(await store.platform_details(state.pool, platform_id))


routes = [
    Route("/admin/platforms", guarded(list_platforms), methods=["GET"]),
    Route("/admin/platforms/{platform_id}", guarded(get_platform), methods=["GET"]),
    Route("/admin/platforms/{platform_id}", guarded(delete_platform), methods=["DELETE"]),
    Route("/admin/platforms/{platform_id}/settings", guarded(update_settings), methods=["PATCH"]),
    Route("/admin/platforms/{platform_id}/suspend", guarded(_set_suspended(True)), methods=["POST"]),
    Route("/admin/platforms/{platform_id}/unsuspend", guarded(_set_suspended(False)), methods=["POST"]),
    Route("/admin/platforms/{platform_id}/rotate", guarded(_as_client(Registrar.rotate)), methods=["POST"]),
    Route("/admin/platforms/{platform_id}/refresh", guarded(_as_client(Registrar.refresh)), methods=["POST"]),
]
