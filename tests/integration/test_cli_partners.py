"""``ocpi-hub partners``: what the newcomer types, against a real hub over HTTP."""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest

from hub import cli
from tests.support.network import Network

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("text", "expected"), [
    ("NL:ABC:CPO", {"country_code": "NL", "party_id": "ABC", "role": "CPO"}),
    ("de:x1z:emsp", {"country_code": "DE", "party_id": "X1Z", "role": "EMSP"}),  # case-insensitive identifiers
    (" BE:BEC:OTHER ", {"country_code": "BE", "party_id": "BEC", "role": "OTHER"}),
])
def test_party_option_reads_country_party_role(text: str, expected: dict[str, str]) -> None:
    assert cli.party(text) == expected


@pytest.mark.parametrize("text", ["NL:ABC", "NL:AB:CPO", "NLD:ABC:CPO", "NL:ABC:DRIVER", "NL-ABC-CPO", "NL:A-C:CPO",
                                  "NL:ABC:CPO:X"])
def test_party_option_refuses_anything_else_saying_the_shape(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="COUNTRY:PARTY:ROLE"):
        cli.party(text)


def test_partners_help_shows_the_default_hub(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["partners", "--help"])
    assert "(default: http://127.0.0.1:8080)" in " ".join(capsys.readouterr().out.split())


async def test_invite_announces_parties_as_planned(net: Network, capsys: pytest.CaptureFixture[str]) -> None:
    hub = await net.hub()
    args = ["partners", "--hub", hub.base_url, "--admin-token", hub.admin_token, "invite", "--name", "Example CPO",
            "--party", "NL:ABC:CPO", "--party", "nl:xyz:emsp"]
    assert await asyncio.to_thread(cli.main, args) == 0
    invitation = json.loads(capsys.readouterr().out)
    assert invitation["versions_url"] == hub.versions_url and invitation["token"]
    status, platforms = await hub.admin("GET", "/admin/platforms")
    assert status == 200
    [platform] = platforms
    assert platform["name"] == "Example CPO" and platform["status"] == "PLANNED"
    assert {(p["country_code"], p["party_id"], p["role"]) for p in platform["parties"]} == {
        ("NL", "ABC", "CPO"), ("NL", "XYZ", "EMSP")}
