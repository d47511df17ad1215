"""OCPI 2.1.1 objects (tag ``2.1.1``, markdown files), field names verbatim.

2.1.1 has no owner fields on objects, no hub, no roles on endpoints, flat credentials, and different
shapes for Session/CDR/Token: ``auth_id``, ``start_datetime``, ``stop_date_time``, a whole Location
inside Sessions and CDRs, ``total_cost`` a plain number (excl. VAT), Connector ``voltage``/``amperage``
and one ``tariff_id``. The CommandResponse is both the CPO's direct answer and the asynchronous result.
Sub-objects that did not change in 2.2 are the 2.2 classes.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from routing.versions.fields import (
    CiString36,
    DateTime,
    Latitude6,
    Longitude6,
    Number,
    String3,
    String4,
    String10,
    String16,
    String36,
    String39,
    String45,
    String48,
    String64,
    String255,
    Url,
)
from routing.versions.v2_2 import (
    AllowedType,
    DayOfWeek,
    DisplayText,
    EnergySource,
    ExceptionalPeriod,
    Obj,
    ParkingRestriction,
    PriceComponent,
    RegularHours,
    TariffDimensionType,
    WhitelistType,
)
from routing.versions.v2_2 import BusinessDetails as BusinessDetails
from routing.versions.v2_2 import Image as Image
from routing.versions.v2_2 import StatusSchedule as StatusSchedule

Capability = Literal["CHARGING_PROFILE_CAPABLE", "CREDIT_CARD_PAYABLE", "REMOTE_START_STOP_CAPABLE", "RESERVABLE",
                     "RFID_READER", "UNLOCK_CAPABLE"]
ConnectorFormat = Literal["SOCKET", "CABLE"]
ConnectorType = Literal["CHADEMO", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E",
                        "DOMESTIC_F", "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K",
                        "DOMESTIC_L", "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
                        "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2",
                        "IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C", "TESLA_R", "TESLA_S"]
EnvironmentalImpactCategory = Literal["NUCLEAR_WASTE", "CARBON_DIOXIDE"]
Facility = Literal["HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "RECREATION_AREA", "NATURE",
                   "MUSEUM", "BUS_STOP", "TAXI_STAND", "TRAIN_STATION", "AIRPORT", "CARPOOL_PARKING",
                   "FUEL_STATION", "WIFI"]
LocationType = Literal["ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"]
PowerType = Literal["AC_1_PHASE", "AC_3_PHASE", "DC"]
Status = Literal["AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED",
                 "RESERVED", "UNKNOWN"]
AuthMethod = Literal["AUTH_REQUEST", "WHITELIST"]
CdrDimensionType = Literal["ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"]
SessionStatus = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING"]
TokenType = Literal["OTHER", "RFID"]
CommandResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "TIMEOUT", "UNKNOWN_SESSION"]
CommandType = Literal["RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"]
ModuleID = Literal["cdrs", "commands", "credentials", "locations", "sessions", "tariffs", "tokens"]


class GeoLocation(Obj, kw_only=True):
    latitude: Latitude6
    longitude: Longitude6


class AdditionalGeoLocation(GeoLocation, kw_only=True):
    name: DisplayText | None = None


class EnvironmentalImpact(Obj, kw_only=True):
    source: EnvironmentalImpactCategory
    amount: Number


class EnergyMix(Obj, kw_only=True):
    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


class Hours(Obj, kw_only=True):
    """2.1.1 makes ``regular_hours`` and ``twentyfourseven`` a choice of one. Both are optional here:
    the hub sends ``twentyfourseven`` beside regular hours (stacks require it), and reads a document
    with neither as a tolerated deviation (``routing.versions.tolerated``)."""

    regular_hours: list[RegularHours] | None = None
    twentyfourseven: bool | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None


class Connector(Obj, kw_only=True):
    id: String36
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    voltage: int
    amperage: int
    tariff_id: String36 | None = None
    terms_and_conditions: Url | None = None
    last_updated: DateTime


class EVSE(Obj, kw_only=True):
    uid: String39
    evse_id: String48 | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[Capability] | None = None
    connectors: Annotated[list[Connector], msgspec.Meta(min_length=1)]
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


class Location(Obj, kw_only=True):
    id: String39
    type: LocationType
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10
    country: String3
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: String255 | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


class TariffRestrictions(Obj, kw_only=True):
    start_time: Annotated[str, msgspec.Meta(max_length=5)] | None = None
    end_time: Annotated[str, msgspec.Meta(max_length=5)] | None = None
    start_date: String10 | None = None
    end_date: String10 | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[DayOfWeek] | None = None


class TariffElement(Obj, kw_only=True):
    price_components: Annotated[list[PriceComponent], msgspec.Meta(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(Obj, kw_only=True):
    id: String36
    currency: String3
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: Url | None = None
    elements: Annotated[list[TariffElement], msgspec.Meta(min_length=1)]
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


class CdrDimension(Obj, kw_only=True):
    type: CdrDimensionType
    volume: Number


class ChargingPeriod(Obj, kw_only=True):
    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], msgspec.Meta(min_length=1)]


class Session(Obj, kw_only=True):
    id: String36
    start_datetime: DateTime
    end_datetime: DateTime | None = None
    kwh: Number
    auth_id: String36
    auth_method: AuthMethod
    location: Location
    meter_id: String255 | None = None
    currency: String3
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Number | None = None
    status: SessionStatus
    last_updated: DateTime


class CDR(Obj, kw_only=True):
    id: CiString36
    start_date_time: DateTime
    stop_date_time: DateTime
    auth_id: String36
    auth_method: AuthMethod
    location: Location
    meter_id: String255 | None = None
    currency: String3
    tariffs: list[Tariff] | None = None
    charging_periods: Annotated[list[ChargingPeriod], msgspec.Meta(min_length=1)]
    total_cost: Number
    total_energy: Number
    total_time: Number
    total_parking_time: Number | None = None
    remark: String255 | None = None
    last_updated: DateTime


class Token(Obj, kw_only=True):
    uid: String36
    type: TokenType
    auth_id: String36
    visual_number: String64 | None = None
    issuer: String64
    valid: bool
    whitelist: WhitelistType
    language: Annotated[str, msgspec.Meta(max_length=2)] | None = None
    last_updated: DateTime


class LocationReferences(Obj, kw_only=True):
    location_id: String39
    evse_uids: list[String39] | None = None
    connector_ids: list[String36] | None = None


class AuthorizationInfo(Obj, kw_only=True):
    allowed: AllowedType
    location: LocationReferences | None = None
    info: DisplayText | None = None


class CommandResponse(Obj, kw_only=True):
    result: CommandResponseType


class ReserveNow(Obj, kw_only=True):
    response_url: Url
    token: Token
    expiry_date: DateTime
    reservation_id: int
    location_id: String39
    evse_uid: String39 | None = None


class StartSession(Obj, kw_only=True):
    response_url: Url
    token: Token
    location_id: String39
    evse_uid: String39 | None = None


class StopSession(Obj, kw_only=True):
    response_url: Url
    session_id: String36


class UnlockConnector(Obj, kw_only=True):
    response_url: Url
    location_id: String39
    evse_uid: String39
    connector_id: String36


class Credentials(Obj, kw_only=True):
    token: String64
    url: Url
    business_details: BusinessDetails
    party_id: Annotated[str, msgspec.Meta(max_length=3)]
    country_code: Annotated[str, msgspec.Meta(max_length=2)]


class Version(Obj, kw_only=True):
    version: str
    url: Url


class Endpoint(Obj, kw_only=True):
    identifier: ModuleID
    url: Url


class VersionDetails(Obj, kw_only=True):
    version: str
    endpoints: Annotated[list[Endpoint], msgspec.Meta(min_length=1)]


__all__ = [
    "CDR", "EVSE", "AdditionalGeoLocation", "AllowedType", "AuthMethod", "AuthorizationInfo", "BusinessDetails",
    "Capability", "CdrDimension", "CdrDimensionType", "ChargingPeriod", "CommandResponse", "CommandResponseType",
    "CommandType", "Connector", "ConnectorFormat", "ConnectorType", "Credentials", "DayOfWeek", "DisplayText",
    "Endpoint", "EnergyMix", "EnergySource", "EnvironmentalImpact", "ExceptionalPeriod", "Facility", "GeoLocation",
    "Hours", "Image", "Location", "LocationReferences", "LocationType", "ParkingRestriction", "PowerType",
    "PriceComponent", "RegularHours", "ReserveNow", "Session", "SessionStatus", "StartSession", "Status",
    "StatusSchedule", "StopSession", "Tariff", "TariffDimensionType", "TariffElement", "TariffRestrictions", "Token",
    "TokenType", "UnlockConnector", "Version", "VersionDetails", "WhitelistType",
]
