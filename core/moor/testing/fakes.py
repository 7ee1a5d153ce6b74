"""Fake drivers of every kind, for tests that need drivers but no root, no kernel and no plugins.

Each fake is a plugin exactly like a real driver: a class built with a
:class:`moor.types.DriverContext` whose ``moor_<kind>_<operation>`` methods
are marked with :func:`moor.hookimpl`, registered in a
:class:`moor.drivers.DriverSet` and called through its facades. They keep
their state in memory and, where a path must exist, in directories under the
context's ``home``; nothing is mounted and no namespace is touched, so they
run without root. :func:`fake_drivers` builds a ``DriverSet`` of them without
entry points::

    drivers = fake_drivers(tmp_path)
    drivers.storage.prepare(key="c1", parent=None)
    drivers.driver("volume").create(name="v", options={}, labels={})

Every fake also records the operations called on it (:attr:`FakeDriver.calls`),
so a test can check what the engine asked of its drivers, and can be told to
fail the next call of an operation (:meth:`FakeDriver.fail_next`).

:class:`FakeVolumes` and :class:`FakeLog` pass the conformance suites of
their kind; :class:`FakeStorage` the storage suite's tests that need no real
mount (``tests/unit/test_fakes.py`` runs them).

Below the drivers, the containers' processes (runc and the monitors) have a
fake too: :class:`FakeProcesses`, a
:class:`moor.containers.processes.ContainerProcesses` whose containers "run"
in memory until a fatal signal or the test ends them::

    processes = FakeProcesses()
    engine = Engine(config, fake_drivers(tmp_path), processes)
    engine.containers.start(engine.containers.create({"Image": "busybox"}, "web").id)
    processes.exit(engine.containers.get("web").id, 3)
"""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import json
import os
import shutil
import signal as signals
import stat
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from moor import hookimpl
from moor.config import DRIVER_KINDS
from moor.drivers import DriverSet, new_plugin_manager
from moor.errors import Conflict, Forbidden, InvalidParameter, NotFound
from moor.images import reference
from moor.images.store import ImageRecord, ImageStore
from moor.types import (
    Change,
    ContainerRef,
    DriverContext,
    EndpointInfo,
    EndpointSpec,
    LogMessage,
    NetworkSpec,
    PortMapping,
    VolumeInfo,
)

if TYPE_CHECKING:
    from moor.containers.launch import MonitoredProcess
    from moor.containers.processes import ContainerProcesses
    from moor.driverbuild import DriverRecipe

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def driver_context(kind: str, name: str, root: str | os.PathLike[str],
                   options: dict[str, object] | None = None) -> DriverContext:
    """The context moord would give the driver ``name`` of ``kind`` with data and exec roots under ``root``."""
    return DriverContext(kind=kind, name=name, home=os.path.join(root, "data", kind, name),
                         exec_home=os.path.join(root, "exec", kind, name), options=dict(options or {}))


class FakeDriver:
    """What every fake shares: its context, a home directory, and the list of calls made on it."""

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        os.makedirs(context.home, mode=0o700, exist_ok=True)
        #: ``(operation, keyword arguments)`` of every hook called on this driver, oldest first
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: operation -> the error its next call raises (see :meth:`fail_next`)
        self.failures: dict[str, BaseException] = {}

    def fail_next(self, operation: str, error: BaseException) -> None:
        """Make the next call of ``operation`` raise ``error`` (after recording the call), as a broken backend would."""
        self.failures[operation] = error

    def _called(self, operation: str, **arguments: Any) -> None:
        self.calls.append((operation, arguments))
        error = self.failures.pop(operation, None)
        if error is not None:
            raise error

    def operations(self) -> list[str]:
        """The names of the operations called so far, in order (``["prepare", "mount", ...]``)."""
        return [operation for operation, _ in self.calls]


def _check_name(kind: str, name: str) -> None:
    if not name or "/" in name or "\x00" in name or name in (".", ".."):
        raise InvalidParameter(f"invalid {kind} name {name!r}")


# --------------------------------------------------------------------------- storage


@dataclasses.dataclass
class _StorageEntry:
    parent: str | None
    layer_tar: bytes | None  # the applied tar of a layer; None for a snapshot


