"""Who owns a data dir: one ``ocpi-hub`` process at a time, by an advisory lock on a file in it.

The owner is the one process that may start and stop the embedded PostgreSQL living there. The
kernel drops the lock when its holder exits, however it exits (``kill -9`` included), so a crashed
hub never leaves a stale lock behind. The file names the holder's PID and command, for the message
a second process shows.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

LOCK_FILE = "owner.lock"


class DataDirBusyError(Exception):
    """Another live process owns the data dir."""

    def __init__(self, data_dir: Path, pid: int | None, command: str) -> None:
        self.data_dir = data_dir
        self.pid = pid
        self.command = command
        who = f"ocpi-hub {command} (PID {pid})" if pid is not None else "another ocpi-hub process"
        super().__init__(f"data dir {data_dir} is in use by {who}")


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, command: str) -> None:
        """Take the lock for this process, or raise :class:`DataDirBusyError` naming the holder."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid, holder = self.holder()
            raise DataDirBusyError(self.data_dir, pid, holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {command}\n".encode())
        self._fd = fd

    def holder(self) -> tuple[int | None, str]:
        """PID and command of the process holding the lock, as it wrote them (it may not have yet)."""
        for _ in range(20):  # the holder writes right after it locks: give it a moment
            with contextlib.suppress(OSError, ValueError):
                pid, _, command = self.path.read_text().strip().partition(" ")
                return int(pid), command or "serve"
            time.sleep(0.05)
        return None, "serve"

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor drops the lock
