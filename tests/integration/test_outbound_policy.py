"""Partner-given URLs cannot make the hub call what the operator did not allow (issue #18).

A real hub runs with ``OCPI_HUB_OUTBOUND_ALLOW=127.0.0.1/32``; the "forbidden" addresses are other
loopback addresses (Linux routes all of 127/8 to lo), each watched by a listener that must receive no
connection: that is the proof of each refusal. Names resolve through a stub injected into the hub, so
no test asks a real DNS server, and nothing is sent beyond loopback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from routing.forward import Forwarder, UpstreamFailure
from routing.outbound_guard import OutboundGuard
from routing.outbound_policy import policy
from tests.integration.test_hub_features import eventually
from tests.integration.test_operations import metric, scrape
from tests.integration.test_registration import post_invited_credentials
from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, cpo, emsp, envelope, token_header
from tests.support.servers import Trap, trap

pytestmark = pytest.mark.anyio

STRICT = {"outbound_allow": "127.0.0.1/32"}
HUB = ("NL", "HUB")
# 127.0.0.2 in every spelling a partner tried, and a name that resolves to it.
SPELLINGS = ["127.0.0.2", "2130706434", "0x7f000002", "127.2", "[::ffff:127.0.0.2]", "internal.test"]


class Names:
    """A resolver stub: host names the test defines, anything else does not resolve."""

    def __init__(self, **names: str) -> None:
        self.names = {name.replace("_", "."): [address] for name, address in names.items()}

    async def __call__(self, host: str, port: int) -> list[str]:
        if host in self.names:
            return list(self.names[host])
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.fixture
async def forbidden() -> AsyncIterator[Trap]:
    async with trap("127.0.0.2") as listener:
        yield listener


async def post_credentials(hub: RunningHub, token_a: str, credentials: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(
        hub.base_url + "/ocpi/2.2.1/credentials", json=credentials, headers={"Authorization": token_header(token_a)},
    ) as r:
        body: dict[str, Any] = await r.json()
        return body


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ocpihub.outbound" and r.getMessage() == "outbound call refused"]


async def test_credentials_url_in_every_spelling_and_the_hubs_own_port_are_refused_unseen(
        net: Network, forbidden: Trap, caplog: pytest.LogCaptureFixture) -> None:
    hub = await net.hub(resolver=Names(internal_test="127.0.0.2", localhost="127.0.0.1"), **STRICT)
    partner = cpo("cpo")
    hub_port = hub.base_url.rsplit(":", 1)[1]
    token_a = await hub.invite()
    loopback = [f"http://{spelling}:{forbidden.port}/versions" for spelling in SPELLINGS]
    itself = [f"http://{host}:{hub_port}{path}" for host, path in (
        ("127.0.0.1", "/ocpi/versions"), ("localhost", "/ocpi/versions"), ("[::ffff:127.0.0.1]", "/ocpi/versions"),
        ("127.0.0.1", "/ocpi/2.2.1/receiver/locations"))]
    for url in loopback + itself:
        body = await post_credentials(hub, token_a, partner.credentials() | {"url": url})
        assert body["status_code"] == 3001, (url, body)
        message = body["status_message"]
        assert url in message and "outbound address policy" in message, message
        assert ("loopback address" if url in loopback else "the hub itself") in message, message
    assert forbidden.connections == 0
    _, [platform] = await hub.admin("GET", "/admin/platforms")
    assert platform["status"] == "PLANNED" and not platform["endpoints"], "nothing stored"
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_outbound_refused_total", reason="loopback") == len(loopback)
    assert metric(text, "ocpihub_outbound_refused_total", reason="self") == len(itself)
    assert metric(text, "ocpihub_outbound_refused_total", reason="private") == 0, "every reason exists from the start"
    lines = refusals(caplog)
    assert len(lines) == len(loopback) + len(itself)
    assert {r.platform for r in lines} == {platform["id"]}
    assert {r.host for r in lines} >= {"internal.test", "2130706434", "localhost"}
    assert {r.rule for r in lines} == {"loopback", "self"}
    logged = "\n".join(str(vars(r)) for r in caplog.records)
    assert token_a not in logged and partner.token_for_hub not in logged


async def test_admin_registration_to_a_refused_address_contacts_nothing(net: Network) -> None:
    hub = await net.hub(resolver=Names(), **STRICT)
    async with trap("127.0.0.3") as listener:
        status, body = await hub.admin("POST", "/admin/registrations",
                                       {"versions_url": f"http://127.0.0.3:{listener.port}/versions", "token": "A"})
    assert status == 400 and body["ocpi_status"] == 3001, body
    assert "127.0.0.3 is a loopback address" in body["error"]
    assert listener.connections == 0
    assert (await hub.admin("GET", "/admin/platforms"))[1] == []


async def test_a_redirect_from_an_allowed_address_is_not_followed(net: Network, forbidden: Trap) -> None:
    async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.2:{forbidden.port}/versions\r\n"
                     "Content-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(redirect, "127.0.0.1", 0)
    hub = await net.hub(resolver=Names(), **STRICT)
    partner = cpo("cpo")
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/versions"
    for make in (lambda: post_invited_credentials(hub, partner, partner.credentials() | {"url": url}),
                 lambda: hub.admin("POST", "/admin/registrations", {"versions_url": url, "token": "A"})):
        _, body = await make()
        message = body.get("status_message") or body.get("error")
        assert "answered HTTP 302" in message and "follows no redirects" in message, body
    server.close()
    assert forbidden.connections == 0


@pytest.mark.parametrize("host", ["0x7f000002", "internal.test"])
async def test_module_endpoints_at_refused_addresses_fail_registration_before_anything_is_stored(
        net: Network, forbidden: Trap, host: str) -> None:
    hub = await net.hub(resolver=Names(internal_test="127.0.0.2"), **STRICT)
    partner = await net.partner(cpo("cpo", module_base=f"http://{host}:{forbidden.port}"))
    _, body = await post_invited_credentials(hub, partner)
    assert body["status_code"] == 3001 and f"http://{host}:{forbidden.port}/" in body["status_message"], body
    _, [platform] = await hub.admin("GET", "/admin/platforms")
    assert platform["status"] == "PLANNED" and not platform["endpoints"] and not platform["parties"]
    await asyncio.sleep(0.2)  # a hubclientinfo push would be on its way by now
    assert forbidden.connections == 0


async def rebindable(net: Network, **settings: Any) -> tuple[RunningHub, Names, FakePlatform, FakePlatform]:
    """A hub, an eMSP, and a CPO registered under the name cpo.test, which resolves to 127.0.0.1 until
    the test points it at 127.0.0.2 (DNS rebinding). No connection to the CPO is open at that point:
    registration used its own client, and the connection that told the new CPO the eMSP's ClientInfo
    was closed by restarting the CPO's server."""
    names = Names(cpo_test="127.0.0.1")
    hub = await net.hub(resolver=names, **STRICT, **settings)
    msp = await net.registered(hub, emsp("msp"))
    station = cpo("cpo")
    await net.partner(station, name="cpo.test")
    await station.register_with(hub.versions_url, await hub.invite())
    await eventually(lambda: any(r.path.endswith("/DE/MSP") for r in station.clientinfo))
    await net.stop_partner(station)
    await net.restart_partner(station)
    return hub, names, msp, station


