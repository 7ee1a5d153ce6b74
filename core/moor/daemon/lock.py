"""One moord per data root: an flock on ``<data_root>/moord.lock`` holding the owner's pid.

An flock dies with its process, so a lock file left by a dead moord is simply
taken over (its pid is overwritten).
"""

from __future__ import annotations

import fcntl
import os

from moor.errors import ConfigError


class DataRootLock:
    """Held for the daemon's whole life; released on close or process death."""

    def __init__(self, data_root: str) -> None:
        self.path = os.path.join(data_root, "moord.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o711, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"moord is already running with data root {os.path.dirname(self.path)} (pid {owner}); "
                "stop it first or use another --data-root"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