class FakeStorage(FakeDriver):
    """Layers kept as their tar, snapshots as plain directories; a mount is a directory, never a mount.

    A layer's "mount" extracts its chain into ``home/views/<key>`` (made at
    the first use, removed at the last); a snapshot's root is
    ``home/snapshots/<key>``, filled from its parent's chain when prepared.
    Device nodes and ownership are applied only when the process may (root).
    """

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self.entries: dict[str, _StorageEntry] = {}
        self.mounts: dict[str, int] = {}

    @hookimpl
    def moor_storage_status(self) -> list[tuple[str, str]]:
        self._called("status")
        return [("Backing Filesystem", "fake"), ("Supports d_type", "true")]

    @hookimpl
    def moor_storage_apply_layer(self, key: str, parent: str | None, diff: IO[bytes]) -> int:
        self._called("apply_layer", key=key, parent=parent)
        self._check_new(key, parent)
        data = diff.read()
        members = _members(data)
        self.entries[key] = _StorageEntry(parent, data)
        return sum(member.size for member in members if member.isreg())

    @hookimpl
    def moor_storage_prepare(self, key: str, parent: str | None) -> bool:
        self._called("prepare", key=key, parent=parent)
        self._check_new(key, parent)
        root = self._snapshot_root(key)
        os.makedirs(root, mode=0o755)
        self._extract_chain(parent, root)
        self.entries[key] = _StorageEntry(parent, None)
        return True

    @hookimpl
    def moor_storage_mount(self, key: str) -> str:
        self._called("mount", key=key)
        entry = self._entry(key)
        if entry.layer_tar is None:
            path = self._snapshot_root(key)
        else:
            path = os.path.join(self.context.home, "views", key)
            if not self.mounts.get(key):
                shutil.rmtree(path, ignore_errors=True)
                os.makedirs(path, mode=0o755)
                self._extract_chain(key, path)
        self.mounts[key] = self.mounts.get(key, 0) + 1
        return path

    @hookimpl
    def moor_storage_unmount(self, key: str) -> bool:
        self._called("unmount", key=key)
        users = self.mounts.get(key, 0)
        if users == 0:
            return False
        if users > 1:
            self.mounts[key] = users - 1
            return False
        del self.mounts[key]
        entry = self.entries.get(key)
        if entry is not None and entry.layer_tar is not None:
            shutil.rmtree(os.path.join(self.context.home, "views", key), ignore_errors=True)
        return True

    @hookimpl
    def moor_storage_remove(self, key: str) -> bool:
        self._called("remove", key=key)
        if key not in self.entries:
            return False
        children = sorted(child for child, entry in self.entries.items() if entry.parent == key)
        if children:
            raise Conflict(f"layer {key} is in use by {', '.join(children)}")
        del self.entries[key]
        self.mounts.pop(key, None)
        shutil.rmtree(self._snapshot_root(key), ignore_errors=True)
        shutil.rmtree(os.path.join(self.context.home, "views", key), ignore_errors=True)
        return True

    @hookimpl
    def moor_storage_exists(self, key: str) -> bool:
        self._called("exists", key=key)
        return key in self.entries

    @hookimpl
    def moor_storage_diff(self, key: str) -> IO[bytes]:
        self._called("diff", key=key)
        entry = self._entry(key)
        if entry.layer_tar is not None:
            return io.BytesIO(entry.layer_tar)
        return io.BytesIO(self._snapshot_tar(key, entry))

    @hookimpl
    def moor_storage_changes(self, key: str) -> list[Change]:
        self._called("changes", key=key)
        return self._changes(key, self._entry(key))

    @hookimpl
    def moor_storage_usage(self, key: str) -> int:
        self._called("usage", key=key)
        entry = self._entry(key)
        if entry.layer_tar is not None:
            return sum(member.size for member in _members(entry.layer_tar) if member.isreg())
        root = self._snapshot_root(key)
        total = 0
        for change in self._changes(key, entry):
            path = root + change.path
            if change.kind != 2 and os.path.isfile(path) and not os.path.islink(path):
                total += os.lstat(path).st_size
        return total

    # ------------------------------------------------------------------ internals

    def _check_new(self, key: str, parent: str | None) -> None:
        _check_name("storage key", key)
        if key in self.entries:
            raise Conflict(f"{key} exists already")
        if parent is not None and parent not in self.entries:
            raise NotFound(f"parent layer {parent} not found")

    def _entry(self, key: str) -> _StorageEntry:
        entry = self.entries.get(key)
        if entry is None:
            raise NotFound(f"no layer or snapshot {key!r}")
        return entry

    def _snapshot_root(self, key: str) -> str:
        return os.path.join(self.context.home, "snapshots", key)

    def _chain(self, key: str | None) -> list[_StorageEntry]:
        chain: list[_StorageEntry] = []
        while key is not None:
            entry = self._entry(key)
            chain.append(entry)
            key = entry.parent
        return chain[::-1]

    def _extract_chain(self, key: str | None, root: str) -> None:
        for entry in self._chain(key):
            if entry.layer_tar is not None:
                _extract(entry.layer_tar, root)

    def _changes(self, key: str, entry: _StorageEntry) -> list[Change]:
        lower = os.path.join(self.context.home, "tmp", key)
        shutil.rmtree(lower, ignore_errors=True)
        os.makedirs(lower)
        try:
            self._extract_chain(entry.parent, lower)
            return _compare(lower, self._snapshot_root(key) if entry.layer_tar is None else lower)
        finally:
            shutil.rmtree(lower, ignore_errors=True)

    def _snapshot_tar(self, key: str, entry: _StorageEntry) -> bytes:
        root = self._snapshot_root(key)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for change in self._changes(key, entry):
                name = change.path.lstrip("/")
                if change.kind == 2:
                    directory, base = os.path.split(name)
                    archive.addfile(tarfile.TarInfo(os.path.join(directory, WHITEOUT + base)))
                else:
                    archive.add(os.path.join(root, name), arcname=name, recursive=False)
        return buffer.getvalue()


