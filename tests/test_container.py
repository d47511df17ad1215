"""The container image's Dockerfile, read as text (no Docker engine here to build it)."""

from __future__ import annotations

import re
from pathlib import Path

DOCKERFILE = (Path(__file__).resolve().parent.parent / "Dockerfile").read_text()


def test_the_data_dir_is_a_declared_volume_outside_tmp_that_the_hub_user_owns() -> None:
    [data_dir] = re.findall(r"\bOCPI_HUB_DATA_DIR=(\S+)", DOCKERFILE)
    assert not data_dir.startswith("/tmp"), "the embedded database and the secrets key would die with the container"
    volumes = re.search(r"^VOLUME\s+\[(.*)\]\s*$", DOCKERFILE, flags=re.MULTILINE)
    assert volumes is not None, "no VOLUME declared"
    assert f'"{data_dir}"' in volumes.group(1)
    # USER 10001 must be able to write there before anything is mounted (a fresh named volume copies it).
    assert re.search(rf"chown 10001 {re.escape(data_dir)}\b", DOCKERFILE)
    assert DOCKERFILE.index("VOLUME") < DOCKERFILE.index("USER 10001")


def test_the_readme_says_what_is_lost_without_a_volume() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    container = readme[readme.index("**Container.**"):readme.index("**Kubernetes.**")]
    assert "/var/lib/ocpi-hub" in container and "-v ocpi-hub-data:/var/lib/ocpi-hub" in container
    assert "secrets.key" in container and "partners must register again" in container
