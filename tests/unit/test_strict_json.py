"""What counts as JSON from a partner: syntax, UTF-8 throughout, and nesting the decoder can follow."""

from __future__ import annotations

import msgspec
import pytest

from partners import strict_json

ACCEPTED = [
    b'{"uid":"abc"}',
    b"[]",
    b"1",
    '{"city":"Düsseldorf","price":"€ 0,10","emoji":"\U0001F50C"}'.encode(),
    # A multi-byte character across the 64 KiB slice boundary of the incremental check.
    b'{"a":"' + "ü".encode() * 40_000 + b'"}',
    b"[" * 200 + b"]" * 200,
]

REFUSED = {
    "xff in a string": b'{"uid":"\xff"}',
    "overlong slash": b'{"uid":"\xc0\xaf"}',
    "encoded surrogate": b'{"uid":"\xed\xa0\x80"}',
    "beyond U+10FFFF": b'{"uid":"\xf4\x90\x80\x80"}',
    "truncated sequence": b'{"uid":"\xe2\x82"}',
    "xff in a key": b'{"\xff":1}',
    "invalid byte past the first slice": b'{"a":"' + "ü".encode() * 40_000 + b'\xff"}',
    "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "truncated": b'{"uid":"abc"',
    "not json": b"uid=abc",
    "empty": b"",
}


@pytest.mark.parametrize("body", ACCEPTED, ids=range(len(ACCEPTED)))
def test_json_is_accepted(body: bytes) -> None:
    strict_json.check(body)
    strict_json.decode(body, object)


@pytest.mark.parametrize("body", REFUSED.values(), ids=REFUSED.keys())
def test_not_json_is_refused_by_check_and_decode(body: bytes) -> None:
    with pytest.raises(strict_json.InvalidJson):
        strict_json.check(body)
    with pytest.raises(strict_json.InvalidJson):
        strict_json.decode(body, object)


def test_msgspec_alone_lets_invalid_utf8_through() -> None:
    """Why the module exists: if msgspec ever checks this itself, the extra pass can go."""
    msgspec.json.Decoder(msgspec.Raw).decode(b'{"uid":"\xff"}')


class View(msgspec.Struct):
    uid: str


def test_unknown_fields_are_checked_too() -> None:
    with pytest.raises(strict_json.InvalidJson, match="UTF-8"):
        strict_json.decode(b'{"uid":"a","vendor_field":"\xff"}', View)
    with pytest.raises(strict_json.InvalidJson, match="nested too deeply"):
        strict_json.decode(b'{"uid":"a","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", View)


def test_wrong_shape_is_a_validation_error_not_invalid_json() -> None:
    with pytest.raises(msgspec.ValidationError):
        strict_json.decode(b'{"uid":1}', View)
