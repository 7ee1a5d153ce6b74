"""A network namespace made before its container, so that the container's network is set up while runc creates
the container, instead of after.

:func:`make` unshares a new network namespace in a short-lived thread (``unshare(2)`` moves only the calling
thread) and keeps a descriptor on it; runc joins it through the path of that descriptor,
``/proc/<moord>/fd/<n>``, named in the bundle's spec. Nothing is mounted (a bind mount per namespace would put a
thousand more lines in every process's mountinfo). Once the container's first process exists it holds the
namespace itself and moord lets go of its descriptor (:meth:`PremadeNetns.close`). Since a descriptor number is
reused once closed, :meth:`PremadeNetns.joined_by` checks that the container did join this very namespace.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import TypeVar

CLONE_NEWNET = 0x40000000
T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]


class PremadeNetns:
    """A descriptor on a network namespace no process is in yet."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.inode = os.fstat(fd).st_ino

    @property
    def path(self) -> str:
        """Where another process (runc, moord's own threads) opens the namespace while moord holds it."""
        return f"/proc/{os.getpid()}/fd/{self.fd}"

    def joined_by(self, pid: int) -> bool:
        """Whether the process ``pid`` is in this namespace."""
        try:
            return os.stat(f"/proc/{pid}/ns/net").st_ino == self.inode
        except OSError:
            return False

    def close(self) -> None:
        """Let go of the namespace (it lives on while a process is in it); idempotent."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def in_thread_of_its_own(work: Callable[[], T], name: str) -> T:
    """``work()``'s result (or its exception), run in a thread that ends with it: for work that moves its thread
    into another namespace (``unshare(2)``, ``setns(2)``), which then never has to come back."""
    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(work())
        except Exception as err:  # noqa: BLE001 - handed to the caller's thread, which raises it
            failed.append(err)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return done[0]


def make() -> PremadeNetns:
    """A new, empty network namespace (OSError when this process may not make one)."""

    def unshare() -> PremadeNetns:
        if _libc.unshare(CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"unshare(CLONE_NEWNET): {os.strerror(code)}")
        return PremadeNetns(os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY | os.O_CLOEXEC))

    return in_thread_of_its_own(unshare, "moor-netns-make")
