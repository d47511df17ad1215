"""OCPI 2.3.0 objects (tag ``v2.3.0``): 2.2.1 with the changes of its changelog.

Prices become ``{before_taxes, taxes[]}`` (Tariff limits ``{before_taxes, after_taxes}``) and a Tariff
says whether its prices include taxes; Locations gain Parking objects, ``help_phone``, an EVSE's
``accepted_service_providers`` and a Connector's ``capabilities``; Credentials gain ``hub_party_id``
and lose the ``HUB`` role; the Payments module is new. Receivers SHALL NOT reject unknown fields, and
OpenEnum fields (connector types, capabilities, facilities, token types, ...) accept any value: they are
plain strings here, with the known values listed in ``KNOWN`` for translation to older versions.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec

from routing.versions import v2_2, v2_2_1
from routing.versions.fields import (
    CiString,
    CiString2,
    CiString3,
    CiString5,
    CiString25,
    CiString36,
    DateTime,
    Number,
    OpenEnum,
    String3,
    String10,
    String12,
    String20,
    String45,
    String50,
    Url,
)
from routing.versions.v2_2 import ActiveChargingProfile as ActiveChargingProfile
from routing.versions.v2_2 import ActiveChargingProfileResult as ActiveChargingProfileResult
from routing.versions.v2_2 import (
    AllowedType,
    AuthMethod,
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
    CommandResponse,
    CommandResult,
    ConnectionStatus,
    DisplayText,
    EnergyContract,
    EnergySource,
    ExceptionalPeriod,
    LocationReferences,
    PriceComponent,
    RegularHours,
    SessionStatus,
    SetChargingProfile,
    Status,
    StatusSchedule,
    StopSession,
    TariffRestrictions,
    UnlockConnector,
    WhitelistType,
)
from routing.versions.v2_2_1 import SignedData, SignedValue

# Roles: 2.3.0 drops HUB; its terminology chapter names the Payments module's PTP role although the
# Role table omits it, so PTP is accepted.
Role = Literal["CPO", "EMSP", "NAP", "NSP", "OTHER", "PTP", "SCSP"]
TaxIncluded = Literal["YES", "NO", "N/A"]
EVSEPosition = Literal["LEFT", "RIGHT", "CENTER"]
ParkingDirection = Literal["PARALLEL", "PERPENDICULAR", "ANGLE"]
InvoiceCreator = Literal["CPO", "PTP"]
CaptureStatusCode = Literal["SUCCESS", "PARTIAL_SUCCESS", "FAILED"]

KNOWN: dict[str, frozenset[str]] = {
    "Capability": frozenset(get_args(v2_2_1.Capability)),
    "ConnectorCapability": frozenset({"ISO_15118_2_PLUG_AND_CHARGE", "ISO_15118_20_PLUG_AND_CHARGE"}),
    "ConnectorType": frozenset((*get_args(v2_2_1.ConnectorType), "MCS", "SAE_J3400")),
    "EnvironmentalImpactCategory": frozenset(get_args(v2_2.EnvironmentalImpactCategory)),
    "Facility": frozenset(get_args(v2_2.Facility)),
    "ImageCategory": frozenset(get_args(v2_2.ImageCategory)),
    "ParkingRestriction": frozenset((*get_args(v2_2.ParkingRestriction), "EMPLOYEES", "TAXIS", "TENANTS")),
    "ParkingType": frozenset(get_args(v2_2.ParkingType)),
    "TokenType": frozenset((*get_args(v2_2.TokenType), "EMAID")),
    "VehicleType": frozenset({"MOTORCYCLE", "PERSONAL_VEHICLE", "PERSONAL_VEHICLE_WITH_TRAILER", "VAN",
                              "SEMI_TRACTOR", "RIGID", "TRUCK_WITH_TRAILER", "BUS", "DISABLED"}),
    "CommandType": frozenset(get_args(v2_2.CommandType)),
    "ModuleID": frozenset((*get_args(v2_2.ModuleID), "payments")),
}
"""The values each OpenEnum had when 2.3.0 was written (documentation, and for stepping down)."""


class TaxAmount(v2_2.Obj, kw_only=True):
    name: str
    account_number: str | None = None
    percentage: Number | None = None
    amount: Number


class Price(v2_2.Obj, kw_only=True):
    before_taxes: Number
    taxes: list[TaxAmount] | None = None


class PriceLimit(v2_2.Obj, kw_only=True):
    before_taxes: Number
    after_taxes: Number | None = None


# --- locations -----------------------------------------------------------------------------------

class GeoLocation(v2_2.GeoLocation, kw_only=True):
    pass


class AdditionalGeoLocation(v2_2.AdditionalGeoLocation, kw_only=True):
    pass


class Image(v2_2.Image, kw_only=True):
    category: OpenEnum


class BusinessDetails(v2_2.BusinessDetails, kw_only=True):
    logo: Image | None = None


class EnvironmentalImpact(v2_2.EnvironmentalImpact, kw_only=True):
    category: OpenEnum


class EnergyMix(v2_2.EnergyMix, kw_only=True):
    environ_impact: list[EnvironmentalImpact] | None = None


class Hours(v2_2.Hours, kw_only=True):
    pass


class PublishTokenType(v2_2.PublishTokenType, kw_only=True):
    type: OpenEnum | None = None


class Connector(v2_2_1.Connector, kw_only=True):
    standard: OpenEnum
    capabilities: list[OpenEnum] | None = None


class EVSEParking(v2_2.Obj, kw_only=True):
    parking_id: CiString36
    evse_position: EVSEPosition | None = None


class EVSE(v2_2_1.EVSE, kw_only=True):
    capabilities: list[OpenEnum] | None = None
    connectors: Annotated[list[Connector], msgspec.Meta(min_length=1)]
    parking_restrictions: list[OpenEnum] | None = None
    images: list[Image] | None = None
    parking: list[EVSEParking] | None = None
    accepted_service_providers: list[String50] | None = None


class Parking(v2_2.Obj, kw_only=True):
    id: CiString36
    physical_reference: String12 | None = None
    vehicle_types: Annotated[list[OpenEnum], msgspec.Meta(min_length=1)]
    max_vehicle_weight: Number | None = None
    max_vehicle_height: Number | None = None
    max_vehicle_length: Number | None = None
    max_vehicle_width: Number | None = None
    parking_space_length: Number | None = None
    parking_space_width: Number | None = None
    dangerous_goods_allowed: bool | None = None
    direction: ParkingDirection | None = None
    drive_through: bool | None = None
    restricted_to_type: bool
    reservation_required: bool
    time_limit: Number | None = None
    roofed: bool | None = None
    images: list[Image] | None = None
    lighting: bool | None = None
    refrigeration_outlet: bool | None = None
    standards: list[CiString36] | None = None
    apds_reference: CiString | None = None


class Location(v2_2_1.Location, kw_only=True):
    publish_allowed_to: list[PublishTokenType] | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: OpenEnum | None = None
    evses: list[EVSE] | None = None
    parking_places: list[Parking] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[OpenEnum] | None = None
    opening_times: Hours | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    help_phone: CiString25 | None = None


# --- tariffs -------------------------------------------------------------------------------------

class TariffElement(v2_2.TariffElement, kw_only=True):
    pass


class Tariff(v2_2.Tariff, kw_only=True):
    min_price: PriceLimit | None = None
    max_price: PriceLimit | None = None
    preauthorize_amount: Number | None = None
    tax_included: TaxIncluded
    energy_mix: EnergyMix | None = None


# --- sessions and cdrs ---------------------------------------------------------------------------

class CdrToken(v2_2_1.CdrToken, kw_only=True):
    type: OpenEnum


class CdrLocation(v2_2_1.CdrLocation, kw_only=True):
    connector_standard: OpenEnum


class Session(v2_2_1.Session, kw_only=True):
    cdr_token: CdrToken
    total_cost: Price | None = None


class CDR(v2_2_1.CDR, kw_only=True):
    cdr_token: CdrToken
    cdr_location: CdrLocation
    tariffs: list[Tariff] | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy_cost: Price | None = None
    total_time_cost: Price | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None


# --- tokens and commands -------------------------------------------------------------------------

class Token(v2_2.Token, kw_only=True):
    type: OpenEnum


class AuthorizationInfo(v2_2.AuthorizationInfo, kw_only=True):
    token: Token


class ReserveNow(v2_2.ReserveNow, kw_only=True):
    token: Token


class StartSession(v2_2_1.StartSession, kw_only=True):
    token: Token


# --- hubclientinfo, credentials, versions --------------------------------------------------------

class ClientInfo(v2_2.ClientInfo, kw_only=True):
    role: Role


class CredentialsRole(v2_2.CredentialsRole, kw_only=True):
    role: Role
    business_details: BusinessDetails


class Credentials(v2_2.Credentials, kw_only=True):
    hub_party_id: CiString5 | None = None
    roles: Annotated[list[CredentialsRole], msgspec.Meta(min_length=1)]


class Version(v2_2.Version, kw_only=True):
    pass


class Endpoint(v2_2.Endpoint, kw_only=True):
    identifier: OpenEnum


class VersionDetails(v2_2.VersionDetails, kw_only=True):
    endpoints: Annotated[list[Endpoint], msgspec.Meta(min_length=1)]


# --- payments (new in 2.3.0; passed through between 2.3.0 parties, modelled for checking) ---------

class Terminal(v2_2.Obj, kw_only=True):
    terminal_id: CiString36
    customer_reference: CiString36 | None = None
    party_id: CiString3 | None = None
    country_code: CiString2 | None = None
    address: String45 | None = None
    city: String45 | None = None
    postal_code: String10 | None = None
    state: String20 | None = None
    country: String3 | None = None
    coordinates: GeoLocation | None = None
    invoice_base_url: Url | None = None
    invoice_creator: InvoiceCreator | None = None
    reference: CiString36 | None = None
    location_ids: list[CiString36] | None = None
    evse_uids: list[CiString36] | None = None
    last_updated: DateTime


class FinancialAdviceConfirmation(v2_2.Obj, kw_only=True):
    id: CiString36
    authorization_reference: CiString36
    total_costs: Price
    currency: String3
    eft_data: Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=255)]],
                        msgspec.Meta(min_length=1)]
    capture_status_code: CaptureStatusCode
    capture_status_message: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    last_updated: DateTime


__all__ = [
    "CDR", "EVSE", "KNOWN", "ActiveChargingProfile", "ActiveChargingProfileResult", "AdditionalGeoLocation",
    "AllowedType", "AuthMethod", "AuthorizationInfo", "BusinessDetails", "CancelReservation", "CaptureStatusCode",
    "CdrDimension", "CdrDimensionType", "CdrLocation", "CdrToken", "ChargingPeriod", "ChargingPreferences",
    "ChargingPreferencesResponse", "ChargingProfile", "ChargingProfilePeriod", "ChargingProfileResponse",
    "ChargingProfileResult", "ClearProfileResult", "ClientInfo", "CommandResponse", "CommandResult",
    "ConnectionStatus", "Connector", "Credentials", "CredentialsRole", "DisplayText", "EVSEParking", "EVSEPosition",
    "Endpoint", "EnergyContract", "EnergyMix", "EnergySource", "EnvironmentalImpact", "ExceptionalPeriod",
    "FinancialAdviceConfirmation", "GeoLocation", "Hours", "Image", "InvoiceCreator", "Location",
    "LocationReferences", "Parking", "ParkingDirection", "Price", "PriceComponent", "PriceLimit",
    "PublishTokenType", "RegularHours", "ReserveNow", "Role", "Session", "SessionStatus", "SetChargingProfile",
    "SignedData", "SignedValue", "StartSession", "Status", "StatusSchedule", "StopSession", "Tariff",
    "TariffElement", "TariffRestrictions", "TaxAmount", "TaxIncluded", "Terminal", "Token", "UnlockConnector",
    "Version", "VersionDetails", "WhitelistType",
]
