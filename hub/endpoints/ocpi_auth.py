"""Authentication for the hub's own OCPI modules (versions, credentials), where token A counts."""

from __future__ import annotations

import logging

from starlette.requests import Request

from hub.state import HubState
from partners import store
from partners.errors import UnauthorizedError
from partners.registry import Platform
from partners.tokens import header_token_hashes, token_candidates
from routing.errors import DeniedError

log = logging.getLogger("ocpihub.policy")


def hub_state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


def denied(request: Request, error: DeniedError) -> None:
    """A policy refusal on one of the hub's own modules: counted and logged like a routed one."""
    hub_state(request).metrics.denied(error.rule)
    log.info("refused by the policy", extra={"rule": error.rule, "path": request.url.path,
                                             "method": request.method, "detail": error.message})


async def caller(request: Request) -> tuple[Platform, str]:
    """The platform behind the request's token, registered or merely invited, and the token itself.

    A token this process does not know yet may have been written by another replica a moment ago (a
    partner reading our versions in the middle of a handshake another worker started): on a miss the
    store is asked once, and the platform holding the token re-read into the registry. Routed module
    requests never do this; these configuration endpoints are not the hot path.
    """
    state = hub_state(request)
    header = request.headers.get("authorization")
    if not header:
        raise state.routing.perimeter.auth_failed(request.scope, UnauthorizedError(
            "Authorization header missing: expected 'Token <credentials token>'"))
    raw = header.encode("latin-1")
    platform = state.registry.snapshot.platform_for_header(raw)
    if platform is None:
        state.routing.perimeter.screen(request.scope)  # a blocked address costs no database lookup
        hashes = header_token_hashes(raw)
        platform_id = await store.platform_with_token(state.pool, hashes) if hashes else None
        if platform_id is not None:
            await state.sync.refresh(platforms=[platform_id])
            platform = state.registry.snapshot.platform_for_header(raw)
    if platform is None:
        state.metrics.auth_failed()
        raise state.routing.perimeter.auth_failed(request.scope, UnauthorizedError("unknown credentials token"))
    state.routing.perimeter.admit(platform, request.scope)
    # The token the caller presented, in whichever spelling matched: GET credentials returns it.
    for candidate in token_candidates(raw):
        found = state.registry.snapshot.platform_for_token(candidate.decode("latin-1"))
        if found is not None and found.id == platform.id:
            return platform, candidate.decode("latin-1")
    return platform, ""
