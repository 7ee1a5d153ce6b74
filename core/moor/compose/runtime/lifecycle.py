"""The lifecycle commands of ``docker compose`` v2 on containers that exist: start, stop, restart, kill, rm,
pause, unpause and wait.

Each takes the project name and, when the compose files were loaded, the :class:`Project`; without files
(``-p NAME`` alone) the project is rebuilt from its containers' labels (services, and their ``depends_on``
from ``com.docker.compose.depends_on``), as compose does. ``start`` and ``restart`` follow the dependency
order, ``stop`` the reverse one, through :class:`~moor.compose.runtime.graph.DependencyGraph`; the containers
of one service are handled in parallel. Progress lines go through :class:`~moor.compose.runtime.progress.Progress`.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from moor.client import Client, DaemonError
from moor.compose.errors import ComposeError, ServiceNotFound
from moor.compose.model import Project
from moor.compose.runtime.down import down
from moor.compose.runtime.graph import DependencyGraph, service_dependencies
from moor.compose.runtime.observed import DEPENDS_ON as DEPENDS_ON_LABEL
from moor.compose.runtime.observed import project_containers
from moor.compose.runtime.parallel import concurrently
from moor.compose.runtime.progress import Progress
from moor.compose.runtime.status import check_services, container_name, is_oneoff, number_of, service_of
from moor.compose.runtime.waits import Handle, scale_of, wait_dependencies, wait_running_or_healthy


class NothingToDo(ComposeError):
    """No container matched: ``kill`` says ``No container to kill``, ``rm`` ``No stopped containers`` (exit 0)."""

    exit_code = 0


# --------------------------------------------------------------------------- the project without files


def project_from_containers(name: str, containers: Sequence[dict[str, Any]]) -> Project:
    """The project as compose rebuilds it from its containers: one service per service label, each depending
    on what its ``com.docker.compose.depends_on`` label names (``svc:condition:restart``), none required."""
    services: dict[str, dict[str, Any]] = {}
    for container in containers:
        if is_oneoff(container):
            continue
        service = service_of(container) or container_name(container)
        if service in services:
            continue
        depends_on: dict[str, dict[str, Any]] = {}
        label = (container.get("Labels") or {}).get(DEPENDS_ON_LABEL, "")
        for item in filter(None, str(label).split(",")):
            parts = item.split(":")
            condition = parts[1] if len(parts) > 1 and parts[1] else "service_started"
            restart = parts[2].lower() in ("1", "t", "true") if len(parts) > 2 else True
            depends_on[parts[0]] = {"condition": condition, "required": False, "restart": restart}
        services[service] = {"image": container.get("Image", ""), "depends_on": depends_on}
    for config in services.values():  # a dependency whose containers are gone is no node of the graph
        config["depends_on"] = {k: v for k, v in config["depends_on"].items() if k in services}
    return Project(name=name, working_dir="", config_files=[], services=services)


def _sub_project(project: Project, names: set[str], keep: Callable[[dict[str, Any]], bool] | None = None) -> Project:
    """``project`` with only the services ``names``; each one's dependencies (``depends_on``, and the
    ``service_started`` ones that ``links``, ``network_mode: service:`` and ``volumes_from`` make) narrowed to
    those services, and to the ``depends_on`` entries ``keep`` accepts."""
    services = {}
    for name in names:
        original = project.services[name]
        service = {k: v for k, v in original.items() if k not in ("links", "network_mode", "volumes_from")}
        depends_on = {dep: {"condition": "service_started", "required": False}
                      for dep in service_dependencies(original)}
        depends_on.update(original.get("depends_on") or {})
        service["depends_on"] = {k: v for k, v in depends_on.items()
                                 if k in names and (keep is None or keep(v or {}))}
        services[name] = service
    return dataclasses.replace(project, services=services, disabled_services={})


def _dependencies(project: Project, services: Sequence[str]) -> set[str]:
    """``services`` and everything they depend on (transitively), within the project."""
    found: set[str] = set()
    pending = list(services)
    while pending:
        name = pending.pop()
        if name in found or name not in project.services:
            continue
        found.add(name)
        pending.extend(service_dependencies(project.services[name]))
    return found


def _dependents(project: Project, services: Sequence[str]) -> set[str]:
    """``services`` and every service depending on them (transitively)."""
    found: set[str] = set()
    pending = list(services)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        pending.extend(other for other, config in project.services.items()
                       if name in service_dependencies(config))
    return found


def _resolve(client: Client, project_name: str, project: Project | None, *, oneoff: bool | None = False,
             include_stopped: bool = True) -> tuple[Project, list[dict[str, Any]]]:
    containers = project_containers(client, project_name.lower(), oneoff=oneoff, include_stopped=include_stopped)
    if project is None:
        project = project_from_containers(project_name.lower(), containers)
    return project, containers


def _check_known(project: Project, services: Sequence[str]) -> None:
    for service in services:
        if service not in project.services:
            raise ServiceNotFound(f"no such service: {service}")


def _act(progress: Progress, container: dict[str, Any], working: str, done: str, failed: str,
         action: Callable[[], object]) -> None:
    """One container's API call framed by its progress events (``Stopping`` ... ``Stopped``)."""
    name = container_name(container)
    if working:
        progress.event("Container", name, working)
    try:
        action()
    except DaemonError as err:
        if err.status == 304:  # already so
            progress.event("Container", name, done)
            return
        progress.event("Container", name, "Error", failed)
        raise ComposeError(f"Error response from daemon: {err.message}") from None
    progress.event("Container", name, done)


