"""The volume service: Docker's volumes over the volume drivers.

Each volume belongs to one driver; which one is recorded in
``<data_root>/volume/volumes.json`` (name -> driver) so the volumes of any
driver are found again after a restart. A volume is *in use* while a container
references it, running or not (as in Docker): the service is given a
:class:`VolumeUsers` query for that (the engine's
:class:`~moor.services.container_query.ContainerQuery`). Mounting is delegated to the
driver, which counts its users per mount ID (a container ID).

The service publishes Docker's volume events: ``create`` (each time a volume is
asked for, existing or not, as Docker does), ``mount`` and ``unmount`` (a
container's use), ``destroy`` (removed) and one ``prune`` with the bytes reclaimed.
"""

from __future__ import annotations

import builtins
import logging
import os
import secrets
import threading
from typing import TYPE_CHECKING, Any, Protocol

from moor.errors import Conflict, InvalidParameter, MoorError, NotFound
from moor.filters import labels_match
from moor.fsutil import atomic_write_json, read_json
from moor.namepattern import is_valid, name_matches
from moor.services.events import EventBus
from moor.types import VolumeInfo

if TYPE_CHECKING:
    from moor.drivers import DriverSet

log = logging.getLogger(__name__)

#: Docker 23+ marks volumes created for ``-v /path`` and an image's VOLUME with this label.
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
LIST_FILTERS = ("dangling", "name", "label", "label!", "driver")
PRUNE_FILTERS = ("label", "label!", "all")


def _truthy(values: list[str], key: str) -> bool:
    """A boolean filter (``dangling=true``): Docker accepts true/false/1/0."""
    value = values[-1].lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidParameter(f"Invalid filter '{key}=[{values[-1]}]'")


def _matches(pattern: str, name: str) -> bool:
    """Docker's ``name=`` filter: a regular expression searched in the name (a substring when not one)."""
    if is_valid(pattern):
        return name_matches(pattern, name)
    return pattern in name


def volume_view(info: VolumeInfo) -> dict[str, Any]:
    """Docker's Volume JSON for what a driver reported (no labels or options show as ``null``, as in Docker)."""
    view: dict[str, Any] = {
        "CreatedAt": info.created_at, "Driver": info.driver, "Labels": dict(info.labels) or None,
        "Mountpoint": info.mountpoint, "Name": info.name, "Options": dict(info.options) or None,
        "Scope": info.scope or "local",
    }
    if info.status:
        view["Status"] = dict(info.status)
    return view


