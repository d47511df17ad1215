"""Routing decisions as tables, over a snapshot built in memory: no server, no database."""

from __future__ import annotations

import pytest

from partners.errors import ForbiddenError, InvalidParametersError, UnauthorizedError
from partners.model import ConnectionStatus, InterfaceRole, Role
from partners.registry import PartyRow, PlatformRow, Snapshot, build_snapshot
from partners.tokens import hash_token
from routing.errors import ReceiverLacksModuleError, ReceiverUnreachableError, SuspendedError, UnknownReceiverError
from routing.resolve import authenticate, check_sender, resolve_receiver, to_key

S, R = InterfaceRole.SENDER, InterfaceRole.RECEIVER


def platform_row(pid: int, token: str, status: ConnectionStatus = ConnectionStatus.CONNECTED,
                 modules: tuple[tuple[str, str], ...] = (), registered: bool = True) -> PlatformRow:
    return PlatformRow(
        id=pid, name=f"p{pid}", status=status, token_hash=hash_token(token),
        outbound_token="out" if registered else None, versions_url="http://x/versions", version="2.2.1",
        endpoints=[{"identifier": m, "role": r, "url": f"http://p{pid}/{r}/{m}"} for m, r in modules],
    )


def party_row(pid: int, cc: str, party: str, role: Role) -> PartyRow:
    return PartyRow(platform_id=pid, country_code=cc, party_id=party, role=role, business_name="", last_updated="")


@pytest.fixture
def snapshot() -> Snapshot:
    return build_snapshot(
        [
            platform_row(1, "cpo-token", modules=(("locations", "SENDER"), ("tokens", "RECEIVER"))),
            platform_row(2, "emsp-token", modules=(("locations", "RECEIVER"), ("tokens", "SENDER"))),
            platform_row(3, "both-token", modules=(("locations", "SENDER"), ("locations", "RECEIVER"))),
            platform_row(4, "suspended", status=ConnectionStatus.SUSPENDED, modules=(("locations", "SENDER"),)),
            platform_row(5, "invited", status=ConnectionStatus.PLANNED, registered=False),
        ],
        [
            party_row(1, "NL", "CPO", Role.CPO),
            party_row(2, "DE", "MSP", Role.EMSP),
            party_row(3, "BE", "ABC", Role.CPO),
            party_row(3, "BE", "ABC", Role.EMSP),
            party_row(3, "BE", "XYZ", Role.EMSP),
            party_row(4, "FR", "SUS", Role.CPO),
        ],
    )


@pytest.mark.parametrize(("header", "platform_id"), [
    (b"Token Y3BvLXRva2Vu", 1),  # base64("cpo-token")
    (b"Token cpo-token", 1),  # 2.1.1 style, plain
    (b"token   emsp-token ", 2),
])
def test_authenticate_accepts_both_token_spellings(snapshot: Snapshot, header: bytes, platform_id: int) -> None:
    assert authenticate(snapshot, header).id == platform_id


@pytest.mark.parametrize(("header", "error"), [
    (None, UnauthorizedError),
    (b"", UnauthorizedError),
    (b"Bearer cpo-token", UnauthorizedError),
    (b"Token wrong", UnauthorizedError),
    (b"Token invited", UnauthorizedError),  # token A: versions and credentials only
    (b"Token suspended", SuspendedError),  # rule "suspended" of the policy
])
def test_authenticate_refuses(snapshot: Snapshot, header: bytes | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        authenticate(snapshot, header)


def test_spoofed_from_party_is_forbidden(snapshot: Snapshot) -> None:
    cpo = snapshot.platforms[1]
    with pytest.raises(ForbiddenError, match="DE\\*MSP"):
        check_sender(cpo, b"DE", b"MSP", "locations", R)


def test_from_party_compares_case_insensitively(snapshot: Snapshot) -> None:
    assert check_sender(snapshot.platforms[1], b"nl", b"cpo", "locations", R).party_id == "CPO"


@pytest.mark.parametrize(("module", "interface", "role"), [
    ("locations", R, Role.CPO),  # BE*ABC pushing locations: its CPO self
    ("locations", S, Role.EMSP),  # BE*ABC pulling locations: its eMSP self
    ("commands", R, Role.EMSP),
])
def test_a_key_in_two_roles_sends_in_the_role_that_calls_the_endpoint(
    snapshot: Snapshot, module: str, interface: InterfaceRole, role: Role
) -> None:
    assert check_sender(snapshot.platforms[3], b"BE", b"ABC", module, interface).role is role


@pytest.mark.parametrize(("platform_id", "module", "interface", "expected"), [
    (1, "locations", R, "NL*CPO"),  # CPO pushes locations
    (2, "locations", S, "DE*MSP"),  # eMSP pulls locations
    (2, "commands", R, "DE*MSP"),  # eMSP sends a command
    (1, "tokens", S, "NL*CPO"),  # CPO pulls tokens / asks authorization
])
def test_missing_from_headers_are_inferred_from_the_single_fitting_party(
    snapshot: Snapshot, platform_id: int, module: str, interface: InterfaceRole, expected: str
) -> None:
    assert check_sender(snapshot.platforms[platform_id], None, None, module, interface).label == expected


def test_missing_from_headers_with_several_fitting_parties_is_2001(snapshot: Snapshot) -> None:
    with pytest.raises(InvalidParametersError, match="several parties"):
        check_sender(snapshot.platforms[3], None, None, "locations", S)  # BE*ABC and BE*XYZ are eMSPs


def test_only_one_from_header_is_2001(snapshot: Snapshot) -> None:
    with pytest.raises(InvalidParametersError):
        check_sender(snapshot.platforms[1], b"NL", None, "locations", R)


@pytest.mark.parametrize(("cc", "pid", "expected"), [
    (None, None, None),
    (b"nl", b"cpo", ("NL", "CPO")),
])
def test_to_key(cc: bytes | None, pid: bytes | None, expected: tuple[str, str] | None) -> None:
    assert to_key(cc, pid) == expected


def test_half_a_to_address_is_2001() -> None:
    with pytest.raises(InvalidParametersError):
        to_key(None, b"CPO")


def test_receiver_resolves_to_the_endpoint_of_the_same_module_and_interface(snapshot: Snapshot) -> None:
    route = resolve_receiver(snapshot, ("NL", "CPO"), "locations", S)
    assert (route.platform.id, route.endpoint) == (1, "http://p1/SENDER/locations")


def test_party_with_two_roles_is_reached_in_the_role_that_implements_the_interface(snapshot: Snapshot) -> None:
    assert resolve_receiver(snapshot, ("BE", "ABC"), "locations", R).party.role is Role.EMSP
    assert resolve_receiver(snapshot, ("BE", "ABC"), "locations", S).party.role is Role.CPO


@pytest.mark.parametrize(("key", "module", "interface", "error"), [
    (("XX", "YYY"), "locations", S, UnknownReceiverError),
    (("FR", "SUS"), "locations", S, ReceiverUnreachableError),
    (("NL", "CPO"), "cdrs", S, ReceiverLacksModuleError),
])
def test_receiver_errors(snapshot: Snapshot, key: tuple[str, str], module: str, interface: InterfaceRole,
                         error: type[Exception]) -> None:
    with pytest.raises(error):
        resolve_receiver(snapshot, key, module, interface)


def test_auth_cache_never_caches_misses(snapshot: Snapshot) -> None:
    for _ in range(100):
        assert snapshot.platform_for_header(b"Token guess") is None
    assert snapshot._auth_cache == {}
