"""Tokens, AuthorizationInfo and LocationReferences between adjacent versions.

2.1.1 → 2.2: owner fields from the context (the eMSP), ``auth_id`` → ``contract_id``;
AuthorizationInfo gains the required ``token`` (the context's Token); LocationReferences lose
``connector_ids``. Down, the types 2.2 and 2.3.0 added become ``OTHER``.
"""

from __future__ import annotations

from routing.versions.context import Context, VersionedDocument
from routing.versions.losses import declare
from routing.versions.steps import Doc, Notes, Step, StepKey, drop, need, rename, unchanged
from routing.versions.version import OcpiVersion as V
from routing.versions.version import hops
from routing.versions.vocabulary import VOCABULARY

MODULE = "tokens"

COUNTRY_CODE = declare(MODULE, "country_code")
PARTY_ID = declare(MODULE, "party_id")
TYPE = declare(MODULE, "type")
GROUP_ID = declare(MODULE, "group_id")
DEFAULT_PROFILE_TYPE = declare(MODULE, "default_profile_type")
ENERGY_CONTRACT = declare(MODULE, "energy_contract")
TOKEN = declare(MODULE, "token")
AUTHORIZATION_REFERENCE = declare(MODULE, "authorization_reference")
CONNECTOR_IDS = declare(MODULE, "location.connector_ids")


def _type_known(out: Doc, target: V, notes: Notes) -> None:
    if "type" in out and out["type"] not in VOCABULARY[target].token_types:
        out["type"] = "OTHER"
        notes.lost(TYPE)


def token_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if not partial:
        owner = need(ctx.owner, MODULE, "country_code", "the eMSP that issued this 2.1.1 Token is not known")
        out.setdefault("country_code", owner.country_code)
        out.setdefault("party_id", owner.party_id)
    rename(out, "auth_id", "contract_id")
    return out


def token_down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    for key, loss in (("country_code", COUNTRY_CODE), ("party_id", PARTY_ID), ("group_id", GROUP_ID),
                      ("default_profile_type", DEFAULT_PROFILE_TYPE), ("energy_contract", ENERGY_CONTRACT)):
        drop(out, key, notes, loss)
    rename(out, "contract_id", "auth_id")
    _type_known(out, V.V2_1_1, notes)
    return out


def token_down_2_3_0(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    _type_known(out, V.V2_2_1, notes)
    return out


TOKEN_STEPS: dict[tuple[V, V], Step] = {
    (V.V2_1_1, V.V2_2): token_up_2_1_1,
    (V.V2_2, V.V2_1_1): token_down_2_1_1,
    (V.V2_2, V.V2_2_1): unchanged,
    (V.V2_2_1, V.V2_2): unchanged,
    (V.V2_2_1, V.V2_3_0): unchanged,
    (V.V2_3_0, V.V2_2_1): token_down_2_3_0,
}
"""Token steps by version pair, also for the Token inside commands and authorizations."""


def nested_token(out: Doc, key: str, ctx: Context, notes: Notes, source: V, target: V) -> None:
    if isinstance(out.get(key), dict):
        out[key] = TOKEN_STEPS[(source, target)](out[key], ctx, notes, False)


def _token_at(token: VersionedDocument, target: V, ctx: Context) -> Doc:
    doc = token.document
    notes = Notes()
    for source, to in hops(token.version, target):
        doc = TOKEN_STEPS[(source, to)](doc, ctx, notes, False)
    return doc


def _references_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if out.pop("connector_ids", None):
        notes.lost(CONNECTOR_IDS)  # 2.2 removed them: not unique within a Location
    return out


def _authorization_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if not partial and "token" not in out:
        token = need(ctx.token, MODULE, "token", "required from 2.2 on; the Token authorized is not known")
        out["token"] = _token_at(token, V.V2_2, ctx)
    if isinstance(out.get("location"), dict):
        out["location"] = _references_up_2_1_1(out["location"], ctx, notes, False)
    return out


def _authorization_down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    drop(out, "token", notes, TOKEN)
    drop(out, "authorization_reference", notes, AUTHORIZATION_REFERENCE)
    return out


def _authorization(source: V, target: V) -> Step:
    def step(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
        out = dict(doc)
        nested_token(out, "token", ctx, notes, source, target)
        return out
    return step


STEPS: dict[StepKey, Step] = {
    **{("token", a, b): step for (a, b), step in TOKEN_STEPS.items()},
    ("authorization_info", V.V2_1_1, V.V2_2): _authorization_up_2_1_1,
    ("authorization_info", V.V2_2, V.V2_1_1): _authorization_down_2_1_1,
    ("authorization_info", V.V2_2, V.V2_2_1): unchanged,
    ("authorization_info", V.V2_2_1, V.V2_2): unchanged,
    ("authorization_info", V.V2_2_1, V.V2_3_0): unchanged,
    ("authorization_info", V.V2_3_0, V.V2_2_1): _authorization(V.V2_3_0, V.V2_2_1),
    ("location_references", V.V2_1_1, V.V2_2): _references_up_2_1_1,
    ("location_references", V.V2_2, V.V2_1_1): unchanged,
    ("location_references", V.V2_2, V.V2_2_1): unchanged,
    ("location_references", V.V2_2_1, V.V2_2): unchanged,
    ("location_references", V.V2_2_1, V.V2_3_0): unchanged,
    ("location_references", V.V2_3_0, V.V2_2_1): unchanged,
}