def directory_size(path: str) -> int:
    """Bytes used by the files under ``path`` (hard links counted once, symlinks not followed)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(path):
        for entry in files + dirs:
            try:
                stat = os.lstat(os.path.join(root, entry))
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) in seen:
                continue
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_blocks * 512 if stat.st_blocks else stat.st_size
    return total


class VolumeUsers(Protocol):
    """Who references a volume (the containers, answered from their store)."""

    def volume_users(self, name: str) -> builtins.list[str]:
        """IDs of the containers whose mounts reference the volume ``name``."""
        ...


class NoVolumeUsers:
    """No container references any volume (a volume service without containers, as in unit tests)."""

    def volume_users(self, name: str) -> builtins.list[str]:
        return []


class VolumeService:
    """Create, find, list, remove, prune and mount volumes of every loaded volume driver."""

    def __init__(self, data_root: str, drivers: DriverSet, events: EventBus | None = None,
                 users: VolumeUsers | None = None) -> None:
        self.drivers = drivers
        #: where the volume events go (a bus of its own when none is given, as in unit tests)
        self.events = events if events is not None else EventBus()
        self.path = os.path.join(data_root, "volume", "volumes.json")
        self.lock = threading.RLock()
        self.owners: dict[str, str] = read_json(self.path, {}) or {}
        #: which containers reference a volume: removal and prune refuse those
        self.referrers: VolumeUsers = users if users is not None else NoVolumeUsers()

    # ------------------------------------------------------------------ records

    def _save(self) -> None:
        atomic_write_json(self.path, self.owners)

    def _driver_names(self) -> builtins.list[str]:
        return self.drivers.names("volume")

    def _find(self, name: str) -> VolumeInfo | None:
        """The volume ``name`` from its recorded driver, else from whichever driver has it."""
        if not name or "\x00" in name:
            return None
        owner = self.owners.get(name)
        candidates = [owner] if owner in self._driver_names() else []
        candidates += [d for d in self._driver_names() if d not in candidates]
        for driver_name in candidates:
            try:
                info = self.drivers.volume(driver_name).get(name=name)
            except InvalidParameter:
                info = None  # a name this driver cannot hold is not one of its volumes
            if info is not None:
                if self.owners.get(name) != driver_name:
                    self.owners[name] = driver_name
                    self._save()
                return info
        return None

    def find(self, name: str) -> dict[str, Any] | None:
        """Docker's Volume JSON for ``name``, or ``None``."""
        with self.lock:
            info = self._find(name)
        return volume_view(info) if info is not None else None

    # ------------------------------------------------------------------ API operations

    def create(self, name: str = "", driver: str = "", options: dict[str, str] | None = None,
               labels: dict[str, str] | None = None, anonymous: bool = False) -> dict[str, Any]:
        """Create a volume (a random 64-hex name when ``name`` is empty); an existing one is returned as is."""
        if "\x00" in name:
            raise InvalidParameter("volume name must not contain a NUL byte")
        driver_name = driver or self.drivers.defaults["volume"]
        name = name or secrets.token_hex(32)
        if driver_name not in self._driver_names():
            raise NotFound(f"create {name}: error looking up volume plugin {driver_name}: "
                           f"plugin \"{driver_name}\" not found")
        handle = self.drivers.volume(driver_name)
        labels = dict(labels or {})
        if anonymous:
            labels.setdefault(ANONYMOUS_LABEL, "")
        with self.lock:
            existing = self._find(name)
            if existing is not None:
                if driver and existing.driver != driver_name:
                    raise Conflict(f"create {name}: driver '{existing.driver}' already has volume '{name}': "
                                   "volume name must be unique")
                info = existing
            else:
                try:
                    info = handle.create(name=name, options=dict(options or {}), labels=labels)
                except InvalidParameter as err:
                    raise InvalidParameter(f"create {name}: {err.message}") from None
                self.owners[name] = driver_name
                self._save()
        self.events.publish("volume", "create", info.name, {"driver": info.driver})
        return volume_view(info)

    def inspect(self, name: str) -> dict[str, Any]:
        view = self.find(name)
        if view is None:
            raise NotFound(f"get {name}: no such volume")
        return view

    def _all(self, warnings: builtins.list[str] | None = None) -> builtins.list[VolumeInfo]:
        """Every driver's volumes; a driver that cannot list them adds a warning instead."""
        volumes: dict[str, VolumeInfo] = {}
        for driver_name in self._driver_names():
            try:
                listed = self.drivers.volume(driver_name).list() or []
            except MoorError as err:
                log.warning("volume driver %s could not list its volumes: %s", driver_name, err)
                if warnings is not None:
                    warnings.append(f"{driver_name}: {err}")
                continue
            for info in listed:
                volumes.setdefault(info.name, info)
        return list(volumes.values())

    def list(self, filters: dict[str, builtins.list[str]] | None = None) -> dict[str, Any]:
        """``GET /volumes``: every driver's volumes, filtered."""
        filters = filters or {}
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidParameter(f"Invalid filter '{key}'")
        dangling = _truthy(filters["dangling"], "dangling") if filters.get("dangling") else None
        result = []
        warnings: builtins.list[str] = []
        with self.lock:
            for info in self._all(warnings):
                if filters.get("name") and not any(_matches(n, info.name) for n in filters["name"]):
                    continue
                if filters.get("driver") and info.driver not in filters["driver"]:
                    continue
                if not labels_match(info.labels, filters):
                    continue
                if dangling is not None and (not self.referrers.volume_users(info.name)) != dangling:
                    continue
                result.append(volume_view(info))
        result.sort(key=lambda v: v["Name"])
        return {"Volumes": result, "Warnings": warnings or None}

    def users(self, name: str) -> builtins.list[str]:
        """IDs of the containers that reference the volume ``name``."""
        return builtins.list(self.referrers.volume_users(name))

    def remove(self, name: str, force: bool = False) -> None:
        """Remove a volume no container references; ``force`` ignores a missing one (``rm -f``)."""
        with self.lock:
            if self._remove(name, force):
                self._save()

    def _remove(self, name: str, force: bool) -> bool:
        """:meth:`remove` without writing the name->driver record; returns whether that record changed."""
        info = self._find(name)
        if info is None:
            if force:
                return False
            raise NotFound(f"get {name}: no such volume")
        users = self.users(name)
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.drivers.volume(info.driver).remove(name=name, force=force)
        self.events.publish("volume", "destroy", name, {"driver": info.driver})
        return self.owners.pop(name, None) is not None

    def prune(self, filters: dict[str, builtins.list[str]] | None = None, all_volumes: bool = False) -> dict[str, Any]:
        """Remove unused volumes: anonymous ones only unless ``all_volumes`` (or the filter ``all=true``)."""
        filters = dict(filters or {})
        for key in filters:
            if key not in PRUNE_FILTERS:
                raise InvalidParameter(f"Invalid filter '{key}'")
        if filters.get("all"):
            all_volumes = all_volumes or _truthy(filters["all"], "all")
        deleted: builtins.list[str] = []
        reclaimed = 0
        changed = False
        with self.lock:
            try:
                for info in sorted(self._all(), key=lambda i: i.name):
                    if not all_volumes and ANONYMOUS_LABEL not in info.labels:
                        continue
                    if not labels_match(info.labels, filters) or self.users(info.name):
                        continue
                    size = directory_size(info.mountpoint) if info.driver == "local" and info.mountpoint else 0
                    try:
                        changed = self._remove(info.name, force=False) or changed
                    except MoorError as err:
                        log.warning("prune: volume %s not removed: %s", info.name, err)
                        continue
                    deleted.append(info.name)
                    reclaimed += size
            finally:
                if changed:
                    self._save()  # once for the whole prune
        self.events.publish("volume", "prune", "", {"reclaimed": str(reclaimed)})
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    # ------------------------------------------------------------------ containers

    def mount(self, name: str, container_id: str, destination: str = "", rw: bool = True) -> str:
        """Make the volume ready for ``container_id`` (mounted on ``destination``) and return its host path."""
        with self.lock:
            info = self._find(name)
            if info is None:
                raise NotFound(f"get {name}: no such volume")
            driver_name = info.driver
        path = str(self.drivers.volume(driver_name).mount(name=name, mount_id=container_id))
        self.events.publish("volume", "mount", name, {
            "container": container_id, "destination": destination, "driver": driver_name, "propagation": "",
            "read/write": "true" if rw else "false"})
        return path

    def unmount(self, name: str, container_id: str) -> None:
        """Release ``container_id``'s use of the volume; a volume gone already is not an error."""
        with self.lock:
            info = self._find(name)
        if info is None:
            return
        self.drivers.volume(info.driver).unmount(name=name, mount_id=container_id)
        self.events.publish("volume", "unmount", name, {"container": container_id, "driver": info.driver})

    def usage(self) -> builtins.list[dict[str, Any]]:
        """Volumes with Docker's ``UsageData`` (size of local volumes, reference counts), for ``system df``."""
        result = []
        with self.lock:
            for info in sorted(self._all(), key=lambda i: i.name):
                view = volume_view(info)
                size = directory_size(info.mountpoint) if info.driver == "local" and info.mountpoint else -1
                view["UsageData"] = {"Size": size, "RefCount": len(self.users(info.name))}
                result.append(view)
        return result
