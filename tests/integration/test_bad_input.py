"""Bad input found by fuzzing a real hub: every one is a clear 4xx, never a 500, and nothing is forwarded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.support.network import Network, RunningHub
from tests.support.partner import CPO_MODULES, FakePlatform, Role, cpo, emsp, token_header

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024
DEEP = b'{"a":' * 990 + b"1" + b"}" * 990  # about 6 KB
INVALID_UTF8 = {
    "xff": b'{"id":"LOC1","name":"\xff"}',
    "overlong": b'{"id":"LOC1","name":"\xc0\xaf"}',
    "surrogate": b'{"id":"LOC1","name":"\xed\xa0\x80"}',
}


@dataclass
class World:
    hub: RunningHub
    cpo: FakePlatform
    emsp: FakePlatform


@pytest.fixture(scope="module")
async def shared_world(module_net: Network) -> World:
    hub = await module_net.hub(request_timeout=2.0, max_body_bytes=LIMIT)
    return World(hub, await module_net.registered(hub, cpo("cpo")), await module_net.registered(hub, emsp("emsp")))


@pytest.fixture
def world(shared_world: World, caplog: pytest.LogCaptureFixture) -> Iterator[World]:
    yield shared_world
    # No traceback for any of it: bad input is the caller's error, not the hub's.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def raw(base_url: str, request: bytes, *, half_close: bool = False) -> tuple[int, bytes]:
    """Send ``request`` bytes as they are; (status, body) of the answer, status 0 if none came."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(request)
    await writer.drain()
    if half_close:
        writer.write_eof()
    try:
        async with asyncio.timeout(5):
            answer = await reader.read()
    finally:
        writer.close()
    if not answer:
        return 0, b""
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("body", [DEEP, *INVALID_UTF8.values()], ids=["deep", *INVALID_UTF8])
async def test_routed_body_that_is_not_json_gets_400_and_is_not_forwarded(world: World, body: bytes) -> None:
    before = len(world.emsp.received)
    status, _, answer = await world.cpo.call("PUT", "locations", "RECEIVER", "/NL/CPO/LOC1", to=world.emsp.party(),
                                             raw_body=body)
    assert status == 400 and answer["status_code"] == 2001, answer
    assert "not valid JSON" in answer["status_message"]
    assert len(world.emsp.received) == before


@pytest.mark.parametrize("body", [DEEP, *INVALID_UTF8.values()], ids=["deep", *INVALID_UTF8])
async def test_callback_body_that_is_not_json_gets_400_and_is_not_forwarded(world: World, body: bytes) -> None:
    await world.emsp.call("POST", "commands", "RECEIVER", "/START_SESSION", to=world.cpo.party(),
                          body={"response_url": f"{world.emsp.base_url}/results/1", "token": {}})
    callback = world.cpo.response_urls[-1]
    before = len(world.emsp.received)
    status, _, answer = await world.cpo.call("POST", "commands", "RECEIVER", url=callback, raw_body=body)
    assert status == 400 and answer["status_code"] == 2001, answer
    assert len(world.emsp.received) == before


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("body", [DEEP, *INVALID_UTF8.values()], ids=["deep", *INVALID_UTF8])
async def test_credentials_body_that_is_not_json_gets_400(world: World, module_net: Network, method: str,
                                                          body: bytes) -> None:
    # POST with a fresh invitation's token A; PUT with a registered platform's token.
    token = await world.hub.invite() if method == "POST" else world.cpo.token_to_hub or ""
    status, _, answer = await world.cpo.call(method, "credentials", "RECEIVER", raw_body=body, token=token,
                                             url=f"{world.hub.base_url}/ocpi/2.2.1/credentials")
    assert status == 400 and answer["status_code"] == 2001, answer
    if method == "POST":  # the invitation is still good
        partner = await module_net.partner(cpo(f"late-{len(body)}", pid=f"L{len(body) % 100:02d}"))
        assert (await partner.register_with(world.hub.versions_url, token))["status_code"] == 1000


@pytest.mark.parametrize("body", [DEEP, *INVALID_UTF8.values()], ids=["deep", *INVALID_UTF8])
async def test_admin_body_that_is_not_json_gets_400(world: World, body: bytes) -> None:
    for method, path in (("POST", "/admin/invitations"), ("POST", "/admin/registrations"),
                         ("PATCH", "/admin/platforms/1/settings")):
        head = (f"{method} {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {world.hub.admin_token}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        status, answer = await raw(world.hub.base_url, head + body)
        assert status == 400 and b"invalid request body" in answer, (path, answer)


async def test_no_such_route_or_method_answers_in_the_surface_format(world: World) -> None:
    status, _, answer = await world.cpo.call("GET", "credentials", "SENDER",
                                             url=f"{world.hub.base_url}/ocpi/2.2.1/nothing")
    assert status == 404 and answer["status_code"] == 2000 and "no endpoint" in answer["status_message"], answer
    status, _, answer = await world.cpo.call("PATCH", "credentials", "SENDER",
                                             url=f"{world.hub.base_url}/ocpi/versions")
    assert status == 405 and answer["status_code"] == 2000, answer
    status, answer = await world.hub.admin("PUT", "/admin/invitations", {})
    assert status == 405 and "method not allowed" in answer["error"], answer
    status, answer = await world.hub.admin("GET", "/admin/nothing")
    assert status == 404 and "no endpoint" in answer["error"], answer


@pytest.mark.parametrize("platform_id", [str(2**64), str(2**63), "-1", "0", "1e3", "١٢"])
async def test_admin_platform_id_that_cannot_exist_is_not_found(world: World, platform_id: str) -> None:
    for method, path, body in (("GET", "", None), ("DELETE", "", None), ("POST", "/suspend", None),
                               ("PATCH", "/settings", {})):
        status, answer = await world.hub.admin(method, f"/admin/platforms/{platform_id}{path}", body)
        assert status == 404 and answer == {"error": "no such platform"}, (method, path, answer)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/versions", "127.0.0.1:9/versions", "not a url", "http://",
                                 "http://[::1/versions", "http://127.0.0.1:99999/versions", "javascript:alert(1)"])
