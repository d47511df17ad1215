"""Open routing: which party a request goes to when its OCPI-to headers do not name one.

Pure decisions over the request (module, interface, method, URL segments, a small view of the body)
and what the hub has learned. Each rule is one row of the README's table.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

from partners.errors import InvalidParametersError
from partners.model import InterfaceRole
from partners.registry import PartyKey
from routing.learned import Kind

# eMAID / contract id (ISO 15118): country code, provider id, 9-character instance, optional check digit,
# with or without separators (NL-TNM-C00122045-K, NLTNMC00122045K).
_EMAID = re.compile(r"^([A-Za-z]{2})([-*]?)([A-Za-z0-9]{3})\2[A-Za-z0-9]{9}(?:\2?[A-Za-z0-9])?$")
# EVSE id: country code, operator id, "E", then the id (BE*BEC*E041503001, BEBECE041503001).
_EVSE_ID = re.compile(r"^([A-Za-z]{2})(\*?)([A-Za-z0-9]{3})\2[Ee][A-Za-z0-9*]{1,30}$")

S, R = InterfaceRole.SENDER, InterfaceRole.RECEIVER


class _PartyRef(msgspec.Struct):
    country_code: str | None = None
    party_id: str | None = None


class _Body(msgspec.Struct):
    """The few fields the rules read; everything else in the body is skipped, not decoded."""

    cdr_token: _PartyRef | None = None
    location_id: str | None = None
    evse_uid: str | None = None
    session_id: str | None = None
    contract_id: str | None = None


_decode_body = msgspec.json.Decoder(_Body).decode

Lookup = Callable[[Kind, str], PartyKey | None]


def read_body(body: bytes | None) -> _Body:
    if not body:
        return _Body()
    try:
        return _decode_body(body)
    except msgspec.DecodeError:
        return _Body()  # a list, or fields of other types: no rule applies


def segments(suffix: str) -> list[str]:
    return [s for s in suffix.split("/") if s]


def _ref(ref: _PartyRef | None) -> PartyKey | None:
    if ref is None or not ref.country_code or not ref.party_id:
        return None
    return (ref.country_code.upper(), ref.party_id.upper())


def _prefix(pattern: re.Pattern[str], text: str | None) -> PartyKey | None:
    if not text:
        return None
    match = pattern.match(text)
    return (match.group(1).upper(), match.group(3).upper()) if match else None


def broadcastable(module: str, interface: InterfaceRole, method: str) -> bool:
    """Pushes of client-owned objects shared with everyone: never GET, never sessions or CDRs (they
    belong to one eMSP), never commands or charging profiles (they address one CPO)."""
    return method != "GET" and interface is R and module in ("locations", "tariffs", "tokens")


def decide(module: str, interface: InterfaceRole, method: str, suffix: str, body: _Body,
           lookup: Lookup) -> PartyKey | None:
    """The receiver, or None when no rule applies. Raises 2001 when a rule applies but the request
    lacks what it needs (the message says what)."""
    parts = segments(suffix)
    if interface is R and module in ("sessions", "cdrs"):
        found = _ref(body.cdr_token)
        if found is None and module == "sessions" and len(parts) >= 3:
            found = lookup(Kind.SESSION_EMSP, parts[2])  # a PATCH carries no cdr_token
        if found is None:
            raise InvalidParametersError(
                f"{module} are routed to the eMSP named in cdr_token (country_code, party_id): "
                "the body has none and no OCPI-to headers were sent"
            )
        return found
    if interface is R and module == "commands":
        found = lookup(Kind.LOCATION_CPO, body.location_id) if body.location_id else None
        found = found or _prefix(_EVSE_ID, body.evse_uid)
        if found is None and body.session_id:
            found = lookup(Kind.SESSION_CPO, body.session_id)
        if found is None:
            raise InvalidParametersError(
                "cannot tell which CPO this command is for: no OCPI-to headers, and neither location_id, "
                "an EVSE id prefix nor session_id names a CPO the hub knows"
            )
        return found
    if interface is R and module == "chargingprofiles" and parts:
        found = lookup(Kind.SESSION_CPO, parts[0])
        if found is None:
            raise InvalidParametersError(f"cannot tell which CPO runs session {parts[0]}: send OCPI-to headers")
        return found
    if interface is S and module == "tokens" and method == "POST" and len(parts) >= 2 and parts[-1] == "authorize":
        uid = parts[-2]
        found = lookup(Kind.TOKEN_EMSP, uid) or _prefix(_EMAID, body.contract_id) or _prefix(_EMAID, uid)
        if found is None:
            raise InvalidParametersError(f"cannot tell which eMSP issued token {uid}: send OCPI-to headers")
        return found
    if interface is S and module == "locations" and method == "GET" and parts:
        return lookup(Kind.LOCATION_CPO, parts[0])
    return None


def learn_from(module: str, interface: InterfaceRole, suffix: str, receiver: PartyKey,
               learn: Callable[[Kind, str, PartyKey], None]) -> None:
    """What a forwarded push teaches: client-owned object URLs (``/{cc}/{pid}/{id}``) name the owner."""
    if interface is not R:
        return
    parts = segments(suffix)
    if len(parts) < 3:
        return
    owner = (parts[0].upper(), parts[1].upper())
    if module == "locations":
        learn(Kind.LOCATION_CPO, parts[2], owner)
    elif module == "tokens":
        learn(Kind.TOKEN_EMSP, parts[2], owner)
    elif module == "sessions":
        learn(Kind.SESSION_CPO, parts[2], owner)
        learn(Kind.SESSION_EMSP, parts[2], receiver)
