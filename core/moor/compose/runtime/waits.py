"""Waiting on containers: ``depends_on`` conditions before a service starts, and ``up --wait``.

As compose v2: ``service_healthy`` waits for the health check to pass (a container that exits or turns unhealthy
fails the dependant), ``service_completed_successfully`` for the container to exit 0, ``service_started`` for
nothing; an optional (``required: false``) dependency that fails is skipped with a warning. ``--wait`` waits for
every container to be healthy, or running when it has no health check.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moor.client import Client, DaemonError
from moor.compose.errors import ComposeError, DependencyError
from moor.compose.model import Project
from moor.compose.runtime.progress import Progress

STARTED = "service_started"
HEALTHY = "service_healthy"
COMPLETED = "service_completed_successfully"
#: what ``--wait`` asks of each container: healthy when it has a health check, else running
RUNNING_OR_HEALTHY = "running_or_healthy"

_FIRST_POLL = 0.05
_MAX_POLL = 0.5


@dataclass(frozen=True)
class Handle:
    """A container compose handles: its ID, name and service."""

    id: str
    name: str
    service: str


class _Failed(Exception):
    """A container can no longer meet its condition (the text says why)."""


def _inspect(client: Client, handle: Handle) -> dict[str, Any]:
    try:
        return dict(client.call("GET", f"/containers/{handle.id}/json"))
    except DaemonError as err:
        if err.status == 404:
            raise _Failed(f"container {handle.name} is missing") from None
        raise


def _has_healthcheck(inspect: dict[str, Any]) -> bool:
    check = (inspect.get("Config") or {}).get("Healthcheck") or {}
    test = check.get("Test") or []
    return bool(test) and test[0] != "NONE"


def _healthy(inspect: dict[str, Any], name: str, fallback_running: bool) -> bool:
    """True when met, False while it may still be; :class:`_Failed` when it cannot be any more."""
    state = inspect.get("State") or {}
    if state.get("Status") in ("exited", "dead"):
        raise _Failed(f"container {name} exited ({state.get('ExitCode', 0)})")
    if not _has_healthcheck(inspect) and fallback_running:
        return state.get("Status") == "running"
    health = state.get("Health")
    if not health:
        raise _Failed(f"container {name} has no healthcheck configured")
    status = health.get("Status")
    if status == "healthy":
        return True
    if status == "unhealthy":
        raise _Failed(f"container {name} is unhealthy")
    if status == "starting":
        return False
    raise _Failed(f'container {name} had unexpected health status "{status}"')


def _completed(inspect: dict[str, Any]) -> tuple[bool, int]:
    state = inspect.get("State") or {}
    if state.get("Status") in ("exited", "dead"):
        return True, int(state.get("ExitCode") or 0)
    return False, 0


@dataclass
class _Pending:
    dependency: str
    condition: str
    required: bool
    containers: list[Handle]


def _poll(deadline: float | None, interval: float) -> float:
    if deadline is not None and time.monotonic() >= deadline:
        raise TimeoutError
    time.sleep(interval)
    return min(interval * 2, _MAX_POLL)


def wait_dependencies(client: Client, project: Project, service: str, containers: Mapping[str, Sequence[Handle]],
                      progress: Progress, *, timeout: float | None = None, scale: Mapping[str, int] | None = None
                      ) -> None:
    """Block until each of ``service``'s ``depends_on`` conditions holds for the dependency's containers
    (``containers``: service -> its containers; a service absent from it is not waited for, one present with
    no container is missing; ``scale``: ``--scale`` overrides, a dependency scaled to 0 is not waited for).
    :class:`DependencyError` when one cannot hold."""
    pending: list[_Pending] = []
    for dependency, spec in (project.service(service).get("depends_on") or {}).items():
        spec = spec or {}
        condition = spec.get("condition", STARTED)
        required = bool(spec.get("required", True))
        if condition == STARTED or dependency not in project.services or dependency not in containers:
            continue
        if scale_of(project.services[dependency], (scale or {}).get(dependency)) == 0:
            continue
        handles = list(containers.get(dependency) or [])
        if not handles:
            if required:
                raise DependencyError(f"{service} is missing dependency {dependency}")
            progress.message(f"WARN[0000] {service} is missing dependency {dependency}")
            continue
        for handle in handles:
            progress.event("Container", handle.name, "Waiting")
        pending.append(_Pending(dependency, condition, required, handles))
    deadline = None if timeout is None else time.monotonic() + timeout
    interval = _FIRST_POLL
    try:
        while pending:
            pending = [item for item in pending if not _check(client, item, progress)]
            if pending:
                interval = _poll(deadline, interval)
    except TimeoutError:
        raise DependencyError("timeout waiting for dependencies") from None


def _check(client: Client, item: _Pending, progress: Progress) -> bool:
    """Whether ``item`` is settled (met, or an optional one given up); raises when a required one failed."""
    if item.condition == HEALTHY:
        try:
            met = all(_healthy(_inspect(client, handle), handle.name, False) for handle in item.containers)
        except _Failed as failure:
            if not item.required:
                for handle in item.containers:
                    progress.event("Container", handle.name,
                                   f'Skipped: optional dependency "{item.dependency}" failed to start')
                return True
            for handle in item.containers:
                progress.event("Container", handle.name, "Error", f"dependency {item.dependency} failed to start")
            raise DependencyError(f"dependency failed to start: {failure}") from None
        if met:
            for handle in item.containers:
                progress.event("Container", handle.name, "Healthy")
        return met
    if item.condition == COMPLETED:
        for handle in item.containers:
            try:
                exited, code = _completed(_inspect(client, handle))
            except _Failed as failure:
                raise DependencyError(str(failure)) from None
            if not exited:
                continue
            if code == 0:
                for other in item.containers:
                    progress.event("Container", other.name, "Exited")
                return True
            text = f'"{item.dependency}" didn\'t complete successfully: exit {code}'
            if not item.required:
                for other in item.containers:
                    progress.event("Container", other.name, f"Skipped: optional dependency {text}")
                return True
            for other in item.containers:
                progress.event("Container", other.name, "Error", f"service {text}")
            raise DependencyError(f"service {text}")
        return False
    progress.message(f"WARN[0000] unsupported depends_on condition: {item.condition}")
    return True


def wait_running_or_healthy(client: Client, project: Project, handles: Sequence[Handle], progress: Progress, *,
                            timeout: float | None = None) -> None:
    """``up --wait``: every container healthy (running without a health check). A container that exited fails
    the wait unless it exited 0 and another service waits for it with ``service_completed_successfully``."""
    completes = {dependency for service in project.services.values()
                 for dependency, spec in (service.get("depends_on") or {}).items()
                 if (spec or {}).get("condition") == COMPLETED}
    for handle in handles:
        progress.event("Container", handle.name, "Waiting")
    pending = list(handles)
    deadline = None if timeout is None else time.monotonic() + timeout
    interval = _FIRST_POLL
    while pending:
        still = []
        for handle in pending:
            inspect = _inspect_or_fail(client, handle, progress)
            exited, code = _completed(inspect)
            if exited and code == 0 and handle.service in completes:
                progress.event("Container", handle.name, "Exited")
                continue
            try:
                met = _healthy(inspect, handle.name, True)
            except _Failed as failure:
                progress.event("Container", handle.name, "Error", str(failure))
                raise ComposeError(str(failure)) from None
            if met:
                progress.event("Container", handle.name, "Healthy")
            else:
                still.append(handle)
        pending = still
        if pending:
            try:
                interval = _poll(deadline, interval)
            except TimeoutError:
                for handle in pending:
                    progress.event("Container", handle.name, "Error", "not healthy")
                raise ComposeError(f"application not healthy after {_seconds(timeout)}") from None


def _inspect_or_fail(client: Client, handle: Handle, progress: Progress) -> dict[str, Any]:
    try:
        return _inspect(client, handle)
    except _Failed as failure:
        progress.event("Container", handle.name, "Error", str(failure))
        raise ComposeError(str(failure)) from None


def _seconds(timeout: float | None) -> str:
    """Seconds as Go prints a duration (``1s``, ``1m30s``, ``1h0m0s``)."""
    value = float(timeout or 0)
    whole = int(value)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{seconds + value - whole:g}s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


def scale_of(service: dict[str, Any], override: int | None = None) -> int:
    """How many containers a service runs: ``--scale``, else ``scale``, else ``deploy.replicas``, else 1."""
    if override is not None:
        return override
    if service.get("scale") is not None:
        return int(service["scale"])
    replicas = (service.get("deploy") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)
