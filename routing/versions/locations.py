"""Locations (Location, EVSE, Connector) between adjacent versions.

2.1.1 → 2.2: owner fields from the context, ``publish: true`` (2.1.1 shares every Location it
pushes), ``type`` → ``parking_type``, ``time_zone`` required (the platform's default or an error),
Hours always carry ``twentyfourseven``, EnvironmentalImpact ``source`` → ``category``, Connector
``voltage``/``amperage``/``tariff_id`` → ``max_voltage``/``max_amperage``/``tariff_ids``.
2.2 → 2.2.1: nothing changes shape; a 2.2 Location without ``time_zone`` is tolerated.
2.2.1 → 2.3.0: nothing to add. Down, every step drops what the target lacks and filters enum values
it does not know; a connector of a type the target cannot name leaves its EVSE (an EVSE left without
connectors leaves the Location).
"""

from __future__ import annotations

from typing import Any

from routing.versions import tolerated
from routing.versions.context import Context, VersionedDocument
from routing.versions.errors import UntranslatableError
from routing.versions.losses import Loss, declare
from routing.versions.steps import Doc, Notes, Step, StepKey, drop, each, keep_known, need, rename, unchanged
from routing.versions.version import OcpiVersion as V
from routing.versions.version import hops
from routing.versions.vocabulary import VOCABULARY, Vocabulary

MODULE = "locations"

COUNTRY_CODE = declare(MODULE, "country_code")
PARTY_ID = declare(MODULE, "party_id")
TYPE = declare(MODULE, "type")
PARKING_TYPE = declare(MODULE, "parking_type")
PUBLISH_ALLOWED_TO = declare(MODULE, "publish_allowed_to")
STATE = declare(MODULE, "state")
FACILITIES = declare(MODULE, "facilities")
ENVIRON_IMPACT = declare(MODULE, "energy_mix.environ_impact")
IMAGE_CATEGORY = declare(MODULE, "images.category")
PARKING_PLACES = declare(MODULE, "parking_places")
HELP_PHONE = declare(MODULE, "help_phone")
EVSES = declare(MODULE, "evses")
CAPABILITIES = declare(MODULE, "evses.capabilities")
PARKING_RESTRICTIONS = declare(MODULE, "evses.parking_restrictions")
EVSE_PARKING = declare(MODULE, "evses.parking")
ACCEPTED_SERVICE_PROVIDERS = declare(MODULE, "evses.accepted_service_providers")
CONNECTORS = declare(MODULE, "evses.connectors")
MAX_ELECTRIC_POWER = declare(MODULE, "evses.connectors.max_electric_power")
TARIFF_IDS = declare(MODULE, "evses.connectors.tariff_ids")
CONNECTOR_CAPABILITIES = declare(MODULE, "evses.connectors.capabilities")

_PARKING_FROM_2_1_1 = {"ON_STREET": "ON_STREET", "PARKING_GARAGE": "PARKING_GARAGE",
                       "UNDERGROUND_GARAGE": "UNDERGROUND_GARAGE", "PARKING_LOT": "PARKING_LOT"}


# --- shared sub-objects (also used by tariffs, sessions and cdrs) -------------------------------

def energy_mix_up_2_1_1(mix: Doc) -> Doc:
    out = dict(mix)
    each(out, "environ_impact", _impact_source_to_category)
    return out


def energy_mix_down_2_1_1(mix: Doc) -> Doc:
    out = dict(mix)
    each(out, "environ_impact", _impact_category_to_source)
    return out


def energy_mix_known(mix: Doc, vocabulary: Vocabulary, notes: Notes, loss: Loss = ENVIRON_IMPACT) -> Doc:
    impacts = mix.get("environ_impact")
    if not isinstance(impacts, list):
        return mix
    kept = [i for i in impacts if not isinstance(i, dict)
            or i.get("category", i.get("source")) in vocabulary.impact_categories]
    if len(kept) == len(impacts):
        return mix
    notes.lost(loss)
    return {**mix, "environ_impact": kept}


def _impact_source_to_category(impact: Doc) -> Doc:
    out = dict(impact)
    rename(out, "source", "category")
    return out


def _impact_category_to_source(impact: Doc) -> Doc:
    out = dict(impact)
    rename(out, "category", "source")
    return out


def _image_known(image: Doc, vocabulary: Vocabulary, notes: Notes) -> Doc:
    if image.get("category") in vocabulary.image_categories or "category" not in image:
        return image
    notes.lost(IMAGE_CATEGORY)
    return {**image, "category": "OTHER"}


