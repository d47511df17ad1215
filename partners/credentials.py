"""The credentials object in each OCPI version, both ways: what a partner sends, read into one form
(:class:`~partners.model.Credentials`, the 2.2.1 object with its ``roles``), and what the hub answers,
written in the partner's version.

* 2.1.1 is flat: one party (``business_details``, ``party_id``, ``country_code``) and no role. The
  role comes from the operator (an invitation's ``parties``, or the registration call's ``role`` or
  ``parties``: a :class:`RoleSource`); without it the registration is refused, naming the party.
* 2.2 and 2.2.1 list ``roles``; the hub names itself with exactly one role, HUB (2.2.1 credentials
  chapter: a hub reports its connected parties through hubclientinfo, not as roles).
* 2.3.0 has no HUB role: the hub gives its own party in ``hub_party_id`` and lists in ``roles`` the
  parties reachable through it. A partner that gives ``hub_party_id`` is itself a hub, which this hub
  does not connect to (the same as a HUB role in 2.2.1).

Pure: no I/O; the registrar and the credentials endpoint call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec

from partners.errors import NoMatchingEndpointsError, RoleUnknownError
from partners.model import (
    BusinessDetails,
    CountryCode,
    Credentials,
    CredentialsRole,
    CredentialsTokenText,
    PartyId,
    Role,
    Url,
)
from partners.registry import Party, PartyKey, party_key
from partners.tokens import Secret
from routing.versions.version import OcpiVersion

HubPartyId = Annotated[str, msgspec.Meta(min_length=5, max_length=5, pattern="^[A-Za-z]{2}[A-Za-z0-9]{3}$")]


class FlatCredentials(msgspec.Struct, kw_only=True, omit_defaults=True):
    """OCPI 2.1.1's credentials: one party, no role."""

    token: CredentialsTokenText
    url: Url
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials230(msgspec.Struct, kw_only=True, omit_defaults=True):
    """OCPI 2.3.0's credentials: ``hub_party_id`` names the hub party of a routing platform."""

    token: CredentialsTokenText
    url: Url
    hub_party_id: HubPartyId | None = None
    roles: list[CredentialsRole]


AnyCredentials = FlatCredentials | Credentials | Credentials230


def wire_type(version: OcpiVersion) -> type[AnyCredentials]:
    """The Struct a credentials object of ``version`` decodes into."""
    if version is OcpiVersion.V2_1_1:
        return FlatCredentials
    if version is OcpiVersion.V2_3_0:
        return Credentials230
    return Credentials


@dataclass(frozen=True)
class RoleSource:
    """Where the role of a 2.1.1 party comes from, since its credentials do not say it: the parties the
    operator announced (an invitation's ``parties``, or the platform's parties at an update), and the
    operator's ``role`` for whichever party the partner turns out to be."""

    known: Mapping[PartyKey, tuple[Role, ...]] = field(default_factory=dict)
    default: Role | None = None

    @classmethod
    def of_parties(cls, parties: Iterable[Party], default: Role | None = None) -> RoleSource:
        known: dict[PartyKey, tuple[Role, ...]] = {}
        for party in parties:
            known[party.key] = (*known.get(party.key, ()), party.role)
        return cls(known, default)

    def roles_for(self, key: PartyKey) -> tuple[Role, ...]:
        found = self.known.get(key)
        if found:
            return found
        return (self.default,) if self.default is not None else ()


def read(version: OcpiVersion, theirs: AnyCredentials, roles: RoleSource) -> Credentials:
    """A partner's credentials of ``version`` as the one form the hub stores."""
    if isinstance(theirs, FlatCredentials):
        key = party_key(theirs.country_code, theirs.party_id)
        found = roles.roles_for(key)
        if not found:
            raise RoleUnknownError(
                f"OCPI {version} credentials carry no role, and the hub operator has not said which role party "
                f"{key[0]}*{key[1]} plays: the operator must announce it (an invitation with parties "
                "[{country_code, party_id, role}], or a registration with role) before it can register")
        return Credentials(token=theirs.token, url=theirs.url, roles=[
            CredentialsRole(role=role, business_details=theirs.business_details, party_id=theirs.party_id,
                            country_code=theirs.country_code) for role in found])
    if isinstance(theirs, Credentials230):
        if theirs.hub_party_id is not None:
            raise NoMatchingEndpointsError(
                f"the hub does not connect to other hubs yet (hub_party_id {theirs.hub_party_id} given)")
        return Credentials(token=theirs.token, url=theirs.url, roles=theirs.roles)
    return theirs


def convert(version: OcpiVersion, data: Any) -> AnyCredentials:
    """A decoded JSON value as the credentials Struct of ``version`` (raises ``msgspec.ValidationError``)."""
    return msgspec.convert(data, wire_type(version))


class HubIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """Who the hub is towards partners: its own party (role HUB up to 2.2.1) and public URL."""

    country_code: str
    party_id: str
    name: str
    public_url: str

    @property
    def versions_url(self) -> str:
        return f"{self.public_url}/ocpi/versions"

    def credentials(self, token: Secret, version: OcpiVersion = OcpiVersion.V2_2_1,
                    reachable: Iterable[Party] = ()) -> AnyCredentials:
        """What the hub tells a partner of ``version`` about itself, with ``token`` for the partner to use.
        ``reachable``: the parties a 2.3.0 partner can reach through the hub (others' registered parties)."""
        details = BusinessDetails(name=self.name)
        if version is OcpiVersion.V2_1_1:
            return FlatCredentials(token=token.reveal(), url=self.versions_url, business_details=details,
                                   party_id=self.party_id, country_code=self.country_code)
        if version is OcpiVersion.V2_3_0:
            roles = _reachable_roles(reachable)
            if not roles:
                # 2.3.0 requires at least one role. With no party behind the hub yet, it names its own party
                # (the one in hub_party_id) as OTHER, the only role 2.3.0 leaves for it.
                roles = [CredentialsRole(role=Role.OTHER, business_details=details, party_id=self.party_id,
                                         country_code=self.country_code)]
            return Credentials230(token=token.reveal(), url=self.versions_url,
                                  hub_party_id=f"{self.country_code}{self.party_id}", roles=roles)
        return Credentials(token=token.reveal(), url=self.versions_url, roles=[
            CredentialsRole(role=Role.HUB, business_details=details, party_id=self.party_id,
                            country_code=self.country_code)])


def _reachable_roles(parties: Iterable[Party]) -> list[CredentialsRole]:
    seen: set[tuple[str, str, Role]] = set()
    roles = []
    for party in sorted(parties, key=lambda p: (p.key, p.role)):
        if party.role is Role.HUB or (party.country_code, party.party_id, party.role) in seen:
            continue
        seen.add((party.country_code, party.party_id, party.role))
        roles.append(CredentialsRole(role=party.role, business_details=BusinessDetails(
            name=party.business_name or party.label), party_id=party.party_id, country_code=party.country_code))
    return roles
