"""Broadcast settings: what the configuration refuses, and what it becomes for the broadcaster."""

from __future__ import annotations

import socket

import pytest

from hub.app import broadcast_settings
from hub.config import ConfigError, load
from hub.serving.server import hypercorn_config


@pytest.mark.parametrize(("env", "named"), [
    ({"OCPI_HUB_BROADCAST_RECEIVER_BACKLOG_ENTRIES": "300000"}, "BROADCAST_RECEIVER_BACKLOG_ENTRIES"),
    ({"OCPI_HUB_BROADCAST_BACKLOG_BYTES": "1000000"}, "BROADCAST_RECEIVER_BACKLOG_BYTES"),
    ({"OCPI_HUB_BROADCAST_RECEIVER_BACKLOG_BYTES": "1048576"}, "MAX_BODY_BYTES"),
    ({"OCPI_HUB_BROADCAST_MAX_AGE": "0"}, "BROADCAST_MAX_AGE"),
    ({"OCPI_HUB_BROADCAST_SHUTDOWN_SECONDS": "-1"}, "BROADCAST_SHUTDOWN_SECONDS"),
    ({"OCPI_HUB_BROADCAST_RECEIVER_CONCURRENCY": "0"}, "BROADCAST_RECEIVER_CONCURRENCY"),
])
def test_inconsistent_broadcast_limits_stop_startup(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load(env)


def test_settings_reach_the_broadcaster_and_bound_the_lifespan_shutdown() -> None:
    config = load({"OCPI_HUB_BROADCAST_CONCURRENCY": "8", "OCPI_HUB_BROADCAST_BACKLOG_ENTRIES": "2000000",
                   "OCPI_HUB_BROADCAST_MAX_AGE": "30", "OCPI_HUB_BROADCAST_SHUTDOWN_SECONDS": "7"})
    settings = broadcast_settings(config)
    assert settings.workers == 8 and settings.shutdown_seconds == 7
    assert settings.limits.total_entries == 2_000_000 and settings.limits.max_age == 30
    assert settings.limits.receiver_entries == config.broadcast_receiver_backlog_entries
    assert config.broadcast_persist_seconds == pytest.approx(2_000_000 / 20_000 + 128 / 20)
    with socket.socket() as sock:
        timeout = hypercorn_config(config, sock).shutdown_timeout
        assert timeout == pytest.approx(7 + config.broadcast_persist_seconds + 10)
        assert hypercorn_config(load({}), sock).shutdown_timeout == 60
