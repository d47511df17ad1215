"""Tariffs between adjacent versions.

2.1.1 → 2.2: owner fields from the context; nothing else changes shape (2.1.1 prices exclude VAT,
as 2.2's do). 2.2 ↔ 2.2.1: identical. 2.2.1 → 2.3.0: ``min_price``/``max_price`` become PriceLimit
(``before_taxes``/``after_taxes``) and ``tax_included`` is ``NO`` (2.2.1 prices exclude VAT).
Down to 2.2.1, a tax-inclusive 2.3.0 tariff has its prices taken back out of VAT where each component
names its rate; without the rate it cannot be expressed and is refused.
Down to 2.1.1, an element restricted to reservations is dropped whole: 2.1.1 would apply its price to
charging.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from routing.versions.context import Context
from routing.versions.errors import UntranslatableError
from routing.versions.locations import energy_mix_down_2_1_1, energy_mix_known, energy_mix_up_2_1_1
from routing.versions.losses import declare
from routing.versions.steps import Doc, Notes, Step, StepKey, drop, each, need, unchanged
from routing.versions.version import OcpiVersion as V
from routing.versions.vocabulary import VOCABULARY

MODULE = "tariffs"

COUNTRY_CODE = declare(MODULE, "country_code")
PARTY_ID = declare(MODULE, "party_id")
TYPE = declare(MODULE, "type")
MIN_PRICE = declare(MODULE, "min_price")
MAX_PRICE = declare(MODULE, "max_price")
START_DATE_TIME = declare(MODULE, "start_date_time")
END_DATE_TIME = declare(MODULE, "end_date_time")
PREAUTHORIZE_AMOUNT = declare(MODULE, "preauthorize_amount")
TAX_INCLUDED = declare(MODULE, "tax_included")
VAT = declare(MODULE, "elements.price_components.vat")
MIN_CURRENT = declare(MODULE, "elements.restrictions.min_current")
MAX_CURRENT = declare(MODULE, "elements.restrictions.max_current")
RESERVATION = declare(MODULE, "elements.restrictions.reservation")
ENVIRON_IMPACT = declare(MODULE, "energy_mix.environ_impact")

_FOUR_PLACES = Decimal("0.0001")


def _tariff_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if not partial:
        owner = need(ctx.owner, MODULE, "country_code", "the CPO that owns this 2.1.1 Tariff is not known")
        out.setdefault("country_code", owner.country_code)
        out.setdefault("party_id", owner.party_id)
    if isinstance(out.get("energy_mix"), dict):
        out["energy_mix"] = energy_mix_up_2_1_1(out["energy_mix"])
    return out


def _element_down_2_1_1(element: Doc, notes: Notes) -> Doc | None:
    out = dict(element)
    restrictions = out.get("restrictions")
    if isinstance(restrictions, dict):
        if restrictions.get("reservation") is not None:
            notes.lost(RESERVATION)
            return None
        restrictions = dict(restrictions)
        restrictions.pop("reservation", None)
        drop(restrictions, "min_current", notes, MIN_CURRENT)
        drop(restrictions, "max_current", notes, MAX_CURRENT)
        out["restrictions"] = restrictions

    def component(c: Doc) -> Doc:
        c = dict(c)
        drop(c, "vat", notes, VAT)
        return c

    each(out, "price_components", component)
    return out


def _tariff_down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    for key, loss in (("country_code", COUNTRY_CODE), ("party_id", PARTY_ID), ("type", TYPE),
                      ("min_price", MIN_PRICE), ("max_price", MAX_PRICE), ("start_date_time", START_DATE_TIME),
                      ("end_date_time", END_DATE_TIME)):
        drop(out, key, notes, loss)
    each(out, "elements", lambda e: _element_down_2_1_1(e, notes))
    if "elements" in out and not out["elements"]:
        raise UntranslatableError(MODULE, "elements", "every element of this tariff prices a reservation, "
                                                      "which 2.1.1 cannot express")
    if isinstance(out.get("energy_mix"), dict):
        mix = energy_mix_known(out["energy_mix"], VOCABULARY[V.V2_1_1], notes, ENVIRON_IMPACT)
        out["energy_mix"] = energy_mix_down_2_1_1(mix)
    return out


def _limit_up(price: Any) -> Any:
    if not isinstance(price, dict):
        return price
    out = {("before_taxes" if k == "excl_vat" else "after_taxes" if k == "incl_vat" else k): v
           for k, v in price.items()}
    return out


def _limit_down(price: Any) -> Any:
    if not isinstance(price, dict):
        return price
    return {("excl_vat" if k == "before_taxes" else "incl_vat" if k == "after_taxes" else k): v
            for k, v in price.items()}


def _tariff_up_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    for key in ("min_price", "max_price"):
        if key in out:
            out[key] = _limit_up(out[key])
    if not partial:
        out.setdefault("tax_included", "NO")
    return out


def _without_tax(component: Doc) -> Doc:
    vat = component.get("vat")
    price = component.get("price")
    if not isinstance(vat, (Decimal, int)) or not isinstance(price, (Decimal, int)):
        raise UntranslatableError(MODULE, "tax_included", "prices include taxes at a rate the tariff does not "
                                                          "name; 2.2.1 prices exclude VAT")
    return {**component, "price": (Decimal(price) * 100 / (100 + Decimal(vat))).quantize(_FOUR_PLACES)}


def _tariff_down_2_3_0(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    for key in ("min_price", "max_price"):
        if key in out:
            out[key] = _limit_down(out[key])
    drop(out, "preauthorize_amount", notes, PREAUTHORIZE_AMOUNT)
    if out.pop("tax_included", "NO") == "YES":
        notes.lost(TAX_INCLUDED)

        def element(e: Doc) -> Doc:
            e = dict(e)
            each(e, "price_components", _without_tax)
            return e

        each(out, "elements", element)
    if isinstance(out.get("energy_mix"), dict):
        out["energy_mix"] = energy_mix_known(out["energy_mix"], VOCABULARY[V.V2_2_1], notes, ENVIRON_IMPACT)
    return out


def tariff_step(source: V, target: V) -> Step:
    """The tariff step for an adjacent pair (CDRs carry tariffs and step them alongside)."""
    return STEPS[("tariff", source, target)]


STEPS: dict[StepKey, Step] = {
    ("tariff", V.V2_1_1, V.V2_2): _tariff_up_2_1_1,
    ("tariff", V.V2_2, V.V2_1_1): _tariff_down_2_1_1,
    ("tariff", V.V2_2, V.V2_2_1): unchanged,
    ("tariff", V.V2_2_1, V.V2_2): unchanged,
    ("tariff", V.V2_2_1, V.V2_3_0): _tariff_up_2_2_1,
    ("tariff", V.V2_3_0, V.V2_2_1): _tariff_down_2_3_0,
}