async def test_stored_names_are_checked_again_by_every_forwarding_path(net: Network,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    hub, names, msp, station = await rebindable(net, offline_after_failures=10)
    async with trap("127.0.0.2", int(station.base_url.rsplit(":", 1)[1])) as rebound:
        names.names["cpo.test"] = ["127.0.0.2"]
        seen_before = len(station.clientinfo)
        status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party())
        assert (status, body["status_code"]) == (200, 4003)
        assert "cpo.test resolves to a loopback address" in body["status_message"], body
        status, headers, body = await msp.call("GET", "locations", "SENDER", to=HUB)  # GET all
        assert status == 200 and body["data"] == [] and "outbound address policy" in headers["warning"]
        status, _, _ = await msp.call("PUT", "tokens", "RECEIVER", "/DE/MSP/T1", to=HUB,
                                      body={"uid": "T1", "type": "RFID"})  # broadcast
        assert status == 200
        status, _ = await hub.admin("POST", "/admin/invitations", {"parties": [
            {"country_code": "SE", "party_id": "NEW", "role": "CPO"}]})  # a ClientInfo push to both
        assert status == 201
        await eventually(lambda: any(r.path.endswith("/SE/NEW") for r in msp.clientinfo))

        async def refused() -> float:
            return metric(await scrape(hub.base_url), "ocpihub_outbound_refused_total", reason="loopback")

        for _ in range(100):  # forward, GET all, broadcast delivery, push: the last two run on their own
            if await refused() == 4:
                break
            await asyncio.sleep(0.05)
        assert await refused() == 4
        assert rebound.connections == 0
    assert not station.received and len(station.clientinfo) == seen_before
    _, platforms = await hub.admin("GET", "/admin/platforms")
    station_id = next(p["id"] for p in platforms if p["parties"][0]["party_id"] == "CPO")
    assert {r.platform for r in refusals(caplog) if r.host == "cpo.test"} == {station_id}


