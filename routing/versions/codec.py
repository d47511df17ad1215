"""Bytes ↔ document with exact numbers.

Translation works on the decoded JSON document, not on Structs: numbers become ``Decimal`` so that
``0.10`` leaves the hub as ``0.10`` (a float would not round-trip every value the spec allows), and
fields we do not model stay where the partner put them. Built once at import.
"""

from __future__ import annotations

import decimal
from typing import Any

import msgspec

_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def decode(body: bytes) -> Any:
    """A JSON body as dicts, lists, str, int, bool, None and ``Decimal``; raises ``msgspec.DecodeError``."""
    return _DECODER.decode(body)


def encode(document: Any) -> bytes:
    """The document as compact JSON; ``Decimal`` values are written as JSON numbers, digit for digit."""
    return _ENCODER.encode(document)
