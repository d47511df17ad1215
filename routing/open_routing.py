"""Open routing: which party a request goes to when its OCPI-to headers do not name one.

Pure decisions over the request (module, interface, method, URL segments, the body view) and what
the hub has learned, keyed by owner and id. Each rule is one row of the README's table. Where an id
is known from several owners, only those the policy lets the sender reach count; if several remain,
the request is refused (rule *ambiguous*) rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from partners.errors import InvalidParametersError
from partners.model import InterfaceRole
from partners.registry import PartyKey
from routing.body_view import BodyView, party, single
from routing.errors import AgreementDeniedError, AmbiguousReceiverError
from routing.learned import Kind, LearnedRoutes
from routing.policy import Ask

# eMAID / contract id (ISO 15118): country code, provider id, 9-character instance, optional check digit,
# with or without separators (NL-TNM-C00122045-K, NLTNMC00122045K).
_EMAID = re.compile(r"^([A-Za-z]{2})([-*]?)([A-Za-z0-9]{3})\2[A-Za-z0-9]{9}(?:\2?[A-Za-z0-9])?$")
# EVSE id: country code, operator id, "E", then the id (BE*BEC*E041503001, BEBECE041503001).
_EVSE_ID = re.compile(r"^([A-Za-z]{2})(\*?)([A-Za-z0-9]{3})\2[Ee][A-Za-z0-9*]{1,30}$")

S, R = InterfaceRole.SENDER, InterfaceRole.RECEIVER


Admits = Callable[[PartyKey], bool]
_NO_VIEW = BodyView()


def _prefix(pattern: re.Pattern[str], text: Any) -> PartyKey | None:
    if not isinstance(text, str) or not text:
        return None
    match = pattern.match(text)
    return (match.group(1).upper(), match.group(3).upper()) if match else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _label(key: PartyKey) -> str:
    return f"{key[0]}*{key[1]}"


def _pick(owners: Iterable[PartyKey], what: str, ask: Ask, admits: Admits,
          prefer: PartyKey | None = None) -> PartyKey | None:
    """The one owner of ``what`` the sender may reach; None when nobody is known. Several: refused
    (rule *ambiguous*), never guessed, unless ``prefer`` (another hint of the request) is one of them."""
    known = list(dict.fromkeys(owners))
    if not known:
        return None
    admitted = [owner for owner in known if admits(owner)]
    if len(admitted) == 1:
        return admitted[0]
    if len(admitted) > 1:
        if prefer in admitted:
            return prefer
        raise AmbiguousReceiverError(
            f"{what} is known from several parties ({', '.join(map(_label, admitted))}): the hub will not guess; "
            "send OCPI-to-country-code and OCPI-to-party-id"
        )
    if len(known) == 1:
        return known[0]  # the policy refuses it with both parties named (no agreement)
    raise AgreementDeniedError(
        f"{what} is known only from parties without a roaming agreement with {ask.sender.label}"
    )


def broadcastable(module: str, interface: InterfaceRole, method: str) -> bool:
    """Pushes of client-owned objects shared with everyone: never GET, never sessions or CDRs (they
    belong to one eMSP), never commands or charging profiles (they address one CPO)."""
    return method != "GET" and interface is R and module in ("locations", "tariffs", "tokens")


def decide(ask: Ask, learned: LearnedRoutes, admits: Admits) -> PartyKey | None:
    """The receiver, or None when no rule applies. Raises 2001 when a rule applies but the request
    lacks what it needs (the message says what), 2002 when it fits several receivers. ``admits``
    says which candidates the policy lets the sender reach (agreements)."""
    module, interface, parts, sender = ask.module, ask.interface, ask.segments, ask.sender
    body = single(ask.views) or _NO_VIEW
    if interface is R and module in ("sessions", "cdrs"):
        found = party(body.cdr_token)
        if found is None and module == "sessions" and len(parts) >= 3:
            found = learned.target(Kind.SESSION, sender.key, parts[2])  # a PATCH carries no cdr_token
        contract = _text(body.auth_id)
        if found is None and contract is not None:
            # 2.1.1 names only the contract: the eMSP whose token has it, else the eMSP an eMAID names.
            found = _pick((o for o, _ in learned.owners(Kind.CONTRACT, contract)), f"contract {contract}", ask,
                          admits) or _prefix(_EMAID, contract)
        if found is None:
            raise InvalidParametersError(
                f"{module} are routed to the eMSP named in cdr_token (country_code, party_id), or (OCPI 2.1.1) to "
                "the eMSP of the token in auth_id: the body names none the hub knows, and no OCPI-to headers "
                "were sent"
            )
        return found
    if interface is R and module == "commands":
        evse_owner = _prefix(_EVSE_ID, body.evse_uid)
        found = None
        location_id = _text(body.location_id)
        if location_id:
            found = _pick((o for o, _ in learned.owners(Kind.LOCATION, location_id)), f"location {location_id}",
                          ask, admits, prefer=evse_owner)
        found = found or evse_owner
        session_id = _text(body.session_id)
        if found is None and session_id:
            found = _pick(_sessions_of(learned, session_id, sender.key), f"session {session_id}", ask, admits)
        reservation_id = _text(body.reservation_id)
        if found is None and reservation_id:
            mine = [cpo for cpo, emsp in learned.owners(Kind.RESERVATION, reservation_id) if emsp == sender.key]
            found = _pick(mine, f"reservation {reservation_id}", ask, admits)
        if found is None:
            raise InvalidParametersError(
                "cannot tell which CPO this command is for: no OCPI-to headers, and neither location_id, "
                "an EVSE id prefix, session_id nor reservation_id names a CPO the hub knows"
            )
        return found
    if interface is R and module == "chargingprofiles" and parts:
        found = _pick(_sessions_of(learned, parts[0], sender.key), f"session {parts[0]}", ask, admits)
        if found is None:
            raise InvalidParametersError(f"cannot tell which CPO runs session {parts[0]}: send OCPI-to headers")
        return found
    if interface is S and module == "tokens" and ask.method == "POST" and len(parts) >= 2 \
            and parts[-1] == "authorize":
        uid = parts[-2]
        found = _pick((o for o, _ in learned.owners(Kind.TOKEN, uid)), f"token {uid}", ask, admits)
        found = found or _prefix(_EMAID, body.contract_id) or _prefix(_EMAID, uid)
        if found is None:
            raise InvalidParametersError(f"cannot tell which eMSP issued token {uid}: send OCPI-to headers")
        return found
    if interface is S and module == "locations" and ask.method == "GET" and parts:
        return _pick((o for o, _ in learned.owners(Kind.LOCATION, parts[0])), f"location {parts[0]}", ask, admits)
    return None


def _sessions_of(learned: LearnedRoutes, session_id: str, emsp: PartyKey) -> list[PartyKey]:
    """CPOs whose session ``session_id`` went to ``emsp``: an eMSP acts on its own sessions only."""
    return [cpo for cpo, target in learned.owners(Kind.SESSION, session_id) if target == emsp]


def learn_from(ask: Ask, receiver: PartyKey, learn: Callable[[Kind, PartyKey, str, PartyKey], None]) -> None:
    """What a push that passed the policy teaches: client-owned object URLs (``/{cc}/{pid}/{id}``) name
    the owner (the sender, the policy made sure), and ``receiver`` is where the object went."""
    if ask.interface is not R:
        return
    parts = ask.segments
    if ask.module == "commands" and parts and parts[0] == "RESERVE_NOW":
        view = single(ask.views)
        reservation = _text(view.reservation_id) if view is not None else None
        if reservation is not None:
            learn(Kind.RESERVATION, receiver, reservation, ask.sender.key)  # the CPO's, made by this eMSP
        return
    if len(parts) < 3:
        return
    module = ask.module
    if module == "locations":
        learn(Kind.LOCATION, ask.sender.key, parts[2], receiver)
    elif module == "tokens":
        learn(Kind.TOKEN, ask.sender.key, parts[2], receiver)
        view = single(ask.views)
        contract = (_text(view.contract_id) or _text(view.auth_id)) if view is not None else None
        if contract is not None:
            learn(Kind.CONTRACT, ask.sender.key, contract, receiver)
    elif module == "sessions":
        learn(Kind.SESSION, ask.sender.key, parts[2], receiver)
