"""The mount table of this mount namespace (``/proc/self/mountinfo``) and unmounting.

Shared by the core and the storage and volume plugins. Only the standard library is imported: the
monitor process uses it too.
"""

from __future__ import annotations

import ctypes
import errno
import os

from moor.errors import MoorError

MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (``\\040`` for a space, ``\\011`` for a tab, ...)."""
    if "\\" not in field:
        return field
    raw, out, index = field.encode("utf-8", "surrogateescape"), bytearray(), 0
    while index < len(raw):
        if raw[index:index + 1] == b"\\" and raw[index + 1:index + 4].isdigit():
            out.append(int(raw[index + 1:index + 4], 8))
            index += 4
        else:
            out.append(raw[index])
            index += 1
    return out.decode("utf-8", "surrogateescape")


def mount_points() -> list[str]:
    """Every mount point of this process's mount namespace, in mount order."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
        return [unescape(line.split(" ", 5)[4]) for line in handle if line.strip()]


def mount_of(path: str) -> tuple[str, list[str]]:
    """The mount holding ``path`` (the last mounted of the longest mount points above it) and its optional
    fields (``shared:N``, ``master:N``: its propagation; none for a private mount)."""
    path = os.path.realpath(path)
    found: tuple[str, list[str]] = ("/", [])
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
        for line in handle:
            fields = line.split()
            if "-" not in fields[6:]:
                continue
            point = unescape(fields[4])
            if (point == path or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(found[0]):
                found = (point, fields[6:fields.index("-", 6)])
    return found


def is_mounted(path: str) -> bool:
    return path in mount_points()


def mounts_under(root: str) -> list[str]:
    """The mount points at or below ``root``, deepest (last mounted) first."""
    root = root.rstrip("/")
    found = [p for p in mount_points() if p == root or p.startswith(root + "/")]
    return list(reversed(found))


def unmount(path: str, what: str = "") -> None:
    """Unmount ``path``, lazily when it is busy; not mounted is fine.

    :param what: how an error names the mount (``"volume"`` gives ``cannot unmount volume <path>``).
    :raises moor.errors.MoorError: the kernel's reason, when the unmount fails.
    """
    encoded = os.fsencode(path)
    if _libc.umount2(encoded, 0) == 0:
        return
    error = ctypes.get_errno()
    if error == errno.EBUSY and _libc.umount2(encoded, MNT_DETACH) == 0:
        return
    error = ctypes.get_errno() if error == errno.EBUSY else error
    if error in (errno.EINVAL, errno.ENOENT):  # not a mount point (any more)
        return
    raise MoorError(f"cannot unmount {what + ' ' if what else ''}{path}: {os.strerror(error)}")


def unmount_all_under(root: str) -> None:
    """Unmount everything at or below ``root`` (leftovers of a crash), deepest first."""
    for path in mounts_under(root):
        unmount(path)
