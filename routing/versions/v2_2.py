"""OCPI 2.2 objects (tag ``2.2``), field names verbatim. 2.2.1 and 2.3.0 refine these by subclassing.

Decoding is lenient (unknown fields are ignored) and constraints are checked; encoding omits absent
optional fields. Closed enums are ``Literal``s, so a check names the field and the value.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from routing.versions.fields import (
    CiString2,
    CiString3,
    CiString4,
    CiString32,
    CiString36,
    CiString39,
    CiString48,
    CiString512,
    Date,
    DateTime,
    Latitude,
    Longitude,
    Number,
    String2,
    String3,
    String4,
    String10,
    String16,
    String45,
    String64,
    String100,
    String255,
    String512,
    TimeOfDay,
    Url,
    Weekday,
)


class Obj(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of every OCPI object: unknown fields are ignored when decoding, absent ones not written."""


# --- types ---------------------------------------------------------------------------------------

Role = Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]


class DisplayText(Obj, kw_only=True):
    language: String2
    text: String512


class Price(Obj, kw_only=True):
    excl_vat: Number
    incl_vat: Number | None = None


# --- locations -----------------------------------------------------------------------------------

Capability = Literal["CHARGING_PROFILE_CAPABLE", "CHARGING_PREFERENCES_CAPABLE", "CHIP_CARD_SUPPORT",
                     "CONTACTLESS_CARD_SUPPORT", "CREDIT_CARD_PAYABLE", "DEBIT_CARD_PAYABLE", "PED_TERMINAL",
                     "REMOTE_START_STOP_CAPABLE", "RESERVABLE", "RFID_READER", "TOKEN_GROUP_CAPABLE",
                     "UNLOCK_CAPABLE"]
ConnectorFormat = Literal["SOCKET", "CABLE"]
ConnectorType = Literal["CHADEMO", "DOMESTIC_A", "DOMESTIC_B", "DOMESTIC_C", "DOMESTIC_D", "DOMESTIC_E",
                        "DOMESTIC_F", "DOMESTIC_G", "DOMESTIC_H", "DOMESTIC_I", "DOMESTIC_J", "DOMESTIC_K",
                        "DOMESTIC_L", "IEC_60309_2_single_16", "IEC_60309_2_three_16", "IEC_60309_2_three_32",
                        "IEC_60309_2_three_64", "IEC_62196_T1", "IEC_62196_T1_COMBO", "IEC_62196_T2",
                        "IEC_62196_T2_COMBO", "IEC_62196_T3A", "IEC_62196_T3C", "PANTOGRAPH_BOTTOM_UP",
                        "PANTOGRAPH_TOP_DOWN", "TESLA_R", "TESLA_S"]
EnergySourceCategory = Literal["NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"]
EnvironmentalImpactCategory = Literal["NUCLEAR_WASTE", "CARBON_DIOXIDE"]
Facility = Literal["HOTEL", "RESTAURANT", "CAFE", "MALL", "SUPERMARKET", "SPORT", "RECREATION_AREA", "NATURE",
                   "MUSEUM", "BIKE_SHARING", "BUS_STOP", "TAXI_STAND", "TRAM_STOP", "METRO_STATION",
                   "TRAIN_STATION", "AIRPORT", "PARKING_LOT", "CARPOOL_PARKING", "FUEL_STATION", "WIFI"]
ImageCategory = Literal["CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"]
ParkingRestriction = Literal["EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"]
ParkingType = Literal["ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY", "ON_STREET",
                      "UNDERGROUND_GARAGE"]
PowerType = Literal["AC_1_PHASE", "AC_3_PHASE", "DC"]
Status = Literal["AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED",
                 "RESERVED", "UNKNOWN"]
