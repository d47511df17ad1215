"""The hub's own endpoints: its OCPI configuration modules, the admin API, health and metrics."""
