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
from dataclasses import dataclass, fields
from typing import Any

from moor.containers import hostconfig
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


@dataclass(slots=True)
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

    def to_json(self) -> dict[str, Any]:
        """Its fields by name, in Docker's order (the values themselves, not copies)."""
        return {name: getattr(self, name) for name in STATE_FIELDS}


#: the fields of :class:`State`, in order
STATE_FIELDS = tuple(item.name for item in fields(State))

#: the record's fields, in the order of its JSON file and of :class:`Container`'s arguments
RECORD_FIELDS = ("id", "name", "created", "image_id", "image", "path", "args", "config", "host_config", "state",
                 "restart_count", "log_path", "hostname_path", "hosts_path", "resolv_conf_path", "storage_key",
                 "rootfs", "networks", "mounts", "ports", "manually_stopped", "restart_delay")
#: the end of the name of a container's json-file log in its directory: ``<id>-json.log``, as Docker's
LOG_FILE_SUFFIX = "-json.log"


class Container:
    """Everything moord keeps about a container: a thousand of them live in moord's memory at once.

    Kept lean: slots instead of a ``__dict__``; the HostConfig without its fields at their zero value
    (:mod:`moor.containers.hostconfig`, left out by the store at every save); and the paths of the files in the
    container's own directory (its log and its /etc files) derived from ``home`` (the directory of the records,
    set by the store) rather than stored: a path that is elsewhere (a container sharing another's network has
    that one's /etc files) is stored as given.
    """

    __slots__ = ("_hostname_path", "_hosts_path", "_log_path", "_resolv_conf_path", "args", "config", "created", "home",
                 "host_config", "id", "image", "image_id", "manually_stopped", "mounts", "name", "networks", "path",
                 "ports", "restart_count", "restart_delay", "rootfs", "state", "storage_key")

    def __init__(self, id: str, name: str, created: str, image_id: str, image: str, path: str,
                 args: list[str], config: dict[str, Any], host_config: dict[str, Any], state: State | None = None,
                 restart_count: int = 0, log_path: str = "", hostname_path: str = "", hosts_path: str = "",
                 resolv_conf_path: str = "", storage_key: str = "", rootfs: str = "",
                 networks: dict[str, Any] | None = None, mounts: list[dict[str, Any]] | None = None,
                 ports: dict[str, Any] | None = None, manually_stopped: bool = False, restart_delay: float = 0.0,
                 home: str = "") -> None:
        self.id = id
        self.name = name
        self.created = created
        self.image_id = image_id
        self.image = image  # as the user named it
        self.path = path
        self.args = args
        self.config = config
        self.host_config = host_config
        self.state = state if state is not None else State()
        self.restart_count = restart_count
        #: the storage driver's key of its snapshot (its ID, one string for both)
        self.storage_key = id if storage_key == id else storage_key
        self.rootfs = rootfs
        self.networks = networks if networks is not None else {}
        self.mounts = mounts if mounts is not None else []
        #: published ports, as NetworkSettings.Ports shows them
        self.ports = ports if ports is not None else {}
        #: stop/kill by the user: restart policies stand down
        self.manually_stopped = manually_stopped
        #: the current back-off delay of the restart policy
        self.restart_delay = restart_delay
        #: the directory holding the containers' directories ("" when unknown: every path then stored)
        self.home = home
        self._log_path: str | None = log_path
        self._hostname_path: str | None = hostname_path
        self._hosts_path: str | None = hosts_path
        self._resolv_conf_path: str | None = resolv_conf_path
        self.settle(home)

    # ---------------------------------------------------------------- paths in its directory, derived

    def _own(self, name: str) -> str:
        return os.path.join(self.home, self.id, name)

    def _kept(self, path: str, name: str) -> str | None:
        """What to store for ``path`` of the file ``name`` in its directory: None where it is derived."""
        return None if self.home and path == self._own(name) else path

    @property
    def log_path(self) -> str:
        """Its json-file log ("" with another log driver)."""
        return self._own(self.id + LOG_FILE_SUFFIX) if self._log_path is None else self._log_path

    @log_path.setter
    def log_path(self, path: str) -> None:
        self._log_path = self._kept(path, self.id + LOG_FILE_SUFFIX)

    @property
    def hostname_path(self) -> str:
        return self._own("hostname") if self._hostname_path is None else self._hostname_path

    @hostname_path.setter
    def hostname_path(self, path: str) -> None:
        self._hostname_path = self._kept(path, "hostname")

    @property
    def hosts_path(self) -> str:
        return self._own("hosts") if self._hosts_path is None else self._hosts_path

    @hosts_path.setter
    def hosts_path(self, path: str) -> None:
        self._hosts_path = self._kept(path, "hosts")

    @property
    def resolv_conf_path(self) -> str:
        return self._own("resolv.conf") if self._resolv_conf_path is None else self._resolv_conf_path

    @resolv_conf_path.setter
    def resolv_conf_path(self, path: str) -> None:
        self._resolv_conf_path = self._kept(path, "resolv.conf")

    def settle(self, home: str) -> None:
        """Make ``home`` the directory of its record's directory: the paths in it are derived from then on."""
        paths = self.log_path, self.hostname_path, self.hosts_path, self.resolv_conf_path
        self.home = home
        self.log_path, self.hostname_path, self.hosts_path, self.resolv_conf_path = paths

    # ---------------------------------------------------------------- views of the record

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
        """The record as its JSON file holds it (every path in full); the values themselves, not copies."""
        data = {name: getattr(self, name) for name in RECORD_FIELDS}
        data["state"] = self.state.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], home: str = "") -> Container:
        data = dict(data)
        data["state"] = State(**data.get("state", {}))
        return cls(**data, home=home)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Container) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"Container(id={self.id!r}, name={self.name!r}, status={self.state.Status!r})"


