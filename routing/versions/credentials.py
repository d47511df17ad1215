"""Credentials between adjacent versions.

2.1.1 is flat: one party (``business_details``, ``party_id``, ``country_code``) and no role, which the
operator gives (context ``role``). 2.2/2.2.1 list ``roles``. 2.3.0 has no HUB role: a hub's own party
moves to ``hub_party_id`` (country code and party id as one five-character string).
"""

from __future__ import annotations

from typing import Any

from routing.versions.context import Context
from routing.versions.errors import UntranslatableError
from routing.versions.losses import declare
from routing.versions.steps import Doc, Notes, Step, StepKey, drop, need, unchanged
from routing.versions.version import OcpiVersion as V
from routing.versions.vocabulary import VOCABULARY

MODULE = "credentials"
ROLES = declare(MODULE, "roles")
ROLE = declare(MODULE, "roles.role")
HUB_PARTY_ID = declare(MODULE, "hub_party_id")

_PARTY_FIELDS = ("business_details", "party_id", "country_code")


def _up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = {k: v for k, v in doc.items() if k not in _PARTY_FIELDS}
    role = need(ctx.role, MODULE, "roles.role", "2.1.1 credentials carry no role; the operator must give it")
    out["roles"] = [{"role": role, **{k: doc[k] for k in _PARTY_FIELDS if k in doc}}]
    return out


def _down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    roles: Any = doc.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, dict) for r in roles):
        raise UntranslatableError(MODULE, "roles", "no party to name in 2.1.1 credentials")
    chosen = roles[0]
    if ctx.owner is not None:
        chosen = next((r for r in roles if (r.get("country_code"), r.get("party_id"))
                       == (ctx.owner.country_code, ctx.owner.party_id)), chosen)
    out = {k: v for k, v in doc.items() if k != "roles"}
    out.update({k: chosen[k] for k in _PARTY_FIELDS if k in chosen})
    notes.lost(ROLE)
    if len(roles) > 1:
        notes.lost(ROLES)
    return out


def _up_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    roles = doc.get("roles")
    if not isinstance(roles, list):
        return doc
    hubs = [r for r in roles if isinstance(r, dict) and r.get("role") == "HUB"]
    if not hubs:
        return doc
    out = dict(doc)
    out["roles"] = [r for r in roles if r not in hubs]
    if not out["roles"]:
        raise UntranslatableError(MODULE, "roles", "2.3.0 credentials list the parties behind a hub; "
                                                   "only the HUB role was given")
    out.setdefault("hub_party_id", f"{hubs[0].get('country_code', '')}{hubs[0].get('party_id', '')}")
    return out


def _down_2_3_0(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    drop(out, "hub_party_id", notes, HUB_PARTY_ID)
    roles = out.get("roles")
    known = VOCABULARY[V.V2_2_1].roles
    if isinstance(roles, list) and any(isinstance(r, dict) and r.get("role") not in known for r in roles):
        notes.lost(ROLE)
        out["roles"] = [{**r, "role": "OTHER"} if isinstance(r, dict) and r.get("role") not in known else r
                        for r in roles]
    return out


STEPS: dict[StepKey, Step] = {
    ("credentials", V.V2_1_1, V.V2_2): _up_2_1_1,
    ("credentials", V.V2_2, V.V2_1_1): _down_2_1_1,
    ("credentials", V.V2_2, V.V2_2_1): unchanged,
    ("credentials", V.V2_2_1, V.V2_2): unchanged,
    ("credentials", V.V2_2_1, V.V2_3_0): _up_2_2_1,
    ("credentials", V.V2_3_0, V.V2_2_1): _down_2_3_0,
}
