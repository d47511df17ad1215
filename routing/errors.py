"""4xxx: errors the hub meets while routing, one class per OCPI hub status code.

The spec names no HTTP status for these; ours are fixed here and listed in the README.
"""

from __future__ import annotations

from partners.errors import HubError


class RoutingError(HubError):
    """4000: generic hub error."""

    ocpi_status = 4000
    http_status = 502


class ReceiverLacksModuleError(RoutingError):
    """4000: the addressed party exists but does not offer the module interface asked for."""

    http_status = 404


class UnknownReceiverError(RoutingError):
    """4001: the OCPI-to party is not known to the hub."""

    ocpi_status = 4001
    http_status = 404


class ForwardTimeoutError(RoutingError):
    """4002: forwarded, but no answer in time; the receiver may or may not have acted on it."""

    ocpi_status = 4002
    http_status = 504


class ReceiverUnreachableError(RoutingError):
    """4003: the receiving party is not connected (suspended, refused, reset, not speaking HTTP)."""

    ocpi_status = 4003
    http_status = 502
