"""What the stacks page asks of compose, done with :mod:`moor.compose` over a blocking
:class:`moor.client.Client` (the routes run these in a thread).

A stored stack loads as ``docker compose -p NAME -f <dir>/compose.yaml`` run in its directory would, except
that interpolation sees the stack's ``.env`` only, never the UI process's environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, cast

from moor.client import Client, ConnectError, DaemonError
from moor.compose.loader.project import LoadOptions, load_project
from moor.compose.model import Project
from moor.compose.runtime import observed
from moor.compose.runtime.down import down as compose_down
from moor.compose.runtime.lifecycle import stop as compose_stop
from moor.compose.runtime.progress import Progress
from moor.compose.runtime.up import UpOptions, converge
from moor.errors import MoorError
from moor_web_ui.stackfiles import COMPOSE_FILE, StackError, StackStore

RUNNING = "running"
PARTIAL = "partial"
STOPPED = "stopped"
NOT_DEPLOYED = "not deployed"


def load(directory: Path, name: str, compose_path: Path | None = None, env_path: Path | None = None) -> Project:
    """The project of the stack in ``directory``; ``compose_path``/``env_path`` read the files from elsewhere
    (a save being validated) with ``directory`` still the project directory."""
    compose = compose_path or directory / COMPOSE_FILE
    return load_project(LoadOptions(
        files=(str(compose),), project_name=name, project_directory=str(directory),
        env_files=(str(env_path),) if env_path is not None else (), environ={}, working_directory=str(directory)))


def validator(name: str) -> Callable[[Path, Path, Path], None]:
    """A :meth:`StackStore.save` validator: the files must load as project ``name``; the loader's message (file
    and line) with the staging directory's path cut off, as a StackError 400."""

    def validate(directory: Path, compose_path: Path, env_path: Path) -> None:
        try:
            load(directory, name, compose_path, env_path)
        except MoorError as err:
            message = str(err).replace(f"{compose_path.parent}/", "")
            raise StackError(400, message) from None

    return validate


class LineSink:
    """A text stream (what :class:`Progress` writes to) handing over each complete line."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self.emit(line.rstrip("\r"))
        return len(text)

    def flush(self) -> None:
        """Progress flushes after each event; a line is handed over once it is complete."""

    def close(self) -> None:
        if self._partial:
            self.emit(self._partial)
            self._partial = ""


def progress_to(emit: Callable[[str], None]) -> Progress:
    """compose's plain progress (`` Container p-web-1  Started``), one line at a time to ``emit``."""
    return Progress("plain", cast(IO[str], LineSink(emit)))  # write and flush are all Progress uses


def error_message(err: BaseException) -> str:
    """One line for the page from whatever compose or the daemon raised."""
    if isinstance(err, DaemonError):
        return f"Error response from daemon: {err.message}"
    if isinstance(err, (MoorError, ConnectError, StackError)):
        return str(err)
    return f"{type(err).__name__}: {err}"


