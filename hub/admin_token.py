"""The admin API's token when the operator set none: generated once, kept in the data dir.

Kept in ``<data dir>/admin-token`` (mode 0600) so that it survives restarts; shown only when created.
Generated tokens are hex, so one never starts with ``-`` (which a command line would take for an option).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from hub.config import PREFIX, ConfigError

log = logging.getLogger("ocpihub")

FILE_NAME = "admin-token"


def generate() -> str:
    return secrets.token_hex(24)


def load_or_create(data_dir: Path) -> tuple[str, bool]:
    """The kept token, or a new one saved for next time; True when it was created now."""
    path = data_dir / FILE_NAME
    existing = _read(path)
    if existing is not None:
        return existing, False
    token = generate()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it a moment ago: use that one
        kept = _read(path)
        if kept is None:  # ...and removed it again: no token anyone was shown
            raise ConfigError(f"the admin token file {path} was created and removed while the hub started") from None
        return kept, False
    except OSError as exc:
        log.warning("could not keep the generated admin token (a new one at every start): "
                    f"{exc.strerror}", extra={"path": str(path)})
        return token, True
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token, True


def _read(path: Path) -> str | None:
    """The kept token, None when there is no file. An empty file is refused: a token generated in its place
    could not be saved (the file exists), so the hub would run with an admin token nobody was shown."""
    try:
        mode = path.stat().st_mode
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the admin token file is readable by others: chmod 600 it", extra={"path": str(path)})
    if not token:
        raise ConfigError(f"the admin token file {path} is empty: write the admin token in it, remove it to have "
                          f"one generated, or set {PREFIX}ADMIN_TOKEN")
    return token
