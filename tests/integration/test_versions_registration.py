"""Registration in every OCPI version the hub speaks, over HTTP against a real PostgreSQL: fake 2.1.1,
OCN-era 2.2 and 2.3.0 stacks register both ways in the right version with the right token spelling,
and the hub acts as their credentials client (update, re-read, unregister)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
import pytest

from tests.integration.test_hub_features import eventually
from tests.integration.test_operations import metric, scrape
from tests.support.network import Network, RunningHub
from tests.support.partner import cpo, emsp, token_header
from tests.support.versioned_partner import header, stack_2_1_1, stack_2_3_0, stack_ocn_2_2

pytestmark = pytest.mark.anyio


async def invite(hub: RunningHub, *parties: tuple[str, str, str]) -> str:
    """A token A for the platform the test is about (named "test"; ``net.registered`` ones are not)."""
    status, body = await hub.admin("POST", "/admin/invitations", {"name": "test", "parties": [
        {"country_code": cc, "party_id": pid, "role": role} for cc, pid, role in parties]})
    assert status == 201, body
    token: str = body["token"]
    return token


async def platform_of(hub: RunningHub, name: str) -> dict[str, Any]:
    _, platforms = await hub.admin("GET", "/admin/platforms")
    return next(p for p in platforms if p["name"] == name)


async def ocpi_get(url: str, authorization: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, headers={"Authorization": authorization}) as r:
        raw = await r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw


async def test_versions_and_details_of_every_version(net: Network) -> None:
    hub = await net.hub()
    token = await invite(hub)
    auth = token_header(token)
    status, body = await ocpi_get(hub.versions_url, auth)
    assert status == 200
    versions = ("2.1.1", "2.2", "2.2.1", "2.3.0")
    assert body["data"] == [{"version": v, "url": f"{hub.base_url}/ocpi/{v}/"} for v in versions]
    for version in versions:
        for url in (f"{hub.base_url}/ocpi/{version}/", f"{hub.base_url}/ocpi/{version}"):
            status, body = await ocpi_get(url, auth)
            assert status == 200 and body["data"]["version"] == version, (url, body)
        endpoints = body["data"]["endpoints"]
        assert all(e["url"].endswith("/") for e in endpoints)
        credentials = [e for e in endpoints if e["identifier"] == "credentials"]
        assert [e.get("role") for e in credentials] == [None if version == "2.1.1" else "SENDER"]
        # Each advertised configuration endpoint answers, with or without its trailing slash.
        for e in endpoints:
            if e["identifier"] == "hubclientinfo":
                for url in (e["url"], e["url"].rstrip("/")):
                    status, _ = await ocpi_get(url, auth)
                    assert status == 401, "hubclientinfo answers (and refuses token A)"
    status, _ = await ocpi_get(f"{hub.base_url}/ocpi/2.0/", auth)
    assert status == 404


async def test_2_1_1_stack_registers_itself_in_2_1_1_with_plain_tokens(net: Network) -> None:
    hub = await net.hub()
    neighbour = await net.registered(hub, emsp("msp-2.2.1"))
    old = await net.partner(stack_2_1_1("old-cpo"))
    token_a = await invite(hub, ("DE", "OLD", "CPO"))

    answer = await old.register_with(hub.versions_url, token_a)

    assert old.hub_credentials_url() == f"{hub.base_url}/ocpi/2.1.1/credentials/"
    assert answer["data"] | {"token": "-"} == {"token": "-", "url": hub.versions_url, "party_id": "HUB",
                                               "country_code": "NL", "business_details": {"name": "ocpi-hub"}}
    assert all(a == header(old.token_for_hub, "plain") for a in old.auth_on("/")), "plain tokens only"
    platform = await platform_of(hub, "test")
    assert (platform["version"], platform["token_encoding"], platform["versions_token_encoding"]) == (
        "2.1.1", "plain", "plain")
    assert [(p["country_code"], p["party_id"], p["role"]) for p in platform["parties"]] == [("DE", "OLD", "CPO")]
    status, _ = await old.get(hub.versions_url)
    assert status == 200, "its token C works in the plain spelling it uses"
    # It shows in hubclientinfo, and no ClientInfo is ever pushed to it (2.1.1 has no hubclientinfo).
    _, infos = await ocpi_get(neighbour.hub_endpoints[("hubclientinfo", "SENDER")],
                              token_header(neighbour.token_to_hub or ""))
    assert {"country_code": "DE", "party_id": "OLD", "role": "CPO", "status": "CONNECTED"}.items() <= next(
        i for i in infos["data"] if i["party_id"] == "OLD").items()
    await eventually(lambda: any(r.path.endswith("/hubclientinfo/DE/OLD") for r in neighbour.clientinfo))
    assert not old.pushes()


async def test_2_1_1_registration_without_a_known_role_is_refused_naming_the_party(net: Network) -> None:
    hub = await net.hub()
    old = await net.partner(stack_2_1_1("old-cpo"))
    token_a = await invite(hub, ("DE", "XXX", "CPO"))  # another party than the one it turns out to be
    old.hub_versions_url = hub.versions_url
    status, body = await old.send_credentials("POST", token_a)
    assert status == 200, "valid JSON that reached the OCPI layer: the error is in the body"
    assert body["status_code"] == 2002 and "DE*OLD" in body["status_message"] and "role" in body["status_message"]
    assert not old.auth_on("/versions"), "refused before anything was fetched from it"
    status, _ = await old.get(hub.versions_url, token_a)
    assert status == 200, "token A still works for another try"


async def test_2_1_1_stack_that_decodes_base64_on_versions_only(net: Network) -> None:
    hub = await net.hub()
    old = await net.partner(stack_2_1_1("quirky", decodes_on_versions=True))
    await old.register_with(hub.versions_url, await invite(hub, ("DE", "OLD", "CPO")))

    # The hub tried plain on /versions first, was refused (403), and got through in base64.
    assert old.auth_on("/versions") == [header(old.token_for_hub, "plain"), header(old.token_for_hub, "base64")]
    assert old.auth_on("/2.1.1") == [header(old.token_for_hub, "plain")]
    platform = await platform_of(hub, "test")
    assert (platform["token_encoding"], platform["versions_token_encoding"]) == ("plain", "base64")
    assert metric(await scrape(hub.base_url), "ocpihub_tolerated_deviations_total",
                  kind="outbound_token_spelling") == 1
    # What was learned is used: reading its endpoints again needs no second try on either endpoint.
    old.seen.clear()
    status, body = await hub.admin("POST", f"/admin/platforms/{platform['id']}/refresh")
    assert status == 200, body
    assert old.auth_on("/versions") == [header(old.token_for_hub, "base64")]
    assert old.auth_on("/2.1.1") == [header(old.token_for_hub, "plain")]
    assert hub.app.state is not None
    snapshot_platform = hub.app.state.registry.snapshot.platforms[platform["id"]]
    assert snapshot_platform.outbound_auth == header(old.token_for_hub, "plain")
    assert snapshot_platform.versions_auth == header(old.token_for_hub, "base64")


async def test_hub_registers_with_a_2_1_1_stack_given_its_role(net: Network) -> None:
    hub = await net.hub()
    old = await net.partner(stack_2_1_1("old-emsp", "DE", "OLM", "EMSP"))
    token_a = old.token_for_hub
    versions_url = f"{old.base_url}/versions"

    status, body = await hub.admin("POST", "/admin/registrations", {"versions_url": versions_url, "token": token_a})
    assert status == 400 and body["ocpi_status"] == 2002 and "2.1.1" in body["error"] and "role" in body["error"]
    assert not old.hub_credentials, "nothing was sent to it"
    _, platforms = await hub.admin("GET", "/admin/platforms")
    assert platforms == []

    status, platform = await hub.admin("POST", "/admin/registrations",
                                       {"versions_url": versions_url, "token": token_a, "role": "EMSP"})
    assert status == 201, platform
    assert (platform["version"], platform["token_encoding"]) == ("2.1.1", "plain")
    assert [(p["country_code"], p["party_id"], p["role"]) for p in platform["parties"]] == [("DE", "OLM", "EMSP")]
    assert set(old.hub_credentials) == {"token", "url", "business_details", "party_id", "country_code"}
    assert old.auth_on("/2.1.1/credentials") == [header(token_a, "plain")]
    status, _ = await old.get(hub.versions_url)
    assert status == 200, "it reads the hub with the token the hub gave it (and the hub knows it)"


async def test_ocn_era_2_2_stack_registers_in_2_2_with_exact_plain_tokens(net: Network) -> None:
    hub = await net.hub()
    ocn = await net.partner(stack_ocn_2_2("ocn-cpo"))
    await net.registered(hub, emsp("msp-2.2.1"))

    await ocn.register_with(hub.versions_url, await invite(hub))

    assert ocn.hub_credentials["roles"][0]["role"] == "HUB"
    platform = await platform_of(hub, "test")
    assert (platform["version"], platform["token_encoding"], platform["versions_token_encoding"]) == (
        "2.2", "plain", "plain")
    assert all(a == header(ocn.token_for_hub, "plain") for a in ocn.auth_on("/")), "never a base64 token"
    # ClientInfo goes to it in 2.2, with its plain token, and reaches it (a base64 one would be 401).
    msp_id = (await platform_of(hub, "msp-2.2.1"))["id"]
    await hub.admin("POST", f"/admin/platforms/{msp_id}/suspend")
    # (It was told DE*MSP was CONNECTED when it joined; the suspension follows.)
    await eventually(lambda: [s.json()["status"] for s in ocn.pushes() if s.path == "/2.2/hubclientinfo/DE/MSP"]
                     == ["CONNECTED", "SUSPENDED"])
    assert all(s.authorization == header(ocn.token_for_hub, "plain") for s in ocn.pushes())
    # It has no credentials endpoint: what would need one is refused in words, nothing is sent.
    ocn.seen.clear()
    for method, path in (("POST", f"/admin/platforms/{platform['id']}/rotate"),
                         ("DELETE", f"/admin/platforms/{platform['id']}?notify=true")):
        status, body = await hub.admin(method, path)
        assert status == 409 and "no credentials endpoint" in body["error"] and "2.2" in body["error"], body
    assert not [s for s in ocn.seen if "/hubclientinfo/" not in s.path]
    status, body = await hub.admin("POST", "/admin/registrations",
                                   {"versions_url": f"{ocn.base_url}/versions", "token": ocn.token_for_hub})
    assert status == 502 and "no credentials endpoint" in body["error"] and "invite" in body["error"], body
    status, body = await hub.admin("POST", f"/admin/platforms/{platform['id']}/refresh")
    assert status == 200, "reading its endpoints needs no credentials endpoint"
    status, body = await hub.admin("POST", "/admin/registrations",
                                   {"versions_url": f"{ocn.base_url}/ocpi/versions", "token": ocn.token_for_hub})
    assert status == 502 and "answered HTTP 404" in body["error"], "its HTML 404 is reported in words"
    # It reads hubclientinfo in 2.2 with its plain token.
    status, infos = await ocn.get(ocn.hub_endpoints[("hubclientinfo", "SENDER")])
    assert status == 200 and {(i["party_id"], i["status"]) for i in infos["data"]} == {
        ("OCN", "CONNECTED"), ("MSP", "SUSPENDED")}


async def test_2_3_0_partner_registers_in_2_3_0_and_sees_the_parties_behind_the_hub(net: Network) -> None:
    hub = await net.hub()
    await net.registered(hub, cpo("cpo-2.2.1", "NL", "CPO"))
    new = await net.partner(stack_2_3_0("new-emsp"))

    answer = await new.register_with(hub.versions_url, await invite(hub))

    ours = answer["data"]
    assert ours["hub_party_id"] == "NLHUB"
    assert [(r["role"], r["country_code"], r["party_id"]) for r in ours["roles"]] == [("CPO", "NL", "CPO")]
    assert new.auth_on("/versions") == [header(new.token_for_hub, "base64")]
    platform = await platform_of(hub, "test")
    assert (platform["version"], platform["token_encoding"]) == ("2.3.0", "base64")
    status, got = await new.get(new.hub_credentials_url())
    assert status == 200 and got["data"]["hub_party_id"] == "NLHUB" and "HUB" not in str(got["data"]["roles"])
    status, infos = await new.get(new.hub_endpoints[("hubclientinfo", "SENDER")])
    assert status == 200 and {i["party_id"] for i in infos["data"]} == {"CPO", "NEW"}


async def test_hub_registers_in_the_highest_common_version(net: Network) -> None:
    hub = await net.hub()
    new = await net.partner(stack_2_3_0("new-cpo", "FR", "NCP", "CPO"))
    status, platform = await hub.admin("POST", "/admin/registrations",
                                       {"versions_url": f"{new.base_url}/versions", "token": new.token_for_hub})
    assert status == 201, platform
    assert platform["version"] == "2.3.0"
    assert new.hub_credentials["hub_party_id"] == "NLHUB"
    assert new.auth_on("/2.3.0/credentials")


async def test_put_to_another_versions_endpoint_moves_the_platform_there(net: Network) -> None:
    hub = await net.hub()
    new = await net.partner(stack_2_3_0("new-emsp"))
    new.versions = ["2.2.1"]  # offers 2.2.1 only at first
    await new.register_with(hub.versions_url, await invite(hub))
    assert (await platform_of(hub, "test"))["version"] == "2.2.1"
    assert "hub_party_id" not in new.hub_credentials

    new.versions = ["2.2.1", "2.3.0"]  # upgraded: it moves with a PUT to the hub's 2.3.0 credentials endpoint
    status, answer = await new.send_credentials("PUT", new.token_to_hub or "", "2.3.0")
    assert status == 200 and answer["data"]["hub_party_id"] == "NLHUB", answer
    platform = await platform_of(hub, "test")
    assert platform["version"] == "2.3.0"
    assert any(e["url"].endswith("/2.3.0/locations") for e in platform["endpoints"])


async def test_put_keeps_the_old_token_until_the_new_one_is_used(net: Network) -> None:
    hub = await net.hub()
    new = await net.partner(stack_2_3_0("new-emsp"))
    await new.register_with(hub.versions_url, await invite(hub))
    old_c = new.token_to_hub or ""

    status, answer = await new.send_credentials("PUT", old_c)  # imagine this answer got lost
    assert status == 200
    new_c = answer["data"]["token"]
    status, _ = await new.get(hub.versions_url, old_c)
    assert status == 200, "the answer may have been lost: the old token still works"
    platform = await platform_of(hub, "test")
    assert platform["previous_token_until"]
    # Lost answer: the partner PUTs again with its old token, and that works too.
    status, again = await new.send_credentials("PUT", old_c)
    assert status == 200, again
    newest = again["data"]["token"]
    status, _ = await new.get(hub.versions_url, new_c)
    assert status == 401, "the token of the lost answer was never used: only the newest counts"
    status, _ = await new.get(hub.versions_url, newest)
    assert status == 200
    await eventually(lambda: hub.app.state is not None
                     and hub.app.state.registry.snapshot.platform_for_token(old_c) is None)
    status, _ = await new.get(hub.versions_url, old_c)
    assert status == 401, "once the new token was used, the old one is void"
    assert (await platform_of(hub, "test"))["previous_token_until"] is None


async def test_previous_token_ends_with_its_grace(net: Network) -> None:
    hub = await net.hub(token_grace_seconds=1.0)
    new = await net.partner(stack_2_3_0("new-emsp"))
    await new.register_with(hub.versions_url, await invite(hub))
    old_c = new.token_to_hub or ""
    status, _ = await new.send_credentials("PUT", old_c)
    assert status == 200
    status, _ = await new.get(hub.versions_url, old_c)
    assert status == 200
    await asyncio.sleep(1.1)
    status, _ = await new.get(hub.versions_url, old_c)
    assert status == 401, "the grace is over, although the new token was never used"


async def test_concurrent_posts_with_one_token_a_exactly_one_wins(net: Network) -> None:
    hub = await net.hub()
    token_a = await invite(hub)
    first = await net.partner(stack_2_3_0("first", versions_delay=0.3))
    second = await net.partner(stack_2_3_0("second", versions_delay=0.3))
    for partner in (first, second):
        partner.hub_versions_url = hub.versions_url
    results = await asyncio.gather(first.send_credentials("POST", token_a), second.send_credentials("POST", token_a))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 405], results
    winner, loser = (first, second) if results[0][0] == 200 else (second, first)
    assert first.auth_on("/versions") and second.auth_on("/versions"), "both were in flight together"
    token_c = next(body for status, body in results if status == 200)["data"]["token"]
    status, _ = await winner.get(hub.versions_url, token_c)
    assert status == 200
    status, _ = await loser.get(hub.versions_url, token_a)
    assert status == 401
    hub_side = hub.app.state.registry.snapshot.platforms  # type: ignore[union-attr]
    [registered] = [p for p in hub_side.values() if p.registered]
    assert registered.outbound_token.reveal() == winner.token_for_hub


async def test_token_spellings_on_the_wire(net: Network) -> None:
    hub = await net.hub()
    token = await invite(hub)
    raw = token.encode()
    accepted = {
        "base64": base64.b64encode(raw).decode(),
        "base64 without padding": base64.b64encode(raw).decode().rstrip("="),
        "base64 of the token and a newline (the errata's example)": base64.b64encode(raw + b"\n").decode(),
        "plain": token,
    }
    refused = {
        "base64 with two newlines": base64.b64encode(raw + b"\n\n").decode(),
        "base64 with a trailing space": base64.b64encode(raw + b" ").decode(),
        "base64 with a carriage return": base64.b64encode(raw + b"\r\n").decode(),
    }
    assert accepted["base64"].endswith("=") and not accepted["base64 without padding"].endswith("=")
    for what, spelled in accepted.items():
        status, _ = await ocpi_get(hub.versions_url, f"Token {spelled}")
        assert status == 200, what
    for what, spelled in refused.items():
        status, _ = await ocpi_get(hub.versions_url, f"Token {spelled}")
        assert status == 401, what
    # The two base64 spellings the spec does not use are logged and counted; plain token A is not (its
    # version is not known yet).
    assert metric(await scrape(hub.base_url), "ocpihub_tolerated_deviations_total",
                  kind="inbound_token_spelling") == 2


async def test_hub_rotates_credentials_towards_a_partner_and_moves_it_up(net: Network) -> None:
    hub = await net.hub()
    new = await net.partner(stack_2_3_0("new-cpo", "FR", "NCP", "CPO"))
    new.versions = ["2.2.1"]
    await new.register_with(hub.versions_url, await invite(hub))
    platform = await platform_of(hub, "test")
    old_b = new.token_to_hub or ""
    old_theirs = new.token_for_hub
    new.versions = ["2.2.1", "2.3.0"]
    new.extra_modules = ["chargingprofiles"]

    status, after = await hub.admin("POST", f"/admin/platforms/{platform['id']}/rotate")

    assert status == 200, after
    assert [s.method for s in new.seen if s.path.endswith("/credentials")] == ["PUT"]
    put = next(s for s in new.seen if s.path.endswith("/credentials"))
    assert put.path == "/2.3.0/credentials" and put.authorization == header(old_theirs, "base64")
    assert new.hub_credentials["hub_party_id"] == "NLHUB" and new.token_to_hub != old_b
    assert after["version"] == "2.3.0"
    assert any(e["identifier"] == "chargingprofiles" for e in after["endpoints"]), "its endpoints were read again"
    # It read our endpoints with its new token during the PUT, so the old one is void (no grace needed).
    await eventually(lambda: hub.app.state is not None
                     and hub.app.state.registry.snapshot.platform_for_token(old_b) is None)
    status, _ = await new.get(hub.versions_url, new.token_to_hub)
    assert status == 200
    snapshot_platform = hub.app.state.registry.snapshot.platforms[platform["id"]]  # type: ignore[union-attr]
    assert snapshot_platform.outbound_token.reveal() == new.token_for_hub != old_theirs


async def test_refresh_reads_endpoints_again_and_remove_notify_unregisters(net: Network) -> None:
    hub = await net.hub()
    new = await net.partner(stack_2_3_0("new-emsp"))
    await new.register_with(hub.versions_url, await invite(hub))
    platform = await platform_of(hub, "test")
    new.extra_modules = ["chargingprofiles"]
    status, after = await hub.admin("POST", f"/admin/platforms/{platform['id']}/refresh")
    assert status == 200 and any(e["identifier"] == "chargingprofiles" for e in after["endpoints"])
    assert new.token_to_hub and (await new.get(hub.versions_url))[0] == 200, "no token changed"

    await net.stop_partner(new)
    status, body = await hub.admin("DELETE", f"/admin/platforms/{platform['id']}?notify=true")
    assert status == 502 and "could not reach" in body["error"]
    assert (await hub.admin("GET", f"/admin/platforms/{platform['id']}"))[0] == 200, "nothing removed"
    await net.restart_partner(new)
    status, _ = await hub.admin("DELETE", f"/admin/platforms/{platform['id']}?notify=true")
    assert status == 204
    delete = [s for s in new.seen if s.method == "DELETE"]
    assert [s.path for s in delete] == ["/2.3.0/credentials"] and new.unregistered
    assert delete[0].authorization == header(new.token_for_hub, "base64")
    assert (await hub.admin("GET", f"/admin/platforms/{platform['id']}"))[0] == 404