# --------------------------------------------------------------------------- start, stop, restart


def _poster(client: Client, path: str, params: dict[str, Any] | None = None) -> Callable[[], object]:
    """``POST path`` to be made later."""
    return lambda: client.call("POST", path, params)


def _handles(containers: Sequence[dict[str, Any]]) -> dict[str, list[Handle]]:
    """The service containers by service, as :mod:`.waits` takes them."""
    found: dict[str, list[Handle]] = {}
    for container in containers:
        if not is_oneoff(container):
            found.setdefault(service_of(container), []).append(
                Handle(container["Id"], container_name(container), service_of(container)))
    return found


def start(client: Client, project_name: str, project: Project | None, services: Sequence[str] = (), *,
          progress: Progress, parallel: int = -1, wait: bool = False, wait_timeout: float | None = None) -> None:
    """``docker compose start``: the existing containers of ``services`` (all when empty) and of their
    dependencies started in dependency order, each once its dependencies' conditions hold; ``wait``: then
    until every service is running or healthy (completed, for one that others need completed)."""
    project, containers = _resolve(client, project_name, project)
    if not containers and not project.services:
        raise ComposeError(f'no container found for project "{project_name.lower()}": not found')
    _check_known(project, services)
    selected = _dependencies(project, services) if services else set(project.services)
    sub = _sub_project(project, selected)
    handles = _handles(containers)

    def start_service(service: str) -> None:
        if (project.services[service].get("deploy") or {}).get("replicas") == 0:
            return
        wait_dependencies(client, sub, service, handles, progress, timeout=wait_timeout)
        if not containers:
            if scale_of(project.services[service]) == 0:
                return
            raise ComposeError(f'service "{service}" has no container to start')
        mine = [c for c in containers if service_of(c) == service and not is_oneoff(c)]
        for container in sorted((c for c in mine if c.get("State") != "running"), key=number_of):
            _act(progress, container, "Starting", "Started", "Error while Starting",
                 _poster(client, f"/containers/{container['Id']}/start"))

    DependencyGraph.of(sub, with_dependencies=False).walk(start_service, parallel=parallel)
    if wait:
        wait_running_or_healthy(client, sub, [h for name in sorted(sub.services) for h in handles.get(name, [])],
                                progress, timeout=wait_timeout)


def _stop_params(timeout: int | None) -> dict[str, Any] | None:
    return {"t": timeout} if timeout is not None else None


