"""Reading an image's root filesystem during a build (mounted read-only through the storage facade), and the
small layers the builder makes itself (WORKDIR's directories)."""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import stat
import tarfile
import time
from collections.abc import Iterator

from moor.driverapi import StorageDriver
from moor.images.store import hex_of

#: How many symbolic links a path may pass through inside a root before it is refused (Linux's limit).
_MAX_LINKS = 40


@contextlib.contextmanager
def mounted(storage: StorageDriver, top_layer: str | None) -> Iterator[str | None]:
    """The root filesystem of the layer chain ending at ``top_layer`` (a chain ID), mounted read-only while the
    block runs; None for an image with no layer (``FROM scratch``)."""
    if top_layer is None:
        yield None
        return
    key = hex_of(top_layer)
    path = storage.mount(key=key)
    try:
        yield path
    finally:
        storage.unmount(key=key)


def resolve_in_root(root: str, path: str) -> str:
    """The host path of ``path`` inside ``root``, symbolic links followed as if ``root`` were ``/`` (never out of
    it); the last component need not exist."""
    parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            info = os.lstat(candidate)
        except OSError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(info.st_mode):
            links += 1
            if links > _MAX_LINKS:
                raise OSError(f"too many levels of symbolic links: {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def missing_directories(root: str | None, path: str) -> list[str]:
    """The directories of the absolute ``path`` (itself and its parents, outermost first) that ``root`` lacks."""
    parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
    missing = []
    for depth in range(1, len(parts) + 1):
        current = "/" + "/".join(parts[:depth])
        if root is None or not os.path.isdir(resolve_in_root(root, current)):
            missing.append(current)
    return missing


def directories_layer(paths: list[str], uid: int = 0, gid: int = 0) -> bytes:
    """An uncompressed layer tar holding the directories ``paths`` (0755, owned by ``uid``:``gid``)."""
    buffer = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in paths:
            info = tarfile.TarInfo(path.strip("/") + "/")
            info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, 0o755, uid, gid, now
            archive.addfile(info)
    return buffer.getvalue()
