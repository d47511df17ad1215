"""Credentials tokens: generation, hashing, and the Authorization header in both OCPI spellings.

Inbound tokens (the ones partners present to us) are kept only as SHA-256 hashes; outbound tokens
(the ones we present to partners) must be kept as given. Both travel as :class:`Secret` so that a
stray ``repr`` or f-string in a log line shows a mask, never the token.

Two spellings exist on the wire (:class:`TokenEncoding`): ``Token <base64(token)>`` (2.2-d2 on) and
``Token <token>`` (2.1.1, and many 2.2 stacks). Inbound, both are accepted; outbound, each platform
gets the spelling learned for it (``partners.token_encoding``).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import secrets


class Secret(str):
    """A string whose ``repr`` and ``str`` formatting is masked; ``.reveal()`` gives the value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def reveal(self) -> str:
        return str.__str__(self)


def new_token() -> Secret:
    """A fresh credentials token: 43 URL-safe characters, within OCPI's string(64) and printable ASCII."""
    return Secret(secrets.token_urlsafe(32))


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenEncoding(enum.StrEnum):
    """How a credentials token is spelled in the Authorization header."""

    BASE64 = "base64"
    PLAIN = "plain"

    @property
    def other(self) -> TokenEncoding:
        return TokenEncoding.PLAIN if self is TokenEncoding.BASE64 else TokenEncoding.BASE64


def authorization_value(token: Secret, encoding: TokenEncoding = TokenEncoding.BASE64) -> bytes:
    """The header value we send: ``Token <base64(token)>`` as OCPI 2.2+ requires, or ``Token <token>``
    for platforms that compare the header with the token as is."""
    raw = token.reveal().encode("utf-8")
    return b"Token " + (base64.b64encode(raw) if encoding is TokenEncoding.BASE64 else raw)


def _printable(value: bytes) -> bool:
    return bool(value) and all(0x21 <= c <= 0x7E for c in value)


def _decode_base64(value: bytes) -> bytes | None:
    """The token a base64 header value spells, or None. Missing ``=`` padding is tolerated, and so is
    one trailing newline in the decoded token: the spec's own example (2.2.1-d2, 2.3.0) is
    ``base64("example-token\n")``, the output of ``echo example-token | base64``. Nothing else is: the
    decoded token must be printable ASCII without whitespace, as the credentials chapter says."""
    try:
        decoded = base64.b64decode(value + b"=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    if decoded.endswith(b"\n"):
        decoded = decoded[:-1]
    return decoded if _printable(decoded) else None


def spelled_candidates(header_value: bytes) -> list[tuple[bytes, TokenEncoding]]:
    """The token(s) an Authorization header may carry, most likely first, each with its spelling.

    A token may itself be valid base64, so both readings are tried: the decoded one first.
    """
    scheme, _, value = header_value.strip().partition(b" ")
    if scheme.lower() != b"token":
        return []
    value = value.strip()
    if not value:
        return []
    found = []
    decoded = _decode_base64(value)
    if decoded is not None:
        found.append((decoded, TokenEncoding.BASE64))
    found.append((value, TokenEncoding.PLAIN))
    return found


def token_candidates(header_value: bytes) -> list[bytes]:
    return [token for token, _ in spelled_candidates(header_value)]


def header_token_hashes(header_value: bytes) -> list[bytes]:
    return [hashlib.sha256(c).digest() for c in token_candidates(header_value)]
