"""Pure routing decisions over a registry snapshot: who is calling, as which party, to whom.

No I/O and no clock: every function here is a table-driven test away from being proven.
"""

from __future__ import annotations

from partners.errors import ForbiddenError, InvalidParametersError, UnauthorizedError
from partners.model import ConnectionStatus, InterfaceRole, Role
from partners.registry import Party, PartyKey, Platform, Snapshot
from routing.errors import ReceiverLacksModuleError, ReceiverUnreachableError, UnknownReceiverError
from routing.modules import EMSP_SIDE, caller_roles, receiver_roles
from routing.policy import refuse_suspended
from routing.version_endpoints import MODULES


def authenticate(snapshot: Snapshot, authorization: bytes | None) -> Platform:
    """The registered platform behind an Authorization header, for a functional module request.

    Missing or unknown tokens, and token A (usable on versions and credentials only), are 401.
    """
    if not authorization:
        raise UnauthorizedError("Authorization header missing: expected 'Token <credentials token>'")
    platform = snapshot.platform_for_header(authorization)
    if platform is None:
        raise UnauthorizedError("unknown credentials token")
    if not platform.registered:
        raise UnauthorizedError("this token may only be used on the versions and credentials modules")
    refuse_suspended(platform)
    return platform


def check_sender(
    platform: Platform,
    from_country_code: bytes | None,
    from_party_id: bytes | None,
    module: str,
    interface: InterfaceRole,
) -> Party:
    """The party the request comes from. Named in OCPI-from-* it must be one of the caller's own;
    anything else is spoofing. Unnamed, it is inferred when the caller has exactly one party in a
    role that calls this endpoint."""
    if from_country_code or from_party_id:
        if not (from_country_code and from_party_id):
            raise InvalidParametersError("OCPI-from-country-code and OCPI-from-party-id must be sent together")
        key = (from_country_code.decode("latin-1").upper(), from_party_id.decode("latin-1").upper())
        # One key may name a party in several roles on one platform: the role that calls this endpoint wins.
        party = None
        roles = caller_roles(module, interface)
        for candidate in platform.parties:
            if candidate.country_code == key[0] and candidate.party_id == key[1]:
                if candidate.role in roles:
                    return candidate
                party = party or candidate
        if party is None:
            raise ForbiddenError(
                f"OCPI-from party {key[0]}*{key[1]} is not one of the parties registered for this token"
            )
        return party
    candidates = platform.parties_in(caller_roles(module, interface))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise InvalidParametersError(
            f"OCPI-from headers missing, and this platform has no party in a role that calls {module} {interface}"
        )
    raise InvalidParametersError(
        "OCPI-from-country-code and OCPI-from-party-id are required: this platform has several parties "
        f"that may call {module} {interface}"
    )


def to_key(to_country_code: bytes | None, to_party_id: bytes | None) -> PartyKey | None:
    """The OCPI-to party, or ``None`` when no to-header was sent (an open routing request)."""
    if not to_country_code and not to_party_id:
        return None
    if not (to_country_code and to_party_id):
        raise InvalidParametersError("OCPI-to-country-code and OCPI-to-party-id must be sent together")
    return (to_country_code.decode("latin-1").upper(), to_party_id.decode("latin-1").upper())


class Route:
    """Where a request goes: the receiving party, its platform and that platform's endpoint URL."""

    __slots__ = ("endpoint", "party", "platform")

    def __init__(self, party: Party, platform: Platform, endpoint: str) -> None:
        self.party = party
        self.platform = platform
        self.endpoint = endpoint


def resolve_receiver(snapshot: Snapshot, key: PartyKey, module: str, interface: InterfaceRole) -> Route:
    """The route to party ``key`` for ``module``/``interface``.

    A key may name several parties (one per role, possibly on different platforms): the one in a
    role that implements this interface wins, then any that offers the endpoint.
    """
    parties = snapshot.by_party.get(key)
    if not parties:
        raise UnknownReceiverError(f"unknown receiver {key[0]}*{key[1]}: no connected party has that id")
    if len(parties) == 1:
        ordered: tuple[Party, ...] | list[Party] = parties
    else:
        wanted = receiver_roles(module, interface)
        ordered = sorted(parties, key=lambda p: (p.role not in wanted, p.role is not Role.EMSP and p.role in EMSP_SIDE))
    reachable_without_module = None
    for party in ordered:
        platform = snapshot.platforms[party.platform_id]
        if not platform.registered:
            # Before the endpoint check: a party that is not connected has no endpoints to offer, and
            # 'not connected' (4003) is what the caller can act on, not 'no such module' (4000).
            if platform.status is ConnectionStatus.PLANNED:
                raise ReceiverUnreachableError(f"receiver {party.label} is not connected to the hub yet (PLANNED)")
            raise ReceiverUnreachableError(f"receiver {party.label} has unregistered from the hub")
        endpoint = platform.endpoint(module, interface)
        if endpoint is None:
            reachable_without_module = party
            continue
        if platform.status is not ConnectionStatus.CONNECTED:
            raise ReceiverUnreachableError(f"receiver {party.label} is not connected ({platform.status})")
        return Route(party, platform, endpoint)
    assert reachable_without_module is not None
    version = snapshot.platforms[reachable_without_module.platform_id].version
    why = f" (OCPI {version} has no {module} module)" if version is not None and module not in MODULES[version] else ""
    raise ReceiverLacksModuleError(
        f"receiver {reachable_without_module.label} does not offer the {module} {interface} interface{why}"
    )


def _connected_routes(snapshot: Snapshot, module: str, interface: InterfaceRole,
                      exclude: PartyKey | None = None) -> list[Route]:
    """A route to every connected party that implements ``module``/``interface`` in a role that does,
    one per party (a platform hosting several parties appears once per party)."""
    wanted = receiver_roles(module, interface)
    routes = []
    for platform in snapshot.platforms.values():
        if not platform.registered or platform.status is not ConnectionStatus.CONNECTED:
            continue
        endpoint = platform.endpoint(module, interface)
        if endpoint is None:
            continue
        for party in platform.parties:
            if party.role in wanted and party.key != exclude:
                routes.append(Route(party, platform, endpoint))
    return routes


def broadcast_routes(snapshot: Snapshot, sender: Party, module: str, interface: InterfaceRole) -> list[Route]:
    """Broadcast push: every connected party on the other side from the sender (a CPO's push reaches
    eMSP-type roles, OTHER included; an eMSP's reaches CPOs), the sender itself excepted."""
    return _connected_routes(snapshot, module, interface, exclude=sender.key)


def owner_routes(snapshot: Snapshot, module: str) -> list[Route]:
    """GET all: every connected party that owns ``module`` objects (implements its SENDER interface),
    in a stable order so that pages stay stable."""
    routes = _connected_routes(snapshot, module, InterfaceRole.SENDER)
    return sorted(routes, key=lambda r: (r.party.key, r.party.role))
