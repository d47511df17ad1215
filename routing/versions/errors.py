"""Why a crossing cannot be made. Both are 2001 answers: the request is valid JSON, but it lacks what
the other party's version requires. HTTP 200 per the interim rule (the OCPI status carries the error)."""

from __future__ import annotations

from partners.errors import InvalidParametersError


class UntranslatableError(InvalidParametersError):
    """A field the target version requires cannot be derived from the document and the context."""

    http_status = 200

    def __init__(self, module: str, field: str, reason: str) -> None:
        super().__init__(f"cannot translate {module}: {field}: {reason}")
        self.module = module
        self.field = field


class NotInVersionError(InvalidParametersError):
    """The object or module does not exist in the target version (a CancelReservation for a 2.1.1
    CPO, charging profiles or payments below their version)."""

    http_status = 200

    def __init__(self, module: str, kind: str, version: str) -> None:
        super().__init__(f"{module} {kind} does not exist in OCPI {version}")
        self.module = module
        self.kind = kind
        self.version = version