async def test_registration_with_a_versions_url_that_is_no_http_url_gets_400(world: World, url: str) -> None:
    _, before = await world.hub.admin("GET", "/admin/platforms")
    status, answer = await world.hub.admin("POST", "/admin/registrations", {"versions_url": url, "token": "t"})
    assert status == 400 and "versions_url" in answer["error"], answer
    _, after = await world.hub.admin("GET", "/admin/platforms")
    assert after == before, "nothing was created"


@pytest.mark.parametrize("target", ["credentials", "admin"])
async def test_body_cut_short_by_a_half_close_is_no_500(world: World, target: str) -> None:
    auth = (f"Token {token_header(world.cpo.token_to_hub or '').split()[1]}" if target == "credentials"
            else f"Bearer {world.hub.admin_token}")
    path = "/ocpi/2.2.1/credentials" if target == "credentials" else "/admin/invitations"
    method = "PUT" if target == "credentials" else "POST"
    head = (f"{method} {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: {auth}\r\n"
            "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n").encode()
    status, answer = await raw(world.hub.base_url, head + b'{"token": "abc", "url": ', half_close=True)
    assert status in (0, 400), answer  # an answer, if the server still sends one on the half-closed connection
    # The hub goes on: the same endpoint answers the next request.
    status, _ = await world.hub.admin("GET", "/admin/platforms")
    assert status == 200


@pytest.mark.parametrize("target", ["credentials", "admin"])
async def test_own_endpoints_refuse_a_declared_body_over_the_limit_without_reading_it(world: World,
                                                                                      target: str) -> None:
    auth = (token_header(world.cpo.token_to_hub or "") if target == "credentials"
            else f"Bearer {world.hub.admin_token}")
    path = "/ocpi/2.2.1/credentials" if target == "credentials" else "/admin/invitations"
    method = "PUT" if target == "credentials" else "POST"
    head = (f"{method} {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {100 * LIMIT}\r\n\r\n").encode()
    # Only the head is sent: an answer can only come if the hub did not wait for the body.
    url = urlsplit(world.hub.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(head)
    async with asyncio.timeout(5):
        answer = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer


@pytest.mark.parametrize("target", ["credentials", "admin"])
async def test_own_endpoints_refuse_a_chunked_body_growing_over_the_limit(world: World, target: str) -> None:
    auth = (token_header(world.cpo.token_to_hub or "") if target == "credentials"
            else f"Bearer {world.hub.admin_token}")
    path = "/ocpi/2.2.1/credentials" if target == "credentials" else "/admin/invitations"
    method = "PUT" if target == "credentials" else "POST"
    head = (f"{method} {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: {auth}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    url = urlsplit(world.hub.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(head)
    chunk = b"x" * 16384
    with contextlib.suppress(ConnectionError):
        for _ in range(2 * LIMIT // len(chunk)):  # twice the limit, then the stream stays open
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
    async with asyncio.timeout(5):
        answer = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer


async def _platform_id(hub: RunningHub, name: str) -> int:
    _, platforms = await hub.admin("GET", "/admin/platforms")
    found: int = next(p["id"] for p in platforms if p["name"] == name)
    return found


@pytest.mark.parametrize("roles", ["none", "twice"])
async def test_partner_credentials_with_unusable_roles_are_a_400_on_the_admin_api(world: World, module_net: Network,
                                                                                roles: str) -> None:
    """OCPI answers such credentials with HTTP 200 and 2001 in the body; the operator's client must see 400."""
    bad = [] if roles == "none" else [Role("CPO", "NL", "TWC"), Role("CPO", "nl", "twc")]
    # Hub-initiated: the partner answers our POST with these roles.
    partner = await module_net.partner(FakePlatform(name=f"roles-{roles}", roles=list(bad), modules=list(CPO_MODULES)))
    _, before = await world.hub.admin("GET", "/admin/platforms")
    status, answer = await world.hub.admin("POST", "/admin/registrations", {
        "versions_url": f"{partner.base_url}/versions", "token": partner.token_for_hub, "name": partner.name})
    assert status == 400 and answer["ocpi_status"] == 2001 and "role" in answer["error"], answer
    assert (await world.hub.admin("GET", "/admin/platforms"))[1] == before, "nothing kept"

    # Rotation: a registered partner answers our PUT with these roles; nothing changes.
    rotating = await module_net.registered(world.hub, cpo(f"rotating-{roles}", pid=f"R{roles[0].upper()}T"))
    platform_id = await _platform_id(world.hub, rotating.name)
    _, details = await world.hub.admin("GET", f"/admin/platforms/{platform_id}")
    rotating.roles = list(bad)
    status, answer = await world.hub.admin("POST", f"/admin/platforms/{platform_id}/rotate")
    assert status == 400 and answer["ocpi_status"] == 2001 and "role" in answer["error"], answer
    _, after = await world.hub.admin("GET", f"/admin/platforms/{platform_id}")
    assert after["parties"] == details["parties"], "nothing changed"
