"""Sessions (and ChargingPreferences, 2.2+) between adjacent versions.

2.1.1 → 2.2: ``start_datetime``/``end_datetime`` → ``start_date_time``/``end_date_time``; owner fields
from the context; ``auth_id`` → ``cdr_token`` (uid and type from the context); the embedded Location →
``location_id``/``evse_uid``/``connector_id``; ``total_cost`` number (excl. VAT) → Price.
Down to 2.1.1 the Session needs its Location back: the context's Location, cut to the EVSE and
connector used. 2.2 → 2.2.1: ``cdr_token`` gains its owner (the eMSP the Session is for). 2.2.1 →
2.3.0: ``total_cost`` becomes ``{before_taxes, taxes}``.
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
from routing.versions.steps import Doc, Notes, Step, StepKey, drop, need, rename, unchanged
from routing.versions.version import OcpiVersion as V
from routing.versions.vocabulary import VOCABULARY

MODULE = "sessions"
PARTS = PartLosses(MODULE)

COUNTRY_CODE = declare(MODULE, "country_code")
PARTY_ID = declare(MODULE, "party_id")
AUTHORIZATION_REFERENCE = declare(MODULE, "authorization_reference")
LOCATION = declare(MODULE, "location")
STATUS = declare(MODULE, "status")


def _session_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if not partial:
        owner = need(ctx.owner, MODULE, "country_code", "the CPO that owns this 2.1.1 Session is not known")
        out.setdefault("country_code", owner.country_code)
        out.setdefault("party_id", owner.party_id)
    rename(out, "start_datetime", "start_date_time")
    rename(out, "end_datetime", "end_date_time")
    cdr_token_from_auth_id(out, ctx, PARTS)
    if "location" in out:
        location = out.pop("location")
        evses = location.get("evses") if isinstance(location, dict) else None
        evse = evses[0] if isinstance(evses, list) and evses and isinstance(evses[0], dict) else {}
        connectors = evse.get("connectors")
        connector = connectors[0] if isinstance(connectors, list) and connectors else {}
        if not isinstance(location, dict) or "uid" not in evse or not isinstance(connector, dict) \
                or "id" not in connector:
            raise UntranslatableError(MODULE, "evse_uid", "the Session's Location names no EVSE and connector")
        out["location_id"] = location.get("id")
        out["evse_uid"] = evse["uid"]
        out["connector_id"] = connector["id"]
        notes.lost(LOCATION)
    if "total_cost" in out:
        out["total_cost"] = price_from_number(out["total_cost"])
    periods_known(out, VOCABULARY[V.V2_2], notes, PARTS)
    return out


def _session_down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    drop(out, "country_code", notes, COUNTRY_CODE)
    drop(out, "party_id", notes, PARTY_ID)
    rename(out, "start_date_time", "start_datetime")
    rename(out, "end_date_time", "end_datetime")
    cdr_token_to_auth_id(out, notes, PARTS)
    drop(out, "authorization_reference", notes, AUTHORIZATION_REFERENCE)
    refs = [out.pop(k, None) for k in ("location_id", "evse_uid", "connector_id")]
    if not partial or any(r is not None for r in refs):
        context_location = need(ctx.location, MODULE, "location",
                                f"a 2.1.1 Session carries its Location; the hub needs Location {refs[0]!r}")
        location = location_at(context_location, V.V2_1_1, ctx)
        out["location"] = location_with_one_connector(location, refs[1], refs[2], MODULE)
    if "total_cost" in out:
        out["total_cost"] = price_to_number(out["total_cost"], notes, PARTS.incl_vat)
    if out.get("status") == "RESERVATION":
        out["status"] = "PENDING"  # reserved, not yet charging: the nearest 2.1.1 state
        notes.lost(STATUS)
    vocabulary = VOCABULARY[V.V2_1_1]
    auth_method_known(out, vocabulary, notes, PARTS)
    periods_known(out, vocabulary, notes, PARTS, drop_tariff_id=True)
    return out


def _session_up_2_2(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    cdr_token_owner_up(out, ctx, PARTS)
    if out.get("connector_id") == "":
        notes.tolerate(tolerated.SESSION_EMPTY_CONNECTOR_ID)
    return out


def _session_down_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    cdr_token_owner_down(out, notes, PARTS)
    return out


def _session_up_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    if "total_cost" not in doc:
        return doc
    return {**doc, "total_cost": price_to_taxes(doc["total_cost"])}


def _session_down_2_3_0(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if "total_cost" in out:
        out["total_cost"] = price_from_taxes(out["total_cost"], notes, PARTS.taxes)
    cdr_token_type_known(out, VOCABULARY[V.V2_2_1], notes, PARTS)
    return out


STEPS: dict[StepKey, Step] = {
    ("session", V.V2_1_1, V.V2_2): _session_up_2_1_1,
    ("session", V.V2_2, V.V2_1_1): _session_down_2_1_1,
    ("session", V.V2_2, V.V2_2_1): _session_up_2_2,
    ("session", V.V2_2_1, V.V2_2): _session_down_2_2_1,
    ("session", V.V2_2_1, V.V2_3_0): _session_up_2_2_1,
    ("session", V.V2_3_0, V.V2_2_1): _session_down_2_3_0,
    ("charging_preferences", V.V2_2, V.V2_2_1): unchanged,
    ("charging_preferences", V.V2_2_1, V.V2_2): unchanged,
    ("charging_preferences", V.V2_2_1, V.V2_3_0): unchanged,
    ("charging_preferences", V.V2_3_0, V.V2_2_1): unchanged,
}
