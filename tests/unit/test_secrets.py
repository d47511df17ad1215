"""Sealing secrets at rest: keys, key ids, rows bound into the ciphertext, rotation."""

from __future__ import annotations

import base64

import pytest

from partners.secrets import (
    Keyring,
    SecretsKeyError,
    hub_secret_context,
    is_sealed,
    key_id,
    new_key,
    outbound_token_context,
    parse_key,
)

K1, K2, K3 = (bytes([n]) * 32 for n in (1, 2, 3))
TOKEN = b"partner-token-B-0123456789"


def test_new_keys_parse_in_both_base64_alphabets_and_without_padding() -> None:
    text = new_key()
    key = parse_key(text)
    assert len(key) == 32 and key != parse_key(new_key())
    assert parse_key(base64.b64encode(key).decode()) == key
    assert parse_key(text.rstrip("=")) == key


@pytest.mark.parametrize(("text", "complaint"), [("not base64!", "not base64"),
                                                  (base64.b64encode(b"short").decode(), "must be 32 bytes")])
def test_malformed_keys_are_refused_by_name_and_say_how_to_make_one(text: str, complaint: str) -> None:
    with pytest.raises(SecretsKeyError, match=complaint) as refused:
        parse_key(text)
    assert "OCPI_HUB_SECRETS_KEY" in str(refused.value) and "ocpi-hub secrets new-key" in str(refused.value)


def test_sealed_values_open_only_in_their_own_row() -> None:
    ring = Keyring(K1)
    sealed = ring.seal(TOKEN, outbound_token_context(7))
    assert TOKEN not in sealed and is_sealed(sealed) and ring.is_current(sealed)
    assert ring.open(sealed, outbound_token_context(7)) == TOKEN
    assert ring.seal(TOKEN, outbound_token_context(7)) != sealed  # a fresh nonce every time
    for other in (outbound_token_context(8), hub_secret_context("7")):
        with pytest.raises(SecretsKeyError, match="moved from another row"):
            ring.open(sealed, other)
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(SecretsKeyError, match="altered"):
        ring.open(bytes(tampered), outbound_token_context(7))


def test_an_unknown_key_is_named_by_its_id_never_by_its_value() -> None:
    sealed = Keyring(K3).seal(TOKEN, b"ctx")
    with pytest.raises(SecretsKeyError) as refused:
        Keyring(K1, [K2]).open(sealed, b"ctx")
    assert key_id(K3).hex() in str(refused.value)
    assert base64.b64encode(K3).decode() not in str(refused.value)


def test_earlier_keys_open_and_reseal_moves_values_to_the_current_key() -> None:
    old = Keyring(K1).seal(TOKEN, b"ctx")
    ring = Keyring(K2, [K1])
    assert ring.open(old, b"ctx") == TOKEN and not ring.is_current(old)
    new = ring.reseal(old, b"ctx")
    assert new is not None and ring.is_current(new)
    assert ring.reseal(new, b"ctx") is None  # already current: nothing to write
    assert Keyring(K2).open(new, b"ctx") == TOKEN
    with pytest.raises(SecretsKeyError):
        Keyring(K1).open(new, b"ctx")


@pytest.mark.parametrize("stored", [b"plain-ocpi-token", bytes(range(32)), b"\x01" * 32, b"~" * 64])
def test_values_from_before_sealing_are_told_apart_and_sealed(stored: bytes) -> None:
    ring = Keyring(K1)
    assert not is_sealed(stored)
    assert ring.open(stored, b"ctx") == stored  # read as stored, until sealed at the next start
    sealed = ring.seal_if_plain(stored, b"ctx")
    assert sealed is not None and ring.open(sealed, b"ctx") == stored
    assert ring.seal_if_plain(sealed, b"ctx") is None
    assert ring.reseal(stored, b"ctx") is not None
