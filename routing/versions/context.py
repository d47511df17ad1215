"""What a translation step may need that the document itself does not say.

The wiring (registration, routing) fills this from what it knows about the parties of the request:
the snapshot, the routing headers, a per-platform setting, an object the hub saw earlier. A step
that needs a value the context lacks raises :class:`~routing.versions.errors.UntranslatableError`
naming the target field; it never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from routing.versions.version import OcpiVersion


@dataclass(frozen=True, slots=True)
class Party:
    country_code: str
    party_id: str


@dataclass(frozen=True, slots=True)
class VersionedDocument:
    """A decoded object together with the OCPI version it is written in."""

    version: OcpiVersion
    document: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    owner: Party | None = None
    """The party that owns the object (the CPO of a Location/Session/CDR/Tariff, the eMSP of a Token):
    fills the ``country_code``/``party_id`` 2.2 added to those objects, when coming from 2.1.1."""

    token_owner: Party | None = None
    """The eMSP that issued the token a ``cdr_token`` names: fills the owner fields 2.2.1 added to
    CdrToken (from a 2.2 or 2.1.1 document). Usually the push's OCPI-to party."""

    token_uid: str | None = None
    token_type: str | None = None
    """``uid``/``type`` of the token behind a 2.1.1 ``auth_id`` (2.2 CdrToken requires both; 2.1.1
    names the contract only). Known to the hub from the authorization or command it routed."""

    time_zone: str | None = None
    """The operator's per-platform default for a Location that lacks ``time_zone`` (optional in
    2.1.1, required from 2.2 on and left out by some 2.2 stacks)."""

    command_timeout: int | None = None
    """Seconds the hub waits for an asynchronous command result: the ``timeout`` 2.2 added to a
    CommandResponse, when the answer comes from a 2.1.1 CPO."""

    location: VersionedDocument | None = None
    """The Location a Session or CDR took place at: a 2.1.1 Session/CDR carries the whole Location
    (with only the EVSE and connector used), where 2.2+ carries ids or a CdrLocation."""

    token: VersionedDocument | None = None
    """The Token an AuthorizationInfo answers for (2.2 made ``token`` required there)."""

    role: str | None = None
    """The role of a 2.1.1 party, which its flat credentials do not carry: given by the operator."""
