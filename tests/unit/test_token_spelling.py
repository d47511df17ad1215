"""Token spellings in the Authorization header, and which spelling the hub sends to whom."""

from __future__ import annotations

import base64

import pytest

from partners import token_encoding
from partners.tokens import Secret, TokenEncoding, authorization_value, spelled_candidates, token_candidates
from routing.versions import OcpiVersion

B64, PLAIN = TokenEncoding.BASE64, TokenEncoding.PLAIN


def b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


@pytest.mark.parametrize(("value", "token"), [
    (b"ZXhhbXBsZS10b2tlbgo=", b"example-token"),  # the errata's own example: base64("example-token\n")
    (b"ZXhhbXBsZS10b2tlbgo", b"example-token"),  # ... without its padding
    (b"ZXhhbXBsZS10b2tlbg==", b"example-token"),
    (b"ZXhhbXBsZS10b2tlbg", b"example-token"),
    (b64(b"abc-123"), b"abc-123"),
    (b64(b"abc-123").rstrip(b"="), b"abc-123"),
])
def test_base64_spellings_that_are_accepted(value: bytes, token: bytes) -> None:
    assert spelled_candidates(b"Token " + value)[0] == (token, B64)


@pytest.mark.parametrize("decoded", [
    b"example-token\n\n",  # one trailing newline is the echo artefact; two are not a token
    b"example-token\r\n",
    b"example token",
    b"\nexample-token",
    b"example-token\t",
    b"\x00\x01\x02",
    b"\n",
])
def test_base64_of_anything_else_is_no_token(decoded: bytes) -> None:
    value = b64(decoded)
    assert spelled_candidates(b"Token " + value) == [(value, PLAIN)], "only the literal reading is left"


@pytest.mark.parametrize(("header", "expected"), [
    (b"Token abc-123", [(b"abc-123", PLAIN)]),
    (b"token  abc-123 ", [(b"abc-123", PLAIN)]),
    (b"Token ZXhhbXBsZS10b2tlbgo=x", [(b"ZXhhbXBsZS10b2tlbgo=x", PLAIN)]),
    (b"Bearer abc", []),
    (b"Token ", []),
])
def test_header_readings(header: bytes, expected: list[tuple[bytes, TokenEncoding]]) -> None:
    assert spelled_candidates(header) == expected
    assert token_candidates(header) == [token for token, _ in expected]


def test_authorization_value_in_each_spelling() -> None:
    token = Secret("example-token")
    assert authorization_value(token) == b"Token ZXhhbXBsZS10b2tlbg=="
    assert authorization_value(token, B64) == b"Token ZXhhbXBsZS10b2tlbg=="
    assert authorization_value(token, PLAIN) == b"Token example-token"
    assert B64.other is PLAIN and PLAIN.other is B64


@pytest.mark.parametrize(("version", "seen", "expected"), [
    (OcpiVersion.V2_1_1, None, PLAIN),
    (OcpiVersion.V2_1_1, B64, PLAIN),  # 2.1.1 is plain even towards a stack that decodes on /versions
    (OcpiVersion.V2_2, None, B64),
    (OcpiVersion.V2_2, PLAIN, PLAIN),  # OCN-era stacks: plain towards us, exact match on theirs
    (OcpiVersion.V2_2, B64, B64),
    (OcpiVersion.V2_2_1, PLAIN, B64),  # 2.2.1 and 2.3.0: base64 whatever they send (we accept plain)
    (OcpiVersion.V2_2_1, None, B64),
    (OcpiVersion.V2_3_0, PLAIN, B64),
    (None, None, B64),  # hub-initiated, version not known yet
    (None, PLAIN, B64),
])
def test_preferred_spelling(version: OcpiVersion | None, seen: TokenEncoding | None, expected: TokenEncoding) -> None:
    assert token_encoding.preferred(version, seen) is expected


@pytest.mark.parametrize(("http_status", "ocpi_status", "expected"), [
    (401, None, True), (401, 4001, True), (403, None, True), (200, 3000, True), (500, 3000, True),
    (200, 1000, False), (404, None, False), (500, None, False), (200, 2001, False), (400, 2000, False),
])
def test_refused_answers(http_status: int, ocpi_status: int | None, expected: bool) -> None:
    assert token_encoding.refused(http_status, ocpi_status) is expected