def stop(client: Client, project_name: str, project: Project | None, services: Sequence[str] = (), *,
         timeout: int | None = None, progress: Progress, parallel: int = -1) -> None:
    """``docker compose stop``: the containers of ``services`` (all when empty; one-offs left alone) stopped,
    dependents before what they depend on."""
    project, containers = _resolve(client, project_name, project)
    _check_known(project, services)
    selected = set(services) if services else set(project.services)

    def stop_service(service: str) -> None:
        if service not in selected:
            return
        mine = [c for c in containers if service_of(c) == service and not is_oneoff(c)]
        concurrently(mine, lambda c: _act(progress, c, "Stopping", "Stopped", "Error while Stopping",
                                          lambda: client.call("POST", f"/containers/{c['Id']}/stop",
                                                              _stop_params(timeout))), parallel)

    graph = DependencyGraph.of(_sub_project(project, set(project.services)), with_dependencies=False)
    graph.walk(stop_service, reverse=True, parallel=parallel)


def restart(client: Client, project_name: str, project: Project | None, services: Sequence[str] = (), *,
            timeout: int | None = None, no_deps: bool = False, progress: Progress, parallel: int = -1) -> None:
    """``docker compose restart``: the containers of ``services`` (all when empty) and of the services that
    depend on them with ``restart: true`` (unless ``no_deps``) restarted in dependency order."""
    project, containers = _resolve(client, project_name, project)
    _check_known(project, services)
    names = set(project.services)
    if no_deps and services:
        names = set(services)
    sub = _sub_project(project, names, keep=lambda dep: bool(dep.get("restart", False)))
    if services:
        sub = _sub_project(sub, _dependents(sub, services) & names)

    handles = _handles(containers)

    def restart_service(service: str) -> None:
        wait_dependencies(client, sub, service, handles, progress)
        mine = [c for c in containers if service_of(c) == service and not is_oneoff(c)]
        concurrently(mine, lambda c: _act(progress, c, "Restarting", "Started", "Error while Restarting",
                                          lambda: client.call("POST", f"/containers/{c['Id']}/restart",
                                                              _stop_params(timeout))), parallel)

    DependencyGraph.of(sub, with_dependencies=False).walk(restart_service, parallel=parallel)


# --------------------------------------------------------------------------- kill, rm, pause, unpause


def kill(client: Client, project_name: str, project: Project | None, services: Sequence[str] = (), *,
         signal: str = "SIGKILL", remove_orphans: bool = False, progress: Progress, parallel: int = -1) -> None:
    """``docker compose kill``: ``signal`` sent to the running containers of ``services`` (all when empty,
    one-offs included; orphans only with ``remove_orphans``); NothingToDo when there is none."""
    check_services(project, services)
    containers = project_containers(client, project_name.lower(), services, oneoff=None, include_stopped=False)
    if services:
        containers = [c for c in containers if service_of(c) in services]
    if project is not None and not remove_orphans:
        containers = [c for c in containers if service_of(c) in project.services]
    if not containers:
        raise NothingToDo("No container to kill")
    concurrently(containers, lambda c: _act(progress, c, "Killing", "Killed", "Error while Killing",
                                            lambda: client.call("POST", f"/containers/{c['Id']}/kill",
                                                                {"signal": signal})), parallel)


def removable(client: Client, project_name: str, project: Project | None, services: Sequence[str] = ()
              ) -> list[dict[str, Any]]:
    """What ``docker compose rm`` would remove: the stopped (not running) service containers of ``services``
    (all when empty), sorted by name; NothingToDo when there is none."""
    check_services(project, services)
    containers = project_containers(client, project_name.lower(), services, oneoff=False, include_stopped=True)
    if services:
        containers = [c for c in containers if service_of(c) in services]
    if project is not None:
        containers = [c for c in containers if service_of(c) in project.services]
    stopped = []
    for container in containers:
        try:  # the listing may be stale: ask each
            state = client.get(f"/containers/{container['Id']}/json").get("State") or {}
        except DaemonError as err:
            if err.status == 404:  # gone meanwhile (auto-remove)
                continue
            raise
        if not state.get("Running"):
            stopped.append(container)
    if not stopped:
        raise NothingToDo("No stopped containers")
    return sorted(stopped, key=container_name)