def _members(data: bytes) -> list[tarfile.TarInfo]:
    """The entries of a layer tar; InvalidParameter for a malformed tar or an entry leaving the layer."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            members = archive.getmembers()
    except tarfile.TarError as err:
        raise InvalidParameter(f"invalid layer tar: {err}") from None
    for member in members:
        escapes_by_link = member.islnk() and (member.linkname.startswith("/") or ".." in member.linkname.split("/"))
        if ".." in member.name.split("/") or escapes_by_link:
            raise InvalidParameter(f"invalid layer tar: {member.name} would land outside the layer")
    return members


def _inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def _extract(data: bytes, root: str) -> None:
    """Apply a layer tar to the directory ``root``: whiteouts remove, opaque markers hide what lies below."""
    root = os.path.realpath(root)
    written: set[str] = set()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive:
            name = os.path.normpath(member.name.lstrip("/"))
            directory, base = os.path.split(name)
            parent = os.path.join(root, directory)
            if not _inside(root, parent):
                raise InvalidParameter(f"invalid layer tar: {member.name} would land outside the layer")
            os.makedirs(parent, exist_ok=True)
            if base == OPAQUE:
                for child in os.listdir(parent):
                    if os.path.join(directory, child) not in written:
                        _remove(os.path.join(parent, child))
                continue
            if base.startswith(WHITEOUT):
                _remove(os.path.join(parent, base[len(WHITEOUT):]))
                continue
            target = os.path.join(parent, base)
            written.add(name)
            if not (member.isdir() and os.path.isdir(target) and not os.path.islink(target)):
                _remove(target)
            if member.isdir():
                os.makedirs(target, exist_ok=True)
            elif member.issym():
                os.symlink(member.linkname, target)
                continue
            elif member.islnk():
                os.link(os.path.join(root, member.linkname.lstrip("/")), target)
                continue
            elif member.isreg():
                source = archive.extractfile(member)
                with open(target, "wb") as handle:
                    if source is not None:
                        shutil.copyfileobj(source, handle)
            elif member.isfifo():
                os.mkfifo(target)
            elif member.ischr() or member.isblk():
                kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
                try:
                    os.mknod(target, kind | 0o600, os.makedev(member.devmajor, member.devminor))
                except PermissionError:
                    continue  # not root: the node is left out
            else:
                continue
            try:
                os.lchown(target, member.uid, member.gid)
            except PermissionError:
                pass
            os.chmod(target, member.mode)
            if not member.isdir():
                os.utime(target, (member.mtime, member.mtime))


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _signature(path: str) -> tuple[Any, ...]:
    info = os.lstat(path)
    content: Any = None
    if stat.S_ISREG(info.st_mode):
        with open(path, "rb") as handle:
            content = handle.read()
    elif stat.S_ISLNK(info.st_mode):
        content = os.readlink(path)
    return stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, content


def _tree(root: str) -> dict[str, tuple[Any, ...]]:
    found: dict[str, tuple[Any, ...]] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            found["/" + os.path.relpath(path, root)] = _signature(path)
    return found


def _compare(lower: str, upper: str) -> list[Change]:
    """What ``upper`` added (1), changed (0) or deleted (2) against ``lower``; parents of changes count as changed."""
    before, after = _tree(lower), _tree(upper)
    kinds: dict[str, int] = {}
    for path, signature in after.items():
        if path not in before:
            kinds[path] = 1
        elif before[path] != signature and not stat.S_ISDIR(signature[0]):
            kinds[path] = 0
    deleted = {path for path in before if path not in after}
    for path in deleted:
        if os.path.dirname(path) not in deleted:  # a deleted directory's content goes with it
            kinds[path] = 2
    for path in list(kinds):
        parent = os.path.dirname(path)
        while parent != "/" and parent in after and parent in before:
            kinds.setdefault(parent, 0)
            parent = os.path.dirname(parent)
    return [Change(path=path, kind=kind) for path, kind in sorted(kinds.items())]


# --------------------------------------------------------------------------- volumes


class FakeVolumes(FakeDriver):
    """Volumes as directories ``home/<name>``; mounts are counted per user, as the local driver counts them.

    The only option known is ``size`` (kept, not enforced); any other is refused.
    """

    OPTIONS = frozenset({"size"})

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self.volumes: dict[str, VolumeInfo] = {}
        self.users: dict[str, set[str]] = {}

    @hookimpl
    def moor_volume_create(self, name: str, options: dict[str, str], labels: dict[str, str]) -> VolumeInfo:
        self._called("create", name=name, options=options, labels=labels)
        _check_name("volume", name)
        for option in options:
            if option not in self.OPTIONS:
                raise InvalidParameter(f'invalid option: "{option}"')
        existing = self.volumes.get(name)
        if existing is not None:
            return existing
        mountpoint = os.path.join(self.context.home, name)
        os.makedirs(mountpoint, mode=0o755, exist_ok=True)
        info = VolumeInfo(name=name, driver=self.context.name, mountpoint=mountpoint,
                          created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                          labels=dict(labels), options=dict(options))
        self.volumes[name] = info
        return info

    @hookimpl
    def moor_volume_remove(self, name: str, force: bool) -> bool:
        self._called("remove", name=name, force=force)
        if name not in self.volumes:
            if force:
                return False
            raise NotFound(f"get {name}: no such volume")
        if self.users.get(name):
            raise Conflict(f"remove {name}: volume is in use")
        shutil.rmtree(self.volumes.pop(name).mountpoint, ignore_errors=True)
        return True

    @hookimpl
    def moor_volume_get(self, name: str) -> VolumeInfo | None:
        self._called("get", name=name)
        return self.volumes.get(name)

    @hookimpl
    def moor_volume_list(self) -> list[VolumeInfo]:
        self._called("list")
        return [self.volumes[name] for name in sorted(self.volumes)]

    @hookimpl
    def moor_volume_mount(self, name: str, mount_id: str) -> str:
        self._called("mount", name=name, mount_id=mount_id)
        info = self.volumes.get(name)
        if info is None:
            raise NotFound(f"get {name}: no such volume")
        self.users.setdefault(name, set()).add(mount_id)
        return info.mountpoint

    @hookimpl
    def moor_volume_unmount(self, name: str, mount_id: str) -> bool:
        self._called("unmount", name=name, mount_id=mount_id)
        users = self.users.get(name, set())
        if mount_id not in users:
            return False
        users.discard(mount_id)
        return True


# --------------------------------------------------------------------------- networks


@dataclasses.dataclass
class FakeNetwork:
    """One network the fake network driver created, with its endpoints and published ports."""

    spec: NetworkSpec
    endpoints: dict[str, EndpointInfo] = dataclasses.field(default_factory=dict)
    published: dict[str, list[PortMapping]] = dataclasses.field(default_factory=dict)


class FakeNetworks(FakeDriver):
    """Networks and endpoints in memory: addresses come from the subnet (or ``ip_range``), nothing is set up.

    ``netns_path`` is recorded but never entered. With ``single=True`` the driver
    allows one network only (as ``host`` and ``none`` do).
    """

    def __init__(self, context: DriverContext, single: bool = False) -> None:
        super().__init__(context)
        self.single = single
        self.networks: dict[str, FakeNetwork] = {}

    @hookimpl
    def moor_network_create(self, network: NetworkSpec) -> dict[str, str]:
        self._called("create", network=network)
        if network.id in self.networks:
            return self._facts(self.networks[network.id].spec)
        if self.single and self.networks:
            raise Forbidden(f"only one instance of \"{self.context.name}\" network is allowed")
        if network.subnet:
            try:
                ipaddress.ip_network(network.subnet)
            except ValueError:
                raise InvalidParameter(f"invalid subnet {network.subnet!r}") from None
        elif not self.single:  # as the bridge driver, pick a free /16 from 172.17.0.0 on
            used = {known.spec.subnet for known in self.networks.values()}
            subnet = next(f"172.{octet}.0.0/16" for octet in range(17, 32) if f"172.{octet}.0.0/16" not in used)
            gateway = network.gateway or str(ipaddress.ip_network(subnet).network_address + 1)
            network = dataclasses.replace(network, subnet=subnet, gateway=gateway)
        self.networks[network.id] = FakeNetwork(network)
        return self._facts(network)

    @hookimpl
    def moor_network_remove(self, network: NetworkSpec) -> bool:
        self._called("remove", network=network)
        known = self.networks.get(network.id)
        if known is None:
            return False
        if known.endpoints:
            raise Conflict(f"network {network.name} id {network.id} has active endpoints")
        del self.networks[network.id]
        return True

    @hookimpl
    def moor_network_connect(self, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str) -> EndpointInfo:
        self._called("connect", network=network, endpoint=endpoint, netns_path=netns_path)
        known = self.networks.get(network.id)
        if known is None:  # a network made before the driver was loaded: it knows it now
            self.moor_network_create(network=network)
            known = self.networks[network.id]
        address, prefix, gateway = self._address(known, endpoint.ipv4_address)
        index = len(known.endpoints) + 1
        info = EndpointInfo(ipv4_address=address, prefix_len=prefix, gateway=gateway,
                            mac_address=endpoint.mac_address or f"02:42:00:00:00:{index % 256:02x}",
                            interface="eth0")
        known.endpoints[endpoint.id] = info
        return info

    @hookimpl
    def moor_network_disconnect(self, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str | None) -> bool:
        self._called("disconnect", network=network, endpoint=endpoint, netns_path=netns_path)
        known = self.networks.get(network.id)
        if known is None or endpoint.id not in known.endpoints:
            return False
        del known.endpoints[endpoint.id]
        known.published.pop(endpoint.id, None)
        return True

    @hookimpl
    def moor_network_publish(self, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> bool:
        self._called("publish", network=network, endpoint=endpoint, ports=ports)
        known = self.networks.get(network.id)
        if known is None or endpoint.id not in known.endpoints:
            raise NotFound(f"endpoint {endpoint.id} is not connected to {network.name}")
        if network.internal:
            return False
        known.published[endpoint.id] = list(ports)
        return True

    @hookimpl
    def moor_network_unpublish(self, network: NetworkSpec, endpoint: EndpointSpec) -> bool:
        self._called("unpublish", network=network, endpoint=endpoint)
        known = self.networks.get(network.id)
        return known is not None and known.published.pop(endpoint.id, None) is not None

    def _facts(self, network: NetworkSpec) -> dict[str, str]:
        facts = {"subnet": network.subnet, "gateway": network.gateway}
        return {key: value for key, value in facts.items() if value}

    def _address(self, network: FakeNetwork, wanted: str) -> tuple[str, int, str]:
        if not network.spec.subnet:
            return "", 0, ""
        subnet = ipaddress.ip_network(network.spec.subnet)
        gateway = network.spec.gateway or str(subnet.network_address + 1)
        taken = {info.ipv4_address for info in network.endpoints.values()} | {gateway,
                                                                             *network.spec.aux_addresses}
        if wanted:
            if wanted in taken:
                raise Conflict(f"Address already in use: {wanted}")
            return wanted, subnet.prefixlen, gateway
        pool = ipaddress.ip_network(network.spec.ip_range) if network.spec.ip_range else subnet
        for host in pool.hosts():
            if str(host) not in taken:
                return str(host), subnet.prefixlen, gateway
        raise Conflict(f"no available IPv4 addresses on network {network.spec.name}")


# --------------------------------------------------------------------------- log


class FakeLogWriter:
    """Appends what the container writes to the fake log driver's store."""

    def __init__(self, messages: list[LogMessage]) -> None:
        self.messages = messages
        self.closed = False

    def write(self, message: LogMessage) -> None:
        if self.closed:
            raise ValueError("write to a closed log")
        self.messages.append(message)

    def close(self) -> None:
        self.closed = True


