"""The ``local`` volume driver: ``<home>/<name>/_data`` per volume, metadata beside it.

Mounts are reference counted per mount ID (a container ID) in memory; a
volume in use cannot be removed.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from datetime import datetime, timezone

from moor import hookimpl
from moor.errors import Conflict, InvalidParameter, NotFound
from moor.fsutil import atomic_write_json, read_json
from moor.types import DriverContext, VolumeInfo

VALID_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
KNOWN_OPTIONS = ("type", "device", "o")


class LocalVolumeDriver:
    """Volumes as directories on the host."""

    def __init__(self, context: DriverContext) -> None:
        if context.options:
            raise InvalidParameter(f"unknown option {next(iter(context.options))!r} for the local volume driver")
        # context.home is <data_root>/volume/local; Docker's layout is <data_root>/volumes/<name>/_data
        self.home = os.path.join(os.path.dirname(os.path.dirname(context.home)), "volumes")
        os.makedirs(self.home, mode=0o701, exist_ok=True)
        self._users: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def _dir(self, name: str) -> str:
        if not VALID_NAME.match(name):
            raise InvalidParameter(
                f'"{name}" includes invalid characters for a local volume name, only '
                '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
            )
        return os.path.join(self.home, name)

    def _info(self, name: str) -> VolumeInfo | None:
        meta = read_json(os.path.join(self._dir(name), "meta.json"))
        if meta is None:
            return None
        return VolumeInfo(name=name, driver="local", mountpoint=os.path.join(self._dir(name), "_data"),
                          created_at=meta["created_at"], labels=meta.get("labels", {}),
                          options=meta.get("options", {}))

    @hookimpl
    def moor_volume_create(self, name: str, options: dict[str, str], labels: dict[str, str]) -> VolumeInfo:
        for key in options:
            if key not in KNOWN_OPTIONS:
                raise InvalidParameter(f"invalid option key: {key!r}")
        with self._lock:
            existing = self._info(name)
            if existing is not None:
                return existing
            directory = self._dir(name)
            os.makedirs(os.path.join(directory, "_data"), mode=0o755, exist_ok=True)
            created = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
            atomic_write_json(os.path.join(directory, "meta.json"),
                              {"created_at": created, "labels": labels, "options": options})
        info = self._info(name)
        assert info is not None
        return info

    @hookimpl
    def moor_volume_remove(self, name: str, force: bool) -> bool:
        with self._lock:
            if self._users.get(name):
                raise Conflict(f"remove {name}: volume is in use")
            directory = self._dir(name)
            if not os.path.exists(directory):
                if force:
                    return False
                raise NotFound(f"get {name}: no such volume")
            shutil.rmtree(directory)
            return True

    @hookimpl
    def moor_volume_get(self, name: str) -> VolumeInfo | None:
        return self._info(name)

    @hookimpl
    def moor_volume_list(self) -> list[VolumeInfo]:
        names = sorted(os.listdir(self.home)) if os.path.isdir(self.home) else []
        return [info for info in (self._info(n) for n in names if VALID_NAME.match(n)) if info]

    @hookimpl
    def moor_volume_mount(self, name: str, mount_id: str) -> str:
        with self._lock:
            info = self._info(name)
            if info is None:
                raise NotFound(f"get {name}: no such volume")
            self._users.setdefault(name, set()).add(mount_id)
            return info.mountpoint

    @hookimpl
    def moor_volume_unmount(self, name: str, mount_id: str) -> bool:
        with self._lock:
            users = self._users.get(name, set())
            if mount_id not in users:
                return False
            users.discard(mount_id)
            return True
