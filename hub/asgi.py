"""The application as an import path (``hub.asgi:app``), for Hypercorn workers started by
``ocpi-hub serve --workers N``: configuration comes from the environment the parent prepared."""

from __future__ import annotations

import os

from hub import logs
from hub.app import HubApp
from hub.config import load

_config = load()
logs.configure(_config.log_level)
app = HubApp(_config, os.environ["OCPI_HUB_DATABASE_URL"])
