"""OCPI 2.2.1 objects (tag ``2.2.1``): 2.2 with the changes its changelog lists.

CdrToken gains its owner (``country_code``, ``party_id``); CDR gains ``home_charging_compensation``;
CdrLocation and Location make ``postal_code`` optional and add ``state``; SignedData/SignedValue become
case-sensitive strings (``signed_data`` up to 5000); StartSession gains ``connector_id``; new values
for Capability, ConnectorType and PowerType.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from routing.versions import v2_2
from routing.versions.fields import CiString2, CiString3, CiString36, String10, String20, String512, String5000
from routing.versions.v2_2 import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    AdditionalGeoLocation,
    AllowedType,
    AuthMethod,
    AuthorizationInfo,
    BusinessDetails,
    CancelReservation,
    CdrDimension,
    CdrDimensionType,
    ChargingPeriod,
    ChargingPreferences,
    ChargingPreferencesResponse,
    ChargingProfile,
    ChargingProfilePeriod,
    ChargingProfileResponse,
    ChargingProfileResult,
    ClearProfileResult,
    ClientInfo,
    CommandResponse,
    CommandResult,
    ConnectionStatus,
    Credentials,
    CredentialsRole,
    DisplayText,
    Endpoint,
    EnergyContract,
    EnergyMix,
    EnergySource,
    EnvironmentalImpact,
    ExceptionalPeriod,
    Facility,
    GeoLocation,
    Hours,
    Image,
    ImageCategory,
    LocationReferences,
    ParkingRestriction,
    ParkingType,
    Price,
    PriceComponent,
    PublishTokenType,
    RegularHours,
    ReserveNow,
    Role,
    SessionStatus,
    SetChargingProfile,
    Status,
    StatusSchedule,
    StopSession,
    Tariff,
    TariffElement,
    TariffRestrictions,
    Token,
    TokenType,
    UnlockConnector,
    Version,
    VersionDetails,
    WhitelistType,
)

Capability = Literal[v2_2.Capability, "START_SESSION_CONNECTOR_REQUIRED"]
ConnectorType = Literal[v2_2.ConnectorType, "CHAOJI", "DOMESTIC_M", "DOMESTIC_N", "DOMESTIC_O", "GBT_AC", "GBT_DC",
                        "NEMA_5_20", "NEMA_6_30", "NEMA_6_50", "NEMA_10_30", "NEMA_10_50", "NEMA_14_30",
                        "NEMA_14_50"]
PowerType = Literal[v2_2.PowerType, "AC_2_PHASE", "AC_2_PHASE_SPLIT"]


class Connector(v2_2.Connector, kw_only=True):
    standard: ConnectorType
    power_type: PowerType


class EVSE(v2_2.EVSE, kw_only=True):
    capabilities: list[Capability] | None = None
    connectors: Annotated[list[Connector], msgspec.Meta(min_length=1)]


class Location(v2_2.Location, kw_only=True):
    postal_code: String10 | None = None
    state: String20 | None = None
    evses: list[EVSE] | None = None


class CdrToken(v2_2.CdrToken, kw_only=True):
    country_code: CiString2
    party_id: CiString3


class CdrLocation(v2_2.CdrLocation, kw_only=True):
    postal_code: String10 | None = None
    state: String20 | None = None
    connector_standard: ConnectorType
    connector_power_type: PowerType


class SignedValue(v2_2.SignedValue, kw_only=True):
    plain_data: String512
    signed_data: String5000


class SignedData(v2_2.SignedData, kw_only=True):
    public_key: String512 | None = None
    signed_values: Annotated[list[SignedValue], msgspec.Meta(min_length=1)]
    url: String512 | None = None


class Session(v2_2.Session, kw_only=True):
    cdr_token: CdrToken


class CDR(v2_2.CDR, kw_only=True):
    cdr_token: CdrToken
    cdr_location: CdrLocation
    signed_data: SignedData | None = None
    home_charging_compensation: bool | None = None


class StartSession(v2_2.StartSession, kw_only=True):
    connector_id: CiString36 | None = None


__all__ = [
    "CDR", "EVSE", "ActiveChargingProfile", "ActiveChargingProfileResult", "AdditionalGeoLocation", "AllowedType",
    "AuthMethod", "AuthorizationInfo", "BusinessDetails", "CancelReservation", "Capability", "CdrDimension",
    "CdrDimensionType", "CdrLocation", "CdrToken", "ChargingPeriod", "ChargingPreferences",
    "ChargingPreferencesResponse", "ChargingProfile", "ChargingProfilePeriod", "ChargingProfileResponse",
    "ChargingProfileResult", "ClearProfileResult", "ClientInfo", "CommandResponse", "CommandResult",
    "ConnectionStatus", "Connector", "ConnectorType", "Credentials", "CredentialsRole", "DisplayText", "Endpoint",
    "EnergyContract", "EnergyMix", "EnergySource", "EnvironmentalImpact", "ExceptionalPeriod", "Facility",
    "GeoLocation", "Hours", "Image", "ImageCategory", "Location", "LocationReferences", "ParkingRestriction",
    "ParkingType", "PowerType", "Price", "PriceComponent", "PublishTokenType", "RegularHours", "ReserveNow", "Role",
    "Session", "SessionStatus", "SetChargingProfile", "SignedData", "SignedValue", "StartSession", "Status",
    "StatusSchedule", "StopSession", "Tariff", "TariffElement", "TariffRestrictions", "Token", "TokenType",
    "UnlockConnector", "Version", "VersionDetails", "WhitelistType",
]
