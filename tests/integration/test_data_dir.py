"""One data dir, several ``ocpi-hub`` processes: only the hub that owns the embedded PostgreSQL stops
it. ``migrate`` uses a running hub's database and leaves it running; a second ``serve`` is refused
in one line naming the running hub's PID. Real processes, real embedded PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.process import HubProcess, hub_command
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


def postgres_on(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(path) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "hubdata"
    yield path
    for proc in postgres_on(path):  # whatever happened in the test: no PostgreSQL left behind
        proc.kill()


def ocpi_hub(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCPI_HUB_")}
    env |= {"OCPI_HUB_DATA_DIR": str(data_dir), "OCPI_HUB_ADMIN_TOKEN": "adm", "OCPI_HUB_DRAIN_SECONDS": "0"}
    return subprocess.run([*hub_command(), *args], env=env, capture_output=True, text=True, timeout=60)


def ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as r:
            return int(r.status) == 200
    except OSError:
        return False


def test_other_processes_on_the_data_dir_leave_the_running_hubs_database_alone(data_dir: Path,
                                                                               tmp_path: Path) -> None:
    hub = HubProcess(free_port(), {"OCPI_HUB_DATA_DIR": str(data_dir), "OCPI_HUB_ADMIN_TOKEN": "adm"},
                     tmp_path / "hub.log")
    try:
        hub.wait_ready()
        postmaster = psutil.Process(int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0]))

        migrated = ocpi_hub(data_dir, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert "nothing (schema up to date)" in migrated.stdout
        assert f"PID {hub.proc.pid}" in migrated.stderr, "migrate says whose database it used"

        second = ocpi_hub(data_dir, "serve", "--port", str(free_port()))
        assert second.returncode == 2
        [line] = second.stderr.strip().splitlines()
        assert f"in use by ocpi-hub serve (PID {hub.proc.pid})" in line and str(data_dir) in line

        time.sleep(0.5)  # a database stopped by either would be noticed by now
        assert postmaster.is_running(), "the hub's PostgreSQL still runs"
        assert ready(hub.base_url)
        request = urllib.request.Request(f"{hub.base_url}/admin/platforms", headers={"Authorization": "Bearer adm"})
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.status == 200
    finally:
        assert hub.stop() == 0, hub.output()
    assert "Traceback" not in hub.output()
    assert not postgres_on(data_dir), "the owner stopped its database on the way out"

    # With no hub running, migrate owns the data dir for its run: it starts the database and stops it.
    alone = ocpi_hub(data_dir, "migrate")
    assert alone.returncode == 0 and "schema up to date" in alone.stdout, alone.stderr
    assert not postgres_on(data_dir)
