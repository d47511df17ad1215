"""Authentication for the hub's own OCPI modules (versions, credentials), where token A counts."""

from __future__ import annotations

import base64
import logging

from starlette.requests import Request

from hub.state import HubState
from partners import store
from partners.errors import UnauthorizedError
from partners.registry import Platform
from partners.tokens import TokenEncoding, header_token_hashes, spelled_candidates
from routing.errors import DeniedError
from routing.versions.version import OcpiVersion

log = logging.getLogger("ocpihub.policy")
_BASE64_VERSIONS = frozenset({OcpiVersion.V2_2_1, OcpiVersion.V2_3_0})


def hub_state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


def denied(request: Request, error: DeniedError) -> None:
    """A policy refusal on one of the hub's own modules: counted and logged like a routed one."""
    hub_state(request).metrics.denied(error.rule)
    log.info("refused by the policy", extra={"rule": error.rule, "path": request.url.path,
                                             "method": request.method, "detail": error.message})


async def caller(request: Request) -> tuple[Platform, str]:
    """The platform behind the request's token, registered or merely invited, and the token itself."""
    platform, token, _ = await caller_spelled(request)
    return platform, token


async def caller_spelled(request: Request) -> tuple[Platform, str, TokenEncoding]:
    """:func:`caller`, and the spelling (plain or base64) the caller put its token in.

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
    # The token the caller presented, in whichever spelling matched: GET credentials returns it, and a
    # 2.2 platform that sent it plain gets plain tokens back.
    for candidate, spelling in spelled_candidates(raw):
        found = state.registry.snapshot.platform_for_token(candidate.decode("latin-1"))
        if found is not None and found.id == platform.id:
            _note_spelling(state, platform, raw, candidate, spelling)
            return platform, candidate.decode("latin-1"), spelling
    return platform, "", TokenEncoding.BASE64


def _note_spelling(state: HubState, platform: Platform, raw: bytes, token: bytes, spelling: TokenEncoding) -> None:
    """A token spelled otherwise than the caller's OCPI version says is accepted, logged and counted: base64
    without padding or of the token plus a newline, or a plain token from a 2.2.1 or 2.3.0 platform.
    Counted here, on the hub's own endpoints (versions, credentials, hubclientinfo), where every platform
    comes by; routed requests use the same spelling and are not slowed down by the check."""
    if spelling is TokenEncoding.BASE64:
        if raw.strip().partition(b" ")[2].strip() == base64.b64encode(token):
            return
        why = "in base64 without padding or with a trailing newline"
    elif platform.version in _BASE64_VERSIONS:
        why = f"plain although it speaks OCPI {platform.version}"
    else:
        return
    state.metrics.tolerated("inbound_token_spelling")
    log.info("platform %s sent its token %s; accepted", platform.id, why)
