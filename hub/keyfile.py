"""Where the secrets key comes from: ``OCPI_HUB_SECRETS_KEY``, or for the zero-configuration run on
the embedded database, a key file in the data dir (created once, mode 0600).

A hub on an external database gets no key file: replicas would each make their own and could not
read each other's tokens (and a container's file system is often read-only or not kept). It must
be given ``OCPI_HUB_SECRETS_KEY`` (the Helm chart keeps one in a Secret).
"""

from __future__ import annotations

import os
from pathlib import Path

from hub.config import PREFIX, Config, ConfigError, data_path
from partners.secrets import new_key

KEY_FILE = "secrets.key"


def key_file(config: Config) -> Path:
    return data_path(config) / KEY_FILE


def check(config: Config) -> None:
    """Refuse, before anything starts (the port included), a configuration that can have no key."""
    if config.database_url and not config.secrets_key:
        raise _required()


def _required() -> ConfigError:
    return ConfigError(
        f"{PREFIX}SECRETS_KEY is required with {PREFIX}DATABASE_URL: it encrypts the partners' tokens in the "
        "database, and every replica needs the same one (make one with: ocpi-hub secrets new-key)")


def secrets_key(config: Config, *, embedded: bool) -> tuple[str, str | None]:
    """The key's text, and a sentence to say once at start-up when a key file was just created."""
    if config.secrets_key:
        return config.secrets_key, None
    if not embedded:
        raise _required()
    path = key_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text(encoding="ascii").strip()
        if not text:
            raise ConfigError(f"the secrets key file {path} is empty") from None
        return text, None
    text = new_key()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text + "\n")
    return text, (f"ocpi-hub generated its secrets key in {path} (mode 0600): partners' tokens in the database "
                  f"are encrypted with it. Back it up with the database; without it, registrations are lost. "
                  f"To move it elsewhere, see {PREFIX}SECRETS_KEY in the README.")
