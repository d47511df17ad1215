"""OCPI 2.1.1 objects (our own, from the 2.1.1 field tables) through the bridge: they check with the
2.1.1 Structs, cross to 2.2, 2.2.1 and 2.3.0 into valid objects there, and come back as they left,
except what the crossings reported lost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from routing.versions import (
    Context,
    NotInVersionError,
    OcpiVersion,
    Party,
    UntranslatableError,
    VersionedDocument,
    translate,
)
from routing.versions.checking import check
from tests.support import ocpi_2_1_1 as v211
from tests.support.versions import unexplained

V211, V22, V221, V230 = OcpiVersion.V2_1_1, OcpiVersion.V2_2, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0
CPO = Party("DE", "HHC")
EMSP = Party("DE", "EMS")
CONTEXT = Context(owner=CPO, token_owner=EMSP, token_uid=v211.TOKEN["uid"], token_type="RFID",
                  time_zone="Europe/Berlin", command_timeout=30,
                  location=VersionedDocument(V211, v211.LOCATION), token=VersionedDocument(V211, v211.TOKEN),
                  role="CPO")
# Tokens and commands are the eMSP's: its party owns the Token.
EMSP_CONTEXT = Context(owner=EMSP, command_timeout=30, token=VersionedDocument(V211, v211.TOKEN))
ADDED = {"opening_times.twentyfourseven"}
"""What a round trip adds on purpose: 2.1.1 readers get 2.2's twentyfourseven (false) beside the
regular hours, since widely used 2.1.1 stacks require the field."""


def _context(module: str) -> Context:
    return EMSP_CONTEXT if module in ("tokens", "commands") else CONTEXT


@pytest.mark.parametrize("name", sorted(v211.OBJECTS))
def test_own_2_1_1_object_checks_with_the_2_1_1_structs(name: str) -> None:
    module, kind, document = v211.OBJECTS[name]
    assert check(document, module, kind, V211) is None


@pytest.mark.parametrize("target", [V22, V221, V230])
@pytest.mark.parametrize("name", sorted(v211.OBJECTS))
def test_2_1_1_object_crosses_up_valid_and_comes_back(name: str, target: OcpiVersion) -> None:
    module, kind, document = v211.OBJECTS[name]
    ctx = _context(module)
    up = translate(document, module, kind, V211, target, ctx)
    assert check(up.document, module, kind, target) is None
    down = translate(up.document, module, kind, target, V211, ctx)
    assert check(down.document, module, kind, V211) is None
    left = [d for d in unexplained(document, down.document, up.losses + down.losses, module, kind) if d not in ADDED]
    assert left == []


def _up(name: str, target: OcpiVersion = V221) -> Any:
    module, kind, document = v211.OBJECTS[name]
    return translate(document, module, kind, V211, target, _context(module))


@pytest.mark.parametrize(("name", "path", "expected"), [
    ("location", ("parking_type",), "PARKING_LOT"),
    ("location", ("country_code",), "DE"),
    ("location", ("party_id",), "HHC"),
    ("location", ("publish",), True),
    ("location", ("opening_times", "twentyfourseven"), False),
    ("location", ("energy_mix", "environ_impact", 0, "category"), "CARBON_DIOXIDE"),
    ("location", ("evses", 0, "connectors", 0, "max_voltage"), 230),
    ("location", ("evses", 0, "connectors", 0, "max_amperage"), 32),
    ("location", ("evses", 0, "connectors", 0, "tariff_ids"), ["AC-11"]),
    ("session", ("start_date_time",), "2024-03-02T08:00:00Z"),
    ("session", ("end_date_time",), "2024-03-02T08:41:00Z"),
    ("session", ("cdr_token",), {"uid": "04A1B2C3D4E5F6", "type": "RFID", "contract_id": "DE-EMS-C12345678-9",
                                 "country_code": "DE", "party_id": "EMS"}),
    ("session", ("location_id",), "HAM-0042"),
    ("session", ("evse_uid",), "HAM-0042-2"),
    ("session", ("connector_id",), "2"),
    ("session", ("total_cost",), {"excl_vat": Decimal("18.44")}),
    ("cdr", ("end_date_time",), "2024-03-02T08:41:00Z"),
    ("cdr", ("cdr_location", "evse_id"), "DE*HHC*E0042*2"),
    ("cdr", ("cdr_location", "connector_standard"), "IEC_62196_T2_COMBO"),
    ("cdr", ("total_cost",), {"excl_vat": Decimal("18.4375")}),
    ("cdr", ("tariffs", 0, "party_id"), "HHC"),
    ("token", ("contract_id",), "DE-EMS-C12345678-9"),
    ("token", ("party_id",), "EMS"),
    ("authorization_info", ("token", "contract_id"), "DE-EMS-C12345678-9"),
    ("authorization_info", ("location",), {"location_id": "HAM-0042", "evse_uids": ["HAM-0042-2"]}),
    ("reserve_now", ("reservation_id",), "4711"),
    ("reserve_now", ("token", "contract_id"), "DE-EMS-C12345678-9"),
    ("command_response", ("timeout",), 30),
    ("credentials", ("roles",), [{"role": "CPO", "business_details": {"name": "Hafenstrom"}, "party_id": "HHC",
                                  "country_code": "DE"}]),
])
def test_2_1_1_field_becomes(name: str, path: tuple[Any, ...], expected: Any) -> None:
    value = _up(name).document
    for key in path:
        value = value[key]
    assert value == expected


def test_2_1_1_price_becomes_2_3_0_price_without_taxes() -> None:
    assert _up("cdr", V230).document["total_cost"] == {"before_taxes": Decimal("18.4375")}


def test_2_1_1_tariff_reaches_2_3_0_as_tax_exclusive() -> None:
    assert _up("tariff", V230).document["tax_included"] == "NO"


@pytest.mark.parametrize(("result", "kind", "expected", "lossy"), [
    ("ACCEPTED", "command_response", "ACCEPTED", False),
    ("TIMEOUT", "command_response", "REJECTED", True),
    ("TIMEOUT", "command_result", "TIMEOUT", False),
    ("UNKNOWN_SESSION", "command_result", "REJECTED", True),
    ("NOT_SUPPORTED", "command_result", "NOT_SUPPORTED", False),
])
def test_2_1_1_command_response_maps_to_2_2_1(result: str, kind: str, expected: str, lossy: bool) -> None:
    out = translate({"result": result}, "commands", kind, V211, V221, EMSP_CONTEXT)
    assert out.document["result"] == expected
    assert bool(out.losses) is lossy


@pytest.mark.parametrize(("result", "expected"), [
    ("ACCEPTED", "ACCEPTED"), ("TIMEOUT", "TIMEOUT"), ("EVSE_OCCUPIED", "REJECTED"), ("FAILED", "REJECTED"),
    ("CANCELED_RESERVATION", "REJECTED"),
])
def test_2_2_1_command_result_reaches_2_1_1_as_its_command_response(result: str, expected: str) -> None:
    out = translate({"result": result, "message": [{"language": "en", "text": "x"}]}, "commands", "command_result",
                    V221, V211, Context())
    assert out.document == {"result": expected}
    assert check(out.document, "commands", "command_result", V211) is None


@pytest.mark.parametrize(("name", "ctx", "field"), [
    ("location", Context(time_zone="Europe/Berlin"), "country_code"),
    ("session", Context(owner=CPO, token_owner=EMSP), "cdr_token.uid"),
    ("cdr", Context(owner=CPO, token_owner=EMSP, token_uid="X"), "cdr_token.type"),
    ("authorization_info", Context(owner=EMSP), "token"),
    ("command_response", Context(), "timeout"),
    ("credentials", Context(), "roles.role"),
])
def test_missing_context_is_refused_naming_the_field(name: str, ctx: Context, field: str) -> None:
    module, kind, document = v211.OBJECTS[name]
    with pytest.raises(UntranslatableError) as refused:
        translate(document, module, kind, V211, V221, ctx)
    assert refused.value.field == field
    assert field in refused.value.message


def test_location_without_time_zone_needs_the_platform_default() -> None:
    document = {k: v for k, v in v211.LOCATION.items() if k != "time_zone"}
    with pytest.raises(UntranslatableError, match="time_zone"):
        translate(document, "locations", "location", V211, V221, Context(owner=CPO))
    out = translate(document, "locations", "location", V211, V221, Context(owner=CPO, time_zone="Europe/Berlin"))
    assert out.document["time_zone"] == "Europe/Berlin"


def _down(module: str, kind: str, document: dict[str, Any], ctx: Context = CONTEXT) -> Any:
    return translate(document, module, kind, V221, V211, ctx)


def test_session_down_to_2_1_1_needs_the_location() -> None:
    session = _up("session").document
    with pytest.raises(UntranslatableError, match="HAM-0042") as refused:
        _down("sessions", "session", session, Context())
    assert refused.value.field == "location"


def test_session_down_to_2_1_1_refuses_an_evse_the_location_lacks() -> None:
    session = {**_up("session").document, "evse_uid": "HAM-0042-9"}
    with pytest.raises(UntranslatableError, match="HAM-0042-9"):
        _down("sessions", "session", session)


def test_unpublished_location_is_not_sent_to_2_1_1() -> None:
    location = {**_up("location").document, "publish": False}
    with pytest.raises(UntranslatableError) as refused:
        _down("locations", "location", location)
    assert refused.value.field == "publish"


def test_credit_cdr_is_not_sent_to_2_1_1() -> None:
    cdr = {**_up("cdr").document, "credit": True, "credit_reference_id": "CDR-1"}
    with pytest.raises(UntranslatableError) as refused:
        _down("cdrs", "cdr", cdr)
    assert refused.value.field == "credit"


def test_reservation_id_that_is_no_number_cannot_reach_2_1_1() -> None:
    reserve = {**_up("reserve_now").document, "reservation_id": "a7f3"}
    with pytest.raises(UntranslatableError) as refused:
        _down("commands", "reserve_now", reserve, EMSP_CONTEXT)
    assert refused.value.field == "reservation_id"


@pytest.mark.parametrize(("module", "kind"), [
    ("commands", "cancel_reservation"), ("chargingprofiles", "set_charging_profile"),
    ("hubclientinfo", "client_info"), ("sessions", "charging_preferences"),
])
def test_objects_2_1_1_lacks_are_refused(module: str, kind: str) -> None:
    with pytest.raises(NotInVersionError, match=r"2\.1\.1"):
        translate({"x": 1}, module, kind, V221, V211, Context())


def test_connector_of_a_type_2_1_1_lacks_leaves_its_evse() -> None:
    location = _up("location").document
    evse = location["evses"][1]
    pantograph = {**evse["connectors"][0], "standard": "PANTOGRAPH_TOP_DOWN"}
    mixed = {**evse, "connectors": [pantograph, evse["connectors"][1]]}
    location = {**location, "evses": [location["evses"][0], mixed]}
    out = _down("locations", "location", location)
    assert [c["id"] for c in out.document["evses"][1]["connectors"]] == ["2"]
    assert ("locations", "evses.connectors") in out.losses
    only_pantograph = {**location, "evses": [{**evse, "connectors": [pantograph]}]}
    out = _down("locations", "location", only_pantograph)
    assert out.document["evses"] == []
    assert ("locations", "evses") in out.losses


def test_tariff_element_for_reservations_is_dropped_for_2_1_1() -> None:
    tariff = _up("tariff").document
    reservation = {"price_components": [{"type": "TIME", "price": Decimal("3.00"), "step_size": 60}],
                   "restrictions": {"reservation": "RESERVATION"}}
    out = _down("tariffs", "tariff", {**tariff, "elements": [*tariff["elements"], reservation]})
    assert out.document["elements"] == v211.TARIFF["elements"]
    assert ("tariffs", "elements.restrictions.reservation") in out.losses


def test_2_2_1_extras_are_reported_lost_towards_2_1_1() -> None:
    session = {**_up("session").document, "authorization_reference": "AUTH-1", "status": "RESERVATION",
               "auth_method": "COMMAND"}
    out = _down("sessions", "session", session)
    assert out.document["status"] == "PENDING"
    assert out.document["auth_method"] == "AUTH_REQUEST"
    assert {("sessions", "authorization_reference"), ("sessions", "status"), ("sessions", "auth_method"),
            ("sessions", "cdr_token")} <= set(out.losses)


def test_session_at_an_unpublished_location_still_reaches_2_1_1() -> None:
    private = {**_up("location").document, "publish": False}
    ctx = Context(location=VersionedDocument(V221, private))
    out = _down("sessions", "session", _up("session").document, ctx)
    assert out.document["location"]["id"] == "HAM-0042"
    assert "publish" not in out.document["location"]
