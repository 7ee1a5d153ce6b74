"""A container's cgroups, read straight from the cgroup filesystem: statistics and OOM kills.

Where a container's cgroups are: ``/proc/<pid>/cgroup`` has one line per hierarchy,
``hierarchy-ID:controller-list:path``. On a cgroup v1 (or hybrid) host every v1 hierarchy has its
own line and its own mount (``/sys/fs/cgroup/memory``, or a joint ``cpu,cpuacct``), and the path is
relative to the mount's root (field 4 of ``/proc/self/mountinfo``). On a pure cgroup v2 host there is
one line, ``0::/path``, under the one cgroup2 mount. On a hybrid host the ``0::`` line names a v2
group whose controllers (hugetlb, on the machines moor was built on) hold nothing we read, so it
is ignored: the v1 controllers are what runc uses there.

The readers return Docker's shapes (``memory_stats``, ``cpu_stats.cpu_usage``, ``pids_stats``,
``blkio_stats``) with Docker's units (nanoseconds, bytes); what differs between v1 and v2 is
documented in Docker's API: on v2 there is no per-CPU usage, no ``max_usage`` and the memory
``stats`` keys are v2's. Nothing here raises for a missing file: a controller that is not there
reads as empty.

This module imports only the standard library and :mod:`moor.mountinfo`: the monitor uses :func:`oom_killed`.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from moor.mountinfo import unescape

CGROUP_ROOT = "/sys/fs/cgroup"
UNLIMITED = 2**64 - 1

#: The memory.stat keys Docker reports on cgroup v1 (containerd's v1 metrics), in its order.
V1_MEMORY_STAT_KEYS = (
    "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pgpgin", "pgpgout", "pgfault",
    "pgmajfault", "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable",
    "hierarchical_memory_limit", "hierarchical_memsw_limit", "total_cache", "total_rss", "total_rss_huge",
    "total_mapped_file", "total_dirty", "total_writeback", "total_pgpgin", "total_pgpgout", "total_pgfault",
    "total_pgmajfault", "total_inactive_anon", "total_active_anon", "total_inactive_file",
    "total_active_file", "total_unevictable",
)  # fmt: skip


@dataclass
class CgroupPaths:
    """The directories of one process's cgroups: per v1 controller, or the one v2 group."""

    unified: bool  # a pure cgroup v2 host
    dirs: dict[str, str] = field(default_factory=dict)  # v1: controller -> directory; v2: {"": directory}

    def get(self, controller: str) -> str | None:
        """The directory that holds ``controller``'s files (``memory``, ``cpuacct``, ``pids``, ...)."""
        if self.unified:
            return self.dirs.get("")
        return self.dirs.get(controller)


# --------------------------------------------------------------------------- finding the cgroups


def unified_host(root: str = CGROUP_ROOT) -> bool:
    """Whether the host runs cgroup v2 only (the unified hierarchy is mounted at /sys/fs/cgroup)."""
    return os.path.exists(os.path.join(root, "cgroup.controllers"))


def parse_mountinfo(text: str) -> tuple[dict[str, tuple[str, str]], tuple[str, str] | None]:
    """The cgroup mounts in mountinfo text: {v1 controller: (root, mount point)} and the v2 mount."""
    v1: dict[str, tuple[str, str]] = {}
    v2: tuple[str, str] | None = None
    for line in text.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        if len(after) < 3:
            continue
        fstype, options = after[0], after[2]
        root, mount_point = unescape(fields[3]), unescape(fields[4])
        if fstype == "cgroup2":
            if v2 is None or mount_point == CGROUP_ROOT:
                v2 = (root, mount_point)
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in ("rw", "ro") or option.startswith("release_agent"):
                    continue
                v1.setdefault(option, (root, mount_point))
    return v1, v2


