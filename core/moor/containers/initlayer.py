"""A container's init layer, as Docker's: what every container's root holds between its image and its own layer.

Docker puts a read-only layer ``<id>-init`` under each container's writable layer with the paths
its runtime needs, each only where the image lacks it: the directories ``/dev/pts``, ``/dev/shm``,
``/proc`` and ``/sys``, the empty files ``/.dockerenv``, ``/dev/console``, ``/etc/hosts``,
``/etc/hostname`` and ``/etc/resolv.conf`` (mode 0755, as Docker makes them) and the link
``/etc/mtab -> /proc/mounts``. ``export`` and ``cp`` of a container see them (a container
never started too); ``diff`` and ``commit`` do not, as they belong to no layer of the container's own.
"""

from __future__ import annotations

import copy
import io
import os
import stat
import tarfile
import time

#: (path, kind, link target): "dir", "file" or "link", in the order Docker's init layer makes them
ENTRIES: tuple[tuple[str, str, str], ...] = (
    ("dev/pts", "dir", ""),
    ("dev/shm", "dir", ""),
    ("proc", "dir", ""),
    ("sys", "dir", ""),
    (".dockerenv", "file", ""),
    ("etc/resolv.conf", "file", ""),
    ("etc/hosts", "file", ""),
    ("etc/hostname", "file", ""),
    ("dev/console", "file", ""),
    ("etc/mtab", "link", "/proc/mounts"),
)


def init_key(container_id: str) -> str:
    """The storage key of a container's init layer."""
    return f"{container_id}-init"


def plan(root: str | None) -> list[tarfile.TarInfo] | None:
    """The init layer's entries for the image mounted at ``root`` (None: an empty image): what it lacks,
    None when it lacks nothing. Entries made afresh carry the time -1 (:func:`layer_tar` stamps them).

    A parent directory the image has goes in with the image's own mode, owner and time (as a copy-up
    would keep them), one it lacks with mode 0755. A dangling link counts as present.
    """
    wanted = [(path, kind, target) for path, kind, target in ENTRIES if root is None or _lacks(root, path)]
    if not wanted:
        return None
    members: list[tarfile.TarInfo] = []
    made: set[str] = set()
    for path, kind, target in wanted:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent not in made:
                made.add(parent)
                members.append(_parent(root, parent, FRESH))
        member = _info(path, _KINDS[kind], 0o777 if kind == "link" else 0o755, FRESH)
        member.linkname = target
        made.add(path)
        members.append(member)
    return members


def layer_tar(members: list[tarfile.TarInfo], now: float | None = None) -> bytes:
    """The tar of a :func:`plan`, its fresh entries stamped ``now`` (default: the current time)."""
    stamp = int(time.time() if now is None else now)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for planned in members:
            member = copy.copy(planned)
            if member.mtime == FRESH:
                member.mtime = stamp
            archive.addfile(member, io.BytesIO(b"") if member.isreg() else None)
    return buffer.getvalue()


def _lacks(root: str, path: str) -> bool:
    """Whether ``path`` is absent under ``root`` while each parent is a real directory or absent (no link is
    followed: an image whose ``/etc`` is a link gets nothing there)."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        try:
            found = os.lstat(os.path.join(root, *parts[:depth]))
        except FileNotFoundError:
            return True
        except OSError:
            return False
        if not stat.S_ISDIR(found.st_mode):
            return False
    return not os.path.lexists(os.path.join(root, path))


#: the time of an entry the init layer makes (stamped when a container's layer is written)
FRESH = -1

_KINDS = {"dir": tarfile.DIRTYPE, "file": tarfile.REGTYPE, "link": tarfile.SYMTYPE}


def _parent(root: str | None, path: str, now: int) -> tarfile.TarInfo:
    try:
        if root is None:
            raise FileNotFoundError(path)
        found = os.lstat(os.path.join(root, path))
    except OSError:
        return _info(path, tarfile.DIRTYPE, 0o755, now)
    member = _info(path, tarfile.DIRTYPE, found.st_mode & 0o7777, int(found.st_mtime))
    member.uid, member.gid = found.st_uid, found.st_gid
    return member


def _info(name: str, kind: bytes, mode: int, mtime: int) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.mode, member.mtime, member.uid, member.gid = kind, mode, mtime, 0, 0
    return member
