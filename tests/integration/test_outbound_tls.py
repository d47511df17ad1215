"""Outbound TLS over real TLS on loopback, with certificates made by trustme: partners' certificates
are verified by default (system store plus an extra CA bundle), a platform may pin its certificate or
relax the check for itself alone; and registration errors say what failed in words."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from partners.model import ConnectionStatus, OutboundTls, PlatformSettings
from partners.registry import Platform
from routing.forward import Forwarder, UpstreamFailure
from routing.outbound_guard import OutboundGuard
from routing.outbound_policy import policy
from routing.outbound_tls import TlsContexts
from tests.integration.test_registration import post_invited_credentials
from tests.support.network import Network
from tests.support.partner import cpo, emsp
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio


@dataclass
class Pki:
    ca_file: str
    partner: tuple[str, str]  # certificate and key files for partner.test
    other: tuple[str, str]  # for other.test
    partner_sha256: str
    other_ca_sha256: str


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    base = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(base / "ca.pem"))
    files = {}
    for name in ("partner.test", "other.test"):
        cert = ca.issue_cert(name)
        cert.cert_chain_pems[0].write_to_path(str(base / f"{name}.pem"))
        cert.private_key_pem.write_to_path(str(base / f"{name}.key"))
        files[name] = (str(base / f"{name}.pem"), str(base / f"{name}.key"))

    def sha256(path: str) -> str:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(Path(path).read_text())).hexdigest()

    return Pki(str(base / "ca.pem"), files["partner.test"], files["other.test"], sha256(files["partner.test"][0]),
               sha256(str(base / "ca.pem")))


async def names(host: str, port: int) -> list[str]:
    if host in ("partner.test", "other.test"):
        return ["127.0.0.1"]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.fixture
async def tls_server(pki: Pki) -> AsyncIterator[dict[str, int]]:
    """Two HTTPS listeners on 127.0.0.1: one presenting partner.test's certificate, one other.test's."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    servers, ports = [], {}
    for name, (cert, key) in (("partner.test", pki.partner), ("other.test", pki.other)):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        ports[name] = server.sockets[0].getsockname()[1]
    yield ports
    for server in servers:
        server.close()


def forwarder(client: str, ca_file: str | None = None) -> Forwarder:
    guard = OutboundGuard(policy(allow="127.0.0.1/32", allow_http=True, listen_host="127.0.0.1", listen_port=1,
                                 public_url="http://127.0.0.1:1"), resolver=names)
    return Forwarder(connect_timeout=2, request_timeout=5, connections_per_receiver=2, client=client, guard=guard,
                     tls=TlsContexts(ca_file))


def platform(tls: OutboundTls | None) -> Platform:
    return Platform(id=7, name="p", status=ConnectionStatus.CONNECTED, registered=True, versions_url=None,
                    version=None, endpoints={}, parties=(), settings=PlatformSettings(outbound_tls=tls))


@pytest.mark.parametrize("client", ["native", "aiohttp"])
async def test_certificates_are_verified_by_default_with_the_extra_ca_bundle(pki: Pki, tls_server: dict[str, int],
                                                                             client: str) -> None:
    url = f"https://partner.test:{tls_server['partner.test']}/x"
    plain = forwarder(client)
    with pytest.raises(UpstreamFailure, match=r"TLS certificate of partner\.test is not trusted"):
        await plain.send("GET", url, [], None, "NL*CPO")
    await plain.close()
    trusting = forwarder(client, pki.ca_file)
    try:
        assert (await trusting.send("GET", url, [], None, "NL*CPO")).body == b"ok"
        # A certificate from the trusted CA, but for another name: refused.
        with pytest.raises(UpstreamFailure, match=r"TLS certificate of partner\.test is not trusted"):
            await trusting.send("GET", f"https://partner.test:{tls_server['other.test']}/x", [], None, "NL*CPO")
    finally:
        await trusting.close()