def _read_text(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def _mounts() -> tuple[dict[str, tuple[str, str]], tuple[str, str] | None]:
    return parse_mountinfo(_read_text("/proc/self/mountinfo") or "")


def _join(mount: tuple[str, str], path: str) -> str:
    """The directory of cgroup ``path`` under a mount whose root is ``mount[0]``."""
    root, mount_point = mount
    if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
        path = path[len(root):]
    return os.path.join(mount_point, path.lstrip("/"))


def parse_proc_cgroup(text: str, mountinfo: str, unified: bool) -> CgroupPaths:
    """The cgroup directories named by /proc/<pid>/cgroup ``text``, given mountinfo text."""
    v1_mounts, v2_mount = parse_mountinfo(mountinfo)
    paths = CgroupPaths(unified=unified)
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            if unified and v2_mount is not None:
                paths.dirs[""] = _join(v2_mount, path)
            continue
        for controller in controllers.split(","):
            if controller and controller in v1_mounts:
                paths.dirs[controller] = _join(v1_mounts[controller], path)
    return paths


def cgroup_paths(pid: int) -> CgroupPaths:
    """The cgroup directories of process ``pid``; OSError when it does not exist."""
    with open(f"/proc/{pid}/cgroup") as handle:
        text = handle.read()
    return parse_proc_cgroup(text, _read_text("/proc/self/mountinfo") or "", unified_host())


def container_cgroups_path(container_id: str, parent: str = "") -> str:
    """The OCI ``cgroupsPath`` of a container: ``/moor/<id>``, or ``<parent>/<id>`` for ``--cgroup-parent``.

    As Docker's cgroupfs driver: the parent is joined with the ID (``/mytest`` and ``mytest`` both give
    ``/mytest/<id>`` on this host's hierarchies). Unlike Docker, a relative parent is rooted at the
    hierarchy's root, so ``../..`` cannot climb out of it.
    """
    if not parent:
        return f"/moor/{container_id}"
    return posixpath.join(posixpath.normpath("/" + parent.strip().lstrip("/")), container_id)


def cgroup_paths_for(cgroups_path: str) -> CgroupPaths:
    """The directories runc uses for an absolute OCI ``cgroupsPath`` (``/moor/<id>``).

    runc puts an absolute path under the root of every hierarchy (v1) or of the v2 mount.
    """
    v1_mounts, v2_mount = _mounts()
    if unified_host():
        return CgroupPaths(unified=True, dirs={"": os.path.join((v2_mount or ("/", CGROUP_ROOT))[1],
                                                                cgroups_path.lstrip("/"))})
    return CgroupPaths(unified=False, dirs={controller: os.path.join(mount_point, cgroups_path.lstrip("/"))
                                            for controller, (_root, mount_point) in v1_mounts.items()})


# --------------------------------------------------------------------------- small readers


def _read_int(directory: str | None, name: str) -> int | None:
    """An integer file; ``max`` (v2's unlimited) reads as :data:`UNLIMITED`; None when absent."""
    if directory is None:
        return None
    text = _read_text(os.path.join(directory, name))
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return UNLIMITED
    try:
        return int(text)
    except ValueError:
        return None


def _read_keyed(directory: str | None, name: str) -> dict[str, int]:
    """A flat keyed file (``key value`` per line: memory.stat, cpu.stat, memory.events)."""
    if directory is None:
        return {}
    text = _read_text(os.path.join(directory, name))
    result: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                result[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return result


def clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return 100


# --------------------------------------------------------------------------- statistics


def memory_stats(paths: CgroupPaths) -> dict[str, Any]:
    """Docker's ``memory_stats`` before the limit is capped to the machine's memory (limit raw)."""
    directory = paths.get("memory")
    if directory is None:
        return {}
    if paths.unified:
        usage = _read_int(directory, "memory.current")
        if usage is None:
            return {}
        raw = _read_keyed(directory, "memory.stat")
        events = _read_keyed(directory, "memory.events")
        result: dict[str, Any] = {"usage": usage, "stats": raw, "limit": _read_int(directory, "memory.max") or 0}
        if events.get("oom"):
            result["failcnt"] = events["oom"]
        return result
    usage = _read_int(directory, "memory.usage_in_bytes")
    if usage is None:
        return {}
    raw = _read_keyed(directory, "memory.stat")
    result = {
        "usage": usage,
        "max_usage": _read_int(directory, "memory.max_usage_in_bytes") or 0,
        "stats": {key: raw.get(key, 0) for key in V1_MEMORY_STAT_KEYS},
        "failcnt": _read_int(directory, "memory.failcnt") or 0,
        "limit": _read_int(directory, "memory.limit_in_bytes") or 0,
    }
    if not result["failcnt"]:  # Docker's omitempty
        del result["failcnt"]
    return result


def cpu_stats(paths: CgroupPaths) -> dict[str, Any]:
    """Docker's ``cpu_usage`` and ``throttling_data`` (nanoseconds)."""
    usage: dict[str, Any] = {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}
    throttling = {"periods": 0, "throttled_periods": 0, "throttled_time": 0}
    if paths.unified:
        stat = _read_keyed(paths.get("cpu"), "cpu.stat")
        usage["total_usage"] = stat.get("usage_usec", 0) * 1000
        usage["usage_in_kernelmode"] = stat.get("system_usec", 0) * 1000
        usage["usage_in_usermode"] = stat.get("user_usec", 0) * 1000
        throttling = {"periods": stat.get("nr_periods", 0), "throttled_periods": stat.get("nr_throttled", 0),
                      "throttled_time": stat.get("throttled_usec", 0) * 1000}
        return {"cpu_usage": usage, "throttling_data": throttling}
    cpuacct = paths.get("cpuacct")
    usage["total_usage"] = _read_int(cpuacct, "cpuacct.usage") or 0
    percpu = _read_text(os.path.join(cpuacct, "cpuacct.usage_percpu")) if cpuacct else None
    if percpu:
        values = [int(value) for value in percpu.split() if value.isdigit()]
        if values:
            usage["percpu_usage"] = values
            # Docker's key order: total_usage, percpu_usage, usage_in_kernelmode, usage_in_usermode
            usage = {"total_usage": usage.pop("total_usage"), "percpu_usage": usage.pop("percpu_usage"), **usage}
    ticks = clock_ticks()
    stat = _read_keyed(cpuacct, "cpuacct.stat")
    usage["usage_in_kernelmode"] = stat.get("system", 0) * 10**9 // ticks
    usage["usage_in_usermode"] = stat.get("user", 0) * 10**9 // ticks
    cpu = _read_keyed(paths.get("cpu"), "cpu.stat")
    throttling = {"periods": cpu.get("nr_periods", 0), "throttled_periods": cpu.get("nr_throttled", 0),
                  "throttled_time": cpu.get("throttled_time", 0)}
    return {"cpu_usage": usage, "throttling_data": throttling}


def pids_stats(paths: CgroupPaths) -> dict[str, int]:
    """Docker's ``pids_stats``: current, and the limit unless unlimited (both omitted when 0)."""
    directory = paths.get("pids")
    result: dict[str, int] = {}
    current = _read_int(directory, "pids.current")
    if current:
        result["current"] = current
    limit = _read_int(directory, "pids.max")
    if limit and limit != UNLIMITED:
        result["limit"] = limit
    return result


def _blkio_entries(directory: str, name: str) -> list[dict[str, Any]] | None:
    text = _read_text(os.path.join(directory, name))
    if text is None:
        return None
    entries = []
    for line in text.splitlines():
        fields = line.replace(":", " ").split()
        if len(fields) < 3 or fields[0] == "Total":
            continue
        try:
            major, minor = int(fields[0]), int(fields[1])
            op, value = (fields[2], int(fields[3])) if len(fields) >= 4 else ("", int(fields[2]))
        except ValueError:
            continue
        entries.append({"major": major, "minor": minor, "op": op, "value": value})
    return entries


BLKIO_KEYS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
              "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
              "io_time_recursive", "sectors_recursive")


def blkio_stats(paths: CgroupPaths) -> dict[str, Any]:
    """Docker's ``blkio_stats``: v1 from the throttle files (or CFQ's when it counts), v2 from io.stat."""
    result: dict[str, Any] = {key: None for key in BLKIO_KEYS}
    if paths.unified:
        directory = paths.get("io")
        text = _read_text(os.path.join(directory, "io.stat")) if directory else None
        entries = []
        for line in (text or "").splitlines():
            fields = line.split()
            if not fields or ":" not in fields[0]:
                continue
            major, _, minor = fields[0].partition(":")
            values = dict(item.split("=", 1) for item in fields[1:] if "=" in item)
            for op, key in (("read", "rbytes"), ("write", "wbytes")):
                entries.append({"major": int(major), "minor": int(minor), "op": op, "value": int(values.get(key, 0))})
        result["io_service_bytes_recursive"] = entries or None
        return result
    directory = paths.get("blkio")
    if directory is None:
        return result
    cfq = _blkio_entries(directory, "blkio.io_service_bytes_recursive")
    if cfq:
        for key, name in (("io_service_bytes_recursive", "io_service_bytes_recursive"),
                          ("io_serviced_recursive", "io_serviced_recursive"),
                          ("io_queue_recursive", "io_queued_recursive"),
                          ("io_service_time_recursive", "io_service_time_recursive"),
                          ("io_wait_time_recursive", "io_wait_time_recursive"),
                          ("io_merged_recursive", "io_merged_recursive"),
                          ("io_time_recursive", "time_recursive"),
                          ("sectors_recursive", "sectors_recursive")):
            result[key] = _blkio_entries(directory, f"blkio.{name}") or None
        return result
    for key in ("io_service_bytes_recursive", "io_serviced_recursive"):
        result[key] = _blkio_entries(directory, f"blkio.throttle.{key}") or None
    return result


# --------------------------------------------------------------------------- freezer


def frozen_in(runtime_root: str, container_id: str) -> bool | None:
    """Whether the container's freezer cgroup holds its processes (paused), read where runc recorded its cgroups
    (``<runtime root>/<id>/state.json``); None when that cannot be told (no such container, no freezer).

    A file read, where ``runc`` would be a process: moord asks it of every container it re-adopts."""
    try:
        with open(os.path.join(runtime_root, container_id, "state.json")) as handle:
            paths = json.load(handle).get("cgroup_paths") or {}
    except (OSError, ValueError, AttributeError):
        return None
    if paths.get("freezer"):  # cgroup v1 (or hybrid: there the v1 freezer is runc's)
        state = _read_text(os.path.join(paths["freezer"], "freezer.state"))
        return None if state is None else state.strip() != "THAWED"
    if paths.get(""):
        state = _read_text(os.path.join(paths[""], "cgroup.freeze"))
        return None if state is None else state.strip() == "1"
    return None


# --------------------------------------------------------------------------- OOM


def oom_kills(paths: CgroupPaths) -> int:
    """How many processes the kernel's OOM killer killed in this memory cgroup."""
    directory = paths.get("memory")
    if directory is None:
        return 0
    return _oom_kills_in(directory)


def _oom_kills_in(directory: str) -> int:
    # v2: memory.events ``oom_kill N``; v1: memory.oom_control ``oom_kill N`` (kernel 4.13 and later)
    for name in ("memory.events", "memory.oom_control"):
        values = _read_keyed(directory, name)
        if "oom_kill" in values:
            return values["oom_kill"]
    return 0


def oom_killed(target: int | str | CgroupPaths) -> bool:
    """Whether the OOM killer struck in a container's memory cgroup (Docker's ``State.OOMKilled``).

    ``target`` is a live process ID, a :class:`CgroupPaths`, a cgroup directory
    (``/sys/fs/cgroup/memory/moor/<id>``) or an OCI cgroupsPath (``/moor/<id>``). Read it after the
    container's init exited but before ``runc delete`` removes the cgroup. False when nothing can be
    read.
    """
    try:
        if isinstance(target, CgroupPaths):
            paths = target
        elif isinstance(target, int):
            paths = cgroup_paths(target)
        elif os.path.isdir(target) and target.startswith(CGROUP_ROOT + "/"):
            return _oom_kills_in(target) > 0
        else:
            paths = cgroup_paths_for(target)
    except OSError:
        return False
    return oom_kills(paths) > 0
