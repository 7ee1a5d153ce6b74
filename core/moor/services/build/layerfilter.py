"""A RUN container's changes without what the engine put there: the mount points of its ``/etc/hosts``,
``/etc/hostname``, ``/etc/resolv.conf``, ``/dev``, ``/proc``, ``/sys`` and of the step's ``--mount`` targets.

Docker keeps these in a hidden init layer, so they never reach a build step's layer; moor's snapshot holds
them, so the diff is filtered: each mount point goes (what is under it lived on the mount, not in the
layer), and so do the directories that were in the diff only because of them (parents made for a mount
point). A step that changed nothing else makes no layer.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterable
from typing import IO, Protocol

#: What the engine mounts in every container (files bound over, or file systems of their own).
ENGINE_MOUNTS = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/.dockerenv", "/dev", "/proc", "/sys")


def _path(name: str) -> str:
    cleaned = posixpath.normpath("/" + name.lstrip("./").lstrip("/")) if name not in (".", "./") else "/"
    return cleaned


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def dropped_paths(members: list[tarfile.TarInfo], mounts: Iterable[str]) -> set[str]:
    """The entries (by tar name) that only the mounts put in the diff."""
    tops = [posixpath.normpath("/" + m.lstrip("/")) for m in mounts]
    paths = {member.name: _path(member.name) for member in members}
    dropped = {name for name, path in paths.items() if any(_under(path, top) for top in tops)}
    if not dropped:
        return dropped
    ancestors = set()
    for name in dropped:
        parent = posixpath.dirname(paths[name])
        while parent not in ("/", ""):
            ancestors.add(parent)
            parent = posixpath.dirname(parent)
    candidates = [m for m in members if m.name not in dropped and m.isdir() and paths[m.name] in ancestors]
    for member in sorted(candidates, key=lambda m: paths[m.name].count("/"), reverse=True):  # deepest first
        path = paths[member.name]
        kept = (other for name, other in paths.items() if name not in dropped and other != path)
        if not any(_under(other, path) for other in kept):
            dropped.add(member.name)
    return dropped


class Writer(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


def filter_layer(source: IO[bytes], out: Writer, mounts: Iterable[str]) -> bool | None:
    """Copy the layer tar ``source`` (a seekable file) to ``out`` without the mounts' entries, each kept entry
    byte for byte (its headers and data as the driver wrote them). None when nothing was dropped (``out`` is
    left untouched: use ``source``); else whether anything is left (False for a tar of nothing too)."""
    with tarfile.open(fileobj=source, mode="r:") as archive:
        members = archive.getmembers()
    if not members:
        return False  # a tar of nothing (however its end is padded)
    dropped = dropped_paths(members, mounts)
    if not dropped:
        return None
    kept = [member for member in members if member.name not in dropped]
    if not kept:
        return False
    for member in kept:
        end = member.offset_data + (-(-member.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
                                    if member.isreg() else 0)
        _copy_range(source, out, member.offset, end - member.offset)
    out.write(b"\0" * (2 * tarfile.BLOCKSIZE))
    out.flush()
    return True


def _copy_range(source: IO[bytes], out: Writer, offset: int, length: int) -> None:
    source.seek(offset)
    remaining = length
    while remaining:
        data = source.read(min(remaining, 1 << 20))
        if not data:
            raise OSError("the layer tar ended early")
        out.write(data)
        remaining -= len(data)
