"""The process layer under the container services: the OCI runtime and the containers' monitors.

The container service (and the services beside it: exec, resources, commit, top) never run
``runc`` or start a monitor themselves; they are given a :class:`ContainerProcesses` by the
engine and go through it for everything that touches a real process:

* the runtime (``runc kill``, ``pause``, ``resume``, ``ps``, ``update``) of a container, by ID;
* launching a monitor (:mod:`moor.monitor`) for a container or an exec, which answers a
  :class:`LaunchedMonitor`: ready, its process created and not yet started;
* the monitor's control channel (``request(state_dir, message)``: ``wait``, ``state``,
  ``abort``, ``resize``...);
* the cgroup tidying once a container has exited.

:class:`RuncProcesses` is the real one (runc and monitor processes), built by the engine from
the configuration; :class:`moor.testing.fakes.FakeProcesses` is the one the unprivileged unit
tests give instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

from moor.containers.cgroups import frozen_in
from moor.containers.exitwatch import ExitWatcher
from moor.containers.launch import ZYGOTE, MonitoredProcess, select_monitor_command, spawn, takes_runc_namespace
from moor.containers.limits import update_resources
from moor.containers.runcnamespace import RuncNamespace
from moor.containers.runtime import Runtime
from moor.driverbuild import DriverRecipe
from moor.errors import MoorError
from moor.monitor.client import request

#: where the cgroup hierarchies are mounted (cgroup v2: one; v1: one directory per controller)
CGROUP_ROOT = "/sys/fs/cgroup"


class LaunchedMonitor(Protocol):
    """A monitor that is ready: its container (or exec) process exists but has not started."""

    #: hooks run once, just before the start (attach relays connecting to the monitor)
    on_ready: list[Callable[[], None]]
    #: the created process's pid, from the monitor's readiness report (to join its network namespace)
    container_pid: int

    def start(self) -> int:
        """Run :attr:`on_ready`, then start the process; its pid. MoorError in Docker's words if it cannot."""
        ...

    def reap(self) -> None:
        """Collect the monitor's exit status once it has ended (when moord is its parent)."""
        ...


