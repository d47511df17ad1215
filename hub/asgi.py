"""The application as an import path (``hub.asgi:app``), for the worker processes of
``ocpi-hub serve --workers N`` (``hub.serving.worker``) or any ASGI server: configuration comes from
the environment the parent prepared."""

from __future__ import annotations

import os

from hub import logs
from hub.app import HubApp
from hub.config import load

config = load()
logs.configure(config.log_level)
app = HubApp(config, os.environ["OCPI_HUB_DATABASE_URL"])