def remove(client: Client, containers: Sequence[dict[str, Any]], *, volumes: bool = False, force: bool = False,
           progress: Progress, parallel: int = -1) -> None:
    """The containers :func:`removable` chose removed (``volumes``: their anonymous volumes too)."""
    params = {"v": "1" if volumes else None, "force": "1" if force else None}
    concurrently(containers, lambda c: _act(progress, c, "Removing", "Removed", "Error while Removing",
                                            lambda: client.call("DELETE", f"/containers/{c['Id']}", params)),
                 parallel)


def _pause_like(client: Client, project_name: str, project: Project | None, services: Sequence[str], what: str,
                state: str, done: str, progress: Progress, parallel: int) -> None:
    """``pause``/``unpause`` of the service containers in ``state`` (compose v2 would fail on the others, a
    running one for unpause; here they are left as they are)."""
    check_services(project, services)
    containers = project_containers(client, project_name.lower(), services, oneoff=False, include_stopped=False)
    containers = [c for c in containers if c.get("State") == state]
    if services:
        containers = [c for c in containers if service_of(c) in services]
    if project is not None:
        containers = [c for c in containers if service_of(c) in project.services]
    failed = "Error while Pausing" if what == "pause" else "Error while Unpausing"
    concurrently(containers, lambda c: _act(progress, c, "", done, failed,
                                            _poster(client, f"/containers/{c['Id']}/{what}")), parallel)


def pause(client: Client, project_name: str, project: Project | None, services: Sequence[str] = (), *,
          progress: Progress, parallel: int = -1) -> None:
    """``docker compose pause``: the running service containers of ``services`` (all when empty) paused."""
    _pause_like(client, project_name, project, services, "pause", "running", "Paused", progress, parallel)


def unpause(client: Client, project_name: str, project: Project | None, services: Sequence[str] = (), *,
            progress: Progress, parallel: int = -1) -> None:
    """``docker compose unpause``: the paused service containers of ``services`` (all when empty) resumed."""
    _pause_like(client, project_name, project, services, "unpause", "paused", "Unpaused", progress, parallel)


# --------------------------------------------------------------------------- wait


def wait(client: Client, project_name: str, services: Sequence[str] = (), *, down_project: bool = False,
         progress: Progress, on_exit: Callable[[str, int], None] | None = None) -> int:
    """``docker compose wait``: block until every running container of ``services`` (all when empty, one-offs
    included) has stopped; ``on_exit(id, code)`` as each does. The exit code is the last one to stop's;
    ``down_project``: then the project is taken down (orphans too)."""
    name = project_name.lower()
    containers = project_containers(client, name, services, oneoff=None, include_stopped=False)
    if services:
        containers = [c for c in containers if service_of(c) in services]
    if not containers:
        raise ComposeError(f'no containers for project "{name}"')
    # daemon threads: Ctrl-C ends the command at once, as compose's, however long the containers run
    answers: queue.Queue[tuple[dict[str, Any], Any]] = queue.Queue()

    def wait_one(container: dict[str, Any]) -> None:
        try:
            answers.put((container, client.call("POST", f"/containers/{container['Id']}/wait") or {}))
        except Exception as err:  # noqa: BLE001 - handed to the waiting thread
            answers.put((container, err))

    for container in containers:
        threading.Thread(target=wait_one, args=(container,), daemon=True, name="compose-wait").start()
    status = 0
    for _ in containers:
        container, answer = answers.get()
        if isinstance(answer, DaemonError):
            if answer.status == 404:  # removed while waited for: it has stopped
                continue
            raise ComposeError(f"Error response from daemon: {answer.message}")
        if isinstance(answer, Exception):
            raise answer
        status = int(answer.get("StatusCode") or 0)
        if on_exit is not None:
            on_exit(container["Id"], status)
    if down_project:
        down(client, name, None, remove_orphans=True, progress=progress)
    return status