class StackOperations:
    """Deploy, stop, take down and describe stacks; one instance per request (its client carries the actor)."""

    def __init__(self, store: StackStore, client: Client) -> None:
        self.store = store
        self.client = client

    def project(self, name: str) -> Project:
        """The stored stack's project; StackError 404 when not stored, 400 when its files no longer load."""
        if not self.store.exists(name):
            raise StackError(404, f"no such stack: {name}")
        try:
            return load(self.store.directory(name), name)
        except MoorError as err:
            raise StackError(400, str(err).replace(f"{self.store.directory(name)}/", "")) from None

    def up(self, name: str, progress: Progress) -> None:
        """``docker compose up -d --remove-orphans`` of the stored stack."""
        project = self.project(name)
        converge(self.client, project, [], UpOptions(remove_orphans=True), progress, inspect=False)

    def stop(self, name: str, progress: Progress) -> None:
        """``docker compose stop``: the stack's containers stopped, kept."""
        project = self._project_or_none(name)
        if project is None and not self.has_containers(name):
            raise StackError(404, f"no such stack: {name}")
        compose_stop(self.client, name, project, progress=progress)

    def down(self, name: str, progress: Progress, *, volumes: bool = False) -> None:
        """``docker compose down --remove-orphans [-v]``: containers and networks (and volumes) removed; works
        from labels alone for a stack whose files are elsewhere or gone."""
        project = self._project_or_none(name)
        if project is None and not self.has_containers(name):
            raise StackError(404, f"no such stack: {name}")
        compose_down(self.client, name, project, volumes=volumes, rmi=None, remove_orphans=True, timeout=None,
                     progress=progress, services=(), parallel=-1)

    def _project_or_none(self, name: str) -> Project | None:
        if not self.store.exists(name):
            return None
        try:
            return load(self.store.directory(name), name)
        except MoorError:
            return None  # the files were broken by hand: work from the containers' labels, as ``down -p``

    def has_containers(self, name: str) -> bool:
        """Whether moord has any container of project ``name`` (one-offs too)."""
        return bool(observed.project_containers(self.client, name, oneoff=None))

    # descriptions

    def summaries(self) -> list[dict[str, Any]]:
        """Every stored stack and every compose project moord runs from elsewhere (``external``)."""
        projects = observed.list_projects(self.client, include_stopped=True)
        found = []
        for name in self.store.names():
            containers = projects.pop(name, [])
            services, error = self._service_names(name)
            entry = summary(name, services or _services_of(containers), containers)
            if error:
                entry["error"] = error
            found.append(entry)
        for name, containers in projects.items():
            entry = summary(name, _services_of(containers), containers)
            entry["external"] = True
            found.append(entry)
        return sorted(found, key=lambda entry: entry["name"])

    def describe(self, name: str) -> dict[str, Any]:
        """The stack's files and its services with their containers; StackError 404 when it is neither stored
        nor running anywhere."""
        containers = observed.project_containers(self.client, name, oneoff=None)
        stored = self.store.exists(name)
        if not stored and not containers:
            raise StackError(404, f"no such stack: {name}")
        compose = env = ""
        services: list[str] = []
        entry: dict[str, Any] = {"name": name}
        if stored:
            files = self.store.read(name)
            compose, env = files.compose, files.env
            services, error = self._service_names(name)
            if error:
                entry["error"] = error
        for service in _services_of(containers):
            if service not in services:
                services.append(service)
        by_service: dict[str, list[dict[str, Any]]] = {service: [] for service in services}
        for container in containers:
            by_service.setdefault(observed.label(container, observed.SERVICE), []).append(_container(container))
        entry.update({"compose": compose, "env": env, "external": not stored,
                      "status": summary(name, services, containers)["status"],
                      "services": [{"service": service, "containers": by_service[service]}
                                   for service in services]})
        return entry

    def _service_names(self, name: str) -> tuple[list[str], str]:
        """The stored stack's services in file order (enabled ones), or none and the loader's message."""
        try:
            return list(load(self.store.directory(name), name).services), ""
        except MoorError as err:
            return [], str(err).replace(f"{self.store.directory(name)}/", "")


def summary(name: str, services: Sequence[str], containers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A stack's line in the list: ``running`` counts the services with a running container (one-offs aside);
    running when all are, stopped when none is, not deployed when it has no container."""
    service_containers = [c for c in containers if observed.label(c, observed.ONEOFF) != "True"]
    running = {observed.label(c, observed.SERVICE) for c in service_containers if observed.is_running(c)}
    count = len(set(services) | running)
    if not containers:
        status = NOT_DEPLOYED
    elif not running:
        status = STOPPED
    elif len(running) >= count:
        status = RUNNING
    else:
        status = PARTIAL
    return {"name": name, "status": status, "services": count, "running": len(running), "external": False}


def _services_of(containers: Iterable[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for container in containers:
        service = observed.label(container, observed.SERVICE)
        if service and service not in found:
            found.append(service)
    return found


def _container(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(item.get("Id", "")), "name": observed.name_of(item), "state": str(item.get("State", "")),
            "status": str(item.get("Status", "")), "image": str(item.get("Image", "")),
            "number": observed.number_of(item), "oneoff": observed.label(item, observed.ONEOFF) == "True"}
