"""Container resources at run time: statistics (``docker stats``), update, pause and unpause.

Statistics are Docker's ``StatsJSON``, read from the container's cgroups
(:mod:`moor.containers.cgroups`) at each request; nothing is sampled in the background. As in
Docker, ``cpu_stats.system_cpu_usage`` is the host's CPU time from /proc/stat in nanoseconds
(the first seven fields of the ``cpu`` line, times 1e9 / CLK_TCK), ``precpu_stats`` and
``preread`` are the previous sample's, and a memory limit above the machine's memory is reported
as the machine's memory. A stream yields one sample a second; a single answer (``stream=0``) is a
second sample taken a second after the first, so that ``precpu_stats`` is filled, unless
``one-shot`` asks for the first one. A container that is not running has empty statistics (its
name and ID only), as in Docker.

Update, pause and unpause change the container record under the store's lock and tell runc when
the container runs; they publish Docker's ``update``, ``pause`` and ``unpause`` events.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from moor.containers import cgroups
from moor.containers import restart as restart_policy
from moor.containers.limits import merge_update, validate_resources
from moor.containers.netdev import network_stats
from moor.errors import Conflict, InvalidParameter, MoorError
from moor.hostinfo import machine_memory, online_cpus
from moor.timefmt import ZERO_TIME, rfc3339_nano

if TYPE_CHECKING:
    from moor.containers.processes import ContainerProcesses
    from moor.containers.record import Container
    from moor.services.containers import ContainerService
    from moor.services.events import EventBus

log = logging.getLogger(__name__)

SAMPLE_INTERVAL = 1.0


# --------------------------------------------------------------------------- host figures


def system_cpu_usage(stat_text: str | None = None, ticks: int | None = None) -> int:
    """The host's CPU time in nanoseconds as Docker computes it from /proc/stat."""
    if stat_text is None:
        try:
            with open("/proc/stat") as handle:
                stat_text = handle.read()
        except OSError:
            return 0
    for line in stat_text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu" and len(fields) >= 8:
            total = sum(int(value) for value in fields[1:8])
            return total * 10**9 // (ticks or cgroups.clock_ticks())
    return 0


# --------------------------------------------------------------------------- statistics


