"""The credentials handshake in both directions, over HTTP, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg
import pytest

from partners import store
from tests.integration.test_operations import metric, scrape
from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, Role, cpo, emsp, token_header

pytestmark = pytest.mark.anyio


async def get(url: str, token: str, *, plain: bool = False) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(
        url, headers={"Authorization": token_header(token, plain=plain)}
    ) as r:
        return r.status, await r.json()


async def post_invited_credentials(hub: RunningHub, partner: FakePlatform,
                                   credentials: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """An invited partner POSTs its credentials with token A: (token A, the hub's OCPI answer)."""
    token_a = await hub.invite()
    partner.token_to_hub = token_a
    await partner.discover_hub(hub.versions_url)
    async with aiohttp.ClientSession() as http, http.post(
        hub.base_url + "/ocpi/2.2.1/credentials", json=credentials or partner.credentials(),
        headers={"Authorization": token_header(token_a)},
    ) as r:
        body: dict[str, Any] = await r.json()
        # Every registration error is an OCPI answer to a valid request: HTTP 200 with the code in the body,
        # so that a partner's log shows the message, not a bare "HTTP 400" (status codes chapter).
        assert r.status == 200, (r.status, body)
    return token_a, body


async def test_partner_initiated_registration_gives_token_c_and_kills_token_a(net: Network) -> None:
    hub = await net.hub()
    partner = await net.partner(cpo("cpo-1"))
    token_a = await hub.invite()

    answer = await partner.register_with(hub.versions_url, token_a)

    assert answer["status_code"] == 1000
    hub_creds = answer["data"]
    assert hub_creds["roles"] == [{"role": "HUB", "business_details": {"name": "ocpi-hub"},
                                   "party_id": "HUB", "country_code": "NL"}]
    assert hub_creds["url"] == hub.versions_url
    token_c = hub_creds["token"]
    assert token_c != token_a
    status, _ = await get(hub.versions_url, token_a)
    assert status == 401
    status, body = await get(hub.versions_url, token_c)
    assert status == 200 and "2.2.1" in [v["version"] for v in body["data"]]
    # The hub read our endpoints with our token B: the partner only answers to that token.
    status, platforms = await hub.admin("GET", "/admin/platforms")
    assert status == 200
    [platform] = platforms
    assert platform["status"] == "CONNECTED"
    assert {(p["country_code"], p["party_id"], p["role"]) for p in platform["parties"]} == {("NL", "CPO", "CPO")}
    assert any(e["identifier"] == "locations" and e["role"] == "SENDER" for e in platform["endpoints"])
    for secret in (token_a, token_c, partner.token_for_hub):
        assert secret not in str(platform), "the admin API never shows a credentials token"


async def test_base64_and_plain_tokens_are_both_accepted(net: Network) -> None:
    hub = await net.hub()
    partner = await net.registered(hub, cpo("cpo-1"))
    assert partner.token_to_hub
    for plain in (False, True):
        status, body = await get(hub.versions_url, partner.token_to_hub, plain=plain)
        assert (status, body["status_code"]) == (200, 1000)


async def test_unknown_or_missing_token_is_401_with_ocpi_body(net: Network) -> None:
    hub = await net.hub()
    status, body = await get(hub.versions_url, "not-a-token")
    assert status == 401 and 2000 <= body["status_code"] < 3000 and "unknown" in body["status_message"]
    async with aiohttp.ClientSession() as http, http.get(hub.versions_url) as r:
        body = await r.json()
        assert r.status == 401 and "missing" in body["status_message"]
        assert r.headers["X-Request-ID"] and r.headers["X-Correlation-ID"]


async def test_post_twice_is_405(net: Network) -> None:
    hub = await net.hub()
    partner = await net.registered(hub, cpo("cpo-1"))
    async with aiohttp.ClientSession() as http, http.post(
        hub.base_url + "/ocpi/2.2.1/credentials", json=partner.credentials(),
        headers={"Authorization": token_header(partner.token_to_hub or "")},
    ) as r:
        assert r.status == 405
        assert (await r.json())["status_code"] == 2000


async def test_put_rotates_token_c_and_get_returns_current_credentials(net: Network) -> None:
    hub = await net.hub()
    partner = await net.registered(hub, cpo("cpo-1"))
    old_c = partner.token_to_hub or ""
    partner.roles[0].party_id = "CP2"  # the platform now presents another party
    async with aiohttp.ClientSession() as http:
        async with http.put(hub.base_url + "/ocpi/2.2.1/credentials", json=partner.credentials(),
                            headers={"Authorization": token_header(old_c)}) as r:
            body = await r.json()
            assert r.status == 200, body
        new_c = body["data"]["token"]
        assert new_c != old_c
        status, _ = await get(hub.versions_url, old_c)
        assert status == 200, "the old token C lives on until the new one is used (a lost answer)"
        async with http.get(hub.base_url + "/ocpi/2.2.1/credentials",
                            headers={"Authorization": token_header(new_c)}) as r:
            got = await r.json()
        assert got["data"]["token"] == new_c and got["data"]["roles"][0]["role"] == "HUB"
        for _ in range(100):  # the first use of the new token ends the old one, in the background
            status, _ = await get(hub.versions_url, old_c)
            if status == 401:
                break
            await asyncio.sleep(0.05)
        assert status == 401
    _, [platform] = await hub.admin("GET", "/admin/platforms")
    assert [(p["country_code"], p["party_id"]) for p in platform["parties"]] == [("NL", "CP2")]


async def test_delete_unregisters_and_token_stops_working(net: Network) -> None:
    hub = await net.hub()
    partner = await net.registered(hub, cpo("cpo-1"))
    token = partner.token_to_hub or ""
    async with aiohttp.ClientSession() as http:
        async with http.delete(hub.base_url + "/ocpi/2.2.1/credentials",
                               headers={"Authorization": token_header(token)}) as r:
            assert r.status == 200 and (await r.json())["status_code"] == 1000
    status, _ = await get(hub.versions_url, token)
    assert status == 401
    _, [platform] = await hub.admin("GET", "/admin/platforms")
    assert platform["status"] == "SUSPENDED" and platform["parties"], "parties stay known after unregistering"


async def test_put_before_registration_is_405(net: Network) -> None:
    hub = await net.hub()
    partner = await net.partner(cpo("cpo-1"))
    token_a = await hub.invite()
    async with aiohttp.ClientSession() as http, http.put(
        hub.base_url + "/ocpi/2.2.1/credentials", json=partner.credentials(),
        headers={"Authorization": token_header(token_a)},
    ) as r:
        assert r.status == 405


async def test_hub_initiated_registration(net: Network) -> None:
    hub = await net.hub()
    partner = await net.partner(emsp("emsp-1"))
    token_a = partner.token_for_hub  # the token A the partner handed to the hub operator

    status, platform = await hub.admin("POST", "/admin/registrations",
                                       {"versions_url": f"{partner.base_url}/versions", "token": token_a})

    assert status == 201, platform
    assert platform["status"] == "CONNECTED"
    assert [(p["country_code"], p["party_id"], p["role"]) for p in platform["parties"]] == [("DE", "MSP", "EMSP")]
    # The partner now holds our token B (and read our versions with it); we hold its token C.
    assert partner.token_to_hub and partner.hub_endpoints
    assert partner.token_for_hub != token_a
    status, _ = await get(hub.versions_url, partner.token_to_hub)
    assert status == 200


async def test_partner_versions_endpoint_down_gives_3001(net: Network) -> None:
    hub = await net.hub()
    partner = await net.partner(cpo("cpo-1"))
    creds = partner.credentials() | {"url": "http://127.0.0.1:9/versions"}  # nothing listens on port 9
    token_a, body = await post_invited_credentials(hub, partner, creds)
    assert body["status_code"] == 3001, body
    status, _ = await get(hub.versions_url, token_a)
    assert status == 200, "a failed registration leaves token A usable for another try"


async def test_no_common_version_gives_3002(net: Network) -> None:
    hub = await net.hub()
    partner = await net.partner(cpo("cpo-1", versions=["2.1.1"]))
    _, body = await post_invited_credentials(hub, partner)
    assert body["status_code"] == 3002 and "2.1.1" in body["status_message"]


async def test_hub_initiated_registration_with_unreachable_partner_reports_3001(net: Network) -> None:
    hub = await net.hub()
    status, body = await hub.admin("POST", "/admin/registrations",
                                   {"versions_url": "http://127.0.0.1:9/versions", "token": "abc"})
    assert status == 502 and body["ocpi_status"] == 3001
    _, platforms = await hub.admin("GET", "/admin/platforms")
    assert platforms == []


async def test_same_party_cannot_be_registered_by_two_platforms(net: Network) -> None:
    hub = await net.hub()
    await net.registered(hub, cpo("cpo-1"))
    twin = await net.partner(cpo("cpo-twin"))
    _, body = await post_invited_credentials(hub, twin)
    assert body["status_code"] == 2001 and "NL*CPO" in body["status_message"]


async def test_admin_api_needs_the_admin_token(net: Network) -> None:
    hub = await net.hub()
    status, body = await hub.admin("GET", "/admin/platforms", token="wrong")
    assert (status, body) == (401, {"error": "admin token does not match"})
    async with aiohttp.ClientSession() as http, http.get(f"{hub.base_url}/admin/platforms") as r:
        assert (r.status, await r.json()) == (401, {"error": "admin API needs 'Authorization: Bearer <admin token>'"})
    status, body = await hub.admin("POST", "/admin/registrations", {"versions_url": 3})
    assert status == 400


async def test_suspend_and_unsuspend_through_admin_api(net: Network) -> None:
    hub = await net.hub()
    await net.registered(hub, cpo("cpo-1"))
    _, [platform] = await hub.admin("GET", "/admin/platforms")
    status, body = await hub.admin("POST", f"/admin/platforms/{platform['id']}/suspend")
    assert (status, body["status"]) == (200, "SUSPENDED")
    status, body = await hub.admin("POST", f"/admin/platforms/{platform['id']}/unsuspend")
    assert (status, body["status"]) == (200, "CONNECTED")
    status, _ = await hub.admin("DELETE", f"/admin/platforms/{platform['id']}")
    assert status == 204
    status, _ = await hub.admin("GET", f"/admin/platforms/{platform['id']}")
    assert status == 404


async def test_sloppy_partner_stack_still_registers(net: Network) -> None:
    # No envelope on versions, a single Version object, details wrapped in a list, a plain token.
    hub = await net.hub()
    kinds = ("no_envelope", "single_version", "version_details_in_list")
    text = await scrape(hub.base_url)
    assert [metric(text, "ocpihub_tolerated_deviations_total", kind=kind) for kind in kinds] == [0, 0, 0]
    partner = await net.partner(emsp("sloppy", sloppy=True))
    answer = await partner.register_with(hub.versions_url, await hub.invite())
    assert answer["status_code"] == 1000
    _, [platform] = await hub.admin("GET", "/admin/platforms")
    assert platform["status"] == "CONNECTED" and platform["version"] == "2.2.1"
    assert any(e["identifier"] == "tokens" for e in platform["endpoints"])
    # Each deviation is counted (and logged), not only worked around.
    text = await scrape(hub.base_url)
    for kind in kinds:
        assert metric(text, "ocpihub_tolerated_deviations_total", kind=kind) == 1, kind


async def test_database_failure_is_an_ocpi_3000_not_a_stack_trace(net: Network) -> None:
    hub = await net.hub()
    assert hub.app.state is not None
    await hub.app.state.pool.close()  # the hub's database connection is gone
    status, body = await get(hub.versions_url, "a-token-this-hub-has-never-seen")
    assert status == 500 and body["status_code"] == 3000 and body["status_message"] == "internal hub error"
    status, admin = await hub.admin("GET", "/admin/platforms")
    assert status == 500 and admin == {"error": "internal hub error"}


async def test_partner_without_functional_modules_gets_3003(net: Network) -> None:
    hub = await net.hub()
    partner = await net.partner(FakePlatform(name="bare", roles=[Role("CPO", "NL", "BAR")], modules=[]))
    _, body = await post_invited_credentials(hub, partner)
    assert body["status_code"] == 3003 and "no functional module" in body["status_message"]


async def test_invitation_announcing_a_taken_party_is_409(net: Network) -> None:
    hub = await net.hub()
    await net.registered(hub, cpo("cpo-1"))
    status, body = await hub.admin("POST", "/admin/invitations",
                                   {"parties": [{"country_code": "NL", "party_id": "CPO", "role": "CPO"}]})
    assert status == 409 and "NL*CPO" in body["error"]
    _, platforms = await hub.admin("GET", "/admin/platforms")
    assert len(platforms) == 1, "the refused invitation left no platform behind"


async def test_database_with_a_newer_schema_is_refused(dsn: str) -> None:
    await store.migrate(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future.sql')")
    finally:
        await conn.close()
    with pytest.raises(RuntimeError, match="newer than this hub knows"):
        await store.migrate(dsn)


async def test_migrations_apply_once(dsn: str) -> None:
    assert await store.migrate(dsn) == [name for _, name, _ in store.known_migrations()]
    assert await store.migrate(dsn) == []


async def test_platform_settings_refuse_unknown_keys_and_write_nothing(net: Network) -> None:
    hub = await net.hub()
    await net.registered(hub, cpo("cpo-1"))
    _, [platform] = await hub.admin("GET", "/admin/platforms")
    path = f"/admin/platforms/{platform['id']}/settings"
    status, body = await hub.admin("PATCH", path, {"no_such_setting": 1})
    assert status == 400 and "no_such_setting" in body["error"]
    status, body = await hub.admin("PATCH", path, [1, 2])
    assert status == 400
    status, body = await hub.admin("GET", f"/admin/platforms/{platform['id']}")
    assert status == 200 and body["settings"] == {}
    status, _ = await hub.admin("PATCH", "/admin/platforms/999999/settings", {})
    assert status == 404