def share_strings(value: Any, memo: dict[str, str]) -> Any:
    """``value`` (a JSON document) with each string replaced by the first equal one ``memo`` met, in place
    where it can: records read one after another share their image IDs, network IDs, default paths..."""
    if isinstance(value, str):
        return memo.setdefault(value, value)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (str, dict, list)):
                value[key] = share_strings(item, memo)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, (str, dict, list)):
                value[index] = share_strings(item, memo)
    return value


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
        #: name -> ID, kept at each save (a rename leaves the old name behind: :meth:`by_name` checks the name)
        self._by_name: dict[str, str] = {}
        self._deleted: set[str] = set()  # IDs removed while moord runs: never saved again
        self._saves = 0  # saves prepared so far: the number of the latest
        self._latest: dict[str, int] = {}  # ID -> the number of its latest save prepared and not yet renamed
        memo: dict[str, str] = {}  # only while loading: the records share equal strings from then on
        for name in os.listdir(root):
            data = read_json(os.path.join(root, name, "config.v2.json"), shared_keys=True)
            if data is not None:
                container = Container.from_json(share_strings(data, memo), home=root)
                hostconfig.compact(container.host_config)
                self._by_id[name] = container
                self._by_name[container.name] = name

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
            self._by_name[container.name] = container.id
            if container.home != self.root:
                container.settle(self.root)
            hostconfig.compact(container.host_config)
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
        except FileNotFoundError:
            with self.lock:
                if pending.container_id in self._deleted:
                    return  # removed meanwhile, its directory with this temp file: nothing to keep
            raise
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    def forget(self, container_id: str) -> None:
        with self.lock:
            self._drop_name(self._by_id.pop(container_id, None))
            self._latest.pop(container_id, None)

    def _drop_name(self, container: Container | None) -> None:
        if container is not None and self._by_name.get(container.name) == container.id:
            del self._by_name[container.name]

    def delete(self, container_id: str) -> None:
        """Forget the container and remove its record file, first of all it has on disk: a removal that is
        interrupted after this leaves a directory without a record, which :meth:`orphans` finds."""
        with self.lock:
            self._drop_name(self._by_id.pop(container_id, None))
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
            container = self._by_id.get(self._by_name.get(name, ""))
        return container if container is not None and container.name == name else None

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
