"""What a private moord run holds on the host, and what it holds beyond its running containers.

Crash-point and concurrency tests ask, after the fact, whether the engine left anything behind: a
mount under its root, a monitor or container process, a cgroup, a veth on one of its bridges, an
endpoint in the bridge driver's state, runc state, a socket in moord (embedded DNS listeners hold
the namespaces of the containers they serve). Everything is attributed to a container ID; what
belongs to a container that is not running is a leak.

Other moord runs on the same host (other tests) make containers under the same ``/moor`` cgroup
parent: cgroups and container processes are only ever looked up for IDs the caller names.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from moor.daemon.storagemounts import is_storage_mount
from moor.testing.daemon import DaemonProcess, processes_under

CGROUP_ROOT = "/sys/fs/cgroup"


def mounts_under(root: str) -> list[str]:
    """Mount points at or below ``root``."""
    root = os.path.realpath(root)
    with open("/proc/self/mounts") as handle:
        targets = [line.split()[1].replace("\\040", " ") for line in handle]
    return [t for t in targets if t == root or t.startswith(root.rstrip("/") + "/")]


def cgroup_dirs(container_id: str) -> list[str]:
    """The cgroup directories of the container (``<hierarchy>/moor/<id>``) that exist."""
    found = []
    candidates = [os.path.join(CGROUP_ROOT, "moor", container_id)]
    try:
        candidates += [os.path.join(CGROUP_ROOT, h, "moor", container_id) for h in os.listdir(CGROUP_ROOT)]
    except OSError:
        pass
    for path in candidates:
        if os.path.isdir(path):
            found.append(path)
    return found


def frozen(container_id: str) -> bool:
    """Whether the container's cgroup is frozen (paused): cgroup v1's freezer or v2's ``cgroup.freeze``."""
    for path in cgroup_dirs(container_id):
        for name, value in (("freezer.state", "FROZEN"), ("cgroup.freeze", "1")):
            try:
                with open(os.path.join(path, name)) as handle:
                    if handle.read().strip() == value:
                        return True
            except OSError:
                continue
    return False


def processes_in_cgroups(container_ids: Iterable[str]) -> dict[str, list[int]]:
    """container ID -> the processes whose cgroup is the container's (``/moor/<id>``)."""
    wanted = set(container_ids)
    found: dict[str, list[int]] = {}
    if not wanted:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cgroup") as handle:
                text = handle.read()
        except OSError:
            continue
        for line in text.splitlines():
            path = line.split(":", 2)[-1]
            if "/moor/" not in path:
                continue
            container_id = path.split("/moor/", 1)[1].split("/", 1)[0]
            if container_id in wanted:
                found.setdefault(container_id, []).append(int(entry))
                break
    return found


def bridge_state(data_root: str) -> dict[str, dict[str, object]]:
    """The bridge driver's networks (network ID -> record), as its files hold them: ``state.json`` the networks,
    ``endpoints/<network>.<endpoint>.json`` each endpoint (put under its network's ``endpoints``)."""
    home = os.path.join(data_root, "network", "bridge")
    try:
        with open(os.path.join(home, "state.json"), encoding="utf-8") as handle:
            networks = json.load(handle).get("networks") or {}
    except (OSError, ValueError):
        return {}
    found = {key: value for key, value in networks.items() if isinstance(value, dict)}
    try:
        names = os.listdir(os.path.join(home, "endpoints"))
    except OSError:
        names = []
    for name in names:
        try:
            with open(os.path.join(home, "endpoints", name), encoding="utf-8") as handle:
                endpoint = json.load(handle)
        except (OSError, ValueError):
            continue
        network = found.get(str(endpoint.get("network"))) if isinstance(endpoint, dict) else None
        if network is not None:
            endpoints = network.setdefault("endpoints", {})
            if isinstance(endpoints, dict):
                endpoints[str(endpoint.get("endpoint"))] = endpoint
    return found


def ports_of_bridge(bridge: str) -> list[str]:
    """The interfaces plugged into the Linux bridge ``bridge`` (none when it is absent)."""
    try:
        return sorted(os.listdir(f"/sys/class/net/{bridge}/brif"))
    except OSError:
        return []


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def open_fds(pid: int) -> list[str]:
    """What each open file descriptor of ``pid`` points to (``socket:[N]``, ``net:[N]``, paths)."""
    found: list[str] = []
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for name in names:
        try:
            found.append(os.readlink(f"/proc/{pid}/fd/{name}"))
        except OSError:
            continue
    return found


def socket_count(pid: int) -> int:
    """How many sockets ``pid`` holds open."""
    return sum(1 for target in open_fds(pid) if target.startswith("socket:"))


