"""Mounting overlays with short relative options, unmounting, and counting users.

Mount data is limited to one page (4096 bytes). Like Docker's overlay2, the
``lowerdir`` list names layers by their short links (``l/<26 chars>``)
relative to the driver's home, so 127 layers fit: :func:`mount_overlay` runs
``mount(8)`` in a child process whose working directory is the home (the
daemon itself never changes directory: it is multithreaded).
"""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import threading
from typing import Iterator

from moor.errors import MoorError

MNT_DETACH = 2
PAGE_SIZE = 4096
_libc = ctypes.CDLL(None, use_errno=True)
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _unescape(field: str) -> str:
    """Undo the octal escapes (``\\040`` for a space, ...) of /proc/self/mountinfo."""
    if "\\" not in field:
        return field
    out, index = bytearray(), 0
    raw = field.encode("utf-8", "surrogateescape")
    while index < len(raw):
        if raw[index: index + 1] == b"\\" and raw[index + 1: index + 4].isdigit():
            out.append(int(raw[index + 1: index + 4], 8))
            index += 4
        else:
            out.append(raw[index])
            index += 1
    return out.decode("utf-8", "surrogateescape")


def mount_points() -> list[str]:
    """Every mount point of this process's mount namespace, in mount order."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
        return [_unescape(line.split(" ", 5)[4]) for line in handle if line.strip()]


def is_mounted(path: str) -> bool:
    return path in mount_points()


def mounts_under(root: str) -> list[str]:
    """The mount points at or below ``root``, deepest (last mounted) first."""
    root = root.rstrip("/")
    found = [p for p in mount_points() if p == root or p.startswith(root + "/")]
    return list(reversed(found))


def mount_overlay(cwd: str, data: str, target: str, read_only: bool) -> None:
    """``mount -t overlay overlay -o <data> <target>`` run from ``cwd``; the kernel's reason on failure."""
    if len(data.encode()) >= PAGE_SIZE:
        raise MoorError(f"cannot mount {target}: the overlay options are {len(data)} bytes, over one page")
    command = ["mount", "-t", "overlay", "overlay", "-o", data, target]
    if read_only:
        command.insert(1, "-r")
    env = dict(os.environ, LC_ALL="C")
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, env=env, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise MoorError(f"cannot mount {target}: {err}") from None
    if result.returncode != 0:
        reason = " ".join(result.stderr.decode(errors="replace").split()) or f"mount exited with {result.returncode}"
        raise MoorError(f"cannot mount overlay on {target}: {reason}{_diagnose(cwd, data)}")


def _diagnose(cwd: str, data: str) -> str:
    """Name the layer directories that are missing (mount(8) only says "special device")."""
    missing = []
    for option in data.split(","):
        name, _, value = option.partition("=")
        if name in ("lowerdir", "upperdir", "workdir"):
            for path in value.split(":") if name == "lowerdir" else [value]:
                if path and not os.path.isdir(os.path.join(cwd, path)):
                    link = os.path.join(cwd, path)
                    where = f" (-> {os.readlink(link)})" if os.path.islink(link) else ""
                    missing.append(f"{path}{where}")
    return f" (missing: {', '.join(missing)})" if missing else ""


def unmount(path: str) -> None:
    """Unmount ``path``; lazily when it is busy. Not mounted is fine."""
    encoded = os.fsencode(path)
    if _libc.umount2(encoded, 0) == 0:
        return
    error = ctypes.get_errno()
    if error == errno.EBUSY and _libc.umount2(encoded, MNT_DETACH) == 0:
        return
    error = ctypes.get_errno() if error == errno.EBUSY else error
    if error in (errno.EINVAL, errno.ENOENT):  # not a mount point (any more)
        return
    raise MoorError(f"cannot unmount {path}: {os.strerror(error)}")


def unmount_all_under(root: str) -> None:
    """Unmount everything at or below ``root`` (leftovers of a crash), deepest first."""
    for path in mounts_under(root):
        unmount(path)


class MountCounter:
    """How many users each key's mount has; one lock per key so mounts of different keys overlap."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self.counts: dict[str, int] = {}

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def keys(self) -> Iterator[str]:
        return iter(list(self.counts))