async def test_still_alive_probes_to_a_refused_address_are_refused_and_count_against_the_platform(
        net: Network) -> None:
    hub, names, msp, station = await rebindable(net, still_alive_seconds=0.3, offline_after_failures=2)
    async with trap("127.0.0.2", int(station.base_url.rsplit(":", 1)[1])) as rebound:
        names.names["cpo.test"] = ["127.0.0.2"]
        # Nothing else is sent to the CPO: only refused probes can make it OFFLINE, pushed to the eMSP.
        await eventually(lambda: any(r.path.endswith("/NL/CPO") and r.json()["status"] == "OFFLINE"
                                     for r in msp.clientinfo), timeout=10)
        assert rebound.connections == 0
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_outbound_refused_total", reason="loopback") >= 2


async def test_response_url_refused_answers_2001_and_the_receiver_sees_nothing(net: Network,
                                                                               forbidden: Trap) -> None:
    hub = await net.hub(resolver=Names(internal_test="127.0.0.2"), **STRICT)
    msp = await net.registered(hub, emsp("msp"))
    station = await net.registered(hub, cpo("cpo"))
    command = {"token": {"uid": "T1"}, "location_id": "LOC1"}
    evil = f"http://127.0.0.2:{forbidden.port}/cb"
    bodies = [json.dumps(command | {"response_url": url}).encode()
              for url in (f"http://2130706434:{forbidden.port}/cb", f"http://internal.test:{forbidden.port}/cb")]
    # Valid JSON that a parser other than the hub's body check refuses (orjson: 1e400), and the key in
    # another case (ASP.NET Core binds names case-insensitively): neither may reach the CPO unrewritten.
    bodies += [json.dumps(command | {"response_url": evil}).encode()[:-1] + b', "n": 1e400}',
               json.dumps(command | {"Response_URL": evil}).encode()]
    for raw in bodies:
        status, _, body = await msp.call("POST", "commands", "RECEIVER", "/START_SESSION", to=station.party(),
                                         raw_body=raw)
        assert (status, body["status_code"]) == (200, 2001), body
        assert "response_url" in body["status_message"] and "loopback address" in body["status_message"]
    for query in (f"?duration=900&response_url={evil}", f"?duration=900&RESPONSE_URL={evil}"):
        status, _, body = await msp.call("GET", "chargingprofiles", "RECEIVER", f"/SESSION1{query}",
                                         to=station.party())
        assert (status, body["status_code"]) == (200, 2001), body
    assert not station.received and forbidden.connections == 0
    # An allowed response_url still goes through.
    status, _, body = await msp.call("POST", "commands", "RECEIVER", "/START_SESSION", to=station.party(),
                                     body=command | {"response_url": f"{msp.base_url}/cb"})
    assert (status, body["status_code"]) == (200, 1000) and len(station.received) == 1


