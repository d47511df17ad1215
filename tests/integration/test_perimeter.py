"""The perimeter over the wire: rate limits, failed-authentication throttling, allow-lists behind a
trusted proxy, and platforms pinned to their client certificate, through a proxy's header and over
the hub's own mutual TLS (certificates made by trustme, real TLS on loopback)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from cryptography import x509

from hub import tls
from hub.app import HubApp
from hub.config import load
from tests.integration.test_operations import metric, scrape
from tests.support.network import TEST_SECRETS_KEY, Network, RunningHub
from tests.support.partner import FakePlatform, cpo, emsp, token_header
from tests.support.process import HubProcess
from tests.support.servers import free_port, served

pytestmark = pytest.mark.anyio

LOCATION = "/ocpi/2.2.1/sender/locations/LOC1"


async def pair(net: Network, hub: RunningHub) -> tuple[FakePlatform, FakePlatform]:
    msp = await net.registered(hub, emsp("emsp"))
    station = await net.registered(hub, cpo("cpo"))
    return msp, station


async def platform_id(hub: RunningHub, platform: FakePlatform) -> int:
    status, platforms = await hub.admin("GET", "/admin/platforms")
    assert status == 200
    return next(p["id"] for p in platforms if p["versions_url"] == f"{platform.base_url}/versions")


async def set_settings(hub: RunningHub, platform: FakePlatform, settings: dict[str, Any]) -> None:
    status, body = await hub.admin("PATCH", f"/admin/platforms/{await platform_id(hub, platform)}/settings", settings)
    assert status == 200, body


async def request(base_url: str, caller: FakePlatform, to: FakePlatform | None, *, path: str = LOCATION,
                  headers: dict[str, str] | None = None, source: str | None = None, token: str | None = None,
                  ssl_context: ssl.SSLContext | None = None) -> tuple[int, dict[str, str], Any]:
    """One request from ``caller``, optionally from another loopback source address or over TLS."""
    h = {"Authorization": token_header(token or caller.token_to_hub or "")}
    if to is not None:
        me, them = caller.party(), to.party()
        h |= {"OCPI-from-country-code": me.country_code, "OCPI-from-party-id": me.party_id,
              "OCPI-to-country-code": them.country_code, "OCPI-to-party-id": them.party_id}
    h |= headers or {}
    connector = aiohttp.TCPConnector(local_addr=(source, 0) if source else None, ssl=ssl_context or True)
    async with aiohttp.ClientSession(connector=connector) as http, http.get(base_url + path, headers=h) as r:
        raw = await r.read()
        return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(raw) if raw else None


async def test_a_platform_over_its_rate_gets_429_and_retry_after_and_nothing_is_forwarded(net: Network) -> None:
    hub = await net.hub(rate_limit=0)  # no hub-wide limit: the platform's own setting below is the one
    msp, station = await pair(net, hub)
    await set_settings(hub, msp, {"rate_limit": 0.1, "rate_limit_burst": 2})
    before = len(station.received)
    answers = [await request(hub.base_url, msp, station) for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 429]
    _, headers, body = answers[2]
    assert headers["retry-after"] == "10" and headers["content-type"] == "application/json"
    assert body["status_code"] == 2000 and "rate limit of 0.1 requests/s (burst 2)" in body["status_message"]
    assert len(station.received) == before + 2
    # The hub's own OCPI endpoints count against the same bucket.
    status, _, _ = await request(hub.base_url, msp, None, path="/ocpi/2.2.1/credentials")
    assert status == 429
    # Other platforms keep their own rate.
    assert (await request(hub.base_url, station, msp, path="/ocpi/2.2.1/sender/tokens"))[0] == 200
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_rate_limited_total", kind="platform") == 2
    assert metric(text, "ocpihub_requests_total", module="locations", outcome="rate_limited",
                  status_class="4xx") == 1
    # The operator lifts it: at once, without waiting for the bucket.
    await set_settings(hub, msp, {"rate_limit": None, "rate_limit_burst": None})
    assert (await request(hub.base_url, msp, station))[0] == 200


async def test_failed_authentications_throttle_unknown_tokens_from_the_address_on_every_surface(net: Network) -> None:
    hub = await net.hub(auth_failures_per_minute=3)
    msp, station = await pair(net, hub)
    wrong = secrets.token_urlsafe(16)
    answers = [await request(hub.base_url, msp, station, token=wrong) for _ in range(2)]
    assert [status for status, _, _ in answers] == [401, 401]
    status, _, _ = await request(hub.base_url, msp, None, path="/ocpi/2.2.1/credentials", token=wrong)
    assert status == 429  # the third failure, on the hub's own endpoint, blocks the address
    # Blocked: unknown and missing tokens from there get 429 with a wait to honour, routed or not...
    status, headers, body = await request(hub.base_url, msp, station, token=secrets.token_urlsafe(16))
    assert status == 429 and int(headers["retry-after"]) == 20 and body["status_code"] == 2000
    assert (await request(hub.base_url, msp, None, path="/ocpi/2.2.1/credentials", token=wrong))[0] == 429
    assert (await request(hub.base_url, msp, None, path="/ocpi/versions", token=" "))[0] == 429
    # ...but every partner behind that address (a proxy without OCPI_HUB_TRUSTED_PROXIES, a NAT) whose token
    # the hub knows goes on working: a guesser learns nothing from a token it cannot have.
    before = len(station.received)
    assert (await request(hub.base_url, msp, station))[0] == 200
    assert (await request(hub.base_url, station, msp, path="/ocpi/2.2.1/sender/tokens"))[0] == 200
    assert (await request(hub.base_url, msp, None, path="/ocpi/2.2.1/credentials"))[0] == 200
    assert len(station.received) == before + 1
    # Another address is not affected.
    assert (await request(hub.base_url, msp, station, source="127.0.0.2", token=wrong))[0] == 401
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_rate_limited_total", kind="auth_failures") == 4
    assert metric(text, "ocpihub_auth_failures_total") == 5

    # The admin API has a throttle of its own: the OCPI block does not lock the operator out...
    assert (await hub.admin("GET", "/admin/platforms"))[0] == 200
    # ...but guessing the admin token does.
    statuses = [(await hub.admin("GET", "/admin/platforms", token="guess"))[0] for _ in range(3)]
    assert statuses == [401, 401, 429]
    status, body = await hub.admin("GET", "/admin/platforms")
    assert status == 429 and "too many failed admin authentications" in body["error"]
    assert metric(await scrape(hub.base_url), "ocpihub_rate_limited_total", kind="admin") == 2


async def test_allowed_networks_read_forwarded_for_only_from_trusted_proxies(net: Network) -> None:
    hub = await net.hub(trusted_proxies="127.0.0.1/32")
    msp, station = await pair(net, hub)
    await set_settings(hub, msp, {"allowed_networks": ["203.0.113.0/24", "2001:db8::/32"]})
    before = len(station.received)
    via_proxy = {"X-Forwarded-For": "198.51.100.20, 203.0.113.7"}
    assert (await request(hub.base_url, msp, station, headers=via_proxy))[0] == 200
    for headers, source in (({"X-Forwarded-For": "198.51.100.20"}, None),   # outside the list
                            ({}, None),                                      # the proxy said nothing
                            (via_proxy, "127.0.0.2")):                       # not a trusted proxy
        status, _, body = await request(hub.base_url, msp, station, headers=headers, source=source)
        assert status == 200 and body["status_code"] == 2000, body
        assert "not allowed from address" in body["status_message"]
    assert len(station.received) == before + 1
    # The hub's own endpoints honour the list too.
    _, _, body = await request(hub.base_url, msp, None, path="/ocpi/2.2.1/credentials")
    assert body["status_code"] == 2000
    text = await scrape(hub.base_url)
    assert metric(text, "ocpihub_perimeter_refusals_total", kind="address") == 4
    assert metric(text, "ocpihub_requests_total", module="locations", outcome="forbidden") == 3
    # A malformed list is refused and nothing is written.
    status, body = await hub.admin("PATCH", f"/admin/platforms/{await platform_id(hub, msp)}/settings",
                                   {"allowed_networks": ["203.0.113.7/24"]})
    assert status == 400 and "host bits set" in body["error"]


CA = trustme.CA()
CERT_A = CA.issue_cert("emsp-a.example", common_name="emsp-a.example", organization_name="eMSP A")
CERT_B = CA.issue_cert("emsp-b.example", common_name="emsp-b.example", organization_name="eMSP B")


def sha256(cert: trustme.LeafCert) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())).hexdigest()


async def test_a_pinned_platform_is_refused_with_another_certificate_from_its_proxy(net: Network) -> None:
    hub = await net.hub(trusted_proxies="127.0.0.1/32", tls_client_cert_header="X-Forwarded-Client-Cert")
    msp, station = await pair(net, hub)
    colons = ":".join(sha256(CERT_A)[i:i + 2] for i in range(0, 64, 2)).upper()
    await set_settings(hub, msp, {"client_cert_sha256": [colons]})
    before = len(station.received)
    cert_a = {"X-Forwarded-Client-Cert": f'Hash={sha256(CERT_A)};Subject="CN=emsp-a.example"'}
    cert_b = {"X-Forwarded-Client-Cert": f"Hash={sha256(CERT_B)}"}
    assert (await request(hub.base_url, msp, station, headers=cert_a))[0] == 200
    for headers, source in ((cert_b, None), ({}, None), (cert_a, "127.0.0.2")):  # last: header from a non-proxy
        status, _, body = await request(hub.base_url, msp, station, headers=headers, source=source)
        assert (status, body["status_code"]) == (200, 2000) and "client certificate" in body["status_message"]
    assert len(station.received) == before + 1
    # Credentials too: the token alone does not let the platform read or change its registration.
    _, _, body = await request(hub.base_url, msp, None, path="/ocpi/2.2.1/credentials", headers=cert_b)
    assert body["status_code"] == 2000 and "data" not in body
    status, _, body = await request(hub.base_url, msp, None, path="/ocpi/2.2.1/credentials", headers=cert_a)
    assert status == 200 and body["status_code"] == 1000
    assert metric(await scrape(hub.base_url), "ocpihub_perimeter_refusals_total", kind="certificate") == 4


def subject(cert: trustme.LeafCert) -> str:
    """The certificate's subject as RFC 4514 text (``openssl x509 -noout -subject -nameopt RFC2253``)."""
    return x509.load_pem_x509_certificate(cert.cert_chain_pems[0].bytes()).subject.rfc4514_string()


