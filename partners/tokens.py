"""Credentials tokens: generation, hashing, and the Authorization header in both OCPI spellings.

Inbound tokens (the ones partners present to us) are kept only as SHA-256 hashes; outbound tokens
(the ones we present to partners) must be kept as given. Both travel as :class:`Secret` so that a
stray ``repr`` or f-string in a log line shows a mask, never the token.
"""

from __future__ import annotations

import base64
import binascii
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


def authorization_value(token: Secret) -> bytes:
    """The header value we send: ``Token <base64(token)>``, as OCPI 2.2+ requires."""
    return b"Token " + base64.b64encode(token.reveal().encode("utf-8"))


def token_candidates(header_value: bytes) -> list[bytes]:
    """The token(s) an Authorization header may carry, most likely first.

    OCPI 2.2+ sends ``Token <base64(token)>``; 2.1.1 stacks send the token as is. A token may itself
    be valid base64, so both readings are tried: the decoded one first.
    """
    scheme, _, value = header_value.strip().partition(b" ")
    if scheme.lower() != b"token":
        return []
    value = value.strip()
    if not value:
        return []
    found = []
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if decoded and all(0x21 <= c <= 0x7E for c in decoded):
        found.append(decoded)
    found.append(value)
    return found


def header_token_hashes(header_value: bytes) -> list[bytes]:
    return [hashlib.sha256(c).digest() for c in token_candidates(header_value)]
