"""Which Struct models an object in a version, and a check of a document against it.

Checking is for reporting (tests, the wiring's validation of what it sends): the steps work on
documents and never need it. Unknown fields are ignored; a problem is described by msgspec's message,
which names the field path and the rule.
"""

from __future__ import annotations

from typing import Any

import msgspec

from routing.versions import v2_1_1, v2_2, v2_2_1, v2_3_0
from routing.versions.version import OcpiVersion

_NAMES: dict[tuple[str, str], str] = {
    ("locations", "location"): "Location", ("locations", "evse"): "EVSE", ("locations", "connector"): "Connector",
    ("sessions", "session"): "Session", ("sessions", "charging_preferences"): "ChargingPreferences",
    ("cdrs", "cdr"): "CDR", ("tariffs", "tariff"): "Tariff",
    ("tokens", "token"): "Token", ("tokens", "authorization_info"): "AuthorizationInfo",
    ("tokens", "location_references"): "LocationReferences",
    ("commands", "start_session"): "StartSession", ("commands", "stop_session"): "StopSession",
    ("commands", "reserve_now"): "ReserveNow", ("commands", "cancel_reservation"): "CancelReservation",
    ("commands", "unlock_connector"): "UnlockConnector", ("commands", "command_response"): "CommandResponse",
    ("commands", "command_result"): "CommandResult",
    ("chargingprofiles", "set_charging_profile"): "SetChargingProfile",
    ("chargingprofiles", "charging_profile_response"): "ChargingProfileResponse",
    ("chargingprofiles", "active_charging_profile"): "ActiveChargingProfile",
    ("chargingprofiles", "active_charging_profile_result"): "ActiveChargingProfileResult",
    ("chargingprofiles", "charging_profile_result"): "ChargingProfileResult",
    ("chargingprofiles", "clear_profile_result"): "ClearProfileResult",
    ("hubclientinfo", "client_info"): "ClientInfo", ("credentials", "credentials"): "Credentials",
    ("payments", "terminal"): "Terminal", ("payments", "financial_advice_confirmation"): "FinancialAdviceConfirmation",
    ("versions", "version"): "Version", ("versions", "version_details"): "VersionDetails",
}
_MODULES = {OcpiVersion.V2_1_1: v2_1_1, OcpiVersion.V2_2: v2_2, OcpiVersion.V2_2_1: v2_2_1,
            OcpiVersion.V2_3_0: v2_3_0}
# 2.1.1's asynchronous command result is its CommandResponse.
_SPECIAL = {(OcpiVersion.V2_1_1, "commands", "command_result"): v2_1_1.CommandResponse}


def struct_for(module: str, kind: str, version: OcpiVersion) -> type[msgspec.Struct] | None:
    """The Struct of ``module``/``kind`` in ``version``, or None where the version lacks the object."""
    special = _SPECIAL.get((version, module, kind))
    if special is not None:
        return special
    name = _NAMES.get((module, kind))
    struct = getattr(_MODULES[version], name, None) if name else None
    return struct if isinstance(struct, type) and issubclass(struct, msgspec.Struct) else None


def check(document: Any, module: str, kind: str, version: OcpiVersion) -> str | None:
    """None if ``document`` is a valid ``kind`` of ``version``; otherwise what is wrong, naming the field."""
    struct = struct_for(module, kind, version)
    if struct is None:
        return f"{module} {kind} does not exist in OCPI {version.value}"
    try:
        msgspec.convert(document, struct)
    except msgspec.ValidationError as error:
        return str(error)
    return None
