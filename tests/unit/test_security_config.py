"""The perimeter, TLS and secrets settings: malformed values stop startup naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, load


@pytest.mark.parametrize(("env", "complaint"), [
    ({"OCPI_HUB_RATE_LIMIT": "-1"}, "OCPI_HUB_RATE_LIMIT must not be negative"),
    ({"OCPI_HUB_RATE_LIMIT_BURST": "0"}, "OCPI_HUB_RATE_LIMIT_BURST must be positive"),
    ({"OCPI_HUB_AUTH_FAILURES_PER_MINUTE": "-5"}, "OCPI_HUB_AUTH_FAILURES_PER_MINUTE must not be negative"),
    ({"OCPI_HUB_TRUSTED_PROXIES": "10.0.0.0/8, 10.0.0.1/8"}, "OCPI_HUB_TRUSTED_PROXIES: '10.0.0.1/8'"),
    ({"OCPI_HUB_TLS_CERT_FILE": "{cert}"}, "must be set together"),
    ({"OCPI_HUB_TLS_CERT_FILE": "{cert}", "OCPI_HUB_TLS_KEY_FILE": "{missing}"}, "OCPI_HUB_TLS_KEY_FILE: cannot read"),
    ({"OCPI_HUB_TLS_CLIENT_CA_FILE": "{cert}"}, "OCPI_HUB_TLS_CLIENT_CA_FILE needs OCPI_HUB_TLS_CERT_FILE"),
    ({"OCPI_HUB_TLS_CLIENT_CERT_REQUIRED": "maybe"}, "OCPI_HUB_TLS_CLIENT_CERT_REQUIRED"),
    ({"OCPI_HUB_TLS_CLIENT_CERT_HEADER": "x-client-cert"}, "only read from OCPI_HUB_TRUSTED_PROXIES"),
    ({"OCPI_HUB_SECRETS_KEY": "c2hvcnQ="}, "OCPI_HUB_SECRETS_KEY must be 32 bytes"),
    ({"OCPI_HUB_SECRETS_OLD_KEYS": "not base64!"}, "OCPI_HUB_SECRETS_OLD_KEYS is not base64"),
])
def test_malformed_security_settings_stop_startup(tmp_path: Path, env: dict[str, str], complaint: str) -> None:
    (tmp_path / "cert.pem").write_text("x")
    filled = {k: v.format(cert=tmp_path / "cert.pem", missing=tmp_path / "missing.pem") for k, v in env.items()}
    with pytest.raises(ConfigError, match=complaint.replace("(", r"\(")):
        load(filled)


def test_tls_settings_make_the_default_public_url_https(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("x")
    plain = load({})
    assert plain.base_url == "http://127.0.0.1:8080" and plain.rate_limit == 200 and plain.trusted_proxy_networks == ()
    cert = str(tmp_path / "cert.pem")
    config = load({"OCPI_HUB_TLS_CERT_FILE": cert, "OCPI_HUB_TLS_KEY_FILE": cert,
                   "OCPI_HUB_TRUSTED_PROXIES": " 10.0.0.0/8 ,192.0.2.1", "OCPI_HUB_TLS_CLIENT_CERT_REQUIRED": "false"})
    assert config.base_url == "https://127.0.0.1:8080"
    assert config.trusted_proxy_networks == ("10.0.0.0/8", "192.0.2.1")
    assert config.tls_client_cert_required is False
