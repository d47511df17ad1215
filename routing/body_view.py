"""The few body fields the hub's decisions read, decoded once per request in the same pass that
checks the body is JSON at all (the status codes chapter wants HTTP 400 otherwise).

One msgspec pass over the bytes: the fields named here are decoded, everything else is skipped
(parsed and validated, not built into objects), so a 300 KB Location costs about what checking it is
JSON costs alone. The forwarded body is never re-encoded: it passes through as the caller's bytes.

Fields are typed ``Any`` on purpose: a partner that sends ``"country_code": 5`` must not make the view
fail (and the owner check with it); the rules read the values and treat anything but a string as a
mismatch.
"""

from __future__ import annotations

from typing import Any

import msgspec

from partners import strict_json
from partners.errors import InvalidJsonError


class BodyView(msgspec.Struct):
    """Top-level fields of a pushed object or command that the policy and open routing read."""

    country_code: Any = None  # owner of a Location, Session, CDR, Tariff, Token
    party_id: Any = None
    cdr_token: Any = None  # Session, CDR: the eMSP it belongs to
    token: Any = None  # START_SESSION, RESERVE_NOW: the eMSP's token
    location_id: Any = None  # commands
    evse_uid: Any = None
    session_id: Any = None
    contract_id: Any = None  # real-time authorization, Token
    auth_id: Any = None  # 2.1.1 Session, CDR, Token: the contract id (2.1.1 names no eMSP otherwise)
    expiry_date: Any = None  # RESERVE_NOW: its callback URL lives until then (routing.tickets)
    reservation_id: Any = None  # RESERVE_NOW, CANCEL_RESERVATION: whose reservation (routing.policy)


Views = tuple[BodyView, ...]
"""One view per object in the body: one for an object, one per element for a list (a common
deviation: a single object wrapped in a list), none for an empty body or a JSON scalar."""

NONE: Views = ()
_decode = msgspec.json.Decoder(BodyView | list[msgspec.Raw]).decode
_decode_item = msgspec.json.Decoder(BodyView).decode
_validate = msgspec.json.Decoder(msgspec.Raw).decode


def read(body: bytes | None) -> Views:
    """The views of ``body``; raises 2001 (HTTP 400) when it is not JSON."""
    if not body:
        return NONE
    try:
        # What msgspec's pass leaves unchecked: the bytes inside skipped strings, and nesting (its own bound
        # is the stack's, RecursionError). Both cheap beside the pass itself (partners/strict_json.py).
        strict_json.check_utf8(body)
        strict_json.check_depth(body)
        found = _decode(body)
    except msgspec.ValidationError:
        # Valid JSON of another shape (a string, a number), or malformed past the first value: check it all.
        try:
            _validate(body)
        except (msgspec.DecodeError, RecursionError) as exc:
            raise InvalidJsonError(f"request body is not valid JSON: {_why(exc)}") from None
        return NONE
    except (msgspec.DecodeError, strict_json.InvalidJson, RecursionError) as exc:
        raise InvalidJsonError(f"request body is not valid JSON: {_why(exc)}") from None
    if isinstance(found, BodyView):
        return (found,)
    views = []
    for item in found:
        try:
            views.append(_decode_item(item))
        except msgspec.ValidationError:
            continue  # an element that is not an object names no owner
    return tuple(views)


def _why(exc: Exception) -> str:
    return "JSON is nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def single(views: Views) -> BodyView | None:
    """The body's one object, if it holds exactly one."""
    return views[0] if len(views) == 1 else None


def party(value: Any) -> tuple[str, str] | None:
    """``(COUNTRY_CODE, PARTY_ID)`` of a ``{"country_code", "party_id"}`` object, if it names both."""
    if not isinstance(value, dict):
        return None
    cc, pid = value.get("country_code"), value.get("party_id")
    if isinstance(cc, str) and isinstance(pid, str) and cc and pid:
        return (cc.upper(), pid.upper())
    return None
