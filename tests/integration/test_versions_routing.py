"""Parties of different OCPI versions roam with each other through one hub, over HTTP against a real
PostgreSQL: a 2.1.1 CPO with a 2.2.1 and a 2.3.0 eMSP, OCN-era 2.2 stacks with each other and with a
2.2.1 eMSP, a 2.1.1 eMSP with a 2.2.1 CPO, and 2.3.0 payments. Each party sends and receives its own
version's shapes only; what the hub could not carry is counted and told."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import aiohttp
import pytest

from routing.versions import OcpiVersion, codec
from routing.versions.checking import check
from tests.integration.test_hub_features import eventually
from tests.integration.test_operations import metric, scrape
from tests.integration.test_versions_registration import platform_of
from tests.support import ocpi_2_1_1 as old_shapes
from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, Received, Role, cpo, emsp, token_header
from tests.support.roaming import RoamingPartner, roaming_2_1_1, roaming_2_3_0, roaming_ocn_2_2
from tests.support.versioned_partner import header

pytestmark = pytest.mark.anyio
HUB = Role("HUB", "NL", "HUB")
V211, V22, V221, V230 = OcpiVersion.V2_1_1, OcpiVersion.V2_2, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0
UPDATED = "2024-03-02T10:00:00Z"
ROUTING_HEADERS = ("ocpi-from-country-code", "ocpi-from-party-id", "ocpi-to-country-code", "ocpi-to-party-id")


def valid(document: Any, module: str, kind: str, version: OcpiVersion) -> None:
    problem = check(document, module, kind, version)
    assert problem is None, f"not a valid OCPI {version} {kind}: {problem}\n{document}"


def received(platform: FakePlatform, path_part: str, method: str | None = None) -> list[Received]:
    return [r for r in platform.received if path_part in r.path and (method is None or r.method == method)]


def token_2_2_1(cc: str, pid: str, uid: str, contract: str) -> dict[str, Any]:
    return {"country_code": cc, "party_id": pid, "uid": uid, "type": "RFID", "contract_id": contract,
            "issuer": f"{cc}*{pid}", "valid": True, "whitelist": "ALLOWED", "last_updated": UPDATED}


def old_locations() -> list[dict[str, Any]]:
    """Three 2.1.1 Locations of DE*OLD; the last one leaves out its (in 2.1.1 optional) time_zone."""
    out = [{**copy.deepcopy(old_shapes.LOCATION), "id": f"HAM-004{n}"} for n in range(3)]
    del out[2]["time_zone"]
    return out


async def register(hub: RunningHub, partner: RoamingPartner) -> dict[str, Any]:
    """Partner-initiated registration in the partner's version, the party's role given by the operator."""
    me = partner.party
    status, invitation = await hub.admin("POST", "/admin/invitations", {"name": partner.name, "parties": [
        {"country_code": me.country_code, "party_id": me.party_id, "role": me.role}]})
    assert status == 201, invitation
    await partner.register_with(hub.versions_url, invitation["token"])
    return await platform_of(hub, partner.name)


async def test_2_1_1_cpo_roams_with_a_2_2_1_and_a_2_3_0_emsp(net: Network) -> None:
    hub = await net.hub()
    msp = await net.registered(hub, emsp("msp-2.2.1", "NL", "MSP"))
    new = await net.partner(roaming_2_3_0("new-emsp", "FR", "NEW", "EMSP"))
    await register(hub, new)
    old = await net.partner(roaming_2_1_1("old-cpo", "DE", "OLD", "CPO", objects={"locations": old_locations()}))
    # The other way round: the hub registers with it, in 2.1.1, its role given by the operator.
    status, old_platform = await hub.admin("POST", "/admin/registrations", {
        "versions_url": f"{old.base_url}/versions", "token": old.token_for_hub, "role": "CPO", "name": old.name})
    assert status == 201 and old_platform["version"] == "2.1.1", old_platform
    # Its Locations may leave time_zone out (2.1.1 allows it): the operator says which one they are in.
    status, _ = await hub.admin("PATCH", f"/admin/platforms/{old_platform['id']}/settings",
                                {"time_zone": "Europe/Berlin"})
    assert status == 200
    status, refused = await hub.admin("PATCH", f"/admin/platforms/{old_platform['id']}/settings",
                                      {"time_zone": "Europe"})
    assert status == 400 and "IANA" in refused["error"], refused
    text = await scrape(hub.base_url)
    assert 'ocpihub_translation_losses_total{field="signed_data",module="cdrs"} 0.0' in text, "all series at 0"

    # -- pull its Locations, page by page, in 2.2.1 (directly) and in 2.3.0 (GET all) --------------------
    status, headers, page = await msp.call("GET", "locations", "SENDER", "?limit=2", to=old.party)
    assert status == 200 and page["status_code"] == 1000, page
    assert headers["x-total-count"] == "3"
    assert [loc["id"] for loc in page["data"]] == ["HAM-0040", "HAM-0041"]
    for loc in page["data"]:
        valid(loc, "locations", "location", V221)
        assert (loc["country_code"], loc["party_id"], loc["parking_type"]) == ("DE", "OLD", "PARKING_LOT")
        assert loc["evses"][0]["connectors"][0]["max_voltage"] == 230
    next_url = headers["link"].split(">")[0].lstrip("<")
    assert next_url.startswith(f"{hub.base_url}/ocpi/2.2.1/sender/locations"), "Link rebased on the hub"
    status, headers, page = await msp.call("GET", "locations", "SENDER", url=next_url, to=old.party)
    assert [loc["id"] for loc in page["data"]] == ["HAM-0042"]
    assert page["data"][0]["time_zone"] == "Europe/Berlin", "filled from the platform's setting"

    status, headers, page = await new.call("GET", "locations", interface="SENDER", to=HUB)
    assert status == 200 and headers["x-total-count"] == "3", page
    assert [loc["id"] for loc in page["data"]] == ["HAM-0040", "HAM-0041", "HAM-0042"]
    for loc in page["data"]:
        valid(loc, "locations", "location", V230)
    assert all(not set(ROUTING_HEADERS) & set(c.headers) for c in old.calls), "no routing headers to 2.1.1"
    assert all(c.headers["authorization"] == header(old.token_for_hub, "plain") for c in old.calls)

    # -- a Location update: PUT and PATCH in 2.1.1, broadcast in each receiver's version -------------
    update = {**old_locations()[0], "name": "Fischmarkt Nord", "last_updated": UPDATED}
    status, _, answer = await old.call("PUT", "locations", "DE/OLD/HAM-0040", body=update)
    assert status == 200 and answer["status_code"] == 1000, answer
    assert answer["status_message"].startswith("broadcast to 2 receivers"), answer
    await eventually(lambda: bool(received(msp, "/receiver/locations/DE/OLD/HAM-0040", "PUT"))
                     and bool(new.calls_to("locations", "PUT")))
    pushed = received(msp, "/receiver/locations/DE/OLD/HAM-0040", "PUT")[0].json()
    valid(pushed, "locations", "location", V221)
    assert (pushed["name"], pushed["publish"], pushed["country_code"]) == ("Fischmarkt Nord", True, "DE")
    valid(new.calls_to("locations", "PUT")[0].json(), "locations", "location", V230)
    status, _, answer = await old.call("PATCH", "locations", "DE/OLD/HAM-0040/HAM-0042-1",
                                       body={"status": "CHARGING", "last_updated": UPDATED})
    assert status == 200 and answer["status_code"] == 1000, answer
    await eventually(lambda: bool(received(msp, "/HAM-0040/HAM-0042-1", "PATCH")))
    assert received(msp, "/HAM-0040/HAM-0042-1", "PATCH")[0].json() == {"status": "CHARGING",
                                                                         "last_updated": UPDATED}

    # -- tokens down to 2.1.1, and a real-time authorization back up ----------------------------------
    token = token_2_2_1("NL", "MSP", "04A1B2C3", "MSP-CONTRACT-0001")
    status, _, answer = await msp.call("PUT", "tokens", "RECEIVER", "/NL/MSP/04A1B2C3", body=token, to=old.party)
    assert status == 200 and answer["status_code"] == 1000, answer
    assert "not carried: tokens.country_code, tokens.party_id" in answer["status_message"], answer
    [put] = old.calls_to("tokens", "PUT")
    valid(put.json(), "tokens", "token", V211)
    assert put.json()["auth_id"] == "MSP-CONTRACT-0001" and "country_code" not in put.json()

    msp.answers[("tokens", "SENDER")] = (200, {"status_code": 1000, "timestamp": UPDATED, "data": {
        "allowed": "ALLOWED", "token": token, "authorization_reference": "AUTH-1"}}, {})
    status, _, answer = await old.call("POST", "tokens", "04A1B2C3/authorize", body={
        "location_id": "HAM-0040", "evse_uids": ["HAM-0042-2"], "connector_ids": ["2"]})
    assert status == 200 and answer["status_code"] == 1000, answer
    assert answer["data"] == {"allowed": "ALLOWED"}, "2.1.1 has no token nor authorization_reference in it"
    asked = received(msp, "/sender/tokens/04A1B2C3/authorize")[0]
    assert asked.json() == {"location_id": "HAM-0040", "evse_uids": ["HAM-0042-2"]}, "connector_ids left 2.2"
    assert (asked.headers["ocpi-from-party-id"], asked.headers["ocpi-to-party-id"]) == ("OLD", "MSP")

    # -- START_SESSION from each eMSP, with the asynchronous result in its own version ----------------
    results = {"msp": f"{msp.base_url}/sender/commands/START_SESSION/1",
               "new": f"{new.base_url}/2.3.0/commands/START_SESSION/2"}
    start = {"response_url": results["msp"], "token": token, "location_id": "HAM-0040", "evse_uid": "HAM-0042-2",
             "authorization_reference": "AUTH-1"}
    status, _, answer = await msp.call("POST", "commands", "RECEIVER", "/START_SESSION", body=start, to=old.party)
    assert status == 200 and answer["data"] == {"result": "ACCEPTED", "timeout": 60}, answer
    new_token = {**token_2_2_1("FR", "NEW", "NEWUID1", "NEW-CONTRACT-7"), "type": "APP_USER"}
    status, _, answer = await new.call("POST", "commands", "/START_SESSION", interface="RECEIVER", to=old.party,
                                       body={**start, "response_url": results["new"], "token": new_token})
    assert status == 200 and answer["data"] == {"result": "ACCEPTED", "timeout": 60}, answer
    commands = old.calls_to("commands", "POST")
    assert len(commands) == 2
    for command in commands:
        valid(command.json(), "commands", "start_session", V211)
        assert command.json()["response_url"].startswith(f"{hub.base_url}/ocpi/2.2.1/callback/")
    assert commands[1].json()["token"]["type"] == "OTHER", "APP_USER is no 2.1.1 token type"
    for command in commands:
        status, answer = await old.post_result(command.json()["response_url"], {"result": "ACCEPTED"})
        assert status == 201 and answer["status_code"] == 1000, answer
    [result] = received(msp, "/sender/commands/START_SESSION/1", "POST")
    assert result.json() == {"result": "ACCEPTED"}
    valid(result.json(), "commands", "command_result", V221)
    [result_230] = [c for c in new.calls_to("commands", "POST") if c.rest == "START_SESSION/2"]
    assert result_230.json() == {"result": "ACCEPTED"}

    # -- sessions and CDRs: each to the eMSP whose token it names ---------------------------------------
    session = {**old_shapes.SESSION, "id": "S-1", "auth_id": "MSP-CONTRACT-0001"}
    status, _, answer = await old.call("PUT", "sessions", "DE/OLD/S-1", body=session)
    assert status == 200 and answer["status_code"] == 1000, answer
    [delivered] = received(msp, "/receiver/sessions/DE/OLD/S-1", "PUT")
    got = delivered.json()
    valid(got, "sessions", "session", V221)
    assert got["cdr_token"] == {"uid": "04A1B2C3", "type": "RFID", "contract_id": "MSP-CONTRACT-0001",
                                "country_code": "NL", "party_id": "MSP"}
    assert (got["location_id"], got["evse_uid"], got["connector_id"]) == ("HAM-0042", "HAM-0042-2", "2")
    status, _, answer = await old.call("PUT", "sessions", "DE/OLD/S-2", body={**session, "id": "S-2",
                                                                              "auth_id": "NEW-CONTRACT-7"})
    assert status == 200 and answer["status_code"] == 1000, answer
    [delivered] = [c for c in new.calls_to("sessions", "PUT") if c.rest == "DE/OLD/S-2"]
    valid(delivered.json(), "sessions", "session", V230)
    assert delivered.json()["cdr_token"]["party_id"] == "NEW"
    assert not received(msp, "/S-2"), "a session goes to its own eMSP only"

    cdr = {**old_shapes.CDR, "id": "CDR-S-1", "auth_id": "MSP-CONTRACT-0001"}
    status, _, answer = await old.call("POST", "cdrs", body=cdr)
    assert status == 201 and answer["status_code"] == 1000, answer
    [delivered] = received(msp, "/receiver/cdrs", "POST")
    valid(delivered.json(), "cdrs", "cdr", V221)
    assert delivered.json()["cdr_location"]["evse_id"] == "DE*HHC*E0042*2"
    assert not new.calls_to("cdrs"), "the CDR went to its own eMSP only"

    # -- what could not be carried is counted --------------------------------------------------------
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_translation_losses_total", module="tokens", field="country_code") >= 1
    assert metric(text, "ocpihub_translation_losses_total", module="commands", field="authorization_reference") == 2


def ocn_location(n: int) -> dict[str, Any]:
    """A 2.2 Location as OCN-era stacks send it: without the time_zone 2.2 requires."""
    return {"country_code": "CH", "party_id": "OCN", "id": f"LOC{n}", "publish": True, "address": "Bahnhofplatz 1",
            "city": "Zurich", "postal_code": "8001", "country": "CHE",
            "coordinates": {"latitude": "47.37800", "longitude": "8.54000"},
            "evses": [{"uid": f"EVSE{n}", "evse_id": f"CH*OCN*E{n}", "status": "AVAILABLE",
                       "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                                       "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16,
                                       "last_updated": UPDATED}], "last_updated": UPDATED}],
            "last_updated": UPDATED}


def ocn_session(emsp_token: dict[str, Any]) -> dict[str, Any]:
    """A 2.2 Session: cdr_token without the owner 2.2.1 added, and connector_id "" as these stacks send it."""
    return {"country_code": "CH", "party_id": "OCN", "id": "S1", "start_date_time": UPDATED, "kwh": 1.5,
            "cdr_token": emsp_token, "auth_method": "COMMAND", "location_id": "LOC0", "evse_uid": "EVSE0",
            "connector_id": "", "currency": "CHF", "status": "ACTIVE", "last_updated": UPDATED}


def ocn_cdr(emsp_token: dict[str, Any]) -> dict[str, Any]:
    return {"country_code": "CH", "party_id": "OCN", "id": "CDR1", "start_date_time": UPDATED,
            "end_date_time": "2024-03-02T11:00:00Z", "session_id": "S1", "cdr_token": emsp_token,
            "auth_method": "COMMAND",
            "cdr_location": {"id": "LOC0", "address": "Bahnhofplatz 1", "city": "Zurich", "postal_code": "8001",
                             "country": "CHE", "coordinates": {"latitude": "47.37800", "longitude": "8.54000"},
                             "evse_uid": "EVSE0", "evse_id": "CH*OCN*E0", "connector_id": "1",
                             "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET",
                             "connector_power_type": "AC_3_PHASE"},
            "currency": "CHF", "total_cost": {"excl_vat": 4.5}, "total_energy": 15, "total_time": 1,
            "charging_periods": [{"start_date_time": UPDATED, "dimensions": [{"type": "ENERGY", "volume": 15}]}],
            "last_updated": UPDATED}


async def test_ocn_era_2_2_stacks_roam_with_each_other_and_with_a_2_2_1_emsp(net: Network) -> None:
    hub = await net.hub()
    msp = await net.registered(hub, emsp("msp-2.2.1", "NL", "MSP"))
    station = await net.partner(roaming_ocn_2_2("ocn-cpo", "CH", "OCN", "CPO",
                                                objects={"locations": [ocn_location(n) for n in range(3)]}))
    station_platform = await register(hub, station)
    driver = await net.partner(roaming_ocn_2_2("ocn-msp", "CH", "OSP", "EMSP"))
    await register(hub, driver)
    valid(ocn_session({"uid": "T", "type": "RFID", "contract_id": "C"}), "sessions", "session", V22)
    valid(ocn_cdr({"uid": "T", "type": "RFID", "contract_id": "C"}), "cdrs", "cdr", V22)

    # -- pull: 2.2 from 2.2 passes untouched; a 2.2.1 eMSP gets them translated through GET all ----------
    status, headers, page = await driver.call("GET", "locations", interface="SENDER", to=station.party)
    assert status == 200 and [loc["id"] for loc in page["data"]] == ["LOC0", "LOC1", "LOC2"], page
    assert page["data"][0] == ocn_location(0) and "x-total-count" not in headers, "same version: as it came"

    status, headers, page = await msp.call("GET", "locations", "SENDER", "?limit=2", to=HUB)
    assert status == 200 and headers["x-total-count"] == "3", page
    assert [loc["id"] for loc in page["data"]] == ["LOC0", "LOC1"], "the hub pages what the owner did not"
    assert all("time_zone" not in loc for loc in page["data"]), "no default set: passed on without one"
    status, headers, page = await msp.call("GET", "locations", "SENDER", url=headers["link"].split(">")[0][1:],
                                           to=HUB)
    assert [loc["id"] for loc in page["data"]] == ["LOC2"], page
    status, _ = await hub.admin("PATCH", f"/admin/platforms/{station_platform['id']}/settings",
                                {"time_zone": "Europe/Zurich"})
    assert status == 200
    status, _, page = await msp.call("GET", "locations", "SENDER", to=HUB)
    for loc in page["data"]:
        valid(loc, "locations", "location", V221)
        assert loc["time_zone"] == "Europe/Zurich"
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_tolerated_deviations_total", kind="location_time_zone_missing") == 3
    assert metric(text, "ocpihub_tolerated_deviations_total", kind="location_time_zone_default") == 3
    assert metric(text, "ocpihub_tolerated_deviations_total", kind="unpaginated_answer") >= 2

    # -- START_SESSION and STOP_SESSION, from the 2.2 eMSP and from the 2.2.1 eMSP ----------------------
    driver_token = {"uid": "OCNTOK1", "type": "RFID", "contract_id": "OSP-C-1", "issuer": "OSP", "valid": True,
                    "whitelist": "ALLOWED", "country_code": "CH", "party_id": "OSP", "last_updated": UPDATED}
    msp_token = token_2_2_1("NL", "MSP", "MSPTOK1", "MSP-C-1")
    asks = [
        (driver, {"response_url": f"{driver.base_url}/2.2/commands/START_SESSION/1", "token": driver_token,
                  "location_id": "LOC0", "evse_uid": "EVSE0"}, "START_SESSION"),
        (driver, {"response_url": f"{driver.base_url}/2.2/commands/STOP_SESSION/2", "session_id": "S1"},
         "STOP_SESSION"),
        (msp, {"response_url": f"{msp.base_url}/sender/commands/START_SESSION/3", "token": msp_token,
               "location_id": "LOC0", "evse_uid": "EVSE0", "connector_id": "1"}, "START_SESSION"),
        (msp, {"response_url": f"{msp.base_url}/sender/commands/STOP_SESSION/4", "session_id": "S1"},
         "STOP_SESSION"),
    ]
    for caller, body, command in asks:
        if isinstance(caller, RoamingPartner):
            status, _, answer = await caller.call("POST", "commands", f"/{command}", interface="RECEIVER", body=body,
                                                  to=station.party)
        else:
            status, _, answer = await caller.call("POST", "commands", "RECEIVER", f"/{command}", body=body,
                                                  to=station.party)
        assert status == 200 and answer["status_code"] == 1000, answer
        if caller is driver:
            assert answer["data"]["message"] == "Command sent", "2.2 to 2.2: the answer as it came"
        else:
            assert answer["data"]["message"] == [{"language": "en", "text": "Command sent"}], answer
            valid(answer["data"], "commands", "command_response", V221)
    forwarded = station.calls_to("commands", "POST")
    assert [c.rest for c in forwarded] == ["START_SESSION", "STOP_SESSION"] * 2
    assert "connector_id" not in forwarded[2].json(), "StartSession.connector_id is 2.2.1's"
    for call, (caller, _, _) in zip(forwarded, asks, strict=True):
        caller_party = caller.party if isinstance(caller, RoamingPartner) else caller.roles[0]
        status, answer = await station.post_result(call.json()["response_url"],
                                                   {"result": "ACCEPTED", "message": "done"}, to=caller_party)
        assert answer["status_code"] == 1000, answer
    results = [c for c in driver.calls_to("commands", "POST")]
    assert sorted(c.rest for c in results) == ["START_SESSION/1", "STOP_SESSION/2"]
    assert all(c.json() == {"result": "ACCEPTED", "message": "done"} for c in results)
    for path in ("/sender/commands/START_SESSION/3", "/sender/commands/STOP_SESSION/4"):
        [result] = received(msp, path, "POST")
        assert result.json() == {"result": "ACCEPTED", "message": [{"language": "en", "text": "done"}]}

    # -- session and CDR: to the 2.2.1 eMSP with the token's owner filled in, to the 2.2 eMSP as they are ----
    for receiver, token in ((msp, {k: msp_token[k] for k in ("uid", "type", "contract_id")}),
                            (driver, {k: driver_token[k] for k in ("uid", "type", "contract_id")})):
        to = receiver.party if isinstance(receiver, RoamingPartner) else receiver.roles[0]
        status, _, answer = await station.call("PUT", "sessions", "/CH/OCN/S1", interface="RECEIVER",
                                               body=ocn_session(token), to=to)
        assert status == 200 and answer["status_code"] == 1000, answer
        status, _, answer = await station.call("POST", "cdrs", interface="RECEIVER", body=ocn_cdr(token), to=to)
        assert answer["status_code"] == 1000, answer
    [session] = received(msp, "/receiver/sessions/CH/OCN/S1", "PUT")
    valid(session.json(), "sessions", "session", V221)
    assert session.json()["cdr_token"] == {**{k: msp_token[k] for k in ("uid", "type", "contract_id")},
                                           "country_code": "NL", "party_id": "MSP"}
    [cdr] = received(msp, "/receiver/cdrs", "POST")
    valid(cdr.json(), "cdrs", "cdr", V221)
    assert cdr.json()["cdr_token"]["party_id"] == "MSP"
    [session] = driver.calls_to("sessions", "PUT")
    [cdr] = driver.calls_to("cdrs", "POST")
    token = {k: driver_token[k] for k in ("uid", "type", "contract_id")}
    assert session.json() == ocn_session(token) and cdr.json() == ocn_cdr(token), "2.2 to 2.2: untouched"
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_tolerated_deviations_total", kind="session_empty_connector_id") == 1
    assert metric(text, "ocpihub_tolerated_deviations_total", kind="command_message_string") >= 4


async def test_2_1_1_emsp_roams_with_a_2_2_1_cpo(net: Network) -> None:
    hub = await net.hub()
    station = await net.registered(hub, cpo("cpo-2.2.1", "NL", "CPO"))  # 7 Locations, 3 a page
    old = await net.partner(roaming_2_1_1("old-emsp", "DE", "OLM", "EMSP"))
    await register(hub, old)

    # -- GET all over the CPOs it may see, in 2.1.1 shapes --------------------------------------------------
    status, headers, page = await old.call("GET", "locations", query={"limit": 3})
    assert status == 200 and headers["x-total-count"] == "7", page
    assert [loc["id"] for loc in page["data"]] == ["LOC0", "LOC1", "LOC2"]
    for loc in page["data"]:
        assert "country_code" not in loc and loc["type"] == "UNKNOWN" and loc["postal_code"] == ""
        assert loc["evses"][0]["connectors"][0]["voltage"] == 230
    assert headers["link"].startswith(f"<{hub.base_url}/ocpi/2.1.1/locations?"), headers["link"]
    asked = received(station, "/sender/locations", "GET")
    assert asked and all(r.headers["ocpi-from-party-id"] == "OLM" for r in asked), "asked on its behalf"
    # A single Location by id alone (2.1.1 has no owner in that URL): the owner the hub learned.
    status, _, answer = await old.call("GET", "locations", "LOC1")
    assert status == 200 and answer["data"]["id"] == "LOC1" and "country_code" not in answer["data"], answer
    status, _, answer = await old.call("GET", "locations", "NOWHERE")
    assert answer["status_code"] == 2001, "nobody is known to have it: refused, not guessed"

    # -- START_SESSION, routed by its location_id, with the result in 2.1.1 --------------------------------
    start = {"response_url": f"{old.base_url}/2.1.1/commands/START_SESSION/9", "token": old_shapes.TOKEN,
             "location_id": "LOC1", "evse_uid": "EVSE1"}
    status, _, answer = await old.call("POST", "commands", "START_SESSION", body=start)
    assert status == 200 and answer["data"] == {"result": "ACCEPTED"}, answer
    assert "commands.timeout" in answer["status_message"], "what 2.1.1 cannot carry is said"
    [command] = received(station, "/receiver/commands/START_SESSION", "POST")
    valid(command.json(), "commands", "start_session", V221)
    assert (command.json()["token"]["country_code"], command.json()["token"]["party_id"]) == ("DE", "OLM")
    assert command.json()["token"]["contract_id"] == old_shapes.TOKEN["auth_id"]
    callback = station.response_urls[0]
    async with aiohttp.ClientSession() as http, http.post(callback, json={"result": "ACCEPTED"}, headers={
            "Authorization": token_header(station.token_to_hub or "")}) as r:
        assert r.status == 201 and (await r.json())["status_code"] == 1000
    [result] = [c for c in old.calls_to("commands", "POST") if c.rest == "START_SESSION/9"]
    assert result.json() == {"result": "ACCEPTED"}
    assert result.headers["authorization"] == header(old.token_for_hub, "plain")
    assert not set(ROUTING_HEADERS) & set(result.headers), "no routing headers towards 2.1.1"

    # -- a Session at a Location the hub has not seen: fetched once from the CPO, then kept ---------------
    session = {"country_code": "NL", "party_id": "CPO", "id": "S1", "start_date_time": UPDATED, "kwh": 2,
               "cdr_token": {"country_code": "DE", "party_id": "OLM", "uid": old_shapes.TOKEN["uid"], "type": "RFID",
                             "contract_id": old_shapes.TOKEN["auth_id"]},
               "auth_method": "COMMAND", "location_id": "LOC5", "evse_uid": "EVSE5", "connector_id": "1",
               "currency": "EUR", "status": "ACTIVE", "last_updated": UPDATED}
    for kwh in (2, 3):
        status, _, answer = await station.call("PUT", "sessions", "RECEIVER", "/NL/CPO/S1",
                                               body={**session, "kwh": kwh}, to=old.party)
        assert status == 200 and answer["status_code"] == 1000, answer
    fetched = [r for r in received(station, "/sender/locations/LOC5", "GET")]
    assert len(fetched) == 1 and fetched[0].headers["ocpi-from-party-id"] == "HUB", "fetched by the hub, once"
    delivered = old.calls_to("sessions", "PUT")
    assert [d.json()["kwh"] for d in delivered] == [2, 3]
    got = delivered[0].json()
    assert got["auth_id"] == old_shapes.TOKEN["auth_id"] and got["auth_method"] == "AUTH_REQUEST"
    assert got["location"]["id"] == "LOC5" and [e["uid"] for e in got["location"]["evses"]] == ["EVSE5"]
    assert "cdr_token" not in got and "location_id" not in got

    # -- what 2.1.1 cannot take is refused, naming the field, and reaches nobody ---------------------------
    private = {**station.objects("locations")[2], "publish": False}
    status, _, answer = await station.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC2", body=private,
                                           to=old.party)
    assert status == 200 and answer["status_code"] == 2001 and "publish" in answer["status_message"], answer
    assert not old.calls_to("locations", "PUT")


async def test_payments_route_between_2_3_0_parties_only(net: Network) -> None:
    hub = await net.hub()
    terminal = {"terminal_id": "T1", "customer_reference": "shop 7", "location_ids": ["LOC1"],
                "vendor_extension": {"firmware": "1.2"}, "last_updated": UPDATED}
    ptp = await net.partner(roaming_2_3_0("ptp", "FR", "PTP", "PTP", extra_modules=["payments"],
                                          objects={"payments": [terminal]}))
    await register(hub, ptp)
    station = await net.partner(roaming_2_3_0("cpo-2.3.0", "FR", "CPO", "CPO", extra_modules=["payments"]))
    await register(hub, station)
    older = await net.registered(hub, cpo("cpo-2.2.1", "NL", "CPO"))

    status, _, answer = await ptp.call("POST", "payments", "/terminals", interface="RECEIVER", body=terminal,
                                       to=station.party)
    assert status == 201 and answer["status_code"] == 1000, answer
    [pushed] = station.calls_to("payments", "POST")
    assert pushed.rest == "terminals" and pushed.body == codec.encode(terminal), "passed as it came"
    status, _, answer = await station.call("GET", "payments", "/terminals/T1", interface="SENDER", to=ptp.party)
    assert status == 200 and answer["data"] == json.loads(codec.encode(terminal)), answer

    status, _, answer = await ptp.call("POST", "payments", "/terminals", interface="RECEIVER", body=terminal,
                                       to=older.roles[0])
    assert answer["status_code"] == 4000 and "OCPI 2.2.1 has no payments module" in answer["status_message"], answer
    assert not older.received, "a 2.2.1 CPO has no payments module"
    status, _, answer = await older.call("GET", "payments", "SENDER", url=f"{hub.base_url}/ocpi/2.2.1/sender/payments",
                                         to=ptp.party)
    assert status == 404, "no payments endpoint below 2.3.0"


async def test_what_one_replica_learns_about_tokens_another_uses(net: Network) -> None:
    first = await net.hub()
    second = await net.hub()
    msp = await net.registered(first, emsp("msp-2.2.1", "NL", "MSP"))
    old = await net.partner(roaming_2_1_1("old-cpo", "DE", "OLD", "CPO"))
    await register(first, old)
    token = token_2_2_1("NL", "MSP", "04A1B2C3", "MSP-CONTRACT-0001")
    _, _, answer = await msp.call("PUT", "tokens", "RECEIVER", "/NL/MSP/04A1B2C3", body=token, to=old.party)
    assert answer["status_code"] == 1000, answer

    # The second replica never saw the token: it reads what the first learned from the database.
    session = {**old_shapes.SESSION, "id": "S-1", "auth_id": "MSP-CONTRACT-0001"}
    url = old.hub_url("sessions").replace(first.base_url, second.base_url) + "DE/OLD/S-1"
    answer = {}
    for _ in range(50):
        _, _, answer = await old.call("PUT", "sessions", body=session, url=url)
        if answer.get("status_code") == 1000:
            break
        await asyncio.sleep(0.1)
    assert answer["status_code"] == 1000, answer
    [delivered] = received(msp, "/receiver/sessions/DE/OLD/S-1", "PUT")
    assert delivered.json()["cdr_token"]["uid"] == "04A1B2C3"
