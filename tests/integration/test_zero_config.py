"""README command one: ``ocpi-hub serve`` with no configuration, on its embedded PostgreSQL."""

from __future__ import annotations

import json
import signal
import socket
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


def cli_with_env_token(port: int, *args: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"} | ({"OCPI_HUB_ADMIN_TOKEN": token} if token is not None else {})
    return subprocess.run([*hub_command(), "partners", "--hub", f"http://127.0.0.1:{port}", *args],
                          env=env, capture_output=True, text=True, timeout=60)


async def test_generated_admin_token_is_kept_shown_once_and_read_from_the_environment(
        data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    hub = HubProcess(port, {"OCPI_HUB_DATA_DIR": str(data_dir)}, tmp_path / "hub1.log")
    try:
        hub.wait_ready()
        [shown] = [row for row in map(json.loads, hub.output().splitlines()) if "admin_token" in row]
        token = shown["admin_token"]
        assert not token.startswith("-") and str(data_dir / "admin-token") in shown["msg"]
        assert (data_dir / "admin-token").stat().st_mode & 0o777 == 0o600
        assert json.loads(cli_with_env_token(port, "list", token=token).stdout) == []
        wrong = cli_with_env_token(port, "list", token="wrong")
        assert wrong.returncode != 0 and "admin token does not match" in wrong.stderr
        missing = cli_with_env_token(port, "list", token=None)
        assert missing.returncode != 0 and "OCPI_HUB_ADMIN_TOKEN" in missing.stderr
    finally:
        hub.proc.send_signal(signal.SIGINT)  # as Ctrl-C does
        assert hub.stop() == 0, hub.output()
    messages = [json.loads(row)["msg"] for row in hub.output().splitlines()]
    assert "draining for 0 s" in messages and messages[-1] == "stopped", messages[-4:]

    hub = HubProcess(port, {"OCPI_HUB_DATA_DIR": str(data_dir)}, tmp_path / "hub2.log")
    try:
        hub.wait_ready()
        assert "admin_token" not in hub.output() and token not in hub.output(), "shown only when created"
        assert json.loads(cli_with_env_token(port, "list", token=token).stdout) == [], "the same token after a restart"
    finally:
        assert hub.stop() == 0, hub.output()


async def test_empty_admin_token_file_is_one_line_and_exit_2(data_dir: Path) -> None:
    # Generating a token in its place could not save it (the file exists): the hub would run with an admin
    # token nobody was shown. The operator is told which file, and the embedded database is stopped again.
    data_dir.mkdir()
    kept = data_dir / "admin-token"
    kept.write_text("\n")
    kept.chmod(0o600)
    out = subprocess.run([*hub_command(), "serve", "--port", str(free_port())], capture_output=True, text=True,
                         timeout=120, env={"PATH": "/usr/bin:/bin", "OCPI_HUB_DATA_DIR": str(data_dir)})
    assert out.returncode == 2, out.stderr
    [line] = [row for row in out.stderr.splitlines() if not row.startswith("{")]
    assert line.startswith("ocpi-hub: configuration error: the admin token file") and str(kept) in line, line
    assert '"admin_token":' not in out.stderr, "no token shown"
    assert kept.read_text() == "\n"
    assert not [p for p in psutil.process_iter(["name", "cmdline"])
                if p.info["name"] == "postgres" and str(data_dir) in " ".join(p.info["cmdline"] or [])]


async def test_busy_port_is_one_line_and_exit_2_with_nothing_started(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([*hub_command(), "serve", "--port", str(port)], capture_output=True, text=True,
                             timeout=60, env={"PATH": "/usr/bin:/bin", "OCPI_HUB_DATA_DIR": str(data_dir)})
    assert out.returncode == 2
    assert out.stderr.splitlines() == [f"ocpi-hub: port {port} on 127.0.0.1 is already in use"]
    assert out.stdout == "" and not data_dir.exists(), "no database started, no token made"


@pytest.mark.parametrize("flags", [["--host", "0.0.0.0"], ["--host", "::"],
                                   ["--host", "127.0.0.1", "--public-url", "http://0.0.0.0:8080"]])
async def test_wildcard_address_without_public_url_is_refused(data_dir: Path, flags: list[str]) -> None:
    out = subprocess.run([*hub_command(), "serve", "--port", str(free_port()), *flags], capture_output=True,
                         text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "OCPI_HUB_DATA_DIR": str(data_dir)})
    assert out.returncode == 2 and "OCPI_HUB_PUBLIC_URL" in out.stderr, out.stderr
    assert len(out.stderr.splitlines()) == 1 and not data_dir.exists()


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