class FakeLog(FakeDriver):
    """Logs kept in memory per container ID; reads honour ``since``, ``until`` and ``tail``.

    ``follow`` returns what is there (a fake container never writes more on its own).
    The only option known is ``tag``.
    """

    OPTIONS = frozenset({"tag"})

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self.logs: dict[str, list[LogMessage]] = {}

    @hookimpl
    def moor_log_validate(self, options: dict[str, str]) -> bool:
        self._called("validate", options=options)
        for key in options:
            if key not in self.OPTIONS:
                raise InvalidParameter(f"unknown log opt '{key}' for {self.context.name} log driver")
        return True

    @hookimpl
    def moor_log_open(self, container: ContainerRef) -> FakeLogWriter:
        self._called("open", container=container)
        return FakeLogWriter(self.logs.setdefault(container.id, []))

    @hookimpl
    def moor_log_read(self, container: ContainerRef, since: float, until: float, tail: int,
                      follow: bool) -> Iterator[LogMessage]:
        self._called("read", container=container, since=since, until=until, tail=tail, follow=follow)
        if container.id not in self.logs:
            raise NotFound(f"no log for container {container.id}")
        messages = [m for m in self.logs[container.id]
                    if m.timestamp >= since and (not until or m.timestamp < until)]
        if tail >= 0:
            messages = messages[len(messages) - tail:] if tail else []
        return iter(messages)

    @hookimpl
    def moor_log_remove(self, container: ContainerRef) -> bool:
        self._called("remove", container=container)
        return self.logs.pop(container.id, None) is not None