TokenType = Literal["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]


class GeoLocation(Obj, kw_only=True):
    latitude: Latitude
    longitude: Longitude


class AdditionalGeoLocation(GeoLocation, kw_only=True):
    name: DisplayText | None = None


class Image(Obj, kw_only=True):
    url: Url
    thumbnail: Url | None = None
    category: ImageCategory
    type: CiString4
    width: Annotated[int, msgspec.Meta(ge=0, le=99999)] | None = None
    height: Annotated[int, msgspec.Meta(ge=0, le=99999)] | None = None


class BusinessDetails(Obj, kw_only=True):
    name: String100
    website: Url | None = None
    logo: Image | None = None


class EnergySource(Obj, kw_only=True):
    source: EnergySourceCategory
    percentage: Number


class EnvironmentalImpact(Obj, kw_only=True):
    category: EnvironmentalImpactCategory
    amount: Number


class EnergyMix(Obj, kw_only=True):
    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


class ExceptionalPeriod(Obj, kw_only=True):
    period_begin: DateTime
    period_end: DateTime


class RegularHours(Obj, kw_only=True):
    weekday: Weekday
    period_begin: TimeOfDay
    period_end: TimeOfDay


class Hours(Obj, kw_only=True):
    twentyfourseven: bool
    regular_hours: list[RegularHours] | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None


class PublishTokenType(Obj, kw_only=True):
    uid: CiString36 | None = None
    type: TokenType | None = None
    visual_number: String64 | None = None
    issuer: String64 | None = None
    group_id: CiString36 | None = None


class StatusSchedule(Obj, kw_only=True):
    period_begin: DateTime
    period_end: DateTime | None = None
    status: Status


class Connector(Obj, kw_only=True):
    id: CiString36
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None
    tariff_ids: list[CiString36] | None = None
    terms_and_conditions: Url | None = None
    last_updated: DateTime


class EVSE(Obj, kw_only=True):
    uid: CiString36
    evse_id: CiString48 | None = None
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
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    publish: bool
    publish_allowed_to: list[PublishTokenType] | None = None
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10
    country: String3
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: ParkingType | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: String255
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


# --- tariffs -------------------------------------------------------------------------------------

DayOfWeek = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
ReservationRestrictionType = Literal["RESERVATION", "RESERVATION_EXPIRES"]
TariffDimensionType = Literal["ENERGY", "FLAT", "PARKING_TIME", "TIME"]
TariffType = Literal["AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"]


class PriceComponent(Obj, kw_only=True):
    type: TariffDimensionType
    price: Number
    vat: Number | None = None
    step_size: int


class TariffRestrictions(Obj, kw_only=True):
    start_time: TimeOfDay | None = None
    end_time: TimeOfDay | None = None
    start_date: Date | None = None
    end_date: Date | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_current: Number | None = None
    max_current: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[DayOfWeek] | None = None
    reservation: ReservationRestrictionType | None = None


class TariffElement(Obj, kw_only=True):
    price_components: Annotated[list[PriceComponent], msgspec.Meta(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(Obj, kw_only=True):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    currency: String3
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: Url | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: Annotated[list[TariffElement], msgspec.Meta(min_length=1)]
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


# --- sessions and cdrs ---------------------------------------------------------------------------

AuthMethod = Literal["AUTH_REQUEST", "COMMAND", "WHITELIST"]
CdrDimensionType = Literal["CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT", "MIN_CURRENT",
                           "MAX_POWER", "MIN_POWER", "PARKING_TIME", "POWER", "RESERVATION_TIME",
                           "STATE_OF_CHARGE", "TIME"]
SessionStatus = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"]
ProfileType = Literal["CHEAP", "FAST", "GREEN", "REGULAR"]
ChargingPreferencesResponse = Literal["ACCEPTED", "DEPARTURE_REQUIRED", "ENERGY_NEED_REQUIRED", "NOT_POSSIBLE",
                                      "PROFILE_TYPE_NOT_SUPPORTED"]


class CdrToken(Obj, kw_only=True):
    uid: CiString36
    type: TokenType
    contract_id: CiString36


class CdrDimension(Obj, kw_only=True):
    type: CdrDimensionType
    volume: Number


class ChargingPeriod(Obj, kw_only=True):
    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], msgspec.Meta(min_length=1)]
    tariff_id: CiString36 | None = None


class CdrLocation(Obj, kw_only=True):
    id: CiString36
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10
    country: String3
    coordinates: GeoLocation
    evse_uid: CiString36
    evse_id: CiString48
    connector_id: CiString36
    connector_standard: ConnectorType
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class SignedValue(Obj, kw_only=True):
    nature: CiString32
    plain_data: CiString512
    signed_data: CiString512


class SignedData(Obj, kw_only=True):
    encoding_method: CiString36
    encoding_method_version: int | None = None
    public_key: CiString512 | None = None
    signed_values: Annotated[list[SignedValue], msgspec.Meta(min_length=1)]
    url: CiString512 | None = None


class Session(Obj, kw_only=True):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString36 | None = None
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36
    meter_id: String255 | None = None
    currency: String3
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus
    last_updated: DateTime


class ChargingPreferences(Obj, kw_only=True):
    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: Number | None = None
    discharge_allowed: bool | None = None


class CDR(Obj, kw_only=True):
    country_code: CiString2
    party_id: CiString3
    id: CiString39
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString36 | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString36 | None = None
    cdr_location: CdrLocation
    meter_id: String255 | None = None
    currency: String3
    tariffs: list[Tariff] | None = None
    charging_periods: Annotated[list[ChargingPeriod], msgspec.Meta(min_length=1)]
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String255 | None = None
    invoice_reference_id: CiString39 | None = None
    credit: bool | None = None
    credit_reference_id: CiString39 | None = None
    last_updated: DateTime


# --- tokens --------------------------------------------------------------------------------------

AllowedType = Literal["ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"]
WhitelistType = Literal["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]


class EnergyContract(Obj, kw_only=True):
    supplier_name: String64
    contract_id: String64 | None = None


class Token(Obj, kw_only=True):
    country_code: CiString2
    party_id: CiString3
    uid: CiString36
    type: TokenType
    contract_id: CiString36
    visual_number: String64 | None = None
    issuer: String64
    group_id: CiString36 | None = None
    valid: bool
    whitelist: WhitelistType
    language: String2 | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class LocationReferences(Obj, kw_only=True):
    location_id: CiString36
    evse_uids: list[CiString36] | None = None


class AuthorizationInfo(Obj, kw_only=True):
    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString36 | None = None
    info: DisplayText | None = None


# --- commands ------------------------------------------------------------------------------------

CommandResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "UNKNOWN_SESSION"]
CommandResultType = Literal["ACCEPTED", "CANCELED_RESERVATION", "EVSE_OCCUPIED", "EVSE_INOPERATIVE", "FAILED",
                            "NOT_SUPPORTED", "REJECTED", "TIMEOUT", "UNKNOWN_RESERVATION"]
CommandType = Literal["CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"]


class CancelReservation(Obj, kw_only=True):
    response_url: Url
    reservation_id: CiString36


class CommandResponse(Obj, kw_only=True):
    result: CommandResponseType
    timeout: int
    message: list[DisplayText] | None = None


class CommandResult(Obj, kw_only=True):
    result: CommandResultType
    message: list[DisplayText] | None = None


class ReserveNow(Obj, kw_only=True):
    response_url: Url
    token: Token
    expiry_date: DateTime
    reservation_id: CiString36
    location_id: CiString36
    evse_uid: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class StartSession(Obj, kw_only=True):
    response_url: Url
    token: Token
    location_id: CiString36
    evse_uid: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class StopSession(Obj, kw_only=True):
    response_url: Url
    session_id: CiString36


class UnlockConnector(Obj, kw_only=True):
    response_url: Url
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36


# --- charging profiles ---------------------------------------------------------------------------

ChargingRateUnit = Literal["W", "A"]
ChargingProfileResponseType = Literal["ACCEPTED", "NOT_SUPPORTED", "REJECTED", "TOO_OFTEN", "UNKNOWN_SESSION"]
ChargingProfileResultType = Literal["ACCEPTED", "REJECTED", "UNKNOWN"]


class ChargingProfilePeriod(Obj, kw_only=True):
    start_period: int
    limit: Number


class ChargingProfile(Obj, kw_only=True):
    start_date_time: DateTime | None = None
    duration: int | None = None
    charging_rate_unit: ChargingRateUnit
    min_charging_rate: Number | None = None
    charging_profile_period: list[ChargingProfilePeriod] | None = None


class ActiveChargingProfile(Obj, kw_only=True):
    start_date_time: DateTime
    charging_profile: ChargingProfile


class ChargingProfileResponse(Obj, kw_only=True):
    result: ChargingProfileResponseType
    timeout: int


class ActiveChargingProfileResult(Obj, kw_only=True):
    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(Obj, kw_only=True):
    result: ChargingProfileResultType


class ClearProfileResult(Obj, kw_only=True):
    result: ChargingProfileResultType


class SetChargingProfile(Obj, kw_only=True):
    charging_profile: ChargingProfile
    response_url: Url


# --- hubclientinfo -------------------------------------------------------------------------------

ConnectionStatus = Literal["CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"]


class ClientInfo(Obj, kw_only=True):
    party_id: CiString3
    country_code: CiString2
    role: Role
    status: ConnectionStatus
    last_updated: DateTime


# --- credentials and versions --------------------------------------------------------------------

InterfaceRole = Literal["SENDER", "RECEIVER"]
ModuleID = Literal["cdrs", "chargingprofiles", "commands", "credentials", "hubclientinfo", "locations",
                   "sessions", "tariffs", "tokens"]


class CredentialsRole(Obj, kw_only=True):
    role: Role
    business_details: BusinessDetails
    party_id: CiString3
    country_code: CiString2


class Credentials(Obj, kw_only=True):
    token: Annotated[str, msgspec.Meta(max_length=64)]
    url: Url
    roles: Annotated[list[CredentialsRole], msgspec.Meta(min_length=1)]


class Version(Obj, kw_only=True):
    version: str
    url: Url


class Endpoint(Obj, kw_only=True):
    identifier: ModuleID
    role: InterfaceRole
    url: Url


class VersionDetails(Obj, kw_only=True):
    version: str
    endpoints: Annotated[list[Endpoint], msgspec.Meta(min_length=1)]

