"""CDRs between adjacent versions.

2.1.1 → 2.2: owner fields from the context; ``stop_date_time`` → ``end_date_time``; ``auth_id`` →
``cdr_token``; the embedded Location → ``cdr_location`` (the Location's other details are lost);
``total_cost`` number (excl. VAT) → Price; each Tariff stepped with the tariffs module.
Down to 2.1.1 the CDR needs a whole Location: the context's Location cut to the EVSE and connector,
with the address the CDR recorded. A credit CDR cannot go down to 2.1.1 (it would be billed as a
charge). 2.2 → 2.2.1: ``cdr_token`` gains its owner. 2.2.1 → 2.3.0: every Price gains taxes.
"""

from __future__ import annotations

from routing.versions import tolerated
from routing.versions.context import Context
from routing.versions.errors import UntranslatableError
from routing.versions.locations import location_at, location_with_one_connector
from routing.versions.losses import declare
from routing.versions.session_parts import (
    PartLosses,
    auth_method_known,
    cdr_token_from_auth_id,
    cdr_token_owner_down,
    cdr_token_owner_up,
    cdr_token_to_auth_id,
    cdr_token_type_known,
    periods_known,
    price_from_number,
    price_from_taxes,
    price_to_number,
    price_to_taxes,
)
from routing.versions.steps import Doc, Notes, Step, StepKey, drop, each, need, rename
from routing.versions.tariffs import tariff_step
from routing.versions.version import OcpiVersion as V
from routing.versions.vocabulary import VOCABULARY

MODULE = "cdrs"
PARTS = PartLosses(MODULE)

COUNTRY_CODE = declare(MODULE, "country_code")
PARTY_ID = declare(MODULE, "party_id")
SESSION_ID = declare(MODULE, "session_id")
AUTHORIZATION_REFERENCE = declare(MODULE, "authorization_reference")
LOCATION = declare(MODULE, "location")
CDR_LOCATION_STATE = declare(MODULE, "cdr_location.state")
SIGNED_DATA = declare(MODULE, "signed_data")
INVOICE_REFERENCE_ID = declare(MODULE, "invoice_reference_id")
CREDIT_REFERENCE_ID = declare(MODULE, "credit_reference_id")
HOME_CHARGING_COMPENSATION = declare(MODULE, "home_charging_compensation")

COST_FIELDS = ("total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
               "total_reservation_cost")
"""Prices a CDR has beside ``total_cost`` (2.2 on)."""
COSTS = {field: declare(MODULE, field) for field in COST_FIELDS}
COST_TAXES = {field: declare(MODULE, f"{field}.taxes") for field in COST_FIELDS}

_CDR_LOCATION_FROM_LOCATION = ("id", "name", "address", "city", "postal_code", "country", "coordinates")
_CDR_LOCATION_FROM_CONNECTOR = {"standard": "connector_standard", "format": "connector_format",
                                "power_type": "connector_power_type"}


def _tariffs(out: Doc, ctx: Context, notes: Notes, source: V, target: V) -> None:
    step = tariff_step(source, target)
    each(out, "tariffs", lambda t: step(t, ctx, notes, False))


def _cdr_location_from_2_1_1(location: object) -> Doc:
    if not isinstance(location, dict):
        raise UntranslatableError(MODULE, "cdr_location", "the CDR's Location is not an object")
    evses = location.get("evses")
    evse = evses[0] if isinstance(evses, list) and evses and isinstance(evses[0], dict) else {}
    connectors = evse.get("connectors")
    connector = connectors[0] if isinstance(connectors, list) and connectors and isinstance(connectors[0], dict) \
        else {}
    if "uid" not in evse or "id" not in connector:
        raise UntranslatableError(MODULE, "cdr_location.evse_uid", "the CDR's Location names no EVSE and connector")
    if evse.get("evse_id") is None:
        raise UntranslatableError(MODULE, "cdr_location.evse_id", "required from 2.2 on; the 2.1.1 EVSE has none")
    out: Doc = {k: location[k] for k in _CDR_LOCATION_FROM_LOCATION if k in location}
    out["evse_uid"] = evse["uid"]
    out["evse_id"] = evse["evse_id"]
    out["connector_id"] = connector["id"]
    for key, target in _CDR_LOCATION_FROM_CONNECTOR.items():
        if key in connector:
            out[target] = connector[key]
    return out


def _cdr_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if not partial:
        owner = need(ctx.owner, MODULE, "country_code", "the CPO that owns this 2.1.1 CDR is not known")
        out.setdefault("country_code", owner.country_code)
        out.setdefault("party_id", owner.party_id)
    if "stop_date_time" in out:
        rename(out, "stop_date_time", "end_date_time")
    elif "end_date_time" in out:
        notes.tolerate(tolerated.CDR_END_DATE_TIME_IN_2_1_1)
    cdr_token_from_auth_id(out, ctx, PARTS)
    if "location" in out:
        out["cdr_location"] = _cdr_location_from_2_1_1(out.pop("location"))
        notes.lost(LOCATION)
    if "total_cost" in out:
        out["total_cost"] = price_from_number(out["total_cost"])
    _tariffs(out, ctx, notes, V.V2_1_1, V.V2_2)
    periods_known(out, VOCABULARY[V.V2_2], notes, PARTS)
    return out