def _images_known(out: Doc, vocabulary: Vocabulary, notes: Notes) -> None:
    each(out, "images", lambda i: _image_known(i, vocabulary, notes))
    for key in ("operator", "suboperator", "owner"):
        details = out.get(key)
        if isinstance(details, dict) and isinstance(details.get("logo"), dict):
            out[key] = {**details, "logo": _image_known(details["logo"], vocabulary, notes)}


# --- Connector -----------------------------------------------------------------------------------

def _connector_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    rename(out, "voltage", "max_voltage")
    rename(out, "amperage", "max_amperage")
    if "tariff_id" in out:
        tariff_id = out.pop("tariff_id")
        if tariff_id is not None:
            out["tariff_ids"] = [tariff_id]
    return out


def _connector_down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = _connector_known(doc, VOCABULARY[V.V2_1_1], notes)
    rename(out, "max_voltage", "voltage")
    rename(out, "max_amperage", "amperage")
    drop(out, "max_electric_power", notes, MAX_ELECTRIC_POWER)
    if "tariff_ids" in out:
        tariff_ids = out.pop("tariff_ids")
        if isinstance(tariff_ids, list) and tariff_ids:
            # 2.1.1 has one tariff per connector: the first one is the connector's regular tariff
            # (2.2 added the others for charging preferences and ad hoc payment).
            out["tariff_id"] = tariff_ids[0]
            if len(tariff_ids) > 1:
                notes.lost(TARIFF_IDS)
    return out


def _connector_known(doc: Doc, vocabulary: Vocabulary, notes: Notes) -> Doc:
    """A copy of the connector, or an error if the target version cannot name its type."""
    for key, known in (("standard", vocabulary.connector_types), ("power_type", vocabulary.power_types)):
        if key in doc and doc[key] not in known:
            raise UntranslatableError(MODULE, key, f"{doc[key]!r} does not exist in the target version")
    return dict(doc)


