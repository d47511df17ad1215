"""Errors the hub meets while routing: one class per OCPI hub status code (4xxx), and the policy's
denials (one class per rule).

The spec names no HTTP status for 4000-4003. Ours is 200, like every other OCPI-layer error
(``status_codes.asciidoc``: a valid request to an existing resource gets no HTTP error), because of
what partner stacks do with a non-2xx answer: their HTTP client raises before the body is read, so
the code and the message naming the receiver never reach their logs; retry policies of HTTP clients
and gateways resend on 502/504 by themselves, which after a 4002 ("may or may not have been
delivered") duplicates a command or a CDR; proxies in front of partners replace 5xx bodies with
pages of their own; and 5xx alarms fire on the partner's side for a receiver it does not run. A
stack that reads no status_code at all already mistakes a receiver's own 2xxx/3xxx (always HTTP 200)
for success, so a non-2xx status would buy it nothing the spec does not already deny it. Hence no
setting. Listed in the README.
"""

from __future__ import annotations

from typing import ClassVar

from partners.errors import HubError


class RoutingError(HubError):
    """4000: generic hub error."""

    ocpi_status = 4000
    http_status = 200


class ReceiverLacksModuleError(RoutingError):
    """4000: the addressed party exists but does not offer the module interface asked for."""


class UnknownReceiverError(RoutingError):
    """4001: the OCPI-to party is not known to the hub."""

    ocpi_status = 4001


class ForwardTimeoutError(RoutingError):
    """4002: forwarded, but no answer in time; the receiver may or may not have acted on it."""

    ocpi_status = 4002


class ReceiverUnreachableError(RoutingError):
    """4003: the receiving party is not connected (planned, suspended, refused, reset, not speaking HTTP)."""

    ocpi_status = 4003


class ReceiverRefusedHubError(ReceiverUnreachableError):
    """4003: the receiver refused the hub's own credentials (it answered HTTP 401 or 403). Never passed
    on as a 401/403: that would tell the caller that *its* token is dead. The operator sees it per
    platform (``GET /admin/platforms/{id}``) and in ``ocpihub_receiver_auth_refusals_total``."""


class AnswerBufferFullError(RoutingError):
    """4003: the hub already holds as many receivers' answers in memory as OCPI_HUB_ANSWER_BUFFER_BYTES
    allows, so this one was not read. The hub is busy (HTTP 429, as for a full backlog); the receiver
    did nothing wrong and the caller may retry shortly."""

    ocpi_status = 4003
    http_status = 429

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        # Answers are written out within moments; a second is a fair guess at when room frees up.
        return ((b"retry-after", b"1"),)


class BacklogFullError(RoutingError):
    """4000 with HTTP 429: a broadcast push that does not fit in the delivery backlog, or that reaches a
    process shutting down. Nothing of it was accepted; the sender may retry after ``retry_after`` seconds."""

    http_status = 429
    retry_after = 1

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return ((b"retry-after", str(self.retry_after).encode()),)


class UntranslatableAnswerError(RoutingError):
    """4000: the receiver answered, but its answer cannot be carried into the caller's OCPI version (a
    field the caller's version requires cannot be derived). The request reached the OCPI layer: HTTP 200
    with the error in the body."""

    http_status = 200


# -- policy denials ------------------------------------------------------------------------------
# Refusals of routing/policy.py, one class per rule. The request was well-formed and reached the OCPI
# layer, so the answer is HTTP 200 with the OCPI code in the body (status codes chapter); each code is
# chosen per rule and listed, with the reason, in the README.


class DeniedError(HubError):
    """The policy refuses the request; ``rule`` is the closed label of ``ocpihub_policy_denials_total``."""

    rule: ClassVar[str] = ""
    http_status = 200


class RoleDeniedError(DeniedError):
    """2000: the party's role does not call (or serve) this module interface."""

    rule = "role"
    ocpi_status = 2000


class OwnershipDeniedError(DeniedError):
    """2001: the URL or body names another party as the owner of the object."""

    rule = "ownership"
    ocpi_status = 2001


class AgreementDeniedError(DeniedError):
    """4000: no roaming agreement covers these two parties and this module now (a routing refusal of the hub's)."""

    rule = "agreement"
    ocpi_status = 4000


class SuspendedError(DeniedError):
    """2000: the caller's platform is suspended by the hub operator."""

    rule = "suspended"
    ocpi_status = 2000


class AmbiguousReceiverError(DeniedError):
    """2002: open routing found several possible receivers and will not guess (send OCPI-to-*)."""

    rule = "ambiguous"
    ocpi_status = 2002


DENIALS: tuple[type[DeniedError], ...] = (
    RoleDeniedError, OwnershipDeniedError, AgreementDeniedError, SuspendedError, AmbiguousReceiverError)
RULES: tuple[str, ...] = tuple(d.rule for d in DENIALS)
"""The closed set of policy rules (the ``rule`` metric label)."""
