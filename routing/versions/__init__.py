"""The OCPI version bridge: typed models per version and pure translation between adjacent versions.

Same-version traffic never enters this package (:func:`needs_translation` says so); a crossing is a
chain of small steps 2.1.1 ↔ 2.2 ↔ 2.2.1 ↔ 2.3.0 over the decoded JSON document (dicts, lists and
``Decimal`` numbers, see :mod:`routing.versions.codec`). The Structs in ``v2_1_1`` … ``v2_3_0`` check
documents; the steps never re-encode a Struct, so vendor fields and exact numbers survive.
"""

from __future__ import annotations

from routing.versions.chain import needs_translation, translate, translate_list, translate_patch
from routing.versions.context import Context, Party, VersionedDocument
from routing.versions.errors import NotInVersionError, UntranslatableError
from routing.versions.losses import ALL_LOSSES, Loss
from routing.versions.tolerated import TOLERATED
from routing.versions.version import OcpiVersion

__all__ = [
    "ALL_LOSSES",
    "TOLERATED",
    "Context",
    "Loss",
    "NotInVersionError",
    "OcpiVersion",
    "Party",
    "UntranslatableError",
    "VersionedDocument",
    "needs_translation",
    "translate",
    "translate_list",
    "translate_patch",
]