# --------------------------------------------------------------------------- lifecycle


class LifecycleRecorder:
    """A plugin that records every lifecycle notification as ``"<event> <container id>"``.

    A stop is recorded with the exit code the container reference carries: ``"stopped <id> <code>"``.
    """

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def moor_container_created(self, container: ContainerRef) -> None:
        self.seen.append(f"created {container.id}")

    @hookimpl
    def moor_container_started(self, container: ContainerRef) -> None:
        self.seen.append(f"started {container.id}")

    @hookimpl
    def moor_container_stopped(self, container: ContainerRef) -> None:
        self.seen.append(f"stopped {container.id} {container.exit_code}")

    @hookimpl
    def moor_container_removed(self, container: ContainerRef) -> None:
        self.seen.append(f"removed {container.id}")


# --------------------------------------------------------------------------- a driver set of fakes

#: the fake registered for each kind by default, under moord's default driver names
DEFAULT_FAKES: dict[str, tuple[str, type[FakeDriver]]] = {
    "storage": ("overlay", FakeStorage),
    "network": ("bridge", FakeNetworks),
    "volume": ("local", FakeVolumes),
    "log": ("json-file", FakeLog),
}


def fake_drivers(root: str | os.PathLike[str], *, single_networks: tuple[str, ...] = ("host", "none"),
                 extra: dict[str, dict[str, object]] | None = None, without: tuple[str, ...] = ()) -> DriverSet:
    """A :class:`DriverSet` of fakes with data under ``root``, as :func:`moor.drivers.load_drivers` builds one.

    Each kind gets its fake under moord's default name (``overlay``, ``bridge``, ``local``,
    ``json-file``), registered with pluggy and checked as a loaded driver is; the
    ``single_networks`` (``host``, ``none``) are fake network drivers that allow one network.
    ``extra`` adds more plugins: ``{"volume": {"other": FakeVolumes(...)}}``; the kinds in
    ``without`` get no driver at all (``without=("network",)``: no network exists). A
    :class:`LifecycleRecorder` is registered as ``"lifecycle"``: find it with
    ``drivers.manager.get_plugin("lifecycle")``.
    """
    root = os.fspath(root)
    drivers = DriverSet(new_plugin_manager(), {kind: name for kind, (name, _) in DEFAULT_FAKES.items()})
    for kind in DRIVER_KINDS:
        if kind not in without:
            name, factory = DEFAULT_FAKES[kind]
            drivers.add(kind, name, factory(driver_context(kind, name, root)))
    for name in single_networks if "network" not in without else ():
        drivers.add("network", name, FakeNetworks(driver_context("network", name, root), single=True))
    for kind, plugins in (extra or {}).items():
        for name, plugin in plugins.items():
            drivers.add(kind, name, plugin)
    drivers.manager.register(LifecycleRecorder(), name="lifecycle")
    return drivers


