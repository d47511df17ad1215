"""The credentials object per OCPI version, both ways, and the hub's version details per version;
checked against our models, the version bridge's Structs and the spec's own examples."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from partners.credentials import (
    Credentials230,
    FlatCredentials,
    HubIdentity,
    RoleSource,
    convert,
    read,
    wire_type,
)
from partners.errors import NoMatchingEndpointsError, RoleUnknownError
from partners.model import Credentials, Role
from partners.registry import Party
from partners.tokens import Secret
from routing import version_endpoints
from routing.versions import OcpiVersion, v2_1_1, v2_2, v2_2_1, v2_3_0
from tests.support.ocpi_2_1_1 import CREDENTIALS as FLAT
from tests.support.versions import EXAMPLES

V211, V22, V221, V230 = OcpiVersion.V2_1_1, OcpiVersion.V2_2, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0
HUB = HubIdentity(country_code="NL", party_id="HUB", name="ocpi-hub", public_url="https://hub.example.com")
STRUCTS: dict[OcpiVersion, Any] = {V211: v2_1_1, V22: v2_2, V221: v2_2_1, V230: v2_3_0}


def party(cc: str, pid: str, role: Role, name: str = "") -> Party:
    return Party(country_code=cc, party_id=pid, role=role, platform_id=1, business_name=name)


def test_flat_credentials_take_the_role_the_operator_announced() -> None:
    theirs = convert(V211, FLAT)
    assert isinstance(theirs, FlatCredentials)
    source = RoleSource.of_parties([party("DE", "HHC", Role.CPO), party("NL", "XYZ", Role.EMSP)])
    got = read(V211, theirs, source)
    assert [(r.role, r.country_code, r.party_id, r.business_details.name) for r in got.roles] == [
        (Role.CPO, "DE", "HHC", "Hafenstrom")]
    assert (got.token, got.url) == (FLAT["token"], FLAT["url"])


def test_flat_credentials_with_two_announced_roles_register_both() -> None:
    source = RoleSource.of_parties([party("DE", "HHC", Role.CPO), party("DE", "HHC", Role.EMSP)])
    got = read(V211, convert(V211, FLAT), source)
    assert [r.role for r in got.roles] == [Role.CPO, Role.EMSP]


def test_flat_credentials_take_the_operators_role_for_any_party() -> None:
    got = read(V211, convert(V211, FLAT | {"party_id": "hhc", "country_code": "de"}), RoleSource(default=Role.EMSP))
    assert [(r.role, r.country_code, r.party_id) for r in got.roles] == [(Role.EMSP, "de", "hhc")]


@pytest.mark.parametrize("source", [RoleSource(), RoleSource.of_parties([party("NL", "XYZ", Role.CPO)])])
def test_flat_credentials_without_a_known_role_are_refused_naming_the_party(source: RoleSource) -> None:
    with pytest.raises(RoleUnknownError, match=r"no role.*DE\*HHC"):
        read(V211, convert(V211, FLAT), source)


def test_230_credentials_of_another_hub_are_refused() -> None:
    theirs = convert(V230, {"token": "t", "url": "https://x.example/versions", "hub_party_id": "DEHBX",
                            "roles": [{"role": "CPO", "party_id": "ABC", "country_code": "DE",
                                       "business_details": {"name": "A"}}]})
    with pytest.raises(NoMatchingEndpointsError, match="DEHBX"):
        read(V230, theirs, RoleSource())


@pytest.mark.parametrize("version", [V22, V221, V230])
def test_spec_credentials_examples_read_in_their_version(version: OcpiVersion) -> None:
    folder = EXAMPLES / version.value
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (the spec's samples live beside the repository)")
    files = sorted(folder.glob("credentials_example*.json"))
    assert files
    for path in files:
        document = json.loads(path.read_bytes())
        got = read(version, convert(version, document), RoleSource())
        assert isinstance(got, Credentials)
        expected = [(r["role"], r["party_id"]) for r in document["roles"]]
        assert [(r.role.value, r.party_id) for r in got.roles] == expected


@pytest.mark.parametrize("version", [V211, V22, V221, V230])
def test_hub_credentials_have_the_shape_of_each_version(version: OcpiVersion) -> None:
    reachable = [party("DE", "MSP", Role.EMSP, "Mobil"), party("NL", "CPO", Role.CPO), party("NL", "CPO", Role.CPO)]
    ours = HUB.credentials(Secret("tok-en"), version, reachable)
    assert isinstance(ours, wire_type(version))
    document = msgspec.to_builtins(ours)
    msgspec.convert(document, STRUCTS[version].Credentials)  # the bridge's model of that version agrees
    assert (document["token"], document["url"]) == ("tok-en", "https://hub.example.com/ocpi/versions")
    if version is V211:
        assert (document["country_code"], document["party_id"], document["business_details"]) == (
            "NL", "HUB", {"name": "ocpi-hub"})
    elif version is V230:
        assert document["hub_party_id"] == "NLHUB"
        assert [(r["role"], r["country_code"], r["party_id"], r["business_details"]["name"])
                for r in document["roles"]] == [("EMSP", "DE", "MSP", "Mobil"), ("CPO", "NL", "CPO", "NL*CPO")]
    else:
        assert document["roles"] == [{"role": "HUB", "business_details": {"name": "ocpi-hub"}, "party_id": "HUB",
                                      "country_code": "NL"}]


def test_hub_credentials_230_with_nobody_behind_it_name_its_own_party() -> None:
    ours = HUB.credentials(Secret("t"), V230, [])
    assert isinstance(ours, Credentials230)
    assert ours.hub_party_id == "NLHUB"
    assert [(r.role, r.country_code, r.party_id) for r in ours.roles] == [(Role.OTHER, "NL", "HUB")]


@pytest.mark.parametrize("version", [V211, V22, V221, V230])
def test_version_details_per_version(version: OcpiVersion) -> None:
    details = version_endpoints.version_details(version, "https://hub.example.com")
    document = msgspec.to_builtins(details)
    msgspec.convert(document, STRUCTS[version].VersionDetails)  # valid in that version's own model
    assert document["version"] == version.value
    urls = [e["url"] for e in document["endpoints"]]
    assert all(u.endswith("/") for u in urls), "every advertised URL ends in a slash"
    assert len(set(urls)) == len(urls), "one URL per module (and interface role)"
    credentials = [e for e in document["endpoints"] if e["identifier"] == "credentials"]
    assert credentials == ([{"identifier": "credentials", "url": f"https://hub.example.com/ocpi/{version}/credentials/"}]
                           if version is V211 else
                           [{"identifier": "credentials", "role": "SENDER",
                             "url": f"https://hub.example.com/ocpi/{version}/credentials/"}])
    identifiers = {e["identifier"] for e in document["endpoints"]}
    assert ("hubclientinfo" in identifiers) is (version is not V211)
    assert ("chargingprofiles" in identifiers) is (version is not V211)
    assert ("payments" in identifiers) is (version is V230)
    if version is V211:
        assert "https://hub.example.com/ocpi/2.1.1/locations/" in urls
        assert all("role" not in e for e in document["endpoints"])
    else:
        for interface in ("sender", "receiver"):
            assert f"https://hub.example.com/ocpi/{version}/{interface}/locations/" in urls
