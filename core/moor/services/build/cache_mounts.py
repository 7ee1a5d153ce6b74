"""``RUN --mount=type=cache`` directories: kept between builds under ``<data_root>/build/cache-mounts``.

Each cache id (BuildKit's default: the mount's target) has a directory named for the hash of the id, with a
small record beside it (``<name>.json``: the id, when it was made and last used, how often). BuildKit's
sharing modes: ``shared`` lets any number of RUN steps use the directory at once, ``locked`` waits until no
other step uses it (and keeps others out meanwhile), ``private`` gives a step a directory of its own when the
first one is busy (an extra instance, ``<name>-<n>``, kept for later builds too). Directories are made under a
temp name and renamed into place, and removed by renaming them aside first, so a crash leaves no half-made
cache mount: what it leaves (``.tmp-*``, ``.trash-*``) goes at the next start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from moor.errors import InvalidParameter, MoorError
from moor.fsutil import atomic_write_json, read_json

log = logging.getLogger(__name__)

SHARING_MODES = ("shared", "private", "locked")

#: How often a step waiting for a locked cache mount checks whether its build was cancelled (seconds).
_WAIT_POLL = 0.5


@dataclass
class CacheMountEntry:
    """One cache-mount directory as ``system df`` and ``builder prune`` see it."""

    name: str  # the directory's name under the root (also its build-cache ID)
    mount_id: str
    created: float
    last_used: float
    usage_count: int
    in_use: bool
    size: int


class CacheMountLease:
    """A RUN step's use of a cache-mount directory: ``.path``; ``release()`` (or leave the ``with`` block) when
    the step is done."""

    def __init__(self, mounts: CacheMounts, name: str, path: str, exclusive: bool) -> None:
        self.path = path
        self.name = name
        self.exclusive = exclusive
        self._mounts = mounts
        self._released = False

    def release(self) -> None:
        """Let other steps have the directory (idempotent)."""
        if not self._released:
            self._released = True
            self._mounts.release(self)

    def __enter__(self) -> CacheMountLease:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()


class CacheMounts:
    """Owns ``<data_root>/build/cache-mounts``; thread-safe (all builds run in moord's process)."""

    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, mode=0o700, exist_ok=True)
        self._changed = threading.Condition()
        self._users: dict[str, int] = {}  # directory name -> steps using it now
        self._exclusive: set[str] = set()  # directories a locked step holds
        self._records = threading.Lock()  # one update of a directory's record at a time
        self._clean()

    def _clean(self) -> None:
        """Remove what a crash left: half-made or half-removed directories, records without a directory."""
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            if name.startswith((".tmp-", ".trash-")):
                log.info("removing cache mount leftover %s", name)
                _remove(path)
            elif name.endswith(".json") and not os.path.isdir(path[: -len(".json")]):
                os.unlink(path)

    # ------------------------------------------------------------------ use

    def acquire(self, mount_id: str, sharing: str = "shared", mode: int = 0o755, uid: int = 0, gid: int = 0,
                cancelled: Callable[[], bool] | None = None) -> CacheMountLease:
        """The directory of the cache ``mount_id`` for one RUN step, made (``mode``, owned by ``uid``:``gid``)
        the first time; waits while a ``locked`` step holds it (or, for ``locked``, while anyone uses it)
        unless ``cancelled()`` says the build is over (then raises MoorError)."""
        if not mount_id:
            raise InvalidParameter("cache mount id must not be empty")
        if sharing not in SHARING_MODES:
            raise InvalidParameter(f"unrecognized sharing mode {sharing!r}")
        base = hashlib.sha256(mount_id.encode()).hexdigest()[:25]
        with self._changed:
            if sharing == "private":
                name = self._free_instance(base)
            else:
                name = base
                while name in self._exclusive or (sharing == "locked" and self._users.get(name)):
                    if cancelled is not None and cancelled():
                        raise MoorError(f"build cancelled while waiting for cache mount {mount_id}")
                    self._changed.wait(_WAIT_POLL)
            self._users[name] = self._users.get(name, 0) + 1
            if sharing == "locked":
                self._exclusive.add(name)
        try:
            path = self._prepare(name, mount_id, mode, uid, gid)
        except BaseException:
            self.release(CacheMountLease(self, name, "", sharing == "locked"))
            raise
        return CacheMountLease(self, name, path, sharing == "locked")

    def _free_instance(self, base: str) -> str:
        """The first instance of ``base`` no step uses (``base``, ``base-1``, ...); called with the lock held."""
        number = 0
        while True:
            name = base if number == 0 else f"{base}-{number}"
            if not self._users.get(name):
                return name
            number += 1

    def _prepare(self, name: str, mount_id: str, mode: int, uid: int, gid: int) -> str:
        """Make the directory ``name`` if it is not there yet and note its use; its path."""
        path = os.path.join(self.root, name)
        with self._records:
            return self._prepare_locked(path, mount_id, mode, uid, gid)

    def _prepare_locked(self, path: str, mount_id: str, mode: int, uid: int, gid: int) -> str:
        now = time.time()
        record = _read_record(path + ".json")
        if not os.path.isdir(path):
            temp = tempfile.mkdtemp(prefix=".tmp-", dir=self.root)
            os.chmod(temp, mode & 0o7777)
            os.chown(temp, uid, gid)
            os.rename(temp, path)
            record = None
        if record is None:
            record = {"id": mount_id, "created": now, "last_used": now, "usage_count": 0}
        record["last_used"] = now
        record["usage_count"] = int(_number(record.get("usage_count"))) + 1
        atomic_write_json(path + ".json", record)
        return path

    def release(self, lease: CacheMountLease) -> None:
        """End ``lease`` (called by the lease)."""
        with self._changed:
            count = self._users.get(lease.name, 0) - 1
            if count > 0:
                self._users[lease.name] = count
            else:
                self._users.pop(lease.name, None)
            if lease.exclusive:
                self._exclusive.discard(lease.name)
            self._changed.notify_all()

    # ------------------------------------------------------------------ usage and removal

    def entries(self) -> list[CacheMountEntry]:
        """Every cache-mount directory, with its size."""
        result = []
        for name in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, name)
            if name.startswith(".") or name.endswith(".json") or not os.path.isdir(path):
                continue
            record = _read_record(path + ".json") or {}
            created = _number(record.get("created"))
            with self._changed:
                in_use = bool(self._users.get(name))
            result.append(CacheMountEntry(name=name, mount_id=str(record.get("id") or ""), created=created,
                                          last_used=_number(record.get("last_used")) or created,
                                          usage_count=int(_number(record.get("usage_count"))), in_use=in_use,
                                          size=disk_usage(path)))
        return result

    def remove(self, name: str) -> bool:
        """Remove the directory ``name`` unless a step uses it; whether it went."""
        path = os.path.join(self.root, name)
        with self._changed:
            if self._users.get(name) or not os.path.isdir(path):
                return False
            trash = tempfile.mkdtemp(prefix=".trash-", dir=self.root)
            os.rename(path, os.path.join(trash, name))
        try:
            os.unlink(path + ".json")
        except FileNotFoundError:
            pass
        _remove(trash)
        return True


def disk_usage(path: str) -> int:
    """Bytes the tree at ``path`` takes on disk (blocks; each hard-linked inode once), as ``du`` counts."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512
    return total


def _read_record(path: str) -> dict[str, object] | None:
    """A cache mount's record, or None when it is missing or unreadable (a crash's half-written file)."""
    try:
        data = read_json(path)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _number(value: object) -> float:
    """A count or a time stamp of a record: a number from 0 to the year 9999 (what RFC 3339 can write), else 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 253402300799:
        return 0.0
    return float(value)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