@pytest.mark.parametrize("client", ["native", "aiohttp"])
async def test_a_platform_pins_its_certificate_or_relaxes_the_check_for_itself(pki: Pki, tls_server: dict[str, int],
                                                                              client: str) -> None:
    url = f"https://partner.test:{tls_server['partner.test']}/x"
    hub = forwarder(client)  # no CA bundle: only the pin or the relaxed setting can make this work
    try:
        pinned = platform(OutboundTls(pin_sha256=pki.partner_sha256))
        assert (await hub.send("GET", url, [], None, "NL*CPO", pinned)).body == b"ok"
        with pytest.raises(UpstreamFailure, match="does not match the fingerprint pinned"):
            await hub.send("GET", url, [], None, "NL*CPO", platform(OutboundTls(pin_sha256=pki.other_ca_sha256)))
        relaxed = platform(OutboundTls(verify=False))
        assert (await hub.send("GET", url, [], None, "NL*CPO", relaxed)).body == b"ok"
        # The relaxed or pinned connections are not shared with a platform that verifies.
        with pytest.raises(UpstreamFailure, match="is not trusted"):
            await hub.send("GET", url, [], None, "NL*CPO", platform(None))
    finally:
        await hub.close()


async def test_registration_and_forwarding_over_tls_with_a_pin_set_through_the_admin_api(net: Network,
                                                                                          pki: Pki) -> None:
    hub = await net.hub(resolver=names, outbound_ca_file=pki.ca_file)
    msp = await net.registered(hub, emsp("msp"))
    station = cpo("cpo")
    await net.partner(station, name="partner.test", tls=pki.partner)
    await station.register_with(hub.versions_url, await hub.invite())  # the handshake verified the certificate
    status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party())
    assert (status, body["data"]["id"]) == (200, "LOC1")
    _, platforms = await hub.admin("GET", "/admin/platforms")
    station_id = next(p["id"] for p in platforms if p["parties"][0]["party_id"] == "CPO")
    settings = f"/admin/platforms/{station_id}/settings"

    status, _ = await hub.admin("PATCH", settings, {"outbound_tls": {"pin_sha256": pki.other_ca_sha256}})
    assert status == 200
    status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party())
    assert (status, body["status_code"]) == (200, 4003) and "does not match the fingerprint" in body["status_message"]
    colons = ":".join(pki.partner_sha256[i:i + 2] for i in range(0, 64, 2)).upper()
    assert (await hub.admin("PATCH", settings, {"outbound_tls": {"pin_sha256": colons}}))[0] == 200
    status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC2", to=station.party())
    assert (status, body["data"]["id"]) == (200, "LOC2")
    status, body = await hub.admin("PATCH", settings, {"outbound_tls": {"pin_sha256": colons, "verify": False}})
    assert status == 400 and "contradict" in body["error"]


async def test_registration_errors_say_what_failed_in_words(net: Network, pki: Pki) -> None:
    hub = await net.hub(resolver=names)  # no CA bundle: the trustme CA is unknown to this hub
    station = cpo("cpo")
    await net.partner(station, name="partner.test", tls=pki.partner)
    dead = free_port()
    said = []
    for url, words in (
        (f"{station.base_url}/versions",
         f"could not reach versions endpoint at {station.base_url}/versions: TLS certificate of partner.test is not "
         "trusted (unable to get local issuer certificate)"),
        ("http://nowhere.test/versions", "could not resolve host nowhere.test"),
        (f"http://127.0.0.1:{dead}/versions", f"connection refused by 127.0.0.1:{dead}"),
    ):
        _, body = await post_invited_credentials(hub, station, station.credentials() | {"url": url})
        assert body["status_code"] == 3001 and words in body["status_message"], body
        said.append(body["status_message"])
    status, body = await hub.admin("POST", "/admin/registrations", {"versions_url": "http://nowhere.test/v",
                                                                    "token": "A"})
    assert status == 502 and body["error"].endswith("could not resolve host nowhere.test"), body
    for message in [*said, body["error"]]:
        assert "Error" not in message and station.token_for_hub not in message
