"""The closed enum values of each version, for stepping down: a value the target version lacks is
mapped or dropped (and counted) by the step. 2.3.0 needs no entry: its OpenEnums take any value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from routing.versions import v2_1_1, v2_2, v2_2_1
from routing.versions.version import OcpiVersion


def _values(literal: Any) -> frozenset[str]:
    return frozenset(get_args(literal))


@dataclass(frozen=True, slots=True, kw_only=True)
class Vocabulary:
    capabilities: frozenset[str]
    connector_types: frozenset[str]
    power_types: frozenset[str]
    facilities: frozenset[str]
    parking_restrictions: frozenset[str]
    parking_types: frozenset[str]
    image_categories: frozenset[str]
    impact_categories: frozenset[str]
    token_types: frozenset[str]
    cdr_dimensions: frozenset[str]
    auth_methods: frozenset[str]
    session_statuses: frozenset[str]
    roles: frozenset[str]


_V2_2 = Vocabulary(
    capabilities=_values(v2_2.Capability), connector_types=_values(v2_2.ConnectorType),
    power_types=_values(v2_2.PowerType), facilities=_values(v2_2.Facility),
    parking_restrictions=_values(v2_2.ParkingRestriction), parking_types=_values(v2_2.ParkingType),
    image_categories=_values(v2_2.ImageCategory), impact_categories=_values(v2_2.EnvironmentalImpactCategory),
    token_types=_values(v2_2.TokenType), cdr_dimensions=_values(v2_2.CdrDimensionType),
    auth_methods=_values(v2_2.AuthMethod), session_statuses=_values(v2_2.SessionStatus), roles=_values(v2_2.Role))

VOCABULARY: dict[OcpiVersion, Vocabulary] = {
    OcpiVersion.V2_1_1: Vocabulary(
        capabilities=_values(v2_1_1.Capability), connector_types=_values(v2_1_1.ConnectorType),
        power_types=_values(v2_1_1.PowerType), facilities=_values(v2_1_1.Facility),
        parking_restrictions=_values(v2_1_1.ParkingRestriction), parking_types=_values(v2_1_1.LocationType),
        image_categories=_values(v2_2.ImageCategory), impact_categories=_values(v2_1_1.EnvironmentalImpactCategory),
        token_types=_values(v2_1_1.TokenType), cdr_dimensions=_values(v2_1_1.CdrDimensionType),
        auth_methods=_values(v2_1_1.AuthMethod), session_statuses=_values(v2_1_1.SessionStatus),
        roles=frozenset({"CPO", "EMSP"})),
    OcpiVersion.V2_2: _V2_2,
    OcpiVersion.V2_2_1: Vocabulary(
        capabilities=_values(v2_2_1.Capability), connector_types=_values(v2_2_1.ConnectorType),
        power_types=_values(v2_2_1.PowerType), facilities=_V2_2.facilities,
        parking_restrictions=_V2_2.parking_restrictions, parking_types=_V2_2.parking_types,
        image_categories=_V2_2.image_categories, impact_categories=_V2_2.impact_categories,
        token_types=_V2_2.token_types, cdr_dimensions=_V2_2.cdr_dimensions, auth_methods=_V2_2.auth_methods,
        session_statuses=_V2_2.session_statuses, roles=_V2_2.roles),
}
