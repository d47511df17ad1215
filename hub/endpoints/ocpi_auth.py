"""Authentication for the hub's own OCPI modules (versions, credentials), where token A counts."""

from __future__ import annotations

from starlette.requests import Request

from hub.state import HubState
from partners.errors import UnauthorizedError
from partners.registry import Platform
from partners.tokens import token_candidates


def hub_state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


def caller(request: Request) -> tuple[Platform, str]:
    """The platform behind the request's token, registered or merely invited, and the token itself."""
    header = request.headers.get("authorization")
    if not header:
        raise UnauthorizedError("Authorization header missing: expected 'Token <credentials token>'")
    raw = header.encode("latin-1")
    state = hub_state(request)
    platform = state.registry.snapshot.platform_for_header(raw)
    if platform is None:
        state.metrics.auth_failed()
        raise UnauthorizedError("unknown credentials token")
    # The token the caller presented, in whichever spelling matched: GET credentials returns it.
    for candidate in token_candidates(raw):
        found = state.registry.snapshot.platform_for_token(candidate.decode("latin-1"))
        if found is not None and found.id == platform.id:
            return platform, candidate.decode("latin-1")
    return platform, ""
