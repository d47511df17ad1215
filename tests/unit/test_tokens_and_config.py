from __future__ import annotations

import base64

import pytest

from hub.config import ConfigError, load
from partners.tokens import Secret, new_token, token_candidates


def test_secret_never_shows_in_formatting() -> None:
    token = new_token()
    assert token.reveal() not in f"{token} {token!r} {[token]} {token:>10}"
    assert len(token.reveal()) <= 64


@pytest.mark.parametrize(("header", "expected"), [
    (b"Token " + base64.b64encode(b"abc-123"), [b"abc-123", base64.b64encode(b"abc-123")]),
    (b"Token abc-123", [b"abc-123"]),
    (b"Basic abc", []),
    (b"Token ", []),
])
def test_token_candidates(header: bytes, expected: list[bytes]) -> None:
    assert token_candidates(header) == expected


def test_config_defaults_and_overrides() -> None:
    config = load({"OCPI_HUB_PORT": "9000"}, host="0.0.0.0")
    assert (config.port, config.host, config.base_url) == (9000, "0.0.0.0", "http://0.0.0.0:9000")
    assert load({"OCPI_HUB_PUBLIC_URL": "https://hub.example.com/"}).base_url == "https://hub.example.com"


@pytest.mark.parametrize(("env", "named"), [
    ({"OCPI_HUB_PORT": "x"}, "OCPI_HUB_PORT"),
    ({"OCPI_HUB_NOPE": "1"}, "OCPI_HUB_NOPE"),
    ({"OCPI_HUB_COUNTRY_CODE": "NLD"}, "OCPI_HUB_COUNTRY_CODE"),
    ({"OCPI_HUB_REQUEST_TIMEOUT": "0"}, "OCPI_HUB_REQUEST_TIMEOUT"),
    ({"OCPI_HUB_PUBLIC_URL": "hub.example.com"}, "OCPI_HUB_PUBLIC_URL"),
])
def test_bad_config_names_the_key(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load(env)


def test_secret_is_a_str_for_apis_that_need_one() -> None:
    assert isinstance(Secret("x"), str)