def _empty_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def empty_stats(container: Container, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Docker's StatsJSON with nothing measured (a container that does not run)."""
    return {
        "read": ZERO_TIME,
        "preread": previous["read"] if previous else ZERO_TIME,
        "pids_stats": {},
        "blkio_stats": {key: None for key in cgroups.BLKIO_KEYS},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _empty_cpu(),
        "precpu_stats": copy.deepcopy(previous["cpu_stats"]) if previous else _empty_cpu(),
        "memory_stats": {},
        "name": "/" + container.name,
        "id": container.id,
    }


def stats_json(service: ContainerService, container: Container, previous: dict[str, Any] | None) -> dict[str, Any]:
    """One sample of Docker's stats JSON for ``container``; ``previous`` is the sample before it."""
    result = empty_stats(container, previous)
    if not container.state.Running or not container.state.Pid:
        return result
    try:
        paths = cgroups.cgroup_paths(container.state.Pid)
    except OSError:
        return result  # it exited meanwhile
    if not paths.dirs:
        return result
    cpu = cgroups.cpu_stats(paths)
    cpu["system_cpu_usage"] = system_cpu_usage()
    cpu["online_cpus"] = online_cpus()
    cpu = {"cpu_usage": cpu["cpu_usage"], "system_cpu_usage": cpu["system_cpu_usage"],
           "online_cpus": cpu["online_cpus"], "throttling_data": cpu["throttling_data"]}
    result["read"] = rfc3339_nano(time.time_ns())
    result["pids_stats"] = cgroups.pids_stats(paths)
    result["blkio_stats"] = cgroups.blkio_stats(paths)
    result["cpu_stats"] = cpu
    memory = cgroups.memory_stats(paths)
    total = machine_memory()
    if memory.get("limit") and total and memory["limit"] > total:
        memory["limit"] = total
    result["memory_stats"] = memory
    mode = str(container.host_config.get("NetworkMode") or "")
    if mode != "host" and not mode.startswith("container:"):  # its own namespace: Docker lists its interfaces
        networks = network_stats(container.state.Pid)
        if networks:
            result["networks"] = networks
    return result


class ContainerResources:
    """Statistics, update, pause and unpause of the containers of ``containers``; events go to ``events``; runc is
    told through ``processes``, the container service's."""

    def __init__(self, containers: ContainerService, events: EventBus, processes: ContainerProcesses) -> None:
        self.containers = containers
        self.events = events
        self.processes = processes

    def sample(self, container_id: str, one_shot: bool = False) -> dict[str, Any]:
        """The answer to ``stream=0``: a second sample a second after the first (the first if ``one_shot``)."""
        container = self.containers.get(container_id)
        first = stats_json(self.containers, container, None)
        if one_shot or not container.state.Running:
            return first
        time.sleep(SAMPLE_INTERVAL)
        current = self.containers.store.find(container.id) or container
        return stats_json(self.containers, current, first)

    def stream(self, ident: str, interval: float = SAMPLE_INTERVAL) -> Iterator[dict[str, Any]]:
        """Samples every ``interval`` seconds until the container is removed (``stream=1``); NotFound now, not at
        the first sample, for an unknown container."""
        return self._samples(self.containers.get(ident).id, interval)

    def _samples(self, container_id: str, interval: float) -> Iterator[dict[str, Any]]:
        previous: dict[str, Any] | None = None
        while True:
            container = self.containers.store.find(container_id)
            if container is None:
                return
            current = stats_json(self.containers, container, previous)
            yield current
            previous = current
            time.sleep(interval)

    # -------------------------------------------------------------- update

    def update(self, ident: str, body: dict[str, Any]) -> list[str]:
        """``POST /containers/{id}/update``: validate, merge into the HostConfig, apply with runc; warnings."""
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise InvalidParameter("json: cannot unmarshal into Go value of type container.UpdateConfig")
        validate_resources(body, update=True)
        policy = body.get("RestartPolicy")
        if policy is not None and not isinstance(policy, dict):
            raise InvalidParameter("json: cannot unmarshal into Go struct field UpdateConfig.RestartPolicy")
        if policy and policy.get("Name"):
            body = {**body, "RestartPolicy": restart_policy.validate(policy, auto_remove=False)}
        container = self.containers.get(ident)
        with self.containers.store.lock:
            before = container.host_config
            after = merge_update(container.id, before, body)
            container.host_config = after
            self.containers.store.save(container)
            if container.state.Running:
                try:
                    self.processes.update(container.id, body)
                except MoorError as err:
                    container.host_config = before
                    self.containers.store.save(container)
                    raise MoorError(f"Cannot update container {container.id}: {err}") from None
        self.events.publish_container(container, "update")
        return []

    # -------------------------------------------------------------- pause / unpause

    def pause(self, ident: str) -> Container:
        """Freeze every process of a running container (``runc pause``)."""
        return self._set_frozen(ident, True)

    def unpause(self, ident: str) -> Container:
        """Thaw a paused container (``runc resume``)."""
        return self._set_frozen(ident, False)

    def _set_frozen(self, ident: str, frozen: bool) -> Container:
        """Pause (``frozen``) or unpause a running container; Docker's 409 when it already is or is not running."""
        action = "pause" if frozen else "unpause"
        container = self.containers.get(ident)
        with self.containers.store.lock:
            if not container.state.Running:
                raise Conflict(f"Container {container.id} is not running")
            if container.state.Paused == frozen:
                raise Conflict(f"Container {container.id} is {'already paused' if frozen else 'not paused'}")
            try:
                (self.processes.pause if frozen else self.processes.resume)(container.id)
            except MoorError as err:
                raise _refusal(action, container.id, err) from None
            container.state.Paused = frozen
            container.state.Status = "paused" if frozen else "running"
            self.containers.store.save(container)
        self.events.publish_container(container, action)
        return container

def _refusal(action: str, container_id: str, err: MoorError) -> MoorError:
    """The runtime's refusal as Docker answers it: a container whose process ended meanwhile (its exit not yet
    recorded) is a 409, not running; anything else stays the server's error."""
    if isinstance(err, Conflict) or "does not exist" in str(err) or "not running" in str(err):
        return Conflict(f"Container {container_id} is not running")
    if action == "unpause" and "not paused" in str(err):  # a stop or kill resumed it meanwhile
        return Conflict(f"Container {container_id} is not paused")
    return MoorError(f"Cannot {action} container {container_id}: {err}")