def client_context(cert: trustme.LeafCert | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    CA.configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return context


async def test_mutual_tls_pins_a_platform_to_its_certificate(net: Network, tmp_path: Path) -> None:
    # Partners register through a plain-HTTP replica; the TLS replica shares its database and key.
    plain = await net.hub()
    msp, station = await pair(net, plain)
    server = CA.issue_cert("127.0.0.1")
    server.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    CA.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port = free_port()
    config = load({}, host="127.0.0.1", port=port, secrets_key=TEST_SECRETS_KEY,
                  tls_cert_file=str(tmp_path / "server.pem"), tls_key_file=str(tmp_path / "server.pem"),
                  tls_client_ca_file=str(tmp_path / "ca.pem"))
    assert config.base_url == f"https://127.0.0.1:{port}"
    await set_settings(plain, msp, {"client_cert_subjects": [subject(CERT_A)]})
    await set_settings(plain, station, {"client_cert_sha256": [sha256(CERT_B)]})
    app = HubApp(config, net.dsn, admin_token="adm")
    async with served(app, port, configure=lambda hc: tls.configure(hc, config)) as base:
        assert base.startswith("https://")
        before = len(station.received)
        status, _, body = await request(base, msp, station, ssl_context=client_context(CERT_A))
        assert status == 200 and body["data"]["id"] == "LOC1"
        status, _, body = await request(base, msp, station, ssl_context=client_context(CERT_B))
        assert (status, body["status_code"]) == (200, 2000) and "client certificate" in body["status_message"]
        assert len(station.received) == before + 1
        # The station is pinned by fingerprint to B: A is refused on its credentials, B reads them.
        _, _, body = await request(base, station, None, path="/ocpi/2.2.1/credentials",
                                   ssl_context=client_context(CERT_A))
        assert body["status_code"] == 2000
        _, _, body = await request(base, station, None, path="/ocpi/2.2.1/credentials",
                                   ssl_context=client_context(CERT_B))
        assert body["status_code"] == 1000
        # Client certificates are required: without one there is no TLS connection at all.
        with pytest.raises(aiohttp.ClientError):
            await request(base, msp, station, ssl_context=client_context(None))
        text = await scrape_tls(base)
        assert metric(text, "ocpihub_perimeter_refusals_total", kind="certificate") == 2


async def scrape_tls(base: str) -> str:
    connector = aiohttp.TCPConnector(ssl=client_context(CERT_A))
    async with aiohttp.ClientSession(connector=connector) as http, http.get(f"{base}/metrics") as r:
        return await r.text()



@pytest.mark.slow
async def test_serve_terminates_tls_and_requires_client_certificates(dsn: str, tmp_path: Path) -> None:
    server = CA.issue_cert("127.0.0.1")
    server.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    CA.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    port = free_port()
    hub = HubProcess(port, {"OCPI_HUB_DATABASE_URL": dsn, "OCPI_HUB_ADMIN_TOKEN": "adm",
                            "OCPI_HUB_TLS_CERT_FILE": str(tmp_path / "server.pem"),
                            "OCPI_HUB_TLS_KEY_FILE": str(tmp_path / "server.pem"),
                            "OCPI_HUB_TLS_CLIENT_CA_FILE": str(tmp_path / "ca.pem")}, tmp_path / "hub.log")
    try:
        deadline = time.monotonic() + 60
        while True:
            assert hub.proc.poll() is None, hub.output()
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", timeout=1,
                                            context=client_context(CERT_A)) as r:
                    assert r.status == 200
                    break
            except (OSError, urllib.error.URLError):
                assert time.monotonic() < deadline, hub.output()
                await asyncio.sleep(0.1)
        assert f"serving on https://127.0.0.1:{port}" in hub.output()
        with pytest.raises((OSError, urllib.error.URLError)):  # no client certificate, no connection
            urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", timeout=5, context=client_context(None))
        with pytest.raises((OSError, urllib.error.URLError)):  # plain HTTP is not served
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5)
    finally:
        assert hub.stop() == 0, hub.output()
