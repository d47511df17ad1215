"""A partner registers only the parties the operator announced for it, and takes no other platform's party
id in another role without the operator's word: partner-initiated, hub-initiated and credentials PUT, over
HTTP against a real PostgreSQL."""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg
import pytest

from partners import store
from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, Role, cpo, emsp, token_header

pytestmark = pytest.mark.anyio


def party(text: str) -> dict[str, str]:
    country_code, party_id, role = text.split(":")
    return {"country_code": country_code, "party_id": party_id, "role": role}


async def invite(hub: RunningHub, *parties: str, name: str = "p") -> str:
    status, body = await hub.admin("POST", "/admin/invitations", {"name": name, "parties": [party(p) for p in parties]})
    assert status == 201, body
    token: str = body["token"]
    return token


async def credentials(url: str, method: str, token: str, partner: FakePlatform) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.request(
        method, url, json=partner.credentials(), headers={"Authorization": token_header(token)}
    ) as r:
        body: dict[str, Any] = await r.json()
        assert r.status == 200, (r.status, body)
        return body


async def parties_of(hub: RunningHub) -> dict[str, set[tuple[str, str, str]]]:
    _, platforms = await hub.admin("GET", "/admin/platforms")
    return {p["name"]: {(q["country_code"], q["party_id"], q["role"]) for q in p["parties"]} for p in platforms}


async def test_an_invited_partner_registers_only_its_announced_parties_and_no_one_elses(net: Network) -> None:
    hub = await net.hub()
    await net.registered(hub, cpo("incumbent"))  # holds NL*CPO as CPO
    squatter = await net.partner(FakePlatform(name="p", roles=[Role("CPO", "NL", "XYZ"), Role("EMSP", "NL", "CPO")],
                                              modules=[("locations", "SENDER"), ("tokens", "SENDER")]))
    token_a = await invite(hub, "NL:ABC:CPO")
    url = hub.base_url + "/ocpi/2.2.1/credentials"
    body = await credentials(url, "POST", token_a, squatter)
    assert body["status_code"] == 2001 and "party NL*XYZ CPO was not announced" in body["status_message"]
    assert "NL*ABC CPO" in body["status_message"]
    # Nothing stored: the announced party is still planned, token A still works.
    assert (await parties_of(hub))["p"] == {("NL", "ABC", "CPO")}
    # Announced parties only, but one of them is another platform's party id in another role: still refused,
    # naming it (this one was not announced either).
    squatter.roles = [Role("CPO", "NL", "ABC"), Role("EMSP", "NL", "CPO")]
    body = await credentials(url, "POST", token_a, squatter)
    assert body["status_code"] == 2001 and "party NL*CPO EMSP was not announced" in body["status_message"]
    squatter.roles = [Role("CPO", "NL", "ABC")]
    body = await credentials(url, "POST", token_a, squatter)
    assert body["status_code"] == 1000, body

    # Without announced parties, another platform's party id in another role needs the operator's word...
    newcomer = await net.partner(emsp("q", cc="NL", pid="CPO"))
    token_a = await hub.invite("q")
    body = await credentials(url, "POST", token_a, newcomer)
    assert body["status_code"] == 2001, body
    assert "party NL*CPO is already registered by another platform (as CPO)" in body["status_message"]
    assert (await parties_of(hub))["q"] == set()
    # ...which the operator gives by announcing it: one company's CPO and eMSP back offices on two platforms.
    token_a = await invite(hub, "NL:CPO:EMSP")
    sister = await net.partner(emsp("sister", cc="NL", pid="CPO"))
    assert (await credentials(url, "POST", token_a, sister))["status_code"] == 1000
    assert (await parties_of(hub))["incumbent"] == {("NL", "CPO", "CPO")}


