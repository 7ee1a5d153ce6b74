"""The ``local`` volume driver: ``<data_root>/volumes/<name>/_data`` per volume, as Docker lays them out.

A volume's metadata (creation time, labels, options) is ``meta.json`` beside
its ``_data``. A volume created with ``type``/``device``/``o`` options has
that device mounted over ``_data`` when its first user mounts it and
unmounted when its last user leaves. Users are counted per mount ID (a
container ID) in ``<exec_root>/volume/local/users.json``, so a moord restart
keeps the counts of containers that are still running; the exec root is
emptied by a reboot, as the mounts are, and counts whose mount has vanished are
dropped when the driver starts.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from datetime import UTC, datetime

from moor import hookimpl
from moor.errors import Conflict, InvalidParameter, MoorError, NotFound
from moor.fsutil import atomic_write_json, make_private_dir, read_json
from moor.types import DriverContext, VolumeInfo
from moor_volume_local import mounts
from moor_volume_local.options import MountOptions, parse_options

VALID_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
#: ``<data_root>/volumes`` and each ``<name>`` in it, as Docker's (``_data`` is the volume's own, 0755 when made).
VOLUMES_MODE = 0o701
#: a local volume is a directory named after it: the file system's NAME_MAX bounds its name
MAX_NAME_LENGTH = 255


def check_name(name: str) -> None:
    """Docker's rule for local volume names (which also keeps ``..``, ``/`` and NUL out)."""
    if not VALID_NAME.fullmatch(name):
        raise InvalidParameter(
            f'"{name}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameter(f"volume name is too long for a local volume: {len(name)} characters, "
                               f"at most {MAX_NAME_LENGTH}")


class LocalVolumeDriver:
    """Volumes as directories on the host, optionally with a device mounted over them."""

    def __init__(self, context: DriverContext) -> None:
        if context.options:
            raise InvalidParameter(f"unknown option {next(iter(context.options))!r} for the local volume driver")
        # context.home is <data_root>/volume/local; Docker's layout is <data_root>/volumes/<name>/_data
        self.home = os.path.join(os.path.dirname(os.path.dirname(context.home)), "volumes")
        make_private_dir(self.home, VOLUMES_MODE)
        self._tighten_volume_dirs()
        self.users_path = os.path.join(context.exec_home, "users.json")
        self._lock = threading.Lock()
        self._users: dict[str, list[str]] = read_json(self.users_path, {}) or {}
        self._forget_vanished_mounts()

    def _tighten_volume_dirs(self) -> None:
        """Volume directories made by an older moor (0755) get Docker's 0701 (``_data`` keeps its mode)."""
        for name in os.listdir(self.home):
            path = os.path.join(self.home, name)
            if VALID_NAME.fullmatch(name) and os.path.isdir(path) and not os.path.islink(path):
                make_private_dir(path, VOLUMES_MODE)

    # ------------------------------------------------------------------ records

    def _dir(self, name: str) -> str:
        check_name(name)
        return os.path.join(self.home, name)

    def _data(self, name: str) -> str:
        return os.path.join(self._dir(name), "_data")

    def _meta(self, name: str) -> dict | None:
        if not VALID_NAME.fullmatch(name):
            return None
        try:
            meta = read_json(os.path.join(self._dir(name), "meta.json"))
        except (NotADirectoryError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    def _info(self, name: str) -> VolumeInfo | None:
        meta = self._meta(name)
        if meta is None:
            return None
        return VolumeInfo(name=name, driver="local", mountpoint=self._data(name), created_at=meta["created_at"],
                          labels=dict(meta.get("labels") or {}), options=dict(meta.get("options") or {}))

    @staticmethod
    def _mount_options(meta: dict) -> MountOptions:
        return parse_options(dict(meta.get("options") or {}))

    def _save_users(self) -> None:
        self._users = {name: ids for name, ids in self._users.items() if ids}
        atomic_write_json(self.users_path, self._users)

    def _forget_vanished_mounts(self) -> None:
        """Drop counts for volumes whose mount is gone (or that are gone), after a reboot or a crash."""
        changed = False
        for name in list(self._users):
            try:
                meta = self._meta(name)
                if meta is None or (self._mount_options(meta).needs_mount and not mounts.is_mounted(self._data(name))):
                    del self._users[name]
                    changed = True
            except MoorError:
                del self._users[name]
                changed = True
        if changed:
            self._save_users()

    # ------------------------------------------------------------------ hooks

    @hookimpl
    def moor_volume_create(self, name: str, options: dict[str, str], labels: dict[str, str]) -> VolumeInfo:
        check_name(name)
        parse_options(options)
        with self._lock:
            existing = self._info(name)
            if existing is not None:
                return existing
            directory = self._dir(name)
            make_private_dir(directory, VOLUMES_MODE)
            os.makedirs(os.path.join(directory, "_data"), mode=0o755, exist_ok=True)
            created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
            atomic_write_json(os.path.join(directory, "meta.json"),
                              {"created_at": created, "labels": dict(labels), "options": dict(options)})
            info = self._info(name)
        assert info is not None
        return info

    @hookimpl
    def moor_volume_remove(self, name: str, force: bool) -> bool:
        with self._lock:
            if self._users.get(name):
                raise Conflict(f"remove {name}: volume is in use")
            if self._meta(name) is None:
                if force:
                    return False
                raise NotFound(f"get {name}: no such volume")
            directory = self._dir(name)
            for point in sorted(mounts.mounts_under(directory), key=len, reverse=True):
                mounts.unmount(point)  # a mount left by a crash: never delete through it
            if mounts.mounts_under(directory):
                raise Conflict(f"remove {name}: volume is still mounted")
            shutil.rmtree(directory)
            return True

    @hookimpl
    def moor_volume_get(self, name: str) -> VolumeInfo | None:
        return self._info(name)

    @hookimpl
    def moor_volume_list(self) -> list[VolumeInfo]:
        names = sorted(os.listdir(self.home)) if os.path.isdir(self.home) else []
        return [info for info in (self._info(n) for n in names if VALID_NAME.fullmatch(n)) if info]

    @hookimpl
    def moor_volume_mount(self, name: str, mount_id: str) -> str:
        with self._lock:
            info = self._info(name)
            if info is None:
                raise NotFound(f"get {name}: no such volume")
            users = self._users.setdefault(name, [])
            if mount_id in users:
                return info.mountpoint
            options = parse_options(dict(info.options))
            if options.needs_mount and not users and not mounts.is_mounted(info.mountpoint):
                mounts.mount(options, info.mountpoint)
            users.append(mount_id)
            self._save_users()
            return info.mountpoint

    @hookimpl
    def moor_volume_unmount(self, name: str, mount_id: str) -> bool:
        with self._lock:
            users = self._users.get(name, [])
            if mount_id not in users:
                return False
            users.remove(mount_id)
            meta = self._meta(name) if not users else None
            if meta is not None and self._mount_options(meta).needs_mount:
                mounts.unmount(self._data(name))
            self._save_users()
            return True
