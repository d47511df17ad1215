"""The OCPI versions the bridge knows, in order, and the adjacent steps between two of them."""

from __future__ import annotations

import enum


class OcpiVersion(enum.StrEnum):
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"
    V2_2_1 = "2.2.1"
    V2_3_0 = "2.3.0"


ORDER: tuple[OcpiVersion, ...] = (OcpiVersion.V2_1_1, OcpiVersion.V2_2, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0)
_RANK = {v: i for i, v in enumerate(ORDER)}


def hops(source: OcpiVersion, target: OcpiVersion) -> tuple[tuple[OcpiVersion, OcpiVersion], ...]:
    """The adjacent (from, to) pairs a document walks from ``source`` to ``target``; empty if equal."""
    a, b = _RANK[source], _RANK[target]
    if a <= b:
        return tuple((ORDER[i], ORDER[i + 1]) for i in range(a, b))
    return tuple((ORDER[i], ORDER[i - 1]) for i in range(a, b, -1))