def _connector_down_2_2(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    return _connector_known(doc, VOCABULARY[V.V2_2], notes)


def _connector_down_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = _connector_known(doc, VOCABULARY[V.V2_2_1], notes)
    drop(out, "capabilities", notes, CONNECTOR_CAPABILITIES)
    return out


# --- EVSE ----------------------------------------------------------------------------------------

def _evse_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    each(out, "connectors", lambda c: _connector_up_2_1_1(c, ctx, notes, False))
    return out


def _evse_down(doc: Doc, ctx: Context, notes: Notes, partial: bool, vocabulary: Vocabulary,
               connector_step: Step) -> Doc:
    out = dict(doc)
    if isinstance(out.get("capabilities"), list):
        out["capabilities"] = keep_known(out["capabilities"], vocabulary.capabilities, notes, CAPABILITIES)
    if isinstance(out.get("parking_restrictions"), list):
        out["parking_restrictions"] = keep_known(out["parking_restrictions"], vocabulary.parking_restrictions,
                                                 notes, PARKING_RESTRICTIONS)
    _images_known(out, vocabulary, notes)

    def connector(c: Doc) -> Doc | None:
        try:
            return connector_step(c, ctx, notes, False)
        except UntranslatableError:
            notes.lost(CONNECTORS)
            return None

    each(out, "connectors", connector)
    if "connectors" in out and not out["connectors"]:
        raise UntranslatableError(MODULE, "connectors", "no connector of this EVSE exists in the target version")
    return out


def _evse_down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    return _evse_down(doc, ctx, notes, partial, VOCABULARY[V.V2_1_1], _connector_down_2_1_1)


def _evse_down_2_2(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    return _evse_down(doc, ctx, notes, partial, VOCABULARY[V.V2_2], _connector_down_2_2)


def _evse_down_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = _evse_down(doc, ctx, notes, partial, VOCABULARY[V.V2_2_1], _connector_down_2_2_1)
    drop(out, "parking", notes, EVSE_PARKING)
    drop(out, "accepted_service_providers", notes, ACCEPTED_SERVICE_PROVIDERS)
    return out


# --- Location ------------------------------------------------------------------------------------

def _hours_up_2_1_1(hours: Any, notes: Notes) -> Any:
    if not isinstance(hours, dict) or "twentyfourseven" in hours:
        return hours
    if "regular_hours" not in hours:
        notes.tolerate(tolerated.OPENING_TIMES_WITHOUT_CHOICE)
    # 2.1.1's choice: regular hours given means not open 24/7.
    return {**hours, "twentyfourseven": False}


def _hours_down_2_1_1(hours: Any) -> Any:
    # 2.2's twentyfourseven stays: widely used 2.1.1 stacks require it even beside regular_hours
    # (the shared notes), and 2.1.1 readers take true to mean "no regular hours".
    if isinstance(hours, dict) and hours.get("twentyfourseven") is True and "regular_hours" in hours:
        return {k: v for k, v in hours.items() if k != "regular_hours"}
    return hours


def _location_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if not partial:
        owner = need(ctx.owner, MODULE, "country_code", "the CPO that owns this 2.1.1 Location is not known")
        out.setdefault("country_code", owner.country_code)
        out.setdefault("party_id", owner.party_id)
        out.setdefault("publish", True)
    if "type" in out:
        location_type = out.pop("type")
        if location_type in _PARKING_FROM_2_1_1:
            out["parking_type"] = _PARKING_FROM_2_1_1[location_type]
        elif location_type == "OTHER":
            notes.lost(TYPE)
        # UNKNOWN: 2.2 says the same by leaving parking_type out.
    if not partial and out.get("time_zone") is None:
        out["time_zone"] = need(ctx.time_zone, MODULE, "time_zone",
                                "required from 2.2 on; set a default time zone for this platform")
    if "opening_times" in out:
        out["opening_times"] = _hours_up_2_1_1(out["opening_times"], notes)
    if isinstance(out.get("energy_mix"), dict):
        out["energy_mix"] = energy_mix_up_2_1_1(out["energy_mix"])
    each(out, "evses", lambda e: _evse_up_2_1_1(e, ctx, notes, False))
    return out


def _location_common_down(out: Doc, ctx: Context, notes: Notes, vocabulary: Vocabulary, evse_step: Step) -> None:
    if isinstance(out.get("facilities"), list):
        out["facilities"] = keep_known(out["facilities"], vocabulary.facilities, notes, FACILITIES)
    if isinstance(out.get("energy_mix"), dict):
        out["energy_mix"] = energy_mix_known(out["energy_mix"], vocabulary, notes)
    _images_known(out, vocabulary, notes)

    def evse(e: Doc) -> Doc | None:
        try:
            return evse_step(e, ctx, notes, False)
        except UntranslatableError:
            notes.lost(EVSES)
            return None

    each(out, "evses", evse)


def _location_down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    drop(out, "country_code", notes, COUNTRY_CODE)
    drop(out, "party_id", notes, PARTY_ID)
    if out.pop("publish", True) is False:
        # Dropping the flag would publish a Location its CPO keeps private: refuse instead.
        raise UntranslatableError(MODULE, "publish", "2.1.1 cannot keep a Location unpublished")
    drop(out, "publish_allowed_to", notes, PUBLISH_ALLOWED_TO)
    if "parking_type" in out:
        parking_type = out.pop("parking_type")
        if parking_type in _PARKING_FROM_2_1_1:
            out["type"] = parking_type
        else:
            out["type"] = "OTHER"
            notes.lost(PARKING_TYPE)
    elif not partial:
        out["type"] = "UNKNOWN"
    drop(out, "state", notes, STATE)
    if not partial and "postal_code" not in out:
        # 2.2 leaves it out where a Location has none; 2.1.1 requires the field, so it says "none".
        out["postal_code"] = ""
    if "opening_times" in out:
        out["opening_times"] = _hours_down_2_1_1(out["opening_times"])
    _location_common_down(out, ctx, notes, VOCABULARY[V.V2_1_1], _evse_down_2_1_1)
    if isinstance(out.get("energy_mix"), dict):
        out["energy_mix"] = energy_mix_down_2_1_1(out["energy_mix"])
    return out


def _location_up_2_2(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = doc
    if doc.get("postal_code") == "":
        # 2.2 required a postal code even where there is none; 2.2.1 leaves the field out instead.
        out = {k: v for k, v in doc.items() if k != "postal_code"}
    if partial or out.get("time_zone") is not None:
        return out
    if ctx.time_zone is None:
        notes.tolerate(tolerated.LOCATION_TIME_ZONE_MISSING)
        return out
    notes.tolerate(tolerated.LOCATION_TIME_ZONE_DEFAULT)
    return {**out, "time_zone": ctx.time_zone}


def _location_down_2_2(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    drop(out, "state", notes, STATE)
    if not partial and "postal_code" not in out:
        out["postal_code"] = ""
    _location_common_down(out, ctx, notes, VOCABULARY[V.V2_2], _evse_down_2_2)
    return out


def _location_down_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    drop(out, "parking_places", notes, PARKING_PLACES)
    drop(out, "help_phone", notes, HELP_PHONE)
    vocabulary = VOCABULARY[V.V2_2_1]
    if "parking_type" in out and out["parking_type"] not in vocabulary.parking_types:
        drop(out, "parking_type", notes, PARKING_TYPE)
    each(out, "publish_allowed_to", lambda t: _publish_token_known(t, vocabulary, notes))
    _location_common_down(out, ctx, notes, vocabulary, _evse_down_2_2_1)
    return out


def _publish_token_known(token: Doc, vocabulary: Vocabulary, notes: Notes) -> Doc:
    if "type" not in token or token["type"] in vocabulary.token_types:
        return token
    notes.lost(PUBLISH_ALLOWED_TO)
    return {**token, "type": "OTHER"}


STEPS: dict[StepKey, Step] = {
    ("location", V.V2_1_1, V.V2_2): _location_up_2_1_1,
    ("location", V.V2_2, V.V2_1_1): _location_down_2_1_1,
    ("location", V.V2_2, V.V2_2_1): _location_up_2_2,
    ("location", V.V2_2_1, V.V2_2): _location_down_2_2,
    ("location", V.V2_2_1, V.V2_3_0): unchanged,
    ("location", V.V2_3_0, V.V2_2_1): _location_down_2_2_1,
    ("evse", V.V2_1_1, V.V2_2): _evse_up_2_1_1,
    ("evse", V.V2_2, V.V2_1_1): _evse_down_2_1_1,
    ("evse", V.V2_2, V.V2_2_1): unchanged,
    ("evse", V.V2_2_1, V.V2_2): _evse_down_2_2,
    ("evse", V.V2_2_1, V.V2_3_0): unchanged,
    ("evse", V.V2_3_0, V.V2_2_1): _evse_down_2_2_1,
    ("connector", V.V2_1_1, V.V2_2): _connector_up_2_1_1,
    ("connector", V.V2_2, V.V2_1_1): _connector_down_2_1_1,
    ("connector", V.V2_2, V.V2_2_1): unchanged,
    ("connector", V.V2_2_1, V.V2_2): _connector_down_2_2,
    ("connector", V.V2_2_1, V.V2_3_0): unchanged,
    ("connector", V.V2_3_0, V.V2_2_1): _connector_down_2_2_1,
}


def location_at(location: VersionedDocument, target: V, ctx: Context) -> Doc:
    """A context Location written in ``target``'s shape. What that crossing loses is not counted: the
    Location is only read from, to build the 2.1.1 Location a Session or CDR carries."""
    # Only read from: an unpublished Location still tells the eMSP of a session where it charged.
    doc = {k: v for k, v in location.document.items() if k not in ("publish", "publish_allowed_to")}
    notes = Notes()
    for source, to in hops(location.version, target):
        doc = STEPS[("location", source, to)](doc, ctx, notes, False)
    return doc


def location_with_one_connector(location: Doc, evse_uid: Any, connector_id: Any, module: str) -> Doc:
    """``location`` cut down to the one EVSE and connector a 2.1.1 Session or CDR names."""
    evse = _find(location.get("evses"), "uid", evse_uid)
    if evse is None:
        raise UntranslatableError(module, "location", f"EVSE {evse_uid!r} is not part of Location "
                                                      f"{location.get('id')!r}")
    found = evse.get("connectors")
    connectors: list[Any] = found if isinstance(found, list) else []
    connector = _find(connectors, "id", connector_id)
    if connector is None and connector_id == "" and len(connectors) == 1:
        connector = connectors[0]  # some 2.2 stacks send connector_id "" for an EVSE's only connector
    if connector is None:
        raise UntranslatableError(module, "location", f"connector {connector_id!r} is not part of EVSE "
                                                      f"{evse_uid!r}")
    return {**location, "evses": [{**evse, "connectors": [connector]}]}


def _find(items: Any, key: str, value: Any) -> Doc | None:
    if not isinstance(items, list) or not isinstance(value, str):
        return None
    wanted = value.casefold()  # OCPI ids are case-insensitive
    return next((i for i in items if isinstance(i, dict) and str(i.get(key, "")).casefold() == wanted), None)
