"""The hub's own endpoints in each OCPI version: what its version details advertise, and so the URL
shapes a party of that version calls (2.2.1 is routed today; the other versions' module URLs are the
contract the cross-version routing serves).

* 2.1.1: one URL per module and no interface role, ``/ocpi/2.1.1/{module}/``: a 2.1.1 party calls the
  hub as it would call its counterparty, whose one module endpoint plays the interface its role needs.
* 2.2, 2.2.1, 2.3.0: one URL per module and interface role, ``/ocpi/{v}/{sender|receiver}/{module}/``,
  the hub's ``hubclientinfo`` (SENDER: the hub owns ClientInfo) and, in 2.3.0, ``payments``.
* ``credentials`` once per version, ``/ocpi/{v}/credentials/``, role SENDER from 2.2 on: the 2.2.1-d2
  errata and 2.3.0 advise SENDER for one's own credentials endpoint, and OCN-era 2.2 stacks look it up
  with role SENDER only.

Every URL ends in ``/``: partner libraries build ``{endpoint}{country_code}/{party_id}/{id}`` by plain
concatenation, as the spec's own URL templates do.
"""

from __future__ import annotations

from partners.model import Endpoint, InterfaceRole, VersionDetails
from routing.modules import INTERFACE_SEGMENT, ROUTED_MODULES
from routing.versions.version import ORDER, OcpiVersion

HUB_VERSIONS: tuple[OcpiVersion, ...] = ORDER
"""Every version the hub speaks, oldest first (the order of ``GET /ocpi/versions``)."""

_BEFORE_PAYMENTS = tuple(m for m in ROUTED_MODULES if m != "payments")

MODULES: dict[OcpiVersion, tuple[str, ...]] = {
    OcpiVersion.V2_1_1: ("cdrs", "commands", "locations", "sessions", "tariffs", "tokens"),
    OcpiVersion.V2_2: _BEFORE_PAYMENTS,
    OcpiVersion.V2_2_1: _BEFORE_PAYMENTS,
    OcpiVersion.V2_3_0: ROUTED_MODULES,
}
"""The functional modules the hub offers a party of each version (chargingprofiles is 2.2 on,
payments 2.3.0 on)."""


def version_path(version: OcpiVersion) -> str:
    return f"/ocpi/{version}/"


def credentials_path(version: OcpiVersion) -> str:
    return f"/ocpi/{version}/credentials/"


def hubclientinfo_path(version: OcpiVersion) -> str | None:
    """None for 2.1.1, which has no hub and no hubclientinfo."""
    return None if version is OcpiVersion.V2_1_1 else f"/ocpi/{version}/hubclientinfo/"


def module_path(version: OcpiVersion, module: str, interface: InterfaceRole | None) -> str:
    """``interface`` is ignored for 2.1.1 (no interface roles) and required for every later version."""
    if version is OcpiVersion.V2_1_1:
        return f"/ocpi/{version}/{module}/"
    if interface is None:
        raise ValueError(f"OCPI {version} endpoints have an interface role")
    return f"/ocpi/{version}/{INTERFACE_SEGMENT[interface]}/{module}/"


def routed_prefixes() -> tuple[str, ...]:
    """Path prefixes of every module URL the hub advertises: what goes to the routing handler (the rest,
    versions, credentials and hubclientinfo, is the hub's own). No slash after a 2.1.1 module: a URL
    glued to the module name (``/ocpi/2.1.1/locationsLOC1``) is the handler's to refuse or accept."""
    prefixes: list[str] = []
    for version in HUB_VERSIONS:
        if version is OcpiVersion.V2_1_1:
            prefixes += [f"/ocpi/{version}/{module}" for module in MODULES[version]]
        else:
            prefixes += [f"/ocpi/{version}/{segment}/" for segment in INTERFACE_SEGMENT.values()]
    return tuple(prefixes)


def version_details(version: OcpiVersion, base_url: str) -> VersionDetails:
    """The hub's version details for ``version``: every module in every interface role, so that a CPO
    and an eMSP can each use the hub exactly as they would use their counterparty."""
    if version is OcpiVersion.V2_1_1:
        endpoints = [Endpoint(identifier="credentials", url=base_url + credentials_path(version))]
        endpoints += [Endpoint(identifier=m, url=base_url + module_path(version, m, None)) for m in MODULES[version]]
        return VersionDetails(version=version.value, endpoints=endpoints)
    endpoints = [Endpoint(identifier="credentials", role=InterfaceRole.SENDER,
                          url=base_url + credentials_path(version))]
    hubclientinfo = hubclientinfo_path(version)
    assert hubclientinfo is not None
    endpoints.append(Endpoint(identifier="hubclientinfo", role=InterfaceRole.SENDER, url=base_url + hubclientinfo))
    for module in MODULES[version]:
        for interface in (InterfaceRole.SENDER, InterfaceRole.RECEIVER):
            endpoints.append(Endpoint(identifier=module, role=interface,
                                      url=base_url + module_path(version, module, interface)))
    return VersionDetails(version=version.value, endpoints=endpoints)
