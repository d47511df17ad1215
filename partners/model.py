"""OCPI payloads the hub reads or writes itself, with the spec's field names verbatim.

Partner payloads decode leniently (unknown fields are ignored); constraints live in the
``Annotated`` aliases so that a decode error names the field and the rule.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import zoneinfo
from typing import Annotated, Any

import msgspec

CountryCode = Annotated[str, msgspec.Meta(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$")]
PartyId = Annotated[str, msgspec.Meta(min_length=3, max_length=3, pattern="^[A-Za-z0-9]{3}$")]
CredentialsTokenText = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern="^[\\x21-\\x7e]+$")]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
# A certificate's SHA-256 fingerprint in hex, as `openssl x509 -fingerprint -sha256` prints it or without colons.
Fingerprint = Annotated[str, msgspec.Meta(pattern="^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$")]


class Role(enum.StrEnum):
    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"
    # Payment Terminal Provider (2.3.0): owns the payments module; on the eMSP side of every other module
    # (it starts sessions, pulls locations and tariffs, receives CDRs).
    PTP = "PTP"


class InterfaceRole(enum.StrEnum):
    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class ModuleID(enum.StrEnum):
    CDRS = "cdrs"
    CHARGINGPROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUBCLIENTINFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class ConnectionStatus(enum.StrEnum):
    """hubclientinfo's ConnectionStatus, also the platform status the hub keeps."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class Image(msgspec.Struct, kw_only=True, omit_defaults=True):
    url: str
    category: str
    type: str
    thumbnail: str | None = None
    width: int | None = None
    height: int | None = None


class BusinessDetails(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    website: str | None = None
    logo: Image | None = None


class CredentialsRole(msgspec.Struct, kw_only=True, omit_defaults=True):
    role: Role
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials(msgspec.Struct, kw_only=True, omit_defaults=True):
    token: CredentialsTokenText
    url: Url
    roles: list[CredentialsRole]


class Version(msgspec.Struct, kw_only=True):
    version: str
    url: str


class Endpoint(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True):
    identifier: str
    url: str
    # OCPI 2.2 made role mandatory; for credentials it carries no meaning and some stacks omit it.
    role: InterfaceRole | None = None


class VersionDetails(msgspec.Struct, kw_only=True):
    version: str
    endpoints: list[Endpoint]


Sha256Fingerprint = Annotated[str, msgspec.Meta(pattern="^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$")]


class OutboundTls(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True, frozen=True):
    """How the hub checks one platform's TLS certificates when it calls it. Absent: verified against
    the system CA store (and ``OCPI_HUB_OUTBOUND_CA_FILE``), name included."""

    # SHA-256 of the certificate (DER) the platform's server presents, hex, colons optional. Set, it is
    # the only check: a self-signed certificate, or one for another name, is accepted if it is this one.
    pin_sha256: Sha256Fingerprint | None = None
    # False: no check at all, for this platform only (a test system with a throwaway certificate).
    # There is no hub-wide switch for this on purpose.
    verify: bool = True

    def __post_init__(self) -> None:
        if self.pin_sha256 is not None and not self.verify:
            raise ValueError("pin_sha256 and verify=false contradict each other: a pin is a check")

    @property
    def pin(self) -> bytes | None:
        return bytes.fromhex(self.pin_sha256.replace(":", "")) if self.pin_sha256 else None


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class AnnouncedParty(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A party the operator said a platform brings (an invitation's or a hub-initiated registration's ``parties``)."""

    country_code: CountryCode
    party_id: PartyId
    role: Role

    @property
    def key(self) -> tuple[str, str, Role]:
        return (self.country_code.upper(), self.party_id.upper(), self.role)


class PlatformSettings(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True, frozen=True):
    """Per-platform settings an operator sets through the admin API (``PATCH /admin/platforms/{id}/settings``),
    stored as one JSON object. Every field is optional: absent means the hub-wide default. Add a field here
    (with a comment saying what it bounds) to add a setting; the admin API and the snapshot pick it up."""

    # How the hub checks this platform's certificates on outbound calls (pin or relax); None: verified.
    outbound_tls: OutboundTls | None = None
    # Requests per second this platform may make, per hub process (0: unlimited), and how many it may
    # make at once above that rate. Absent: OCPI_HUB_RATE_LIMIT and OCPI_HUB_RATE_LIMIT_BURST.
    rate_limit: Annotated[float, msgspec.Meta(ge=0)] | None = None
    rate_limit_burst: Annotated[int, msgspec.Meta(ge=1)] | None = None
    # Networks (CIDRs) this platform's requests may come from; any other client address is refused.
    # Behind a proxy the client address comes from X-Forwarded-For, trusted only from OCPI_HUB_TRUSTED_PROXIES.
    allowed_networks: list[str] | None = None
    # The client certificate(s) this platform must present over TLS (to the hub, or to a trusted proxy that
    # forwards it): SHA-256 fingerprints, and/or subjects in RFC 4514 text. With either set, a request with
    # this platform's token but without a matching certificate is refused.
    client_cert_sha256: list[Fingerprint] | None = None
    client_cert_subjects: list[Annotated[str, msgspec.Meta(min_length=1)]] | None = None
    # The parties the operator announced for this platform (written by an invitation's or a hub-initiated
    # registration's `parties`). Set, its credentials (POST and PUT, either side) may register only these;
    # and a country_code+party_id another platform holds, in any role, only if announced here (one company's
    # CPO and eMSP back offices on two platforms). See partners.party_claims.
    announced_parties: list[AnnouncedParty] | None = None
    # The IANA time zone of this platform's Locations where they leave ``time_zone`` out (optional in 2.1.1,
    # left out by some 2.2 stacks, required from 2.2 on): what the hub fills in when it translates them.
    # Absent: a 2.1.1 Location without one cannot be translated (2001), a 2.2 one is passed on without it.
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None

    def __post_init__(self) -> None:
        if self.time_zone is not None and self.time_zone not in _time_zones():
            raise ValueError(f"time_zone: {self.time_zone!r} is not an IANA time zone (e.g. Europe/Amsterdam)")
        for text in self.allowed_networks or ():
            try:
                ipaddress.ip_network(text, strict=True)
            except ValueError as exc:
                raise ValueError(f"allowed_networks: {text!r} is not a network in CIDR notation ({exc})") from None


class Envelope(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The OCPI response wrapper around every body."""

    status_code: int
    timestamp: str
    data: Any = None
    status_message: str | None = None
