"""``ocpi-hub partners``: what the newcomer types, against a real hub over HTTP."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import pytest

from hub import cli
from tests.support.network import Network
from tests.support.versioned_partner import header, stack_2_1_1

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("text", "expected"), [
    ("NL*ABC:CPO", {"country_code": "NL", "party_id": "ABC", "role": "CPO"}),  # as the hub writes a party
    ("NL:ABC:CPO", {"country_code": "NL", "party_id": "ABC", "role": "CPO"}),
    ("de:x1z:emsp", {"country_code": "DE", "party_id": "X1Z", "role": "EMSP"}),  # case-insensitive identifiers
    (" BE*BEC:OTHER ", {"country_code": "BE", "party_id": "BEC", "role": "OTHER"}),
])
def test_party_option_reads_country_party_role(text: str, expected: dict[str, str]) -> None:
    assert cli.party(text) == expected


@pytest.mark.parametrize("text", ["NL:ABC", "NL*ABC", "NL:AB:CPO", "NLD:ABC:CPO", "NL:ABC:DRIVER", "NL-ABC-CPO",
                                  "NL:A-C:CPO", "NL:ABC:CPO:X", "NL*ABC*CPO", "NL**ABC:CPO"])
def test_party_option_refuses_anything_else_saying_the_shape(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"COUNTRY\*PARTY:ROLE .* e\.g\. NL\*ABC:CPO"):
        cli.party(text)


@pytest.mark.parametrize(("text", "expected"), [("NL*CPO", ("NL", "CPO")), ("nl:cpo", ("NL", "CPO")),
                                                 (" de*m5p ", ("DE", "M5P"))])
def test_agreement_party_options_read_either_spelling(text: str, expected: tuple[str, str]) -> None:
    assert cli.party_key(text) == {"country_code": expected[0], "party_id": expected[1]}


@pytest.mark.parametrize("text", ["NLCPO", "NL*CP", "NL*CPO:CPO", "NL-CPO", "N*CPO", ""])
def test_agreement_party_options_refuse_anything_else_saying_the_shape(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"COUNTRY\*PARTY .* e\.g\. NL\*CPO"):
        cli.party_key(text)


def test_partners_help_shows_the_default_hub(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["partners", "--help"])
    assert "(default: http://127.0.0.1:8080)" in " ".join(capsys.readouterr().out.split())


async def test_invite_announces_parties_as_planned(net: Network, capsys: pytest.CaptureFixture[str]) -> None:
    hub = await net.hub()
    args = ["partners", "--hub", hub.base_url, f"--admin-token={hub.admin_token}", "invite", "--name", "Example CPO",
            "--party", "NL*ABC:CPO", "--party", "nl:xyz:emsp"]
    assert await asyncio.to_thread(cli.main, args) == 0
    invitation = json.loads(capsys.readouterr().out)
    assert invitation["versions_url"] == hub.versions_url and invitation["token"]
    status, platforms = await hub.admin("GET", "/admin/platforms")
    assert status == 200
    [platform] = platforms
    assert platform["name"] == "Example CPO" and platform["status"] == "PLANNED"
    assert {(p["country_code"], p["party_id"], p["role"]) for p in platform["parties"]} == {
        ("NL", "ABC", "CPO"), ("NL", "XYZ", "EMSP")}


async def test_register_a_2_1_1_partner_then_rotate_refresh_and_remove_with_notify(
        net: Network, capsys: pytest.CaptureFixture[str]) -> None:
    hub = await net.hub()
    old = await net.partner(stack_2_1_1("old-cpo", "DE", "OLD", "CPO"))
    token_a = old.token_for_hub
    # Tokens are random URL-safe text and may start with '-': given as --opt=value, or after '--'.
    base = ["partners", "--hub", hub.base_url, f"--admin-token={hub.admin_token}"]

    async def run(*args: str) -> Any:
        assert await asyncio.to_thread(cli.main, [*base, *args]) == 0
        return json.loads(capsys.readouterr().out)

    platform = await run("register", "--name", "old", "--role", "CPO", "--", f"{old.base_url}/versions", token_a)
    assert (platform["version"], platform["token_encoding"]) == ("2.1.1", "plain")
    assert [(p["party_id"], p["role"]) for p in platform["parties"]] == [("OLD", "CPO")]
    ours_before, theirs_before = old.token_to_hub, old.token_for_hub

    rotated = await run("rotate", str(platform["id"]))

    assert (rotated["version"], rotated["parties"][0]["role"]) == ("2.1.1", "CPO")
    assert old.token_to_hub != ours_before and "roles" not in old.hub_credentials, "flat 2.1.1 credentials"
    assert [(s.method, s.authorization) for s in old.seen if s.path == "/2.1.1/credentials"] == [
        ("POST", header(token_a, "plain")), ("PUT", header(theirs_before, "plain"))]
    old.seen.clear()
    refreshed = await run("refresh", str(platform["id"]))
    assert refreshed["version"] == "2.1.1"
    assert [s.path for s in old.seen] == ["/versions", "/2.1.1"]

    assert await run("remove", str(platform["id"]), "--notify") == {"removed": platform["id"], "notified": True}
    assert old.unregistered and old.seen[-1].method == "DELETE"
    assert old.seen[-1].authorization == header(old.token_for_hub, "plain")
    status, _ = await hub.admin("GET", f"/admin/platforms/{platform['id']}")
    assert status == 404