async def test_credentials_put_follows_the_same_rules(net: Network) -> None:
    hub = await net.hub()
    await net.registered(hub, cpo("incumbent"))
    announced = await net.partner(cpo("announced", pid="ABC"))
    await announced.register_with(hub.versions_url, await invite(hub, "NL:ABC:CPO", name="announced"))
    free = await net.registered(hub, emsp("free"))
    url = hub.base_url + "/ocpi/2.2.1/credentials"

    announced.roles.append(Role("CPO", "NL", "ABD"))
    body = await credentials(url, "PUT", announced.token_to_hub or "", announced)
    assert body["status_code"] == 2001 and "party NL*ABD CPO was not announced" in body["status_message"]
    free.roles.append(Role("EMSP", "NL", "CPO"))
    body = await credentials(url, "PUT", free.token_to_hub or "", free)
    assert body["status_code"] == 2001 and "already registered by another platform (as CPO)" in body["status_message"]
    # Nothing changed, and both still hold their tokens.
    assert await parties_of(hub) == {"incumbent": {("NL", "CPO", "CPO")}, "announced": {("NL", "ABC", "CPO")},
                                     "free": {("DE", "MSP", "EMSP")}}
    for partner in (announced, free):
        partner.roles.pop()
        assert (await credentials(url, "PUT", partner.token_to_hub or "", partner))["status_code"] == 1000

    # The operator may announce more later, through the platform's settings.
    status, platforms = await hub.admin("GET", "/admin/platforms")
    free_id = next(p["id"] for p in platforms if p["name"] == "free")
    status, body = await hub.admin("PATCH", f"/admin/platforms/{free_id}/settings",
                                   {"announced_parties": [party("DE:MSP:EMSP"), party("NL:CPO:EMSP")]})
    assert status == 200, body
    free.roles.append(Role("EMSP", "NL", "CPO"))
    free.token_to_hub = (await credentials(url, "PUT", free.token_to_hub or "", free))["data"]["token"]
    assert (await parties_of(hub))["free"] == {("DE", "MSP", "EMSP"), ("NL", "CPO", "EMSP")}


async def test_a_hub_initiated_registration_keeps_to_the_parties_the_operator_named(net: Network) -> None:
    hub = await net.hub()
    partner = await net.partner(emsp("other-party", pid="MSX"))
    status, body = await hub.admin("POST", "/admin/registrations", {
        "versions_url": f"{partner.base_url}/versions", "token": partner.token_for_hub,
        "parties": [party("DE:MSP:EMSP")]})
    assert status == 409 and body["ocpi_status"] == 2001 and "party DE*MSX EMSP was not announced" in body["error"]
    assert (await hub.admin("GET", "/admin/platforms"))[1] == [], "nothing kept"
    partner.roles = [Role("EMSP", "DE", "MSP")]
    status, body = await hub.admin("POST", "/admin/registrations", {
        "versions_url": f"{partner.base_url}/versions", "token": partner.token_for_hub,
        "parties": [party("DE:MSP:EMSP")]})
    assert status == 201, body
    assert body["settings"] == {"announced_parties": [party("DE:MSP:EMSP")]}


async def test_migration_0012_keeps_what_pending_invitations_announced(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now())")
        for version, name, sql in store.known_migrations():
            if version < 12:
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
        await conn.execute(
            "INSERT INTO platforms (id, name, status, token_hash, outbound_token) VALUES"
            " (1, 'invited', 'PLANNED', 'a', NULL), (2, 'registered', 'CONNECTED', 'b', 'sealed'),"
            " (3, 'invited without parties', 'PLANNED', 'c', NULL)")
        await conn.execute("INSERT INTO parties (platform_id, country_code, party_id, role) VALUES"
                           " (1, 'NL', 'ABC', 'CPO'), (1, 'NL', 'ABC', 'EMSP'), (2, 'NL', 'CPO', 'CPO')")
        assert "0012_announced_parties.sql" in await store.migrate(dsn)
        settings = {r["id"]: r["settings"] for r in await conn.fetch("SELECT id, settings::text FROM platforms")}
    finally:
        await conn.close()
    assert settings == {1: '{"announced_parties": [{"role": "CPO", "party_id": "ABC", "country_code": "NL"}, '
                           '{"role": "EMSP", "party_id": "ABC", "country_code": "NL"}]}',
                        2: "{}", 3: "{}"}


async def test_a_rotation_answered_with_a_party_the_partner_may_not_register_is_a_409(net: Network) -> None:
    hub = await net.hub()
    await net.registered(hub, cpo("incumbent"))  # holds NL*CPO as CPO
    partner = await net.registered(hub, emsp("free"))
    _, platforms = await hub.admin("GET", "/admin/platforms")
    free_id = next(p["id"] for p in platforms if p["name"] == "free")
    partner.roles.append(Role("EMSP", "NL", "CPO"))  # the partner names another platform's party id in its answer
    status, body = await hub.admin("POST", f"/admin/platforms/{free_id}/rotate")
    assert status == 409 and body["ocpi_status"] == 2001, body
    assert "already registered by another platform (as CPO)" in body["error"]
    assert await parties_of(hub) == {"incumbent": {("NL", "CPO", "CPO")}, "free": {("DE", "MSP", "EMSP")}}
    partner.roles.pop()
    status, body = await hub.admin("POST", f"/admin/platforms/{free_id}/rotate")
    assert status == 200, body
