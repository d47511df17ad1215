"""The parts Sessions and CDRs share: CdrToken, ChargingPeriod and Price, stepped the same way in
both modules (each passes its own module name and loss constants)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from routing.versions.context import Context
from routing.versions.errors import UntranslatableError
from routing.versions.losses import Loss, declare
from routing.versions.steps import Doc, Notes, each, need
from routing.versions.vocabulary import Vocabulary


class PartLosses:
    """The loss constants of one module (``sessions`` or ``cdrs``) for the shared parts."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.cdr_token = declare(module, "cdr_token")
        self.token_country_code = declare(module, "cdr_token.country_code")
        self.token_party_id = declare(module, "cdr_token.party_id")
        self.token_type = declare(module, "cdr_token.type")
        self.dimensions = declare(module, "charging_periods.dimensions")
        self.tariff_id = declare(module, "charging_periods.tariff_id")
        self.incl_vat = declare(module, "total_cost.incl_vat")
        self.taxes = declare(module, "total_cost.taxes")
        self.auth_method = declare(module, "auth_method")


# --- CdrToken ------------------------------------------------------------------------------------

def cdr_token_from_auth_id(out: Doc, ctx: Context, losses: PartLosses) -> None:
    """2.1.1 ``auth_id`` (the token's contract id) → 2.2 ``cdr_token``; uid and type come from the context."""
    if "auth_id" not in out:
        return
    contract_id = out.pop("auth_id")
    reason = "a 2.1.1 {} names only the contract (auth_id); the token's {} must be known to the hub"
    out["cdr_token"] = {
        "uid": need(ctx.token_uid, losses.module, "cdr_token.uid", reason.format(losses.module, "uid")),
        "type": need(ctx.token_type, losses.module, "cdr_token.type", reason.format(losses.module, "type")),
        "contract_id": contract_id,
    }


def cdr_token_to_auth_id(out: Doc, notes: Notes, losses: PartLosses) -> None:
    token = out.pop("cdr_token", None)
    if isinstance(token, dict) and "contract_id" in token:
        out["auth_id"] = token["contract_id"]
        notes.lost(losses.cdr_token)


def cdr_token_owner_up(out: Doc, ctx: Context, losses: PartLosses) -> None:
    """2.2 CdrToken → 2.2.1: the owner fields 2.2.1 made mandatory, from the eMSP the document is for."""
    token = out.get("cdr_token")
    if not isinstance(token, dict) or ("country_code" in token and "party_id" in token):
        return
    owner = need(ctx.token_owner, losses.module, "cdr_token.country_code",
                 "2.2.1 names the eMSP that issued the token; the receiving eMSP is not known")
    out["cdr_token"] = {**token, "country_code": token.get("country_code", owner.country_code),
                        "party_id": token.get("party_id", owner.party_id)}


def cdr_token_owner_down(out: Doc, notes: Notes, losses: PartLosses) -> None:
    token = out.get("cdr_token")
    if isinstance(token, dict) and ("country_code" in token or "party_id" in token):
        token = dict(token)
        if token.pop("country_code", None) is not None:
            notes.lost(losses.token_country_code)
        if token.pop("party_id", None) is not None:
            notes.lost(losses.token_party_id)
        out["cdr_token"] = token


def cdr_token_type_known(out: Doc, vocabulary: Vocabulary, notes: Notes, losses: PartLosses) -> None:
    token = out.get("cdr_token")
    if isinstance(token, dict) and "type" in token and token["type"] not in vocabulary.token_types:
        out["cdr_token"] = {**token, "type": "OTHER"}
        notes.lost(losses.token_type)


def auth_method_known(out: Doc, vocabulary: Vocabulary, notes: Notes, losses: PartLosses) -> None:
    # COMMAND (2.2) says the session was started by a command: the eMSP authorized it, as with a
    # real-time authorization request, the nearest 2.1.1 value.
    if "auth_method" in out and out["auth_method"] not in vocabulary.auth_methods:
        out["auth_method"] = "AUTH_REQUEST"
        notes.lost(losses.auth_method)


# --- ChargingPeriod ------------------------------------------------------------------------------

def periods_known(out: Doc, vocabulary: Vocabulary, notes: Notes, losses: PartLosses,
                  drop_tariff_id: bool = False) -> None:
    """Dimensions the target lacks leave their period; a period left without dimensions goes too."""

    def period(p: Doc) -> Doc | None:
        p = dict(p)
        if drop_tariff_id and p.pop("tariff_id", None) is not None:
            notes.lost(losses.tariff_id)
        dims = p.get("dimensions")
        if isinstance(dims, list):
            p["dimensions"] = [d for d in dims if not isinstance(d, dict) or d.get("type") in vocabulary.cdr_dimensions]
            if len(p["dimensions"]) != len(dims):
                notes.lost(losses.dimensions)
            if not p["dimensions"]:
                return None
        return p

    each(out, "charging_periods", period)


# --- Price ---------------------------------------------------------------------------------------

def price_from_number(value: Any) -> Any:
    """2.1.1 costs are numbers excluding VAT."""
    return {"excl_vat": value} if isinstance(value, (Decimal, int)) else value


def price_to_number(value: Any, notes: Notes, loss: Loss) -> Any:
    if not isinstance(value, dict):
        return value
    if value.get("incl_vat") is not None:
        notes.lost(loss)
    return value.get("excl_vat")


def price_to_taxes(value: Any) -> Any:
    """2.2.1 ``{excl_vat, incl_vat}`` → 2.3.0 ``{before_taxes, taxes}``: the difference is one tax, VAT."""
    if not isinstance(value, dict) or "excl_vat" not in value:
        return value
    out = {k: v for k, v in value.items() if k not in ("excl_vat", "incl_vat")}
    out["before_taxes"] = value["excl_vat"]
    incl = value.get("incl_vat")
    if isinstance(incl, (Decimal, int)) and isinstance(value["excl_vat"], (Decimal, int)):
        out["taxes"] = [{"name": "VAT", "amount": Decimal(incl) - Decimal(value["excl_vat"])}]
    return out


def price_from_taxes(value: Any, notes: Notes, loss: Loss) -> Any:
    """2.3.0 → 2.2.1: the taxes are summed into ``incl_vat``; their names, rates and accounts are lost
    unless they were the one VAT amount 2.2.1 can say."""
    if not isinstance(value, dict) or "before_taxes" not in value:
        return value
    out = {k: v for k, v in value.items() if k not in ("before_taxes", "taxes")}
    out["excl_vat"] = value["before_taxes"]
    taxes = value.get("taxes")
    if isinstance(taxes, list):
        amounts = [t.get("amount") for t in taxes if isinstance(t, dict)]
        if not all(isinstance(a, (Decimal, int)) for a in amounts) or not isinstance(out["excl_vat"], (Decimal, int)):
            raise UntranslatableError(loss.module, loss.field, "a tax amount is not a number")
        out["incl_vat"] = sum((Decimal(a) for a in amounts if a is not None), Decimal(out["excl_vat"]))
        plain_vat = len(taxes) == 1 and isinstance(taxes[0], dict) and set(taxes[0]) == {"name", "amount"} \
            and taxes[0]["name"] == "VAT"
        if not plain_vat:
            notes.lost(loss)
    return out