@dataclass
class Holdings:
    """What a moord run holds on the host, by container ID where it has one."""

    mounts: list[str] = field(default_factory=list)
    #: processes whose command line or working directory is under the run's root (moord excluded)
    processes: dict[int, str] = field(default_factory=dict)
    #: container ID -> its processes (only the IDs asked about)
    container_processes: dict[str, list[int]] = field(default_factory=dict)
    #: container ID -> its cgroup directories (only the IDs asked about)
    cgroups: dict[str, list[str]] = field(default_factory=dict)
    #: bridge -> the interfaces plugged into it (the run's bridges only)
    bridge_ports: dict[str, list[str]] = field(default_factory=dict)
    #: (network name, container ID, host veth) of each endpoint in the bridge driver's state
    endpoints: list[tuple[str, str, str]] = field(default_factory=list)
    #: container IDs that runc keeps state of
    runc_state: list[str] = field(default_factory=list)
    #: container IDs with a state directory under the exec root
    state_dirs: list[str] = field(default_factory=list)
    #: sockets and namespace descriptors held open by moord
    moord_sockets: int = 0
    moord_netns_fds: int = 0


def _describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        return f"{command[:160]} (cwd {os.readlink(f'/proc/{pid}/cwd')})"
    except OSError:
        return "(gone)"


def holdings(daemon: DaemonProcess, container_ids: Iterable[str]) -> Holdings:
    """What the run of ``daemon`` holds now; cgroups and container processes of ``container_ids``."""
    ids = set(container_ids)
    moord = daemon.process.pid if daemon.process is not None and daemon.process.poll() is None else None
    found = Holdings(mounts=mounts_under(daemon.root))
    found.processes = {pid: _describe(pid) for pid in processes_under(daemon.root) if pid != moord}
    found.container_processes = processes_in_cgroups(ids)
    found.cgroups = {cid: dirs for cid in ids if (dirs := cgroup_dirs(cid))}
    for network in bridge_state(daemon.data_root).values():
        bridge = str(network.get("bridge") or "")
        if bridge:
            found.bridge_ports[bridge] = ports_of_bridge(bridge)
        endpoints = network.get("endpoints")
        for endpoint in (endpoints if isinstance(endpoints, dict) else {}).values():
            found.endpoints.append((str(network.get("name")), str(endpoint.get("container_id")),
                                    str(endpoint.get("host_veth"))))
    runc_root = os.path.join(daemon.exec_root, "runc")
    found.runc_state = sorted(os.listdir(runc_root)) if os.path.isdir(runc_root) else []
    state_root = os.path.join(daemon.exec_root, "containers")
    found.state_dirs = sorted(os.listdir(state_root)) if os.path.isdir(state_root) else []
    if moord is not None:
        targets = open_fds(moord)
        found.moord_sockets = sum(1 for t in targets if t.startswith("socket:"))
        found.moord_netns_fds = sum(1 for t in targets if t.startswith("net:"))
    return found


def leaks(daemon: DaemonProcess, running: Iterable[str], known: Iterable[str],
          allowed_mounts: Iterable[str] = (), settle: float = 5.0) -> list[str]:
    """What the run holds beyond its ``running`` containers, one line each (empty: nothing leaked).

    ``known`` are every container ID the run ever made (their cgroups and processes are looked up);
    ``allowed_mounts`` are mounts that belong to no container (none, usually). What is found is looked
    for again for up to ``settle`` seconds: a monitor finishing its ``runc delete`` is no leak.
    """
    running_ids, known_ids, allowed = set(running), set(known), set(allowed_mounts)
    deadline = time.monotonic() + settle
    while True:
        problems = _leaks_now(daemon, running_ids, known_ids, allowed)
        if not problems or time.monotonic() >= deadline:
            return problems
        time.sleep(0.25)


def _leaks_now(daemon: DaemonProcess, running_ids: set[str], known: set[str], allowed: set[str]) -> list[str]:
    found = holdings(daemon, known | running_ids)
    problems: list[str] = []

    def owner(text: str) -> str | None:
        return next((cid for cid in running_ids if cid in text), None)

    problems += [f"mount {m}" for m in found.mounts
                 if m not in allowed and owner(m) is None and not is_storage_mount(m, daemon.data_root)]
    for pid, description in found.processes.items():
        if owner(description) is None:
            problems.append(f"process {pid}: {description}")
    for cid, pids in found.container_processes.items():
        if cid not in running_ids:
            problems += [f"process {pid} in the cgroup of container {cid[:12]}: {_describe(pid)}" for pid in pids]
    for cid, dirs in found.cgroups.items():
        if cid not in running_ids:
            problems += [f"cgroup {d}" for d in dirs]
    endpoint_veths = set()
    for network, cid, veth in found.endpoints:
        endpoint_veths.add(veth)
        if cid not in running_ids:
            problems.append(f"endpoint of container {cid[:12]} on network {network} (veth {veth})")
    for bridge, ports in found.bridge_ports.items():
        problems += [f"veth {port} on bridge {bridge}" for port in ports if port not in endpoint_veths]
    problems += [f"runc state of container {cid[:12]}" for cid in found.runc_state if cid not in running_ids]
    return problems