def _cdr_down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    if doc.get("credit") is True:
        raise UntranslatableError(MODULE, "credit", "2.1.1 has no credit CDRs: it would be billed as a charge")
    out = dict(doc)
    out.pop("credit", None)
    for key, loss in (("country_code", COUNTRY_CODE), ("party_id", PARTY_ID), ("session_id", SESSION_ID),
                      ("authorization_reference", AUTHORIZATION_REFERENCE), ("signed_data", SIGNED_DATA),
                      ("invoice_reference_id", INVOICE_REFERENCE_ID), ("credit_reference_id", CREDIT_REFERENCE_ID),
                      *COSTS.items()):
        drop(out, key, notes, loss)
    rename(out, "end_date_time", "stop_date_time")
    cdr_token_to_auth_id(out, notes, PARTS)
    if "cdr_location" in out:
        cdr_location = out.pop("cdr_location")
        if not isinstance(cdr_location, dict):
            raise UntranslatableError(MODULE, "cdr_location", "not an object")
        context_location = need(ctx.location, MODULE, "location", "a 2.1.1 CDR carries the whole Location; "
                                f"the hub needs Location {cdr_location.get('id')!r}")
        location = location_with_one_connector(location_at(context_location, V.V2_1_1, ctx),
                                               cdr_location.get("evse_uid"), cdr_location.get("connector_id"),
                                               MODULE)
        # Where the charging took place, as the CDR recorded it, wins over today's Location.
        out["location"] = {**location, **{k: cdr_location[k] for k in _CDR_LOCATION_FROM_LOCATION
                                          if k in cdr_location}}
    if "total_cost" in out:
        out["total_cost"] = price_to_number(out["total_cost"], notes, PARTS.incl_vat)
    _tariffs(out, ctx, notes, V.V2_2, V.V2_1_1)
    vocabulary = VOCABULARY[V.V2_1_1]
    auth_method_known(out, vocabulary, notes, PARTS)
    periods_known(out, vocabulary, notes, PARTS, drop_tariff_id=True)
    return out


def _cdr_up_2_2(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    cdr_token_owner_up(out, ctx, PARTS)
    cdr_location = out.get("cdr_location")
    if isinstance(cdr_location, dict) and cdr_location.get("postal_code") == "":
        out["cdr_location"] = {k: v for k, v in cdr_location.items() if k != "postal_code"}
    return out


def _cdr_down_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    cdr_token_owner_down(out, notes, PARTS)
    drop(out, "home_charging_compensation", notes, HOME_CHARGING_COMPENSATION)
    cdr_location = out.get("cdr_location")
    if isinstance(cdr_location, dict):
        cdr_location = dict(cdr_location)
        drop(cdr_location, "state", notes, CDR_LOCATION_STATE)
        # 2.2.1 leaves postal_code out where a Location has none; 2.2 requires it: "none".
        cdr_location.setdefault("postal_code", "")
        vocabulary = VOCABULARY[V.V2_2]
        for key, known in (("connector_standard", vocabulary.connector_types),
                           ("connector_power_type", vocabulary.power_types)):
            if key in cdr_location and cdr_location[key] not in known:
                raise UntranslatableError(MODULE, f"cdr_location.{key}",
                                          f"{cdr_location[key]!r} does not exist in OCPI 2.2")
        out["cdr_location"] = cdr_location
    return out


def _cdr_up_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    for key in ("total_cost", *COST_FIELDS):
        if key in out:
            out[key] = price_to_taxes(out[key])
    _tariffs(out, ctx, notes, V.V2_2_1, V.V2_3_0)
    return out


def _cdr_down_2_3_0(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if "total_cost" in out:
        out["total_cost"] = price_from_taxes(out["total_cost"], notes, PARTS.taxes)
    for key in COST_FIELDS:
        if key in out:
            out[key] = price_from_taxes(out[key], notes, COST_TAXES[key])
    _tariffs(out, ctx, notes, V.V2_3_0, V.V2_2_1)
    vocabulary = VOCABULARY[V.V2_2_1]
    cdr_token_type_known(out, vocabulary, notes, PARTS)
    cdr_location = out.get("cdr_location")
    standard = cdr_location.get("connector_standard") if isinstance(cdr_location, dict) else None
    if standard is not None and standard not in vocabulary.connector_types:
        # Required, so it cannot be dropped; a CDR is money, so it is refused rather than bent.
        raise UntranslatableError(MODULE, "cdr_location.connector_standard",
                                  f"{standard!r} does not exist in OCPI 2.2.1")
    return out


STEPS: dict[StepKey, Step] = {
    ("cdr", V.V2_1_1, V.V2_2): _cdr_up_2_1_1,
    ("cdr", V.V2_2, V.V2_1_1): _cdr_down_2_1_1,
    ("cdr", V.V2_2, V.V2_2_1): _cdr_up_2_2,
    ("cdr", V.V2_2_1, V.V2_2): _cdr_down_2_2_1,
    ("cdr", V.V2_2_1, V.V2_3_0): _cdr_up_2_2_1,
    ("cdr", V.V2_3_0, V.V2_2_1): _cdr_down_2_3_0,
}
