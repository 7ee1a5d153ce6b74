"""Mounting a volume's device over its ``_data`` with mount(8), unmounting with umount2(2)."""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import subprocess

from moor.errors import MoorError

from moor_volume_local.options import MountOptions

MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (``\\040`` for a space)."""
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
    """Every mount point of this mount namespace."""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
        return [_unescape(line.split(" ", 5)[4]) for line in handle if line.strip()]


def is_mounted(path: str) -> bool:
    return path in mount_points()


def mounts_under(root: str) -> list[str]:
    """Mount points at or below ``root``."""
    root = root.rstrip("/")
    return [p for p in mount_points() if p == root or p.startswith(root + "/")]


def mount(options: MountOptions, target: str) -> None:
    """``mount -t TYPE -o O DEVICE TARGET``; the target must be a real directory (never a symlink)."""
    info = os.lstat(target)
    if not stat.S_ISDIR(info.st_mode):
        raise MoorError(f"cannot mount volume on {target}: not a directory")
    command = ["mount", "--no-canonicalize", "-t", options.type]
    if options.data:
        command += ["-o", options.data]
    command += ["--", options.device, target]
    try:
        result = subprocess.run(command, capture_output=True, env=dict(os.environ, LC_ALL="C"), timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise MoorError(f"error while mounting volume '{target}': {err}") from None
    if result.returncode != 0:
        reason = " ".join(result.stderr.decode(errors="replace").split()) or f"mount exited with {result.returncode}"
        raise MoorError(f"error while mounting volume '{target}': {reason}")


def unmount(path: str) -> None:
    """Unmount ``path`` (lazily when busy); not mounted is fine."""
    encoded = os.fsencode(path)
    if _libc.umount2(encoded, 0) == 0:
        return
    error = ctypes.get_errno()
    if error == errno.EBUSY and _libc.umount2(encoded, MNT_DETACH) == 0:
        return
    error = ctypes.get_errno() if error == errno.EBUSY else error
    if error in (errno.EINVAL, errno.ENOENT):
        return
    raise MoorError(f"cannot unmount volume {path}: {os.strerror(error)}")
