"""What counts as JSON from a partner: syntax, UTF-8 throughout, and nesting the decoder can follow."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partners import strict_json
from partners.strict_json import MAX_DEPTH

ACCEPTED = [
    b'{"uid":"abc"}',
    b"[]",
    b"1",
    '{"city":"Düsseldorf","price":"€ 0,10","emoji":"\U0001F50C"}'.encode(),
    # A multi-byte character across the 64 KiB slice boundary of the incremental check.
    b'{"a":"' + "ü".encode() * 40_000 + b'"}',
    b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
    b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH,
    # Brackets, escaped quotes and backslashes inside strings do not nest.
    b'[{"a":"[[[[\\"\\\\{{{"},{"b":"' + b"[" * 200 + b'"}]',
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
    "nested one too deep": b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    "objects one too deep": b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
    "nested 995 deep (passed or failed by stack depth before)": b"[" * 995 + b"]" * 995,
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
    with pytest.raises(strict_json.InvalidJson, match="nested deeper"):
        strict_json.decode(b'{"uid":"a","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", View)


def test_wrong_shape_is_a_validation_error_not_invalid_json() -> None:
    with pytest.raises(msgspec.ValidationError):
        strict_json.decode(b'{"uid":1}', View)


def nesting(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    return 0


TRICKY_TEXT = st.text(st.sampled_from('[]{}"\\ a\u00e9'), max_size=6)
VALUES = st.recursive(st.none() | st.integers() | TRICKY_TEXT,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY_TEXT, inner, max_size=3),
                      max_leaves=40)


@settings(max_examples=300, derandomize=True, database=None)
@given(value=VALUES, wrap=st.integers(0, MAX_DEPTH + 3), ensure_ascii=st.booleans())
def test_depth_verdict_matches_the_document(value: Any, wrap: int, ensure_ascii: bool) -> None:
    """The bracket-skeleton depth check against the depth of the decoded document itself, with brackets,
    quotes and backslashes inside strings and keys."""
    document = value
    for _ in range(wrap):
        document = [document]
    body = json.dumps(document, ensure_ascii=ensure_ascii).encode()
    if nesting(document) > MAX_DEPTH:
        with pytest.raises(strict_json.InvalidJson, match="nested deeper"):
            strict_json.check(body)
    else:
        strict_json.check(body)
