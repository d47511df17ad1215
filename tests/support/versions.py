"""Helpers for the version-bridge tests: where the spec's examples are, what each holds, which ones
disagree with the spec text, and a comparison of documents that names where they differ."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from routing.versions import Loss, OcpiVersion

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "ocpi-examples"
"""The spec's own JSON samples, kept beside the repository (never copied into it)."""

EXAMPLE_VERSIONS = (OcpiVersion.V2_2, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0)

KNOWN_BAD: dict[tuple[str, str], str] = {
    ("2.2", "cdr_example.json"): "writes evses_uid/connectors_* where CdrLocation has evse_uid/connector_*",
    **{("2.2", name): "connectors use 2.1.1's voltage/amperage; 2.2's Connector has max_voltage/max_amperage"
       for name in ("location_example.json", "location_example_parking_garage_opening_hours.json",
                    "location_example_uc2_destination_charger.json",
                    "location_example_uc3_destination_charger_not_published.json",
                    "location_example_uc4_limited_visibility.json", "location_example_uc5_home_charge_point.json")},
    **{(version, "location_put_example_add_evse.json"): "connector lacks power_type, max_voltage, max_amperage and "
       "last_updated, uses tariff_id and an EVSE 'floor'" for version in ("2.2", "2.2.1", "2.3.0")},
    **{(version, name): "uses token_uid/token_type where the Session has a cdr_token"
       for version in ("2.2", "2.2.1")
       for name in ("session_example_1_simple_start.json", "session_example_2_short_finished.json")},
    ("2.2.1", "cdr_example.json"): "cdr_token lacks the country_code/party_id 2.2.1 made mandatory (fixed in 2.2.1-d2)",
    **{(version, "tariff_put_example.json"): "lacks the required last_updated"
       for version in ("2.2", "2.2.1", "2.3.0")},
    ("2.2", "tariff_7_first_hour_kwh_free.json"): "lacks the required last_updated",
    ("2.3.0", "cdr_example.json"): "its Tariff lacks tax_included, required in 2.3.0",
    **{("2.3.0", name): "EVSE parking written as id strings; 2.3.0 says EVSEParking objects"
       for name in ("location_example.json", "location_example_parking_garage_opening_hours.json")},
    **{("2.3.0", name): "total_costs in 2.2.1's Price shape (excl_vat/incl_vat), not 2.3.0's before_taxes/taxes"
       for name in ("payment_financial_advice_confirmation_create.json",
                    "payment_financial_advice_confirmation_example_failure.json",
                    "payment_financial_advice_confirmation_example_success.json")},
    ("2.3.0", "payment_terminal_create_minimal.json"): "a Terminal without the required last_updated",
}
"""Samples that disagree with their version's spec text (the text wins), with the reason."""

PATCHES: dict[str, tuple[str, str]] = {
    "location_patch_example_location.json": ("locations", "location"),
    "location_patch_example_remove_evse.json": ("locations", "evse"),
    "location_patch_example_status.json": ("locations", "evse"),
    "location_patch_example_tariff.json": ("locations", "connector"),
    "session_patch_example_charging_period.json": ("sessions", "session"),
    "session_patch_example_total_cost.json": ("sessions", "session"),
    "token_patch_example.json": ("tokens", "token"),
    "payment_terminal_location_assignment.json": ("payments", "terminal"),
    "payment_terminal_put_update.json": ("payments", "terminal"),
}
"""Partial objects (PATCH bodies) and what they patch."""

NOT_OBJECTS = ("location_energymix_", "location_hours_", "location_regularhours_", "tariffrestriction_",
               "transport_and_format_", "type_displaytext_", "versions_info_")
"""Samples of a sub-object or of a whole envelope, not of an object the bridge translates alone."""

_PREFIXES = (("cdr_", "cdrs", "cdr"), ("credentials_", "credentials", "credentials"),
             ("location_put_example_add_evse", "locations", "evse"), ("location_", "locations", "location"),
             ("session_", "sessions", "session"), ("tariff_", "tariffs", "tariff"), ("token_", "tokens", "token"),
             ("payment_terminal", "payments", "terminal"),
             ("payment_financial", "payments", "financial_advice_confirmation"),
             ("version_details", "versions", "version_details"))


def object_of(name: str) -> tuple[str, str] | None:
    """(module, kind) a sample holds, None for samples of sub-objects and envelopes."""
    if name in PATCHES:
        return PATCHES[name]
    if name.startswith(NOT_OBJECTS):
        return None
    return next(((m, k) for prefix, m, k in _PREFIXES if name.startswith(prefix)), None)


def example_files() -> list[tuple[OcpiVersion, Path]]:
    if not EXAMPLES.is_dir():
        return []
    return [(v, f) for v in EXAMPLE_VERSIONS for f in sorted((EXAMPLES / v.value).glob("*.json"))]


def differences(a: Any, b: Any, path: str = "") -> Iterator[str]:
    """Dotted paths (list positions left out) where two documents differ; numbers compare as Decimals."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                yield sub
            else:
                yield from differences(a[key], b[key], sub)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield path
        else:
            for x, y in zip(a, b, strict=True):
                yield from differences(x, y, path)
    elif isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        if Decimal(a) != Decimal(b):
            yield path
    elif type(a) is not type(b) or a != b:
        yield path


_AUTHORIZATION_OWN = frozenset({"token", "authorization_reference", "location.connector_ids"})


def loss_paths(losses: Iterable[Loss], module: str, kind: str) -> set[str]:
    """Where in a ``module``/``kind`` document each loss may show (losses name paths from their own
    module's top object: an EVSE alone, a CDR's tariffs and a command's token are nested differently)."""
    paths = set()
    for loss in losses:
        field = loss.field
        if loss.module == "locations" and kind == "evse":
            field = field.removeprefix("evses.")
        elif loss.module == "locations" and kind == "connector":
            field = field.removeprefix("evses.connectors.")
        elif loss.module == "tariffs" and module == "cdrs":
            field = "tariffs." + field
        elif loss.module == "tokens" and kind == "location_references":
            field = field.removeprefix("location.")
        elif loss.module == "tokens" and kind != "token" and field not in _AUTHORIZATION_OWN:
            field = "token." + field
        paths.add(field)
        if field.endswith(".incl_vat"):
            paths.add(field.removesuffix(".incl_vat") + ".taxes")  # the same amount in 2.3.0's shape
    return paths


def unexplained(original: Any, back: Any, losses: Iterable[Loss], module: str, kind: str) -> list[str]:
    """Differences between a document and its round trip that no reported loss accounts for."""
    paths = loss_paths(losses, module, kind)
    return [d for d in differences(original, back)
            if not any(d == p or d.startswith(p + ".") or p.startswith(d + ".") for p in paths)]
