"""Mounting overlays with short relative options, unmounting, and counting users.

Mount data is limited to one page (4096 bytes). Like Docker's overlay2, the
``lowerdir`` list names layers by their short links (``l/<26 chars>``)
relative to the driver's home, so 127 layers fit: :func:`mount_overlay` calls
mount(2) with the paths made absolute when they fit in a page (no process to
start), else runs ``mount(8)`` in a child process whose working directory is
the home (the daemon itself never changes directory: it is multithreaded).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
from collections.abc import Iterator

from moor.errors import MoorError
from moor.mountinfo import is_mounted, mounts_under, unmount, unmount_all_under

__all__ = ["PAGE_SIZE", "MountCounter", "is_mounted", "mount_overlay", "mounts_under", "unmount", "unmount_all_under"]

PAGE_SIZE = 4096
MS_RDONLY = 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def absolute_options(cwd: str, data: str) -> str:
    """``data`` with its relative ``lowerdir``/``upperdir``/``workdir`` paths made absolute from ``cwd``."""
    options = []
    for option in data.split(","):
        name, _, value = option.partition("=")
        if name in ("lowerdir", "upperdir", "workdir"):
            value = ":".join(path if path.startswith("/") else os.path.join(cwd, path) for path in value.split(":"))
            option = f"{name}={value}"
        options.append(option)
    return ",".join(options)


def mount_overlay(cwd: str, data: str, target: str, read_only: bool) -> None:
    """``mount -t overlay overlay -o <data> <target>`` with ``data``'s paths relative to ``cwd``; the kernel's
    reason on failure. The mount(2) call itself with absolute paths when they fit in a page (most chains);
    else mount(8) run from ``cwd`` (the daemon never changes its own directory: it is multithreaded)."""
    if len(data.encode()) >= PAGE_SIZE:
        raise MoorError(f"cannot mount {target}: the overlay options are {len(data)} bytes, over one page")
    absolute = absolute_options(cwd, data)
    if len(absolute.encode()) < PAGE_SIZE:
        if _libc.mount(b"overlay", os.fsencode(target), b"overlay", MS_RDONLY if read_only else 0,
                       os.fsencode(absolute)) == 0:
            return
        reason = f"mount: {os.strerror(ctypes.get_errno())}"
        raise MoorError(f"cannot mount overlay on {target}: {reason}{_diagnose(cwd, data)}")
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
