"""Secrets at rest: what the hub must keep in PostgreSQL but nobody may read from a dump of it.

The outbound tokens (the ones partners gave us, which we must present to them, so they cannot be
hashed) and the key that signs callback tickets are stored *sealed*: AES-256-GCM under a key from
the environment (``OCPI_HUB_SECRETS_KEY``), bound to the row they belong to (the associated data
names the column and the platform or secret), so a sealed value copied into another row does not
open. A sealed value is::

    0x01 | key id (8 bytes) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)

The key id says which key opens it, so a keyring of the current key and earlier ones opens values
sealed before a rotation; ``ocpi-hub secrets re-encrypt`` reseals everything under the current key.
A plaintext token (printable ASCII, as OCPI tokens are) or a raw 32-byte secret can never look like
a sealed value (first byte 0x01, at least 37 bytes): values written before sealing existed are
recognised and sealed at the next start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from partners import store

VERSION = 1
KEY_BYTES = 32
_ID = 8
_NONCE = 12
_TAG = 16
_HEAD = 1 + _ID + _NONCE
_MIN_SEALED = _HEAD + _TAG


class SecretsKeyError(Exception):
    """A key is malformed, or a sealed value cannot be opened with the keys this hub has. The message
    names key ids and rows, never a key or a secret."""


def new_key() -> str:
    """A fresh key as the settings take it: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def parse_key(text: str, name: str = "OCPI_HUB_SECRETS_KEY") -> bytes:
    """A key from its text (standard or URL-safe base64 of 32 bytes)."""
    cleaned = text.strip()
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        key = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise SecretsKeyError(f"{name} is not base64 (make one with: ocpi-hub secrets new-key)") from None
    if len(key) != KEY_BYTES:
        raise SecretsKeyError(f"{name} must be {KEY_BYTES} bytes in base64, not {len(key)} "
                              "(make one with: ocpi-hub secrets new-key)")
    return key


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"ocpi-hub secrets key id\0" + key).digest()[:_ID]


def is_sealed(blob: bytes) -> bool:
    return len(blob) >= _MIN_SEALED and blob[0] == VERSION


def outbound_token_context(platform_id: int) -> bytes:
    return b"platforms.outbound_token:%d" % platform_id


def hub_secret_context(name: str) -> bytes:
    return b"hub_secrets.value:" + name.encode()


class Keyring:
    """The current key (seals and opens) and earlier keys (open only)."""

    def __init__(self, current: bytes, earlier: Iterable[bytes] = ()) -> None:
        self.current_id = key_id(current)
        self._current = AESGCM(current)
        self._by_id = {key_id(k): AESGCM(k) for k in earlier}
        self._by_id[self.current_id] = self._current

    @classmethod
    def from_text(cls, current: str, earlier: str = "") -> Keyring:
        """From the settings: ``OCPI_HUB_SECRETS_KEY`` and comma-separated ``OCPI_HUB_SECRETS_OLD_KEYS``."""
        old = [parse_key(t, "OCPI_HUB_SECRETS_OLD_KEYS") for t in earlier.split(",") if t.strip()]
        return cls(parse_key(current), old)

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        head = bytes([VERSION]) + self.current_id + nonce
        return head + self._current.encrypt(nonce, plaintext, head + context)

    def open(self, blob: bytes, context: bytes) -> bytes:
        """The plaintext of ``blob``; a value stored before sealing existed comes back as it is."""
        if not is_sealed(blob):
            return blob
        kid, nonce = blob[1:1 + _ID], blob[1 + _ID:_HEAD]
        aead = self._by_id.get(kid)
        if aead is None:
            raise SecretsKeyError(f"sealed with key id {kid.hex()}, which is neither OCPI_HUB_SECRETS_KEY nor one "
                                  "of OCPI_HUB_SECRETS_OLD_KEYS")
        try:
            return aead.decrypt(nonce, blob[_HEAD:], blob[:_HEAD] + context)
        except InvalidTag:
            raise SecretsKeyError("a sealed value does not open: altered, or moved from another row") from None

    @property
    def key_ids(self) -> frozenset[bytes]:
        return frozenset(self._by_id)

    def is_current(self, blob: bytes) -> bool:
        return is_sealed(blob) and blob[1:1 + _ID] == self.current_id

    def reseal(self, blob: bytes, context: bytes) -> bytes | None:
        """``blob`` sealed under the current key, or None when it already is."""
        if self.is_current(blob):
            return None
        return self.seal(self.open(blob, context), context)

    def seal_if_plain(self, blob: bytes, context: bytes) -> bytes | None:
        return None if is_sealed(blob) else self.seal(blob, context)


async def shared_key(pool: store.Pool, name: str, keyring: Keyring, size: int = 32) -> bytes:
    """A random key created once, stored sealed, and the same for every replica."""
    context = hub_secret_context(name)
    stored = await store.shared_secret(pool, name, keyring.seal(os.urandom(size), context))
    return keyring.open(stored, context)


async def prepare(pool: store.Pool, keyring: Keyring) -> int:
    """At start-up: refuse (:class:`SecretsKeyError`, naming what and which key id) if a stored secret is
    sealed with a key this hub lacks, and seal every secret still stored in the clear (written before
    sealing existed). Returns how many were sealed."""

    def check_or_seal(what: str, blob: bytes, context: bytes) -> bytes | None:
        if not is_sealed(blob):
            return keyring.seal(blob, context)
        if blob[1:1 + _ID] not in keyring.key_ids:
            raise SecretsKeyError(
                f"{what} is sealed with key id {blob[1:1 + _ID].hex()}, which this hub does not have: set "
                "OCPI_HUB_SECRETS_KEY (or OCPI_HUB_SECRETS_OLD_KEYS) to the key that sealed it")
        return None

    return await store.reseal_secrets(
        pool,
        lambda platform_id, blob: check_or_seal(f"the outbound token of platform {platform_id}", blob,
                                                outbound_token_context(platform_id)),
        lambda name, blob: check_or_seal(f"hub secret {name!r}", blob, hub_secret_context(name)),
    )


async def re_encrypt(pool: store.Pool, keyring: Keyring) -> int:
    """Reseal every secret under the keyring's current key, all or nothing: if one does not open with
    the keys given, :class:`SecretsKeyError` says which and nothing is written. How many changed."""

    def platform_token(platform_id: int, blob: bytes) -> bytes | None:
        try:
            return keyring.reseal(blob, outbound_token_context(platform_id))
        except SecretsKeyError as exc:
            raise SecretsKeyError(f"outbound token of platform {platform_id}: {exc}") from None

    def hub_secret(name: str, blob: bytes) -> bytes | None:
        try:
            return keyring.reseal(blob, hub_secret_context(name))
        except SecretsKeyError as exc:
            raise SecretsKeyError(f"hub secret {name!r}: {exc}") from None

    return await store.reseal_secrets(pool, platform_token, hub_secret)