async def test_refused_link_and_location_headers_are_dropped_and_counted(net: Network, forbidden: Trap) -> None:
    hub = await net.hub(resolver=Names(), **STRICT)
    msp = await net.registered(hub, emsp("msp"))
    station = await net.registered(hub, cpo("cpo"))
    station.answers[("cdrs", "SENDER")] = (200, envelope([]), {
        "Link": f'<http://127.0.0.2:{forbidden.port}/sender/cdrs?offset=5>; rel="next"', "X-Total-Count": "9"})
    msp.answers[("cdrs", "RECEIVER")] = (201, envelope(), {
        "Location": f"http://[::ffff:127.0.0.2]:{forbidden.port}/receiver/cdrs/1"})
    status, headers, _ = await msp.call("GET", "cdrs", "SENDER", to=station.party())
    assert status == 200 and "link" not in headers and headers["x-total-count"] == "9"
    status, headers, _ = await station.call("POST", "cdrs", "RECEIVER", to=msp.party(), body={"id": "1"})
    assert status == 201 and "location" not in headers
    await asyncio.sleep(0.1)
    assert forbidden.connections == 0
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_outbound_refused_total", reason="loopback") == 2


async def test_https_only_refuses_plain_http_before_connecting(net: Network) -> None:
    hub = await net.hub(resolver=Names(), outbound_allow_http=False)
    partner = cpo("cpo")
    async with trap("127.0.0.1") as listener:
        _, body = await post_invited_credentials(
            hub, partner, partner.credentials() | {"url": f"http://127.0.0.1:{listener.port}/versions"})
    assert body["status_code"] == 3001 and "plain http is not allowed" in body["status_message"], body
    assert listener.connections == 0


async def test_an_allow_listed_range_works_by_address_and_by_name(net: Network) -> None:
    hub = await net.hub(resolver=Names(cpo_test="127.0.0.2"), outbound_allow="127.0.0.0/30")
    msp = await net.registered(hub, emsp("msp"))  # on 127.0.0.1
    station = cpo("cpo")
    await net.partner(station, "127.0.0.2", name="cpo.test")
    await station.register_with(hub.versions_url, await hub.invite())
    status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC2", to=station.party())
    assert (status, body["data"]["id"]) == (200, "LOC2")
    assert station.received[-1].headers["host"] == station.base_url.split("://")[1], "Host names the partner"


async def test_the_policy_is_said_at_start_up_and_shown_to_the_admin(net: Network,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="ocpihub.outbound")
    hub = await net.hub()
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("outbound policy")]
    assert len(said) == 1 and "127.0.0.0/8, ::1/128" in said[0] and "built-in default" in said[0]
    status, body = await hub.admin("GET", "/admin/config")
    assert status == 200
    assert body["outbound"]["allow"] == ["127.0.0.0/8", "::1/128"]
    assert body["outbound"]["allow_source"] == "built-in default" and body["outbound"]["allow_http"] is True
    assert f"127.0.0.1/32:{hub.base_url.rsplit(':', 1)[1]}" in body["outbound"]["own_listeners"]
    strict = await net.hub(outbound_allow="", outbound_allow_http=False)
    _, body = await strict.admin("GET", "/admin/config")
    assert body["outbound"]["allow"] == [] and body["outbound"]["allow_source"] == "OCPI_HUB_OUTBOUND_ALLOW"
    assert (await strict.admin("GET", "/admin/config", token="wrong"))[0] == 401


@pytest.mark.parametrize("client", ["native", "aiohttp"])
async def test_both_forwarding_clients_refuse_before_connecting_and_connect_to_the_checked_address(
        forbidden: Trap, client: str) -> None:
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    names = Names(internal_test="127.0.0.2", partner_test="127.0.0.1")
    guard = OutboundGuard(policy(allow="127.0.0.1/32", allow_http=True, listen_host="127.0.0.1", listen_port=1,
                                 public_url="http://127.0.0.1:1"), resolver=names)
    forwarder = Forwarder(connect_timeout=2, request_timeout=5, connections_per_receiver=4, client=client, guard=guard)
    try:
        for spelling in SPELLINGS:
            with pytest.raises(UpstreamFailure, match="outbound address policy"):
                await forwarder.send("GET", f"http://{spelling}:{forbidden.port}/x", [], None, "NL*CPO")
        with pytest.raises(UpstreamFailure, match=r"could not resolve host nowhere\.test"):
            await forwarder.send("GET", "http://nowhere.test/x", [], None, "NL*CPO")
        response = await forwarder.send("GET", f"http://partner.test:{port}/x", [], None, "NL*CPO")
        assert response.body == b"ok" and f"partner.test:{port}".encode() in seen[0]
    finally:
        await forwarder.close()
        server.close()
    assert forbidden.connections == 0

