"""What a crossing can lose: a closed set of ``(module, field)`` pairs, the label set of
``ocpihub_translation_losses_total{module,field}``.

``field`` is a dotted path from the module's top object (list indices left out): a loss inside an
EVSE is ``evses.capabilities`` whether the document was a Location or the EVSE alone. A step reports
each loss once per document. The README's table of lossy crossings is written from this table.
"""

from __future__ import annotations

from typing import NamedTuple


class Loss(NamedTuple):
    module: str
    field: str


TABLE: dict[str, tuple[str, ...]] = {
    "locations": (
        "country_code", "party_id", "type", "parking_type", "publish_allowed_to", "state", "facilities",
        "energy_mix.environ_impact", "images.category", "parking_places", "help_phone", "evses",
        "evses.capabilities", "evses.parking_restrictions", "evses.parking", "evses.accepted_service_providers",
        "evses.connectors", "evses.connectors.max_electric_power", "evses.connectors.tariff_ids",
        "evses.connectors.capabilities",
    ),
    "sessions": (
        "country_code", "party_id", "cdr_token", "cdr_token.country_code", "cdr_token.party_id", "cdr_token.type",
        "authorization_reference", "location", "total_cost.incl_vat", "total_cost.taxes", "status",
        "auth_method", "charging_periods.dimensions", "charging_periods.tariff_id",
    ),
    "cdrs": (
        "country_code", "party_id", "session_id", "cdr_token", "cdr_token.country_code", "cdr_token.party_id",
        "cdr_token.type", "authorization_reference", "location", "cdr_location.state", "auth_method",
        "signed_data", "total_cost.incl_vat", "total_cost.taxes", "total_fixed_cost", "total_energy_cost",
        "total_time_cost", "total_parking_cost", "total_reservation_cost", "total_fixed_cost.taxes",
        "total_energy_cost.taxes", "total_time_cost.taxes", "total_parking_cost.taxes",
        "total_reservation_cost.taxes", "invoice_reference_id",
        "credit_reference_id", "home_charging_compensation", "charging_periods.dimensions",
        "charging_periods.tariff_id",
    ),
    "tariffs": (
        "country_code", "party_id", "type", "min_price", "max_price", "start_date_time", "end_date_time",
        "preauthorize_amount", "tax_included", "elements.price_components.vat", "elements.restrictions.min_current",
        "elements.restrictions.max_current", "elements.restrictions.reservation", "energy_mix.environ_impact",
    ),
    "tokens": (
        "country_code", "party_id", "type", "group_id", "default_profile_type", "energy_contract", "token",
        "authorization_reference", "location.connector_ids",
    ),
    "commands": (
        "result", "timeout", "message", "authorization_reference", "connector_id",
    ),
    "hubclientinfo": (
        "role",
    ),
    "credentials": (
        "roles", "roles.role", "hub_party_id",
    ),
}

ALL_LOSSES: frozenset[Loss] = frozenset(Loss(m, f) for m, fields in TABLE.items() for f in fields)


def declare(module: str, field: str) -> Loss:
    """A loss constant for a step module; fails at import if the pair is not in :data:`TABLE`."""
    loss = Loss(module, field)
    if loss not in ALL_LOSSES:
        raise LookupError(f"undeclared translation loss {loss}")
    return loss
