"""Assembly: configuration, the Starlette app on Hypercorn, the hub's own OCPI modules, admin API."""
