"""OCPI 2.1.1 objects written for our tests from the 2.1.1 field tables (our own values: 2.1.1 ships
no JSON samples, and its inline examples stay in the spec)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

UPDATED = "2024-03-01T10:00:00Z"

CONNECTOR_AC: dict[str, Any] = {
    "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "voltage": 230,
    "amperage": 32, "tariff_id": "AC-11", "last_updated": UPDATED,
}
CONNECTOR_CHADEMO: dict[str, Any] = {
    "id": "1", "standard": "CHADEMO", "format": "CABLE", "power_type": "DC", "voltage": 400, "amperage": 125,
    "tariff_id": "DC-50", "last_updated": UPDATED,
}
CONNECTOR_CCS: dict[str, Any] = {
    "id": "2", "standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC", "voltage": 400,
    "amperage": 200, "terms_and_conditions": "https://hafenstrom.example/agb", "last_updated": UPDATED,
}
EVSE_AC: dict[str, Any] = {
    "uid": "HAM-0042-1", "evse_id": "DE*HHC*E0042*1", "status": "AVAILABLE",
    "capabilities": ["RFID_READER", "REMOTE_START_STOP_CAPABLE"], "connectors": [CONNECTOR_AC],
    "floor_level": "0", "parking_restrictions": ["EV_ONLY"], "last_updated": UPDATED,
}
EVSE_DC: dict[str, Any] = {
    "uid": "HAM-0042-2", "evse_id": "DE*HHC*E0042*2", "status": "CHARGING",
    "status_schedule": [{"period_begin": "2024-04-01T06:00:00Z", "status": "INOPERATIVE"}],
    "capabilities": ["REMOTE_START_STOP_CAPABLE", "UNLOCK_CAPABLE"], "connectors": [CONNECTOR_CHADEMO, CONNECTOR_CCS],
    "coordinates": {"latitude": "53.545020", "longitude": "9.951240"}, "physical_reference": "P2",
    "directions": [{"language": "de", "text": "Zweite Saeule links"}], "last_updated": UPDATED,
}
LOCATION: dict[str, Any] = {
    "id": "HAM-0042", "type": "PARKING_LOT", "name": "Fischmarkt", "address": "Grosse Elbstrasse 9",
    "city": "Hamburg", "postal_code": "22767", "country": "DEU",
    "coordinates": {"latitude": "53.545012", "longitude": "9.951230"},
    "related_locations": [{"latitude": "53.545100", "longitude": "9.951300",
                           "name": {"language": "de", "text": "Einfahrt"}}],
    "evses": [EVSE_AC, EVSE_DC],
    "operator": {"name": "Hafenstrom", "website": "https://hafenstrom.example"},
    "facilities": ["RESTAURANT", "BUS_STOP"], "time_zone": "Europe/Berlin",
    "opening_times": {
        "regular_hours": [{"weekday": day, "period_begin": "07:00", "period_end": "22:00"} for day in range(1, 7)],
        "exceptional_closings": [{"period_begin": "2024-12-24T00:00:00Z", "period_end": "2024-12-27T00:00:00Z"}],
    },
    "charging_when_closed": False,
    "images": [{"url": "https://hafenstrom.example/img/ham42.jpg", "category": "LOCATION", "type": "jpeg",
                "width": 800, "height": 600}],
    "energy_mix": {"is_green_energy": True,
                   "energy_sources": [{"source": "WIND", "percentage": Decimal("70.5")},
                                      {"source": "SOLAR", "percentage": Decimal("29.5")}],
                   "environ_impact": [{"source": "CARBON_DIOXIDE", "amount": Decimal("0.0")}],
                   "supplier_name": "Nordwind"},
    "last_updated": UPDATED,
}
LOCATION_OF_SESSION: dict[str, Any] = {**LOCATION, "evses": [{**EVSE_DC, "connectors": [CONNECTOR_CCS]}]}
"""The Location as a 2.1.1 Session or CDR carries it: only the EVSE and connector used."""

TARIFF: dict[str, Any] = {
    "id": "DC-50", "currency": "EUR",
    "tariff_alt_text": [{"language": "de", "text": "0,59 EUR/kWh, nachts 6 EUR je angefangene 15 Minuten Parken"}],
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": Decimal("0.59"), "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": Decimal("6.00"), "step_size": 900}],
         "restrictions": {"start_time": "22:00", "end_time": "07:00", "min_duration": 1800,
                          "day_of_week": ["SATURDAY", "SUNDAY"]}},
    ],
    "last_updated": UPDATED,
}
TOKEN: dict[str, Any] = {
    "uid": "04A1B2C3D4E5F6", "type": "RFID", "auth_id": "DE-EMS-C12345678-9", "visual_number": "DE-EMS-C12345678-9",
    "issuer": "Elektro Mobil", "valid": True, "whitelist": "ALLOWED", "language": "de", "last_updated": UPDATED,
}
SESSION: dict[str, Any] = {
    "id": "S-7781", "start_datetime": "2024-03-02T08:00:00Z", "end_datetime": "2024-03-02T08:41:00Z",
    "kwh": Decimal("31.250"), "auth_id": TOKEN["auth_id"], "auth_method": "AUTH_REQUEST",
    "location": LOCATION_OF_SESSION, "meter_id": "M-2-0042", "currency": "EUR",
    "charging_periods": [{"start_date_time": "2024-03-02T08:00:00Z",
                          "dimensions": [{"type": "ENERGY", "volume": Decimal("31.250")},
                                         {"type": "MAX_CURRENT", "volume": Decimal("180")}]}],
    "total_cost": Decimal("18.44"), "status": "COMPLETED", "last_updated": "2024-03-02T08:41:05Z",
}
CDR: dict[str, Any] = {
    "id": "CDR-S-7781", "start_date_time": "2024-03-02T08:00:00Z", "stop_date_time": "2024-03-02T08:41:00Z",
    "auth_id": TOKEN["auth_id"], "auth_method": "AUTH_REQUEST", "location": LOCATION_OF_SESSION,
    "meter_id": "M-2-0042", "currency": "EUR", "tariffs": [TARIFF],
    "charging_periods": [{"start_date_time": "2024-03-02T08:00:00Z",
                          "dimensions": [{"type": "ENERGY", "volume": Decimal("31.250")}]},
                         {"start_date_time": "2024-03-02T08:35:00Z",
                          "dimensions": [{"type": "PARKING_TIME", "volume": Decimal("0.1")}]}],
    "total_cost": Decimal("18.4375"), "total_energy": Decimal("31.250"), "total_time": Decimal("0.683"),
    "total_parking_time": Decimal("0.1"), "remark": "Ladevorgang regulaer beendet", "last_updated": UPDATED,
}
AUTHORIZATION: dict[str, Any] = {
    "allowed": "ALLOWED",
    "location": {"location_id": "HAM-0042", "evse_uids": ["HAM-0042-2"], "connector_ids": ["2"]},
    "info": {"language": "de", "text": "Willkommen"},
}
START_SESSION: dict[str, Any] = {
    "response_url": "https://emsp.example/ocpi/2.1.1/commands/START_SESSION/91", "token": TOKEN,
    "location_id": "HAM-0042", "evse_uid": "HAM-0042-2",
}
RESERVE_NOW: dict[str, Any] = {
    "response_url": "https://emsp.example/ocpi/2.1.1/commands/RESERVE_NOW/92", "token": TOKEN,
    "expiry_date": "2024-03-02T09:00:00Z", "reservation_id": 4711, "location_id": "HAM-0042",
    "evse_uid": "HAM-0042-1",
}
STOP_SESSION: dict[str, Any] = {
    "response_url": "https://emsp.example/ocpi/2.1.1/commands/STOP_SESSION/93", "session_id": "S-7781",
}
UNLOCK_CONNECTOR: dict[str, Any] = {
    "response_url": "https://emsp.example/ocpi/2.1.1/commands/UNLOCK_CONNECTOR/94", "location_id": "HAM-0042",
    "evse_uid": "HAM-0042-2", "connector_id": "2",
}
COMMAND_RESPONSE: dict[str, Any] = {"result": "ACCEPTED"}
CREDENTIALS: dict[str, Any] = {
    "token": "0c6b7c7e-4f2f-4f0b-9d1e-hafenstrom", "url": "https://cpo.hafenstrom.example/ocpi/versions",
    "business_details": {"name": "Hafenstrom"}, "party_id": "HHC", "country_code": "DE",
}

OBJECTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "location": ("locations", "location", LOCATION),
    "evse": ("locations", "evse", EVSE_DC),
    "connector": ("locations", "connector", CONNECTOR_AC),
    "session": ("sessions", "session", SESSION),
    "cdr": ("cdrs", "cdr", CDR),
    "tariff": ("tariffs", "tariff", TARIFF),
    "token": ("tokens", "token", TOKEN),
    "authorization_info": ("tokens", "authorization_info", AUTHORIZATION),
    "location_references": ("tokens", "location_references", AUTHORIZATION["location"]),
    "start_session": ("commands", "start_session", START_SESSION),
    "reserve_now": ("commands", "reserve_now", RESERVE_NOW),
    "stop_session": ("commands", "stop_session", STOP_SESSION),
    "unlock_connector": ("commands", "unlock_connector", UNLOCK_CONNECTOR),
    "command_response": ("commands", "command_response", COMMAND_RESPONSE),
    "command_result": ("commands", "command_result", COMMAND_RESPONSE),
    "credentials": ("credentials", "credentials", CREDENTIALS),
}
"""Every 2.1.1 object the bridge translates: name → (module, kind, document)."""
