"""The bridge driver's persisted state: its networks and their endpoints.

Every driver operation runs in a :meth:`StateStore.transaction`: it holds a
thread lock and an ``flock`` on ``<home>/state.lock`` (so two driver instances
on the same home, say before and after a restart, never interleave), takes the
state, and writes back what the block changed once it succeeded.

- The networks (without their endpoints) are ``<home>/state.json``, replaced
  atomically and durably (write, fsync, rename): they must survive a power loss.
- Each endpoint is a small file of its own, ``<home>/endpoints/<network>.<endpoint>.json``,
  written without fsync: an endpoint dies with its container's namespace, so
  after a power loss it is stale anyway (an unreadable one is skipped). A
  connect thus writes one small file, however many endpoints the host has: with
  one JSON file of them all, a thousand endpoints made each connect encode and
  fsync some 300 kB.

An endpoint record is immutable: an operation replaces it in its network's
``endpoints`` (or deletes it), and the transaction writes the endpoints that
are not the very objects it last wrote. A transaction reads the files only when
another writer changed them (the stamp of ``state.json`` and the token in
``endpoints/.generation``, which every change of the endpoints renews tell).
A ``state.json`` of an older driver, with the endpoints inside, is read as
well; the first transaction moves them to their files.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from moor import tracing
from moor.errors import MoorError

STATE_VERSION = 1
#: what an ID in an endpoint file's name may hold
SAFE_ID = re.compile(r"[0-9A-Za-z_-]{1,128}")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
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

    @classmethod
    def from_json(cls, data: dict[str, object]) -> State:
        networks = data.get("networks") or {}
        assert isinstance(networks, dict)
        return cls({key: NetworkRecord.from_json(value) for key, value in networks.items()})


def _network_json(record: NetworkRecord) -> dict[str, object]:
    """``dataclasses.asdict`` of a network without its endpoints (they have files of their own)."""
    data: dict[str, object] = dict(vars(record))
    data["reserved"] = list(record.reserved)
    data["endpoints"] = {}
    return data


def _encode(state: State) -> str:
    """``state.json``: the networks, without their endpoints."""
    return json.dumps({"version": STATE_VERSION,
                       "networks": {key: _network_json(value) for key, value in state.networks.items()}},
                      separators=(",", ":"))


def _endpoint_json(network_id: str, endpoint_id: str, found: EndpointRecord) -> str:
    return json.dumps({"network": network_id, "endpoint": endpoint_id,
                       **vars(found), "ports": [dict(port) for port in found.ports]}, separators=(",", ":"))


#: network ID -> endpoint ID -> the record as its file holds it
Written = dict[str, dict[str, EndpointRecord]]


@dataclass
class _Snapshot:
    """The state as this store last read or wrote it, and how to tell whether the files still hold it."""

    state: State
    networks_text: str  # ``state.json``'s text ("" when it must be written again)
    endpoints: Written
    stamp: tuple[int, int, int] | None  # of ``state.json``
    token: str  # of ``endpoints/.generation``


def _written(state: State) -> Written:
    return {network_id: dict(record.endpoints) for network_id, record in state.networks.items()}


def _ids_check(*ids: str) -> None:
    for ident in ids:
        if not SAFE_ID.fullmatch(ident):
            raise MoorError(f"bridge driver: {ident!r} cannot name an endpoint's file")


class StateStore:
    """The state's files under the driver's home, with their locks."""

    def __init__(self, home: str) -> None:
        self.home = home
        self.path = os.path.join(home, "state.json")
        self.endpoints_dir = os.path.join(home, "endpoints")
        self._marker = os.path.join(self.endpoints_dir, ".generation")
        self._lock_path = os.path.join(home, "state.lock")
        self._thread_lock = threading.RLock()
        self._cached: _Snapshot | None = None

    def load(self) -> State:
        """Read the state (empty when there is none yet)."""
        return self._read().state

    # ------------------------------------------------------------------ reading

    def _read(self) -> _Snapshot:
        stamp, token = self._stamp(), self._token()
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.loads(handle.read())
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as err:
            raise MoorError(f"bridge driver: cannot read its state {self.path}: {err}") from None
        state = State.from_json(data)
        legacy = any(record.endpoints for record in state.networks.values())  # an older driver's file
        for network_id, endpoint_id, found in self._endpoint_files():
            record = state.networks.get(network_id)
            if record is not None:
                record.endpoints[endpoint_id] = found
        # Legacy endpoints are not in files yet: written at the next transaction, with state.json without them
        return _Snapshot(state, "" if legacy else _encode(state), {} if legacy else _written(state), stamp, token)

    def _endpoint_files(self) -> Iterator[tuple[str, str, EndpointRecord]]:
        try:
            names = os.listdir(self.endpoints_dir)
        except FileNotFoundError:
            return
        except OSError as err:
            raise MoorError(f"bridge driver: cannot read its endpoints {self.endpoints_dir}: {err}") from None
        fields = {f.name for f in dataclasses.fields(EndpointRecord)}
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            path = os.path.join(self.endpoints_dir, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    data = json.loads(handle.read())
                yield str(data["network"]), str(data["endpoint"]), EndpointRecord(
                    **{k: v for k, v in data.items() if k in fields})
            except FileNotFoundError:
                continue  # removed meanwhile by a disconnect of another instance? (never under the lock)
            except (OSError, ValueError, KeyError, TypeError) as err:  # a power loss may leave it so
                log.warning("bridge driver: skipping the unreadable endpoint file %s: %s", path, err)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return found.st_ino, found.st_mtime_ns, found.st_size

    def _token(self) -> str:
        try:
            with open(self._marker, encoding="utf-8") as handle:
                return handle.read()
        except OSError:
            return ""

    def _current(self) -> _Snapshot:
        """The cached snapshot while the files are the ones it came from, else the files read."""
        cached = self._cached
        if cached is not None and cached.stamp is not None and cached.stamp == self._stamp() \
                and cached.token == self._token():
            return cached
        self._cached = None
        return self._read()

    # ------------------------------------------------------------------ writing

    def save(self, state: State) -> None:
        """Replace the whole state: ``state.json`` and every endpoint file."""
        with self._thread_lock:
            self._store(state, _Snapshot(State(), "", self._on_disk(), None, ""))
            self._cached = None

    def _on_disk(self) -> Written:
        """The endpoint files there are, as network ID -> endpoint ID -> (a placeholder) record."""
        written: Written = {}
        try:
            names = os.listdir(self.endpoints_dir)
        except FileNotFoundError:
            return written
        placeholder = EndpointRecord(container_id="", address="", mac="", host_veth="", interface="")
        for name in names:
            parts = name.split(".")
            if len(parts) == 3 and parts[2] == "json":
                written.setdefault(parts[0], {})[parts[1]] = placeholder
        return written

    def _store(self, state: State, before: _Snapshot) -> tuple[str, str]:
        """Write what changed since ``before``: the endpoints first, then ``state.json``; return the new
        ``state.json`` text and generation token."""
        token = before.token
        changed = False
        for network_id, record in state.networks.items():
            old = before.endpoints.get(network_id, {})
            for endpoint_id, found in record.endpoints.items():
                if old.get(endpoint_id) is not found:
                    self._write_endpoint(network_id, endpoint_id, found)
                    changed = True
            for endpoint_id in old.keys() - record.endpoints.keys():
                self._remove_endpoint(network_id, endpoint_id)
                changed = True
        for network_id in before.endpoints.keys() - state.networks.keys():
            for endpoint_id in before.endpoints[network_id]:
                self._remove_endpoint(network_id, endpoint_id)
                changed = True
        if changed:
            token = secrets.token_hex(8)
            self._write_file(self._marker, token, durable=False)
        text = _encode(state)
        if text != before.networks_text:
            self._write_file(self.path, text, durable=True)
        return text, token

    def _write_endpoint(self, network_id: str, endpoint_id: str, found: EndpointRecord) -> None:
        _ids_check(network_id, endpoint_id)
        self._write_file(os.path.join(self.endpoints_dir, f"{network_id}.{endpoint_id}.json"),
                         _endpoint_json(network_id, endpoint_id, found), durable=False)

    def _remove_endpoint(self, network_id: str, endpoint_id: str) -> None:
        try:
            os.unlink(os.path.join(self.endpoints_dir, f"{network_id}.{endpoint_id}.json"))
        except FileNotFoundError:
            pass
        except OSError as err:
            raise MoorError(f"bridge driver: cannot remove an endpoint's file: {err}") from None

    def _write_file(self, path: str, text: str, durable: bool) -> None:
        """Replace ``path`` atomically (``durable``: its content on disk before the rename)."""
        temporary = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write(text)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(temporary, path)
        except OSError as err:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise MoorError(f"bridge driver: cannot write its state {path}: {err}") from None

    @contextmanager
    def transaction(self) -> Iterator[State]:
        """Lock, take the state, yield it, and write what the block changed unless it raised."""
        with self._thread_lock:
            try:
                os.makedirs(self.home, mode=0o700, exist_ok=True)
                lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as err:
                raise MoorError(f"bridge driver: cannot use its home {self.home}: {err}") from None
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                with tracing.phase("bridge.load"):
                    before = self._current()
                self._cached = None  # the block changes the state in place: cached again only once it is saved
                state = before.state
                yield state
                with tracing.phase("bridge.save"):
                    text, token = self._store(state, before)
                self._cached = _Snapshot(state, text, _written(state), self._stamp(), token)
            finally:
                os.close(lock_fd)
