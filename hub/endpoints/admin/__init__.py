"""The admin API (``/admin``, ``Authorization: Bearer <admin token>``), one module per resource."""

from __future__ import annotations

from hub.endpoints.admin import agreements, config, platforms, registrations

routes = [*registrations.routes, *platforms.routes, *config.routes, *agreements.routes]
