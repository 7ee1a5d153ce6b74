"""The container record: what moord keeps about each container, on disk and in memory.

One JSON file per container, ``<data_root>/containers/<id>/config.v2.json``,
written atomically; its fields follow Docker's inspect output so that the API
shapes it with little work.
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from moor.errors import InvalidParameter, NotFound
from moor.fsutil import read_json
from moor.timefmt import ZERO_TIME

VALID_NAME = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+")

_LEFT = ("admiring", "brave", "clever", "dazzling", "eager", "focused", "gentle", "happy", "jolly", "keen",
         "lucid", "modest", "nifty", "optimistic", "quirky", "relaxed", "serene", "tender", "upbeat", "vibrant")
_RIGHT = ("albattani", "babbage", "curie", "darwin", "euclid", "fermat", "galileo", "hopper", "lovelace",
          "meitner", "newton", "noether", "pascal", "ritchie", "shannon", "tesla", "turing", "wozniak")


def random_name() -> str:
    return f"{random.choice(_LEFT)}_{random.choice(_RIGHT)}"


def check_name(name: str) -> str:
    """Validate a user-given name and return it without its leading slash."""
    if not VALID_NAME.fullmatch(name):
        raise InvalidParameter(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


@dataclass
class State:
    """Docker's ``State`` object."""

    Status: str = "created"  # created, running, paused, restarting, removing, exited, dead
    Running: bool = False
    Paused: bool = False
    Restarting: bool = False
    OOMKilled: bool = False
    Dead: bool = False
    Pid: int = 0
    ExitCode: int = 0
    Error: str = ""
    StartedAt: str = ZERO_TIME
    FinishedAt: str = ZERO_TIME
    Health: dict[str, Any] | None = None  # only for containers with a health check


@dataclass
class Container:
    """Everything moord keeps about a container."""

    id: str
    name: str
    created: str
    image_id: str
    image: str  # as the user named it
    path: str
    args: list[str]
    config: dict[str, Any]
    host_config: dict[str, Any]
    state: State = field(default_factory=State)
    restart_count: int = 0
    log_path: str = ""
    hostname_path: str = ""
    hosts_path: str = ""
    resolv_conf_path: str = ""
    storage_key: str = ""
    rootfs: str = ""
    networks: dict[str, Any] = field(default_factory=dict)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    ports: dict[str, Any] = field(default_factory=dict)  # published ports, as NetworkSettings.Ports shows them
    manually_stopped: bool = False  # stop/kill by the user: restart policies stand down
    restart_delay: float = 0.0  # the current back-off delay of the restart policy

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))

    @property
    def log_driver(self) -> str:
        return (self.host_config.get("LogConfig") or {}).get("Type") or ""

    @property
    def log_options(self) -> dict[str, str]:
        return dict((self.host_config.get("LogConfig") or {}).get("Config") or {})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Container:
        data = dict(data)
        data["state"] = State(**data.get("state", {}))
        return cls(**data)


@dataclass
class PendingSave:
    """A container record serialised under the store lock, to be written by :meth:`ContainerStore.write`."""

    container_id: str
    data: bytes
    number: int


class ContainerStore:
    """The records under ``<data_root>/containers``, with a name index; thread-safe."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.lock = threading.RLock()
        os.makedirs(root, mode=0o710, exist_ok=True)
        self._by_id: dict[str, Container] = {}
        self._deleted: set[str] = set()  # IDs removed while moord runs: never saved again
        self._saves = 0  # saves prepared so far: the number of the latest
        self._latest: dict[str, int] = {}  # ID -> the number of its latest save prepared and not yet renamed
        for name in os.listdir(root):
            data = read_json(os.path.join(root, name, "config.v2.json"), shared_keys=True)
            if data is not None:
                self._by_id[name] = Container.from_json(data)

    def directory(self, container_id: str) -> str:
        return os.path.join(self.root, container_id)

    def save(self, container: Container) -> None:
        """Write the record (atomically); NotFound once the container was deleted: a request racing its
        removal (connect, stop) must not bring the record back."""
        with self.lock:
            self.write(self.prepare(container))

    def prepare(self, container: Container) -> PendingSave:
        """The record as it is now, for :meth:`write`; NotFound once the container was deleted. Under the
        store lock: the saves of one record are numbered in the order they were prepared."""
        with self.lock:
            if container.id in self._deleted:
                raise NotFound(f"No such container: {container.id}")
            os.makedirs(self.directory(container.id), mode=0o710, exist_ok=True)
            self._saves += 1
            self._latest[container.id] = self._saves
            self._by_id[container.id] = container
            data = json.dumps(container.to_json(), indent=1, sort_keys=True).encode()
            return PendingSave(container.id, data, self._saves)

    def write(self, pending: PendingSave) -> None:
        """Write a prepared record as :func:`moor.fsutil.atomic_write` does (synced before its rename; the
        previous version is a consistent state, so no fsync of the directory, as Docker's), the store lock
        not needed meanwhile: parallel starts do not queue behind each other's fsync. The rename, under the
        lock, is skipped when a later save of the record was prepared or the container deleted meanwhile."""
        directory = self.directory(pending.container_id)
        try:
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        except FileNotFoundError:
            with self.lock:
                if pending.container_id in self._deleted:
                    return  # removed meanwhile: nothing to keep
            raise
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pending.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
            with self.lock:
                if self._latest.get(pending.container_id) == pending.number \
                        and pending.container_id not in self._deleted:
                    os.replace(temp, os.path.join(directory, "config.v2.json"))
                    del self._latest[pending.container_id]
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    def forget(self, container_id: str) -> None:
        with self.lock:
            self._by_id.pop(container_id, None)
            self._latest.pop(container_id, None)

    def delete(self, container_id: str) -> None:
        """Forget the container and remove its record file, first of all it has on disk: a removal that is
        interrupted after this leaves a directory without a record, which :meth:`orphans` finds."""
        with self.lock:
            self._by_id.pop(container_id, None)
            self._latest.pop(container_id, None)
            self._deleted.add(container_id)
            try:
                os.unlink(os.path.join(self.directory(container_id), "config.v2.json"))
            except FileNotFoundError:
                pass

    def orphans(self) -> list[str]:
        """The container directories without a record: what an interrupted create or remove left."""
        with self.lock:
            return [name for name in os.listdir(self.root)
                    if name not in self._by_id and not os.path.exists(os.path.join(self.root, name, "config.v2.json"))]

    def all(self) -> list[Container]:
        with self.lock:
            return list(self._by_id.values())

    def by_name(self, name: str) -> Container | None:
        name = name.lstrip("/")
        with self.lock:
            for container in self._by_id.values():
                if container.name == name:
                    return container
        return None

    def find(self, ident: str) -> Container | None:
        """By full ID, name, or unambiguous ID prefix (Docker's order)."""
        with self.lock:
            if ident in self._by_id:
                return self._by_id[ident]
            named = self.by_name(ident)
            if named is not None:
                return named
            matches = [c for c in self._by_id.values() if ident and c.id.startswith(ident)]
            if len(matches) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {ident}")
            return matches[0] if matches else None
