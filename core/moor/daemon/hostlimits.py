"""The host limits a thousand containers meet, lifted (or named) when moord starts.

* open files: moord holds a few descriptors per running container (its monitor's control socket,
  the embedded DNS server's sockets in its namespace, ...), so the usual soft limit of 1024 ends at a
  few hundred containers. moord raises its soft ``RLIMIT_NOFILE`` to the hard one (root without
  ``CAP_SYS_RESOURCE`` cannot pass that), as dockerd runs with ``LimitNOFILE=infinity``; the monitors
  and containers it starts inherit it, as Docker's do. A hard limit that still leaves few is named in
  the log with what to change.
* the neighbour (ARP) table: every container on a bridge is a neighbour of the host; past
  ``gc_thresh3`` (1024 by default) the kernel drops entries ("neighbour table overflow") and
  containers stop answering. moord raises ``gc_thresh1..3`` to at least 1024, 4096 and 8192.
* tasks: moord's own cgroup may cap its tasks (``pids.max``, systemd's ``TasksMax=``), and every
  running container's monitor is one of them, so a low cap is named in the log.

Each check logs what it changed or what bounds the containers, and never stops moord. Beside them, glibc's
malloc is told to keep two arenas (:func:`few_malloc_arenas`): moord's many short-lived threads (requests,
exits) otherwise spread their allocations over up to 8 arenas per CPU, each holding on to freed memory.
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: the soft limit of open files moord asks for (dockerd's systemd unit gives it 1048576)
WANTED_OPEN_FILES = 1 << 20
#: descriptors moord holds per running container, about (monitor socket, DNS sockets, files in use)
FILES_PER_CONTAINER = 4
#: below this many open files, moord says how few containers that leaves
FEW_OPEN_FILES = 8192
NEIGHBOUR_SYSCTLS = "/proc/sys/net/ipv4/neigh/default"
#: the least gc_thresh1, 2 and 3 moord leaves (the kernel's defaults are 128, 512 and 1024)
NEIGHBOUR_THRESHOLDS = (("gc_thresh1", 1024), ("gc_thresh2", 4096), ("gc_thresh3", 8192))
#: below this many tasks in moord's cgroup, moord says how few containers that leaves
FEW_TASKS = 4096


@dataclass
class Lifted:
    """What :func:`lift` found and did, for the log and the tests."""

    open_files: int = 0
    neighbour_changes: list[str] | None = None
    messages: list[str] | None = None


def raise_open_files(wanted: int = WANTED_OPEN_FILES) -> tuple[int, str | None]:
    """Raise this process's soft ``RLIMIT_NOFILE`` towards ``wanted`` (up to the hard limit); the soft limit
    now and, when it leaves few containers, the message saying so."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            log.info("open files: soft limit raised from %d to %d", soft, target)
            soft = target
        except (OSError, ValueError) as err:
            log.warning("open files: cannot raise the soft limit from %d to %d: %s", soft, target, err)
    if soft != resource.RLIM_INFINITY and soft < FEW_OPEN_FILES:
        return soft, (f"moord may open only {soft} files (RLIMIT_NOFILE, hard limit {hard}): about "
                      f"{soft // FILES_PER_CONTAINER} running containers; raise its hard limit "
                      f"(LimitNOFILE= in its systemd unit, or ulimit -Hn before it starts)")
    return soft, None


def raise_neighbour_thresholds(directory: str = NEIGHBOUR_SYSCTLS) -> tuple[list[str], str | None]:
    """Raise the IPv4 neighbour table's ``gc_thresh1..3`` to at least :data:`NEIGHBOUR_THRESHOLDS`; the changes
    made (``name old -> new``) and a message when one could not be made."""
    changes: list[str] = []
    for name, least in NEIGHBOUR_THRESHOLDS:
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="ascii") as handle:
                current = int(handle.read().strip())
        except (OSError, ValueError):
            continue  # no IPv4 neighbour table to tune here
        if current >= least:
            continue
        try:
            with open(path, "w", encoding="ascii") as handle:
                handle.write(f"{least}\n")
        except OSError as err:
            return changes, (f"the neighbour table keeps {current} entries ({path}): past that, containers on "
                             f"bridges stop answering; moord could not raise it to {least}: {err.strerror}")
        changes.append(f"{name} {current} -> {least}")
    if changes:
        log.info("neighbour table: %s", ", ".join(changes))
    return changes, None


def task_limit_message(cgroup_file: str = "/proc/self/cgroup", root: str = "/sys/fs/cgroup") -> str | None:
    """A message when moord's cgroup allows few tasks (``pids.max``): each running container's monitor is one."""
    try:
        with open(cgroup_file, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _hierarchy, controllers, path = line.split(":", 2)
        if controllers == "pids":
            candidate = os.path.join(root, "pids", path.lstrip("/"), "pids.max")
        elif controllers == "" and len(lines) == 1:  # a pure cgroup v2 host
            candidate = os.path.join(root, path.lstrip("/"), "pids.max")
        else:
            continue
        try:
            with open(candidate, encoding="ascii") as handle:
                value = handle.read().strip()
        except OSError:
            return None
        if value != "max" and value.isdigit() and int(value) < FEW_TASKS:
            return (f"moord's cgroup allows {value} tasks ({candidate}): each running container's monitor is "
                    f"one, so fewer than {value} containers; raise TasksMax= in its systemd unit")
        return None
    return None


#: glibc's mallopt parameter for the number of malloc arenas
M_ARENA_MAX = -8
#: arenas moord's threads share (glibc makes up to 8 per CPU: each thread that meets a busy one starts its own,
#: and freed memory stays in it)
MALLOC_ARENAS = 2


def few_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Have glibc's malloc keep ``arenas`` arenas (it is told before moord's threads start); False when this
    libc has no ``mallopt`` (musl)."""
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def lift() -> Lifted:
    """Every check at moord's start; what bounds the containers is logged as a warning."""
    few_malloc_arenas()
    open_files, files_message = raise_open_files()
    changes, neighbour_message = raise_neighbour_thresholds()
    messages = [m for m in (files_message, neighbour_message, task_limit_message()) if m]
    for message in messages:
        log.warning("%s", message)
    return Lifted(open_files=open_files, neighbour_changes=changes, messages=messages)