class ContainerProcesses(Protocol):
    """Everything the container services ask of real processes (see the module's docstring)."""

    def check(self) -> None:
        """Unavailable when the OCI runtime is missing (before a start)."""
        ...

    def kill(self, container_id: str, signal: str, all_processes: bool = False) -> None:
        """Send ``signal`` (``KILL``, ``TERM``...) to the container's process (every process with
        ``all_processes``); Conflict when it does not run."""
        ...

    def pause(self, container_id: str) -> None:
        """Freeze every process of the container; MoorError when the runtime refuses."""
        ...

    def resume(self, container_id: str) -> None:
        """Thaw a frozen container; MoorError when the runtime refuses."""
        ...

    def frozen(self, container_id: str) -> bool | None:
        """Whether the container's processes are frozen (paused); None when that cannot be told."""
        ...

    def ps(self, container_id: str) -> list[int]:
        """The host pids of the container's processes; Conflict when it does not run."""
        ...

    def update(self, container_id: str, changes: dict[str, Any]) -> None:
        """Apply changed resource fields (Docker's UpdateConfig) to a running container; MoorError when refused."""
        ...

    def launch(self, process: MonitoredProcess, state_dir: str, bundle: str, *, log_driver: str = "",
               log_recipe: DriverRecipe | None = None, exec_process: str = "") -> LaunchedMonitor:
        """Start the monitor of a container (or, with ``exec_process``, of an exec in it) over the OCI
        bundle ``bundle``, its control socket in ``state_dir``; wait until it is ready."""
        ...

    def request(self, state_dir: str, message: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send ``message`` to the monitor whose state directory is ``state_dir``; its reply. OSError or
        MoorError when no monitor answers."""
        ...

    def remove_empty_cgroup_parents(self) -> None:
        """After an exit: drop the ``/moor`` cgroup parents the runtime leaves behind, once they are empty."""
        ...

    def watch_exit(self, state_dir: str, on_exit: Callable[[dict[str, Any] | None], None]) -> None:
        """Ask the monitor in ``state_dir`` to tell when its process exits: ``on_exit(answer)`` runs on a thread
        of its own with the monitor's answer to ``wait`` (None when no monitor answers)."""
        ...

    def close(self) -> None:
        """At moord's clean stop: release what the layer holds (the warm monitor process)."""
        ...


class RuncProcesses:
    """The real process layer: ``runc`` (:class:`Runtime`) with its state under ``runtime_root``, and monitor
    processes forked by the warm zygote (:mod:`moor.containers.launch`)."""

    def __init__(self, runtime_path: str, runtime_root: str, hide_roots: str = "",
                 runc_namespace: RuncNamespace | None = None) -> None:
        """``hide_roots``: the mount holding every container's root (:mod:`moor.daemon.storagemounts`), which
        ``runc create`` does not see (:func:`moor.containers.launch.root_hiding`); empty: it sees them all.
        ``runc_namespace``: moord's namespace without that mount, lent to moor-shim for ``runc create``; None:
        each monitor makes its own."""
        self.runtime = Runtime(runtime_path, runtime_root)
        self.hide_roots = hide_roots
        self.runc_namespace = runc_namespace
        #: one thread waits for every container's exit (not one thread each)
        self.exits = ExitWatcher()

    def check(self) -> None:
        self.runtime.check()

    def kill(self, container_id: str, signal: str, all_processes: bool = False) -> None:
        self.runtime.kill(container_id, signal, all_processes=all_processes)

    def pause(self, container_id: str) -> None:
        self.runtime.pause(container_id)

    def resume(self, container_id: str) -> None:
        self.runtime.resume(container_id)

    def frozen(self, container_id: str) -> bool | None:
        return frozen_in(self.runtime.root, container_id)

    def ps(self, container_id: str) -> list[int]:
        return self.runtime.ps(container_id)

    def update(self, container_id: str, changes: dict[str, Any]) -> None:
        try:
            update_resources(self.runtime.path, self.runtime.root, container_id, changes)
        except MoorError:
            if self.runtime.running(container_id):
                raise
            # its process ended meanwhile: the stored HostConfig applies at its next start, as for a stopped one

    def launch(self, process: MonitoredProcess, state_dir: str, bundle: str, *, log_driver: str = "",
               log_recipe: DriverRecipe | None = None, exec_process: str = "") -> LaunchedMonitor:
        command = select_monitor_command(process, state_dir, bundle, self.runtime, log_driver,
                                         exec_process=exec_process, log_recipe=log_recipe, hide_roots=self.hide_roots)
        lent = self.runc_namespace.lend() if self.runc_namespace and takes_runc_namespace(command) else None
        try:
            return spawn(command, state_dir, lent)
        finally:
            if lent is not None:
                os.close(lent)

    def request(self, state_dir: str, message: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return request(state_dir, message, timeout=timeout)

    def remove_empty_cgroup_parents(self) -> None:
        remove_empty_cgroup_parents(CGROUP_ROOT)

    def watch_exit(self, state_dir: str, on_exit: Callable[[dict[str, Any] | None], None]) -> None:
        self.exits.watch(state_dir, on_exit)

    def close(self) -> None:
        ZYGOTE.close()
        if self.runc_namespace is not None:
            self.runc_namespace.close()
        # the last exit's check ran before its monitor's `runc delete` removed the container's cgroups
        remove_empty_cgroup_parents(CGROUP_ROOT)


def remove_empty_cgroup_parents(root: str) -> None:
    """runc removes a container's cgroups but not the ``/moor`` parent; drop it once empty (under ``root`` and
    each hierarchy mounted below it)."""
    try:
        hierarchies = [os.path.join(root, name) for name in os.listdir(root)]
    except OSError:
        return
    for path in [root] + hierarchies:
        try:
            os.rmdir(os.path.join(path, "moor"))
        except OSError:
            pass
