"""README command one: ``ocpi-hub serve`` with no configuration, on its embedded PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.network import Network
from tests.support.partner import cpo, emsp
from tests.support.process import HubProcess, hub_command
from tests.support.servers import free_port, served

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "hubdata"
    yield path
    # Whatever happened in the test: no PostgreSQL left behind on this data dir.
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(path) in " ".join(proc.info["cmdline"] or []):
            proc.kill()


def cli(port: int, *args: str, token: str) -> object:
    out = subprocess.run(
        [*hub_command(), "partners", "--hub", f"http://127.0.0.1:{port}", "--admin-token", token, *args],
        check=True, capture_output=True, text=True, timeout=60,
    )
    return json.loads(out.stdout)


async def test_restart_keeps_every_registration(data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {"OCPI_HUB_DATA_DIR": str(data_dir), "OCPI_HUB_ADMIN_TOKEN": "admin-secret"}
    partner = cpo("cpo-1")
    station_port = free_port()
    partner.base_url = f"http://127.0.0.1:{station_port}"
    async with served(partner.app(), station_port):
        hub = HubProcess(port, env, tmp_path / "hub1.log")
        try:
            hub.wait_ready()
            invitation = cli(port, "invite", "--name", "cpo-1", token="admin-secret")
            assert isinstance(invitation, dict)
            await partner.register_with(invitation["versions_url"], invitation["token"])
        finally:
            assert hub.stop() == 0, hub.output()

        hub = HubProcess(port, env, tmp_path / "hub2.log")
        try:
            hub.wait_ready()
            platforms = cli(port, "list", token="admin-secret")
            assert isinstance(platforms, list)
            [platform] = platforms
            assert platform["status"] == "CONNECTED" and platform["name"] == "cpo-1"
            assert platform["parties"][0]["party_id"] == "CPO"
            # The token C issued before the restart still works.
            await partner.discover_hub(f"{hub.base_url}/ocpi/versions")
            assert partner.hub_endpoints
        finally:
            assert hub.stop() == 0, hub.output()
    logs = (tmp_path / "hub1.log").read_text() + (tmp_path / "hub2.log").read_text()
    # The tokens are sealed with a key made at the first start, kept beside the database, said once.
    key_file = data_dir / "secrets.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "generated its secrets key in" in (tmp_path / "hub1.log").read_text()
    assert "generated its secrets key" not in (tmp_path / "hub2.log").read_text()
    for secret in (invitation["token"], partner.token_to_hub, partner.token_for_hub, key_file.read_text().strip()):
        assert secret and secret not in logs


async def test_generated_admin_token_is_printed_once_and_works(data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    hub = HubProcess(port, {"OCPI_HUB_DATA_DIR": str(data_dir)}, tmp_path / "hub.log")
    try:
        hub.wait_ready()
        line = next(row for row in hub.output().splitlines() if "admin token" in row)
        token = line.rsplit(" ", 1)[1]
        assert cli(port, "list", token=token) == []
        with pytest.raises(subprocess.CalledProcessError):
            cli(port, "list", token="wrong")
    finally:
        assert hub.stop() == 0


async def test_bad_configuration_stops_startup_naming_the_key(tmp_path: Path) -> None:
    out = subprocess.run([*hub_command(), "serve"], env={"OCPI_HUB_PORT": "eighty", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "OCPI_HUB_PORT" in out.stderr
    out = subprocess.run([*hub_command(), "serve"], env={"OCPI_HUB_PROT": "80", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "unknown setting OCPI_HUB_PROT" in out.stderr


async def test_hub_process_routes_between_real_partners(net: Network, data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    hub = HubProcess(port, {"OCPI_HUB_DATA_DIR": str(data_dir), "OCPI_HUB_ADMIN_TOKEN": "a"}, tmp_path / "hub.log")
    try:
        hub.wait_ready()
        msp = await net.partner(emsp("emsp"))
        station = await net.partner(cpo("cpo"))
        for p in (msp, station):
            invitation = cli(port, "invite", token="a")
            assert isinstance(invitation, dict)
            await p.register_with(invitation["versions_url"], invitation["token"])
        status, headers, body = await msp.call("GET", "locations", "SENDER", "/LOC3", to=station.party())
        assert status == 200 and body["data"]["id"] == "LOC3"
    finally:
        assert hub.stop() == 0
    # One JSON line per routed request (flushed at shutdown at the latest), naming parties, not tokens.
    lines = [json.loads(row) for row in hub.output().splitlines() if row.startswith("{")]
    [routed] = [row for row in lines if row.get("msg") == "routed"]
    assert routed["correlation_id"] == headers["_sent_correlation_id"]
    assert (routed["from"], routed["to"], routed["status"], routed["ocpi_module"]) == ("DE*MSP", "NL*CPO", 200,
                                                                                    "locations")
    for secret in (msp.token_to_hub, station.token_to_hub, msp.token_for_hub, station.token_for_hub):
        assert secret and secret not in hub.output()
