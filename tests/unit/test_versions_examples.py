"""Every JSON sample of the spec (2.2, 2.2.1, 2.3.0) against our models and translations.

Each sample decodes with its version's Struct, or is on the known-bad list with the reason; each
object round-trips through every other version (there and back gives the original, except what the
crossings reported lost). Skipped where ``../shared/ocpi-examples`` is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from routing.versions import (
    Context,
    NotInVersionError,
    OcpiVersion,
    Party,
    UntranslatableError,
    VersionedDocument,
    codec,
    translate,
)
from routing.versions.chain import translate_patch
from routing.versions.checking import check, struct_for
from tests.support.versions import EXAMPLES, KNOWN_BAD, PATCHES, example_files, object_of, unexplained

FILES = example_files()
ENCODER = msgspec.json.Encoder(decimal_format="number")
pytestmark = pytest.mark.skipif(not FILES, reason=f"spec examples not found at {EXAMPLES}")
ALL_VERSIONS = tuple(OcpiVersion)


def _id(case: tuple[OcpiVersion, Path]) -> str:
    return f"{case[0].value}/{case[1].name}"


OBJECTS = [c for c in FILES if object_of(c[1].name) and c[1].name not in PATCHES]
# Known-bad samples are not objects of their version: round trips are asserted on the others.
CROSSABLE = [c for c in OBJECTS if object_of(c[1].name)[0] not in ("versions", "payments")  # type: ignore[index]
             and (c[0].value, c[1].name) not in KNOWN_BAD]
PATCH_FILES = [c for c in FILES if c[1].name in PATCHES and PATCHES[c[1].name][0] != "payments"]


REFUSED = {
    # An unpublished Location would become public in 2.1.1, which has no such flag: refused.
    ("location_example_uc3_destination_charger_not_published.json", "publish"),
    ("location_example_uc4_limited_visibility.json", "publish"),
    ("location_example_uc5_home_charge_point.json", "publish"),
    # Prices include taxes at rates the tariff does not give: below 2.3.0 prices exclude VAT.
    ("tariff_20_simple_north_american_inclusive.json", "tax_included"),
}
"""Samples that cannot cross to some version, by design, and the field that says why."""


def context_for(document: dict[str, Any], version: OcpiVersion) -> Context:
    """What the wiring would know: the owner and token of the object itself, the Location it names."""
    token = document.get("cdr_token") or document.get("token")
    token = token if isinstance(token, dict) else {}
    owner = Party(document.get("country_code", "BE"), document.get("party_id", "BEC"))
    roles = document.get("roles") or [{}]
    location = codec.decode((EXAMPLES / version.value / "location_example.json").read_bytes())
    return Context(owner=owner, token_owner=Party(token.get("country_code", "DE"), token.get("party_id", "TNM")),
                   token_uid=token.get("uid"), token_type=token.get("type"), time_zone="Europe/Brussels",
                   command_timeout=30, location=VersionedDocument(version, location), role=roles[0].get("role"))


@pytest.mark.parametrize("case", OBJECTS, ids=_id)
def test_example_decodes_with_its_version_or_is_known_bad(case: tuple[OcpiVersion, Path]) -> None:
    version, path = case
    module, kind = object_of(path.name)  # type: ignore[misc]
    problem = check(codec.decode(path.read_bytes()), module, kind, version)
    reason = KNOWN_BAD.get((version.value, path.name))
    if reason is None:
        assert problem is None, f"{path.name}: {problem}"
    else:
        assert problem is not None, f"{path.name} is listed as known-bad ({reason}) but decodes: drop it from the list"


@pytest.mark.parametrize("case", CROSSABLE, ids=_id)
def test_example_round_trips_through_every_version(case: tuple[OcpiVersion, Path]) -> None:
    version, path = case
    module, kind = object_of(path.name)  # type: ignore[misc]
    original = codec.decode(path.read_bytes())
    ctx = context_for(original, version)
    for other in ALL_VERSIONS:
        if other is version:
            continue
        try:
            there = translate(original, module, kind, version, other, ctx)
        except UntranslatableError as refused:
            assert (path.name, refused.field) in REFUSED, f"{other.value}: {refused}"
            continue
        assert check(there.document, module, kind, other) is None, (other, there.document)
        back = translate(there.document, module, kind, other, version, ctx)
        losses = there.losses + back.losses
        assert unexplained(original, back.document, losses, module, kind) == [], (other.value, losses)


@pytest.mark.parametrize("case", PATCH_FILES, ids=_id)
def test_patch_example_round_trips_field_by_field(case: tuple[OcpiVersion, Path]) -> None:
    version, path = case
    module, kind = PATCHES[path.name]
    original = codec.decode(path.read_bytes())
    ctx = context_for(original, version)
    for other in ALL_VERSIONS:
        if other is version:
            continue
        there = translate_patch(original, module, kind, version, other, ctx)
        back = translate_patch(there.document, module, kind, other, version, ctx)
        assert unexplained(original, back.document, there.losses + back.losses, module, kind) == [], other


def test_payments_stay_between_2_3_0_parties() -> None:
    terminal = codec.decode((EXAMPLES / "2.3.0" / "payment_terminal_create.json").read_bytes())
    assert check(terminal, "payments", "terminal", OcpiVersion.V2_3_0) is None
    with pytest.raises(NotInVersionError, match=r"2\.2\.1"):
        translate(terminal, "payments", "terminal", OcpiVersion.V2_3_0, OcpiVersion.V2_2_1, Context())


def test_every_known_bad_sample_exists() -> None:
    missing = [f"{v}/{n}" for v, n in KNOWN_BAD if not (EXAMPLES / v / n).is_file()]
    assert missing == []


@pytest.mark.parametrize("case", [c for c in OBJECTS if (c[0].value, c[1].name) not in KNOWN_BAD], ids=_id)
def test_struct_keeps_every_field_of_a_valid_example(case: tuple[OcpiVersion, Path]) -> None:
    """Field names are the spec's verbatim: a valid sample decoded into its Struct and encoded again
    (absent fields omitted) is the same document."""
    version, path = case
    module, kind = object_of(path.name)  # type: ignore[misc]
    struct = struct_for(module, kind, version)
    assert struct is not None
    original = codec.decode(path.read_bytes())
    assert codec.decode(ENCODER.encode(msgspec.json.decode(path.read_bytes(), type=struct))) == original
