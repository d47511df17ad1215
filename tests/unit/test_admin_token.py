"""The admin token kept in the data dir: made once, read back, and never silently replaced by one nobody saw."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import admin_token
from hub.config import ConfigError


def test_made_once_with_mode_0600_and_read_back(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    token, created = admin_token.load_or_create(data_dir)
    assert created and (data_dir / admin_token.FILE_NAME).stat().st_mode & 0o777 == 0o600
    assert admin_token.load_or_create(data_dir) == (token, False)


@pytest.mark.parametrize("text", ["", " \n\t\n"])
def test_an_empty_token_file_is_a_configuration_error_naming_it(tmp_path: Path, text: str) -> None:
    # A token generated in its place could not be saved (the file exists): the hub would run with an admin
    # token nobody was shown. Nothing is written to the file either.
    path = tmp_path / admin_token.FILE_NAME
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=r"admin token file .* is empty") as refused:
        admin_token.load_or_create(tmp_path)
    assert str(path) in str(refused.value) and "OCPI_HUB_ADMIN_TOKEN" in str(refused.value)
    assert path.read_text() == text
