"""Commands between adjacent versions.

2.1.1's CommandResponse is both the CPO's direct answer and the asynchronous result; from 2.2 on the
direct answer is a CommandResponse (with the ``timeout`` the eMSP waits) and the result a
CommandResult. Kind ``command_response`` is the direct answer in every version, ``command_result``
the asynchronous one (in 2.1.1 a CommandResponse). Results 2.1.1 cannot name become ``REJECTED``.
ReserveNow's ``reservation_id`` is an int in 2.1.1 and a string from 2.2 on. CancelReservation does
not exist in 2.1.1.
"""

from __future__ import annotations

from routing.versions import tolerated
from routing.versions.context import Context
from routing.versions.errors import UntranslatableError
from routing.versions.losses import declare
from routing.versions.steps import Doc, Notes, Step, StepKey, drop, need, unchanged
from routing.versions.tokens import nested_token
from routing.versions.version import OcpiVersion as V

MODULE = "commands"

RESULT = declare(MODULE, "result")
TIMEOUT = declare(MODULE, "timeout")
MESSAGE = declare(MODULE, "message")
AUTHORIZATION_REFERENCE = declare(MODULE, "authorization_reference")
CONNECTOR_ID = declare(MODULE, "connector_id")

_RESULT_2_1_1 = frozenset({"ACCEPTED", "REJECTED", "NOT_SUPPORTED", "TIMEOUT"})
"""CommandResultType values 2.1.1's CommandResponseType also has."""


def _with_token(source: V, target: V, extra: Step | None = None) -> Step:
    def step(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
        out = dict(doc)
        nested_token(out, "token", ctx, notes, source, target)
        return extra(out, ctx, notes, partial) if extra else out
    return step


def _reserve_up_2_1_1(out: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    if isinstance(out.get("reservation_id"), int):
        out["reservation_id"] = str(out["reservation_id"])
    return out


def _reserve_down_2_1_1(out: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    drop(out, "authorization_reference", notes, AUTHORIZATION_REFERENCE)
    reservation_id = out.get("reservation_id")
    if isinstance(reservation_id, str):
        if not reservation_id.isascii() or not reservation_id.isdigit():
            raise UntranslatableError(MODULE, "reservation_id", "2.1.1 reservation ids are integers")
        out["reservation_id"] = int(reservation_id)
    return out


def _start_down_2_1_1(out: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    drop(out, "authorization_reference", notes, AUTHORIZATION_REFERENCE)
    return out


def _start_down_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    drop(out, "connector_id", notes, CONNECTOR_ID)
    return out


def _message_up_2_2(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    message = doc.get("message")
    if not isinstance(message, str):
        return doc
    # Some 2.2 stacks send a plain string; 2.2.1 wants DisplayText. The language is not said: English
    # is the spec's own default for untranslated texts (and is counted as a tolerance).
    notes.tolerate(tolerated.COMMAND_MESSAGE_STRING)
    return {**doc, "message": [{"language": "en", "text": message}]}


def _response_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if out.get("result") == "TIMEOUT":
        # 2.2 moved TIMEOUT to the asynchronous result; as a direct answer it means the CPO could not
        # reach the Charge Point, which 2.2 calls REJECTED.
        out["result"] = "REJECTED"
        notes.lost(RESULT)
    if not partial and "timeout" not in out:
        out["timeout"] = need(ctx.command_timeout, MODULE, "timeout",
                              "required from 2.2 on; the hub's wait for the result is not known")
    return out


def _response_down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    drop(out, "timeout", notes, TIMEOUT)
    drop(out, "message", notes, MESSAGE)
    return out


def _result_up_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if out.get("result") == "UNKNOWN_SESSION":
        out["result"] = "REJECTED"
        notes.lost(RESULT)
    return out


def _result_down_2_1_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    out = dict(doc)
    if "result" in out and out["result"] not in _RESULT_2_1_1:
        out["result"] = "REJECTED"
        notes.lost(RESULT)
    drop(out, "message", notes, MESSAGE)
    return out


STEPS: dict[StepKey, Step] = {
    ("start_session", V.V2_1_1, V.V2_2): _with_token(V.V2_1_1, V.V2_2),
    ("start_session", V.V2_2, V.V2_1_1): _with_token(V.V2_2, V.V2_1_1, _start_down_2_1_1),
    ("start_session", V.V2_2, V.V2_2_1): unchanged,
    ("start_session", V.V2_2_1, V.V2_2): _start_down_2_2_1,
    ("start_session", V.V2_2_1, V.V2_3_0): unchanged,
    ("start_session", V.V2_3_0, V.V2_2_1): _with_token(V.V2_3_0, V.V2_2_1),
    ("reserve_now", V.V2_1_1, V.V2_2): _with_token(V.V2_1_1, V.V2_2, _reserve_up_2_1_1),
    ("reserve_now", V.V2_2, V.V2_1_1): _with_token(V.V2_2, V.V2_1_1, _reserve_down_2_1_1),
    ("reserve_now", V.V2_2, V.V2_2_1): unchanged,
    ("reserve_now", V.V2_2_1, V.V2_2): unchanged,
    ("reserve_now", V.V2_2_1, V.V2_3_0): unchanged,
    ("reserve_now", V.V2_3_0, V.V2_2_1): _with_token(V.V2_3_0, V.V2_2_1),
    ("command_response", V.V2_1_1, V.V2_2): _response_up_2_1_1,
    ("command_response", V.V2_2, V.V2_1_1): _response_down_2_1_1,
    ("command_response", V.V2_2, V.V2_2_1): _message_up_2_2,
    ("command_result", V.V2_1_1, V.V2_2): _result_up_2_1_1,
    ("command_result", V.V2_2, V.V2_1_1): _result_down_2_1_1,
    ("command_result", V.V2_2, V.V2_2_1): _message_up_2_2,
}
for _kind in ("stop_session", "unlock_connector"):
    STEPS.update({(_kind, a, b): unchanged for a, b in ((V.V2_1_1, V.V2_2), (V.V2_2, V.V2_1_1))})
for _kind in ("stop_session", "unlock_connector", "cancel_reservation", "command_response", "command_result"):
    for _pair in ((V.V2_2, V.V2_2_1), (V.V2_2_1, V.V2_2), (V.V2_2_1, V.V2_3_0), (V.V2_3_0, V.V2_2_1)):
        STEPS.setdefault((_kind, *_pair), unchanged)
