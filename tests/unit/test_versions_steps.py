"""The bridge's rules beyond the spec's own samples: sloppy partner shapes (the shared notes, #16),
2.3.0's prices, taxes and open enums, vendor fields, exact numbers, pages and PATCH bodies, and the
closed set of losses."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from routing.versions import (
    ALL_LOSSES,
    TOLERATED,
    Context,
    OcpiVersion,
    Party,
    UntranslatableError,
    VersionedDocument,
    codec,
    needs_translation,
    translate,
    translate_list,
    translate_patch,
)
from routing.versions.chain import STEPS
from routing.versions.checking import check
from tests.support import ocpi_2_1_1 as v211

V211, V22, V221, V230 = OcpiVersion.V2_1_1, OcpiVersion.V2_2, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0
CPO = Party("DE", "HHC")
EMSP = Party("NL", "EMS")


def location_2_2_1() -> dict[str, Any]:
    ctx = Context(owner=CPO)
    return translate(v211.LOCATION, "locations", "location", V211, V221, ctx).document  # type: ignore[no-any-return]


def session_2_2_1() -> dict[str, Any]:
    ctx = Context(owner=CPO, token_owner=EMSP, token_uid="04A1", token_type="RFID")
    return translate(v211.SESSION, "sessions", "session", V211, V221, ctx).document  # type: ignore[no-any-return]


# --- same version never enters the bridge --------------------------------------------------------

@pytest.mark.parametrize(("source", "target", "needed"), [
    (V221, V221, False), (V22, V22, False), (V211, V221, True), (V230, V221, True), (V22, V221, True),
])
def test_only_a_crossing_needs_translation(source: OcpiVersion, target: OcpiVersion, needed: bool) -> None:
    assert needs_translation(source, target) is needed


# --- sloppy stacks (shared notes, issue #16) ----------------------------------------------------

def test_2_1_1_cdr_with_2_2s_end_date_time_is_tolerated() -> None:
    cdr = {k: v for k, v in v211.CDR.items() if k != "stop_date_time"} | {"end_date_time": "2024-03-02T08:41:00Z"}
    ctx = Context(owner=CPO, token_owner=EMSP, token_uid="04A1", token_type="RFID")
    out = translate(cdr, "cdrs", "cdr", V211, V221, ctx)
    assert out.document["end_date_time"] == "2024-03-02T08:41:00Z"
    assert out.tolerated == ("cdr_end_date_time_in_2_1_1",)
    assert check(out.document, "cdrs", "cdr", V221) is None


def test_2_1_1_opening_times_without_choice_are_read_as_not_24_7() -> None:
    location = {**v211.LOCATION, "opening_times": {"exceptional_openings": [
        {"period_begin": "2024-05-01T08:00:00Z", "period_end": "2024-05-01T18:00:00Z"}]}}
    out = translate(location, "locations", "location", V211, V221, Context(owner=CPO))
    assert out.document["opening_times"]["twentyfourseven"] is False
    assert out.tolerated == ("opening_times_without_choice",)


def test_2_1_1_readers_get_twentyfourseven_beside_regular_hours() -> None:
    out = translate(location_2_2_1(), "locations", "location", V221, V211, Context())
    hours = out.document["opening_times"]
    assert hours["twentyfourseven"] is False
    assert hours["regular_hours"] == v211.LOCATION["opening_times"]["regular_hours"]


def test_24_7_location_reaches_2_1_1_without_regular_hours() -> None:
    location = {**location_2_2_1(), "opening_times": {"twentyfourseven": True, "regular_hours": []}}
    out = translate(location, "locations", "location", V221, V211, Context())
    assert out.document["opening_times"] == {"twentyfourseven": True}


@pytest.mark.parametrize(("default", "expected", "kind"), [
    ("Europe/Amsterdam", "Europe/Amsterdam", "location_time_zone_default"),
    (None, None, "location_time_zone_missing"),
])
def test_2_2_location_without_time_zone(default: str | None, expected: str | None, kind: str) -> None:
    location = {k: v for k, v in location_2_2_1().items() if k != "time_zone"}
    out = translate(location, "locations", "location", V22, V221, Context(time_zone=default))
    assert out.document.get("time_zone") == expected
    assert out.tolerated == (kind,)


def test_2_2_session_with_empty_connector_id_is_passed_and_counted() -> None:
    session = {**session_2_2_1(), "connector_id": ""}
    session["cdr_token"] = {k: v for k, v in session["cdr_token"].items() if k not in ("country_code", "party_id")}
    out = translate(session, "sessions", "session", V22, V221, Context(token_owner=EMSP))
    assert out.document["connector_id"] == ""
    assert out.tolerated == ("session_empty_connector_id",)


def test_empty_connector_id_finds_the_evses_only_connector_for_2_1_1() -> None:
    session = {**session_2_2_1(), "evse_uid": "HAM-0042-1", "connector_id": ""}
    ctx = Context(location=v211_location())
    out = translate(session, "sessions", "session", V221, V211, ctx)
    assert [c["id"] for c in out.document["location"]["evses"][0]["connectors"]] == ["1"]


def v211_location() -> VersionedDocument:
    return VersionedDocument(V211, v211.LOCATION)


@pytest.mark.parametrize("kind", ["command_response", "command_result"])
def test_2_2_command_message_as_plain_string_becomes_display_text(kind: str) -> None:
    answer = {"result": "REJECTED", "timeout": 30, "message": "Charge Point offline"}
    if kind == "command_result":
        del answer["timeout"]
    out = translate(answer, "commands", kind, V22, V221, Context())
    assert out.document["message"] == [{"language": "en", "text": "Charge Point offline"}]
    assert out.tolerated == ("command_message_string",)
    assert check(out.document, "commands", kind, V221) is None


def test_2_2_cdr_token_gains_its_owner_from_the_receiving_emsp() -> None:
    session = session_2_2_1()
    token = {k: v for k, v in session["cdr_token"].items() if k not in ("country_code", "party_id")}
    out = translate({**session, "cdr_token": token}, "sessions", "session", V22, V221, Context(token_owner=EMSP))
    assert out.document["cdr_token"] == {**token, "country_code": "NL", "party_id": "EMS"}
    with pytest.raises(UntranslatableError) as refused:
        translate({**session, "cdr_token": token}, "sessions", "session", V22, V221, Context())
    assert refused.value.field == "cdr_token.country_code"


def test_postal_code_none_is_said_in_each_versions_way() -> None:
    location = {k: v for k, v in location_2_2_1().items() if k != "postal_code"}
    down = translate(location, "locations", "location", V221, V22, Context())
    assert down.document["postal_code"] == ""
    assert check(down.document, "locations", "location", V22) is None
    up = translate(down.document, "locations", "location", V22, V221, Context())
    assert "postal_code" not in up.document


# --- 2.3.0 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("price_2_2_1", "price_2_3_0"), [
    ({"excl_vat": Decimal("4.00"), "incl_vat": Decimal("4.40")},
     {"before_taxes": Decimal("4.00"), "taxes": [{"name": "VAT", "amount": Decimal("0.40")}]}),
    ({"excl_vat": Decimal("0.60")}, {"before_taxes": Decimal("0.60")}),
])
def test_price_moves_between_vat_and_taxes(price_2_2_1: dict[str, Any], price_2_3_0: dict[str, Any]) -> None:
    session = {**session_2_2_1(), "total_cost": price_2_2_1}
    up = translate(session, "sessions", "session", V221, V230, Context())
    assert up.document["total_cost"] == price_2_3_0
    down = translate(up.document, "sessions", "session", V230, V221, Context())
    assert down.document["total_cost"] == price_2_2_1
    assert up.losses == down.losses == ()


def test_several_taxes_are_summed_for_2_2_1_and_their_detail_counted_lost() -> None:
    price = {"before_taxes": Decimal("10.00"), "taxes": [
        {"name": "GST", "percentage": Decimal("5"), "amount": Decimal("0.50")},
        {"name": "QST", "percentage": Decimal("9.975"), "amount": Decimal("0.9975")}]}
    session = translate({**session_2_2_1(), "total_cost": {"excl_vat": 1}}, "sessions", "session", V221, V230,
                        Context()).document
    out = translate({**session, "total_cost": price}, "sessions", "session", V230, V221, Context())
    assert out.document["total_cost"] == {"excl_vat": Decimal("10.00"), "incl_vat": Decimal("11.4975")}
    assert out.losses == (("sessions", "total_cost.taxes"),)


def test_tax_inclusive_tariff_prices_are_taken_out_of_vat_for_2_2_1() -> None:
    tariff = {"country_code": "DE", "party_id": "HHC", "id": "T1", "currency": "EUR", "tax_included": "YES",
              "elements": [{"price_components": [{"type": "ENERGY", "price": Decimal("0.595"), "vat": Decimal("19"),
                                                  "step_size": 1}]}],
              "min_price": {"before_taxes": Decimal("1.00"), "after_taxes": Decimal("1.19")},
              "last_updated": "2024-03-01T10:00:00Z"}
    assert check(tariff, "tariffs", "tariff", V230) is None
    out = translate(tariff, "tariffs", "tariff", V230, V221, Context())
    assert out.document["elements"][0]["price_components"][0]["price"] == Decimal("0.5000")
    assert out.document["min_price"] == {"excl_vat": Decimal("1.00"), "incl_vat": Decimal("1.19")}
    assert "tax_included" not in out.document
    assert out.losses == (("tariffs", "tax_included"),)
    assert check(out.document, "tariffs", "tariff", V221) is None


def test_open_enum_values_2_2_1_lacks_are_dropped_and_counted() -> None:
    location = translate(location_2_2_1(), "locations", "location", V221, V230, Context()).document
    evse = location["evses"][1]
    mcs = {**evse["connectors"][0], "standard": "MCS", "capabilities": ["ISO_15118_20_PLUG_AND_CHARGE"]}
    evse = {**evse, "connectors": [mcs, evse["connectors"][1]], "capabilities": ["REMOTE_START_STOP_CAPABLE",
            "VENDOR_SPECIAL"], "parking_restrictions": ["TAXIS"], "accepted_service_providers": ["NL-EMS"],
            "parking": [{"parking_id": "P1"}]}
    location = {**location, "evses": [location["evses"][0], evse], "facilities": ["CAFE", "CHARGING_HUB"],
                "help_phone": "+4940123456", "parking_type": "ON_DRIVEWAY"}
    assert check(location, "locations", "location", V230) is None
    out = translate(location, "locations", "location", V230, V221, Context())
    down = out.document
    assert check(down, "locations", "location", V221) is None
    assert [c["id"] for c in down["evses"][1]["connectors"]] == ["2"]
    assert down["evses"][1]["capabilities"] == ["REMOTE_START_STOP_CAPABLE"]
    assert down["evses"][1]["parking_restrictions"] == []
    assert down["facilities"] == ["CAFE"]
    assert down["parking_type"] == "ON_DRIVEWAY"
    assert {f for _, f in out.losses} == {"evses.connectors", "evses.capabilities", "evses.parking_restrictions",
                                           "evses.accepted_service_providers", "evses.parking", "facilities",
                                           "help_phone"}


def test_cdr_with_a_connector_type_2_2_1_lacks_is_refused() -> None:
    cdr = {"cdr_location": {"connector_standard": "SAE_J3400"}, "total_cost": {"before_taxes": 1}}
    with pytest.raises(UntranslatableError) as refused:
        translate(cdr, "cdrs", "cdr", V230, V221, Context())
    assert refused.value.field == "cdr_location.connector_standard"


def test_emaid_token_type_becomes_other_for_2_2_1() -> None:
    token = {"country_code": "NL", "party_id": "EMS", "uid": "NL-EMS-C1", "type": "EMAID", "contract_id": "NL-EMS-C1",
             "issuer": "EMS", "valid": True, "whitelist": "NEVER", "last_updated": "2024-03-01T10:00:00Z"}
    assert check(token, "tokens", "token", V230) is None
    out = translate(token, "tokens", "token", V230, V221, Context())
    assert out.document["type"] == "OTHER"
    assert out.losses == (("tokens", "type"),)


def test_hub_role_becomes_hub_party_id_in_2_3_0() -> None:
    details = {"name": "Hub"}
    credentials = {"token": "t", "url": "https://hub.example/ocpi/versions", "roles": [
        {"role": "HUB", "party_id": "HUB", "country_code": "NL", "business_details": details},
        {"role": "CPO", "party_id": "CPA", "country_code": "NL", "business_details": details}]}
    out = translate(credentials, "credentials", "credentials", V221, V230, Context())
    assert out.document["hub_party_id"] == "NLHUB"
    assert [r["role"] for r in out.document["roles"]] == ["CPO"]
    assert check(out.document, "credentials", "credentials", V230) is None
    client_info = {"party_id": "HUB", "country_code": "NL", "role": "HUB", "status": "CONNECTED",
                   "last_updated": "2024-03-01T10:00:00Z"}
    with pytest.raises(UntranslatableError, match="HUB"):
        translate(client_info, "hubclientinfo", "client_info", V221, V230, Context())


# --- documents, numbers, pages, PATCH ------------------------------------------------------------

@pytest.mark.parametrize("target", [V211, V22, V230])
def test_vendor_fields_cross_every_version(target: OcpiVersion) -> None:
    location = {**location_2_2_1(), "x_vendor_rating": {"stars": 4}}
    location["evses"][0] = {**location["evses"][0], "vendor_bay": "B7"}
    out = translate(location, "locations", "location", V221, target, Context(owner=CPO))
    assert out.document["x_vendor_rating"] == {"stars": 4}
    assert out.document["evses"][0]["vendor_bay"] == "B7"


def test_numbers_leave_exactly_as_they_came() -> None:
    body = (b'{"result":"ACCEPTED","timeout":30}', b'{"excl_vat":0.10,"incl_vat":0.121}')
    assert codec.encode(codec.decode(body[0])) == body[0]
    session = {**session_2_2_1(), "total_cost": codec.decode(body[1]), "kwh": codec.decode(b"12.3400")}
    out = translate(session, "sessions", "session", V221, V230, Context())
    back = translate(out.document, "sessions", "session", V230, V221, Context())
    encoded = codec.encode(back.document)
    assert b'"total_cost":{"excl_vat":0.10,"incl_vat":0.121}' in encoded
    assert b'"kwh":12.3400' in encoded


def test_translation_never_changes_its_input() -> None:
    location = location_2_2_1()
    kept = copy.deepcopy(location)
    translate(location, "locations", "location", V221, V211, Context())
    translate(location, "locations", "location", V221, V230, Context())
    assert location == kept


def test_a_page_is_translated_object_by_object_with_losses_together() -> None:
    page = [location_2_2_1(), {**location_2_2_1(), "id": "HAM-0043", "state": "Hamburg"}]
    out = translate_list(page, "locations", "location", V221, V211, Context())
    assert [loc["id"] for loc in out.document] == ["HAM-0042", "HAM-0043"]
    assert ("locations", "state") in out.losses
    assert all(check(loc, "locations", "location", V211) is None for loc in out.document)


def test_patch_translates_only_what_is_present() -> None:
    patch = {"max_voltage": 400, "tariff_ids": ["DC-50", "DC-50-AD-HOC"], "last_updated": "2024-03-02T00:00:00Z"}
    out = translate_patch(patch, "locations", "connector", V221, V211, Context())
    assert out.document == {"voltage": 400, "tariff_id": "DC-50", "last_updated": "2024-03-02T00:00:00Z"}
    assert out.losses == (("locations", "evses.connectors.tariff_ids"),)
    up = translate_patch({"status": "CHARGING", "last_updated": "2024-03-02T00:00:00Z"}, "sessions", "session",
                         V211, V221, Context())
    assert up.document == {"status": "CHARGING", "last_updated": "2024-03-02T00:00:00Z"}


def test_an_unknown_object_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no such object"):
        translate({}, "locations", "parking", V221, V211, Context())


# --- the loss and tolerance label sets are closed -----------------------------------------------

def test_every_step_has_its_reverse() -> None:
    for module, steps in STEPS.items():
        for kind, a, b in steps:
            assert (kind, b, a) in steps, (module, kind, a, b)


def test_label_sets_are_closed_and_small() -> None:
    assert all(loss.module in STEPS for loss in ALL_LOSSES)
    assert len(ALL_LOSSES) < 150
    assert len(set(TOLERATED)) == len(TOLERATED)