def fake_of(drivers: DriverSet, kind: str, name: str | None = None) -> Any:
    """The fake plugin behind the driver ``name`` (default: the kind's default) of ``kind``."""
    return drivers.driver(kind, name).plugin


def layer_tar(files: dict[str, bytes | str]) -> bytes:
    """A layer tar of regular files (``{"etc/hostname": b"x\\n"}``); parent directories are added."""
    buffer = io.BytesIO()
    directories: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, content in sorted(files.items()):
            parts = path.strip("/").split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in directories:
                    directories.add(directory)
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    archive.addfile(info)
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo("/".join(parts))
            info.size, info.mode = len(data), 0o755 if parts[0] == "bin" else 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def add_image(store: ImageStore, name: str, files: dict[str, bytes | str] | None = None,
              config: dict[str, Any] | None = None) -> ImageRecord:
    """Add an image of one layer (``files``) with ``config`` (Cmd, Env, ...) to an ImageStore; tag it ``name``.

    Returns the :class:`moor.images.store.ImageRecord`. Works over any storage driver, a fake one included.
    """
    layer = store.add_layer(None, io.BytesIO(layer_tar(files or {"bin/sh": b"#!fake\n"})))
    document = {"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                "config": dict(config if config is not None else {"Cmd": ["sh"]}),
                "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}}
    image = store.add_image(json.dumps(document, separators=(",", ":")).encode())
    store.set_ref(str(reference.parse(name)), image.id)
    return image


# --------------------------------------------------------------------------- the process layer


class FakeProcess:
    """A container's (or an exec's) process as :class:`FakeProcesses` keeps it: created at the launch of its
    monitor, running once the monitor starts it, ended by a fatal signal or by :meth:`exit`."""

    def __init__(self, pid: int, bundle: str) -> None:
        self.pid = pid
        #: the OCI bundle it was launched over (``config.json`` is the spec the engine wrote)
        self.bundle = bundle
        self.started = False
        self.paused = False
        self.exited = threading.Event()
        self.exit_code: int | None = None
        self.finished_at = 0.0
        #: signals the process survives (a shell trapping TERM, say)
        self.ignores: set[str] = set()

    def exit(self, code: int) -> None:
        """End with ``code``: the monitor's ``wait`` answers it."""
        self.exit_code, self.finished_at = code, time.time()
        self.exited.set()

    @property
    def alive(self) -> bool:
        return self.started and not self.exited.is_set()


class FakeMonitor:
    """What :meth:`FakeProcesses.launch` returns (a :class:`moor.containers.processes.LaunchedMonitor`): ready,
    its process created but not started."""

    def __init__(self, processes: FakeProcesses, key: str, process: FakeProcess) -> None:
        self.processes = processes
        self.key = key
        self.process = process
        self.container_pid = process.pid
        self.on_ready: list[Callable[[], None]] = []

    def start(self) -> int:
        """Run the ready hooks, then start the process, or raise the failure set in ``start_failures``."""
        for hook in self.on_ready:
            hook()
        failure = self.processes.start_failures.pop(self.key, None)
        if failure is not None:
            raise failure
        self.process.started = True
        return self.process.pid

    def reap(self) -> None:
        return None


class FakeProcesses:
    """A :class:`moor.containers.processes.ContainerProcesses` without runc or monitor processes: give it to the
    :class:`moor.daemon.engine.Engine` (``Engine(config, fake_drivers(root), FakeProcesses())``).

    Each launch makes a :class:`FakeProcess`, kept under its monitor's state-directory name (a container's ID;
    an exec's ID for an exec). It "runs" from the monitor's start until a fatal signal reaches it (``kill``:
    one it does not :attr:`~FakeProcess.ignores`, nor ``HUP``, ``USR1``, ``USR2`` or ``WINCH``) or the test ends
    it (:meth:`exit`); the monitors answer ``wait`` (once it has ended), ``state``, ``publish`` (the port asked
    for, unless it is in :attr:`ports_held`) and anything else (``ok``).
    Every signal sent is recorded in :attr:`signals`, every update in :attr:`updates`.

    For a moord that stops and starts again, :meth:`restarted` gives the next engine's layer: the same
    processes (the containers run on), and this one's waiters stop answering, as a stopped moord's would.
    """

    def __init__(self, processes: dict[str, FakeProcess] | None = None) -> None:
        #: monitor state-directory name (a container's ID) -> its process
        self.processes: dict[str, FakeProcess] = processes if processes is not None else {}
        #: set when this layer's moord is "down": its waiters never learn of an exit again
        self.down = False
        #: ``(container ID, signal name)`` of every signal delivered, oldest first
        self.signals: list[tuple[str, str]] = []
        #: ``(container ID, changes)`` of every resource update
        self.updates: list[tuple[str, dict[str, Any]]] = []
        #: ``(container ID, message)`` of every port a monitor's proxy was asked to take (``publish``)
        self.published: list[tuple[str, dict[str, Any]]] = []
        #: ``(protocol, host port)`` that a monitor's proxy refuses, as if another process held it
        self.ports_held: set[tuple[str, int]] = set()
        #: container ID -> the error its monitor's start raises (runc's, say)
        self.start_failures: dict[str, BaseException] = {}
        self.next_pid = 4000
        self.closed = False

    def restarted(self) -> FakeProcesses:
        """moord stops (its containers run on) and starts again: the process layer of the next engine."""
        self.down = True
        successor = FakeProcesses(self.processes)
        successor.next_pid = self.next_pid
        return successor

    def exit(self, container_id: str, code: int) -> None:
        """The container's process ends on its own with ``code``."""
        self.processes[container_id].exit(code)

    # ------------------------------------------------------------------ the runtime

    def check(self) -> None:
        return None

    def _running(self, container_id: str) -> FakeProcess:
        process = self.processes.get(container_id)
        if process is None or not process.alive:
            raise Conflict(f"Container {container_id} is not running")
        return process

    def kill(self, container_id: str, signal: str, all_processes: bool = False) -> None:
        process = self._running(container_id)
        self.signals.append((container_id, signal))
        if signal in process.ignores or signal in ("HUP", "USR1", "USR2", "WINCH"):
            return
        process.exit(128 + int(getattr(signals, "SIG" + signal)))

    def pause(self, container_id: str) -> None:
        self._running(container_id).paused = True

    def resume(self, container_id: str) -> None:
        process = self.processes.get(container_id)
        if process is not None:
            process.paused = False

    def frozen(self, container_id: str) -> bool | None:
        process = self.processes.get(container_id)
        return None if process is None or not process.alive else process.paused

    def ps(self, container_id: str) -> list[int]:
        return [self._running(container_id).pid]

    def update(self, container_id: str, changes: dict[str, Any]) -> None:
        self._running(container_id)
        self.updates.append((container_id, dict(changes)))

    # ------------------------------------------------------------------ the monitors

    def launch(self, process: MonitoredProcess, state_dir: str, bundle: str, *, log_driver: str = "",
               log_recipe: DriverRecipe | None = None, exec_process: str = "") -> FakeMonitor:
        self.next_pid += 1
        key = os.path.basename(state_dir)
        launched = FakeProcess(self.next_pid, bundle)
        self.processes[key] = launched
        return FakeMonitor(self, key, launched)

    def request(self, state_dir: str, message: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        process = self.processes.get(os.path.basename(state_dir))
        if process is None:
            raise OSError("no monitor")
        if message["op"] == "wait":
            while not process.exited.wait(0.02) and not self.down:
                pass
            if self.down:
                threading.Event().wait()  # a stopped moord's waiter: it never answers
            return {"exit_code": process.exit_code, "finished_at": process.finished_at}
        if message["op"] == "state":
            return {"running": process.alive, "exit_code": process.exit_code}
        if message["op"] == "publish":
            if (message["protocol"], message["host_port"]) in self.ports_held:
                return {"ok": False, "error": "address already in use"}
            self.published.append((os.path.basename(state_dir), message))
            return {"ok": True, "host_port": message["host_port"]}
        return {"ok": True}

    def remove_empty_cgroup_parents(self) -> None:
        return None

    def watch_exit(self, state_dir: str, on_exit: Callable[[dict[str, Any] | None], None]) -> None:
        def wait() -> None:
            try:
                answer: dict[str, Any] | None = self.request(state_dir, {"op": "wait"})
            except OSError:
                answer = None
            on_exit(answer)
        threading.Thread(target=wait, daemon=True, name=f"wait-{os.path.basename(state_dir)[:12]}").start()

    def close(self) -> None:
        self.closed = True

    def end_all(self, code: int = 137) -> None:
        """End every process still running (at a test's end, so that the engine's waiter threads finish)."""
        for process in self.processes.values():
            if not process.exited.is_set():
                process.exit(code)


if TYPE_CHECKING:  # mypy checks that the fake keeps up with the protocol the services call
    _FAKE_PROCESSES_CONFORM: type[ContainerProcesses] = FakeProcesses
