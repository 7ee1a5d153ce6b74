"""The bridge driver's persisted state: its networks and their endpoints.

One JSON file, ``<home>/state.json``, replaced atomically (write, fsync,
rename). Every driver operation runs in a :meth:`StateStore.transaction`: it
holds a thread lock and an ``flock`` on ``<home>/state.lock`` (so two driver
instances on the same home, say before and after a restart, never interleave),
reads the file, and writes it back when the operation succeeded and changed it.

With a thousand endpoints the file is some 300 kB: a transaction reads it only
when it is not the file this store last read or wrote (its inode, time and size
tell), and writes it compact (C's JSON encoder; an indented dump takes the slow
pure-Python one), so an operation's cost hardly grows with the endpoints.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from moor import tracing
from moor.errors import MoorError

STATE_VERSION = 1


@dataclass
class EndpointRecord:
    """A container's attachment: its address and the veth pair that carries it."""

    container_id: str
    address: str
    mac: str
    host_veth: str
    interface: str
    netns_path: str = ""
    #: published ports (:class:`moor.types.PortMapping` fields), forwarded by NAT while connected
    ports: list[dict[str, object]] = field(default_factory=list)
    #: its global IPv6 address on a network with an IPv6 subnet ("" when none)
    address6: str = ""


@dataclass
class NetworkRecord:
    """A network the driver created."""

    id: str
    name: str
    bridge: str
    subnet: str
    gateway: str
    mtu: int
    internal: bool = False
    masquerade: bool = True
    icc: bool = True
    created_bridge: bool = True
    #: the block addresses are allocated from ("" = the whole subnet)
    ip_range: str = ""
    #: addresses reserved by ``--aux-address``: never allocated
    reserved: list[str] = field(default_factory=list)
    #: the IPv6 subnet, gateway and allocation block of a network made with ``--ipv6`` ("" when none)
    subnet6: str = ""
    gateway6: str = ""
    ip_range6: str = ""
    endpoints: dict[str, EndpointRecord] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> NetworkRecord:
        raw_endpoints = data.get("endpoints") or {}
        assert isinstance(raw_endpoints, dict)
        fields = {f.name for f in dataclasses.fields(cls)} - {"endpoints"}
        record = cls(**{k: v for k, v in data.items() if k in fields})  # type: ignore[arg-type]
        endpoint_fields = {f.name for f in dataclasses.fields(EndpointRecord)}
        record.endpoints = {key: EndpointRecord(**{k: v for k, v in value.items() if k in endpoint_fields})
                            for key, value in raw_endpoints.items()}
        return record


@dataclass
class State:
    """Everything the driver remembers, by network ID."""

    networks: dict[str, NetworkRecord] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"version": STATE_VERSION,
                "networks": {key: _network_json(value) for key, value in self.networks.items()}}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> State:
        networks = data.get("networks") or {}
        assert isinstance(networks, dict)
        return cls({key: NetworkRecord.from_json(value) for key, value in networks.items()})


def _network_json(record: NetworkRecord) -> dict[str, object]:
    """``dataclasses.asdict`` of a network, five times faster (its fields are flat but for the endpoints and
    their ports)."""
    data: dict[str, object] = dict(vars(record))
    data["reserved"] = list(record.reserved)
    data["endpoints"] = {key: {**vars(found), "ports": [dict(port) for port in found.ports]}
                         for key, found in record.endpoints.items()}
    return data


def _encode(state: State) -> str:
    return json.dumps(state.to_json(), separators=(",", ":"))


class StateStore:
    """The state file under the driver's home, with its locks."""

    def __init__(self, home: str) -> None:
        self.home = home
        self.path = os.path.join(home, "state.json")
        self._lock_path = os.path.join(home, "state.lock")
        self._thread_lock = threading.RLock()
        #: the state as this store last read or wrote it, its encoding, and the file's stamp then
        self._cached: tuple[State, str, tuple[int, int, int]] | None = None

    def load(self) -> State:
        """Read the state (empty when the file does not exist yet)."""
        return self._read()[0]

    def _read(self) -> tuple[State, str]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
            data = json.loads(text)
        except FileNotFoundError:
            return State(), _encode(State())
        except (OSError, ValueError) as err:
            raise MoorError(f"bridge driver: cannot read its state {self.path}: {err}") from None
        state = State.from_json(data)
        return state, _encode(state)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return found.st_ino, found.st_mtime_ns, found.st_size

    def save(self, state: State) -> None:
        """Replace the state file atomically."""
        self._write(_encode(state))
        self._cached = None

    def _write(self, text: str) -> None:
        temporary = f"{self.path}.tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as err:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise MoorError(f"bridge driver: cannot write its state {self.path}: {err}") from None

    def _current(self) -> tuple[State, str]:
        """The state and its encoding: the cached one while the file is the one it came from, else read."""
        stamp = self._stamp()
        if self._cached is not None and stamp is not None and self._cached[2] == stamp:
            return self._cached[0], self._cached[1]
        self._cached = None
        return self._read()

    @contextmanager
    def transaction(self) -> Iterator[State]:
        """Lock, load, yield the state, and save it unless the block raised."""
        with self._thread_lock:
            try:
                os.makedirs(self.home, mode=0o700, exist_ok=True)
                lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as err:
                raise MoorError(f"bridge driver: cannot use its home {self.home}: {err}") from None
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                with tracing.phase("bridge.load"):
                    state, before = self._current()
                self._cached = None  # the block changes the state in place: cached again only once it is saved
                yield state
                with tracing.phase("bridge.save"):
                    after = _encode(state)
                    if after != before:
                        self._write(after)
                stamp = self._stamp()
                if stamp is not None:
                    self._cached = (state, after, stamp)
            finally:
                os.close(lock_fd)
