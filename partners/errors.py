"""The hub's error hierarchy: one class per OCPI status code the hub itself produces.

Any stage that cannot go on raises one of these; one handler per surface (the raw routing
handler, the Starlette endpoints) turns it into the OCPI envelope. The 4xxx routing errors live in
``routing.errors`` and subclass :class:`HubError` from here.

HTTP statuses follow ``status_codes.asciidoc``: a request that is valid JSON and addresses an existing
resource has reached the OCPI layer and gets no HTTP error, so every OCPI error is answered with HTTP
200 and its code in the body. The exceptions are the transport-level ones: 401 (the caller's own
token is missing or unknown, or token A on a functional module), 400 (the body is not JSON), 404 (no
such resource), 405, 413, 429, and 500 for a failure of the hub itself. Each class carries its HTTP
status; nothing else decides it.
"""

from __future__ import annotations


class HubError(Exception):
    """An error answered with an OCPI body: ``ocpi_status`` in the envelope, ``http_status`` on the wire.

    ``message`` goes to the partner verbatim: it must never hold a token.
    """

    ocpi_status: int = 3000
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """Extra response headers this error needs (e.g. ``Retry-After``)."""
        return ()


class ClientError(HubError):
    """2000: the caller did something wrong (in the OCPI layer: HTTP 200)."""

    ocpi_status = 2000
    http_status = 200


class InvalidParametersError(ClientError):
    """2001: a missing or malformed parameter, header or body field."""

    ocpi_status = 2001


class InvalidJsonError(InvalidParametersError):
    """2001 with HTTP 400: the body is not JSON at all (or is missing where one is required), so the
    request never reached the OCPI layer (status codes chapter)."""

    http_status = 400


class NotEnoughInformationError(ClientError):
    """2002: the request lacks what is needed to act on it."""

    ocpi_status = 2002


class RoleUnknownError(NotEnoughInformationError):
    """2002: OCPI 2.1.1 credentials carry no role, and the operator has not given the party's. Valid JSON
    that reached the OCPI layer: HTTP 200 with the error in the body (status codes chapter)."""

    http_status = 200


class UnauthorizedError(ClientError):
    """Missing or unknown credentials token: HTTP 401 as the transport chapter demands."""

    http_status = 401


class ForbiddenError(InvalidParametersError):
    """2001: the token is valid but does not allow this request (a spoofed OCPI-from party). The
    request reached the OCPI layer: HTTP 200 (401 is for the caller's own token only)."""


class PartyClaimRefusedError(InvalidParametersError):
    """2001: credentials name a party the platform may not register (not announced by the operator, or
    another platform's), see ``partners.party_claims``. Nothing is stored."""


class ResponseUrlRefusedError(InvalidParametersError):
    """A ``response_url`` the hub may not call (outbound address policy): refused before forwarding."""


class PayloadTooLargeError(ClientError):
    """Body over the configured limit; answered without reading the rest."""

    http_status = 413


class TooManyRequestsError(ClientError):
    """Over a rate limit (the platform's request rate, or too many failed authentications from one
    address): HTTP 429 with ``Retry-After`` in whole seconds."""

    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return ((b"retry-after", str(self.retry_after).encode()),)


class PerimeterRefusedError(ClientError):
    """The token is valid, but the request came from an address or with a client certificate its
    platform is not allowed to use."""


class NoSuchEndpointError(ClientError):
    """A path that is no endpoint of the hub."""

    http_status = 404


class MethodNotAllowedError(ClientError):
    """The credentials module's 405 cases (POST twice, PUT/DELETE before registration)."""

    http_status = 405


class ServerError(HubError):
    """3000: the hub failed."""

    ocpi_status = 3000
    http_status = 500


class ClientApiUnusableError(ServerError):
    """3001: we could not use the partner's versions/credentials API during registration. HTTP 200:
    the credentials POST was valid JSON, and a partner's log must show the message, not a bare 400."""

    ocpi_status = 3001
    http_status = 200


class UnsupportedVersionError(ServerError):
    """3002: no OCPI version in common."""

    ocpi_status = 3002
    http_status = 200


class NoMatchingEndpointsError(ServerError):
    """3003: the partner offers no endpoint the hub can use."""

    ocpi_status = 3003
    http_status = 200


class DatabaseUnavailableError(ServerError):
    """3000: the hub's database cannot be reached right now (an outage; the caller may retry).

    HTTP 200 with the OCPI error in the body; the admin API answers it with 503."""

    http_status = 200


class OutboundUrlRefusedError(ClientApiUnusableError):
    """3001: a URL of the partner's (its versions URL, version details, or a module endpoint) is one the
    hub may not call (outbound address policy); nothing was stored."""
