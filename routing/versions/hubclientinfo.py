"""HubClientInfo (2.2 on). 2.3.0 has no HUB role: a ClientInfo about a hub cannot go up to 2.3.0,
and a 2.3.0 role 2.2.1 lacks (PTP) becomes OTHER on the way down."""

from __future__ import annotations

from routing.versions.context import Context
from routing.versions.errors import UntranslatableError
from routing.versions.losses import declare
from routing.versions.steps import Doc, Notes, Step, StepKey, unchanged
from routing.versions.version import OcpiVersion as V
from routing.versions.vocabulary import VOCABULARY

MODULE = "hubclientinfo"
ROLE = declare(MODULE, "role")


def _client_info_up_2_2_1(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    if doc.get("role") == "HUB":
        raise UntranslatableError(MODULE, "role", "2.3.0 has no HUB role")
    return doc


def _client_info_down_2_3_0(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    if "role" not in doc or doc["role"] in VOCABULARY[V.V2_2_1].roles:
        return doc
    notes.lost(ROLE)
    return {**doc, "role": "OTHER"}


STEPS: dict[StepKey, Step] = {
    ("client_info", V.V2_2, V.V2_2_1): unchanged,
    ("client_info", V.V2_2_1, V.V2_2): unchanged,
    ("client_info", V.V2_2_1, V.V2_3_0): _client_info_up_2_2_1,
    ("client_info", V.V2_3_0, V.V2_2_1): _client_info_down_2_3_0,
}
