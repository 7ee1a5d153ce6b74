"""Crash-safe file writes: temp file, fsync, rename, fsync of the directory."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, mode: int = 0o644, durable: bool = True, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    ``durable``: the content is on disk before the rename (fsync), so that a power loss leaves the old
    file or the whole new one, never an empty one; without it, a file that is made again anyway after
    a reboot (a container's /etc/hosts, say). ``sync_dir``: the rename itself is on disk when this
    returns (fsync of the directory); without it a power loss may bring the previous version back,
    which is fine where the previous version is a consistent state too (a container record)."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    if durable and sync_dir:
        fsync_dir(directory)


def atomic_write_json(path: str, value: Any, durable: bool = True, sync_dir: bool = True) -> None:
    atomic_write(path, json.dumps(value, indent=1, sort_keys=True).encode(), durable=durable, sync_dir=sync_dir)


def read_json(path: str, default: Any = None, shared_keys: bool = False) -> Any:
    """The JSON document at ``path`` (``default`` when there is none); ``shared_keys``: its objects' keys
    interned, for records kept in memory by the thousand (one copy of each key for all of them)."""
    try:
        with open(path, "rb") as handle:
            return json.load(handle, object_pairs_hook=_interned_keys if shared_keys else None)
    except FileNotFoundError:
        return default


def _interned_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {sys.intern(key): value for key, value in pairs}


def make_private_dir(path: str, mode: int) -> None:
    """Make the directory ``path`` (and its parents) and keep its permission bits within ``mode``.

    An existing directory is tightened in place (bits outside ``mode`` are cleared, the owner keeps
    rwx), as Docker re-applies its modes at every start (CVE-2021-41091): a directory made by an
    older, laxer version must not stay open to other local users.
    """
    os.makedirs(path, mode=mode, exist_ok=True)
    current = os.stat(path).st_mode & 0o7777
    wanted = (current & mode) | 0o700
    if wanted != current:
        os.chmod(path, wanted)
