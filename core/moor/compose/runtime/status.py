"""What a project is doing, as data: ``ps``, ``ls``, ``top``, ``port`` and ``version`` of ``docker compose`` v2.

Each function asks the API and returns plain dicts; the CLI (``moor.cli.compose.status``) turns them into
tables, JSON or templates. Containers are found by label (:mod:`.observed`), so a project started by another
tool with the same labels is seen too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from moor import __version__
from moor.client import Client, DaemonError
from moor.compose.errors import ComposeError, ServiceNotFound
from moor.compose.model import Project
from moor.compose.naming import COMPOSE_VERSION
from moor.compose.runtime.observed import CONFIG_FILES as CONFIG_FILES_LABEL
from moor.compose.runtime.observed import NUMBER as NUMBER_LABEL
from moor.compose.runtime.observed import ONEOFF as ONEOFF_LABEL
from moor.compose.runtime.observed import PROJECT as PROJECT_LABEL
from moor.compose.runtime.observed import SERVICE as SERVICE_LABEL
from moor.compose.runtime.observed import list_projects, project_containers
from moor.compose.runtime.parallel import concurrently

#: ``--status`` / ``--filter status=`` values of ``ps``
STATUSES = ("paused", "restarting", "removing", "running", "dead", "created", "exited")

_T = TypeVar("_T")
_R = TypeVar("_R")


def version() -> str:
    """``docker compose version``: the compose release followed, moor's as build metadata (``v2.29.7+moor.0.1.0``)."""
    return f"v{COMPOSE_VERSION}+moor.{__version__}"


def container_name(container: dict[str, Any]) -> str:
    """A listed container's own name (the one of its ``Names`` that is not a legacy link alias), no slash."""
    names = container.get("Names") or []
    for name in names:
        if name.count("/") == 1:
            return str(name)[1:]
    return str(names[0]).lstrip("/") if names else str(container.get("Id", ""))[:12]


def is_oneoff(container: dict[str, Any]) -> bool:
    return (container.get("Labels") or {}).get(ONEOFF_LABEL) == "True"


def service_of(container: dict[str, Any]) -> str:
    return str((container.get("Labels") or {}).get(SERVICE_LABEL, ""))


def number_of(container: dict[str, Any]) -> int:
    try:
        return int((container.get("Labels") or {}).get(NUMBER_LABEL, "0"))
    except ValueError:
        return 0


def check_services(project: Project | None, services: Sequence[str]) -> None:
    """Compose's ``no such service: NAME`` for a service the loaded project does not have (nothing without one)."""
    if project is None:
        return
    known = set(project.services) | set(project.disabled_services)
    for service in services:
        if service not in known:
            raise ServiceNotFound(f"no such service: {service}")


# --------------------------------------------------------------------------- ps


def _summary(client: Client, container: dict[str, Any]) -> dict[str, Any] | None:
    """The container as compose's ``ContainerSummary``: the listing plus its health and exit code (inspected);
    None when it went away meanwhile."""
    try:
        inspect = client.get(f"/containers/{container['Id']}/json")
    except DaemonError as err:
        if err.status == 404:
            return None
        raise
    state = inspect.get("State") or {}
    health, exit_code = "", 0
    if state.get("Status") == "running":
        health = str((state.get("Health") or {}).get("Status") or "")
    elif state.get("Status") in ("exited", "dead"):
        exit_code = int(state.get("ExitCode") or 0)
    labels = container.get("Labels") or {}
    mounts = container.get("Mounts") or []
    ports = sorted(container.get("Ports") or [], key=lambda p: int(p.get("PrivatePort") or 0))
    return {
        "ID": container["Id"],
        "Name": container_name(container),
        "Names": [str(name).lstrip("/") for name in container.get("Names") or []],
        "Image": container.get("Image", ""),
        "Project": labels.get(PROJECT_LABEL, ""),
        "Service": labels.get(SERVICE_LABEL, ""),
        "Command": container.get("Command", ""),
        "State": container.get("State", ""),
        "Status": container.get("Status", ""),
        "Created": int(container.get("Created") or 0),
        "Labels": labels,
        "SizeRw": int(container.get("SizeRw") or 0),
        "SizeRootFs": int(container.get("SizeRootFs") or 0),
        "Mounts": [m.get("Name") or m.get("Source") or "" for m in mounts],
        "LocalVolumes": sum(1 for m in mounts if m.get("Driver") == "local"),
        "Networks": list(((container.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
        "Health": health,
        "ExitCode": exit_code,
        "Ports": ports,
        "Publishers": [{"URL": p.get("IP") or "", "TargetPort": int(p.get("PrivatePort") or 0),
                        "PublishedPort": int(p.get("PublicPort") or 0), "Protocol": p.get("Type") or "tcp"}
                       for p in ports],
    }


def parse_ps_filter(text: str) -> list[str]:
    """``ps --filter KEY=VAL``: the statuses it adds (compose v2 knows ``status`` only)."""
    if not text:
        return []
    key, sep, value = text.partition("=")
    if not sep:
        raise ComposeError("arguments to --filter should be in form KEY=VAL")
    if key == "status":
        return [value]
    if key == "source":
        raise ComposeError("not implemented")
    raise ComposeError(f"unknown filter {key}")


def ps(client: Client, project_name: str, *, project: Project | None = None, services: Sequence[str] = (),
       all_: bool = False, statuses: Sequence[str] = (), orphans: bool = True, parallel: int = -1
       ) -> list[dict[str, Any]]:
    """``docker compose ps``: the project's containers as summaries, sorted by name.

    Running ones only unless ``all_`` or a status filter (then stopped ones and one-offs too); ``services``
    narrows (each checked against ``project`` when there is one); ``orphans=False`` leaves out containers of
    services the project does not declare.
    """
    check_services(project, services)
    selected = list(services)
    if project is not None and not selected and not orphans:
        selected = project.service_names()
    include_all = all_ or bool(statuses)
    containers = project_containers(client, project_name.lower(), selected, oneoff=None if include_all else False,
                                    include_stopped=include_all)
    if selected:
        containers = [c for c in containers if service_of(c) in selected]
    found = [s for s in concurrently(containers, lambda c: _summary(client, c), parallel) if s is not None]
    if statuses:
        found = [s for s in found if s["State"] in statuses]
    return sorted(found, key=lambda s: s["Name"])


# --------------------------------------------------------------------------- ls


def _combined_status(states: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{state}({counts[state]})" for state in sorted(counts))


def _combined_config_files(containers: Sequence[dict[str, Any]]) -> str:
    files: list[str] = []
    for container in containers:
        labels = container.get("Labels") or {}
        if CONFIG_FILES_LABEL not in labels:
            return "N/A"
        for name in str(labels[CONFIG_FILES_LABEL]).split(","):
            if name not in files:
                files.append(name)
    return ",".join(files)


def parse_ls_filters(filters: Sequence[str]) -> dict[str, list[str]]:
    """``ls --filter`` values (``name=REGEX``, the one key compose accepts) by key."""
    parsed: dict[str, list[str]] = {}
    for text in filters:
        key, sep, value = text.partition("=")
        if not sep:
            raise ComposeError("bad format of filter (expected name=value)")
        parsed.setdefault(key.strip().lower(), []).append(value)
    for key in parsed:
        if key != "name":
            raise ComposeError(f"invalid filter '{key}'")
    return parsed


def _name_matches(patterns: Sequence[str], name: str) -> bool:
    for pattern in patterns:
        if pattern == name:
            return True
        try:
            if re.search(pattern, name):
                return True
        except re.error:
            continue
    return False


def stacks(client: Client, *, all_: bool = False, filters: Sequence[str] = ()) -> list[dict[str, str]]:
    """``docker compose ls``: ``{Name, Status, ConfigFiles}`` per project (status as ``running(2), exited(1)``),
    sorted by name; running projects only unless ``all_``; ``filters``: ``name=REGEX``."""
    wanted = parse_ls_filters(filters)
    found = []
    for name, containers in sorted(list_projects(client, include_stopped=all_).items()):
        if "name" in wanted and not _name_matches(wanted["name"], name):
            continue
        found.append({"Name": name, "Status": _combined_status(str(c.get("State", "")) for c in containers),
                      "ConfigFiles": _combined_config_files(containers)})
    return found


# --------------------------------------------------------------------------- top and port


def top(client: Client, project_name: str, services: Sequence[str] = (), parallel: int = -1) -> list[dict[str, Any]]:
    """``docker compose top``: per running container (one-offs too), sorted by name: ``{ID, Name, Service,
    Replica, Titles, Processes}``."""
    containers = project_containers(client, project_name.lower(), services, oneoff=None, include_stopped=False)
    if services:
        containers = [c for c in containers if service_of(c) in services]

    def one(container: dict[str, Any]) -> dict[str, Any]:
        reply = client.get(f"/containers/{container['Id']}/top")
        labels = container.get("Labels") or {}
        name = container_name(container)
        return {"ID": container["Id"], "Name": name, "Service": labels.get(SERVICE_LABEL, name),
                "Replica": labels.get(NUMBER_LABEL, ""), "Titles": list(reply.get("Titles") or []),
                "Processes": [list(p) for p in reply.get("Processes") or []]}

    return sorted(concurrently(containers, one, parallel), key=lambda s: s["Name"])


def port(client: Client, project_name: str, service: str, private_port: int, *, protocol: str = "tcp",
         index: int = 0) -> tuple[str, int]:
    """``docker compose port``: the host address and port a running container of ``service`` publishes
    ``private_port/protocol`` on (container ``index``, else the lowest numbered, one-offs last)."""
    containers = project_containers(client, project_name.lower(), [service], oneoff=None, include_stopped=False)
    containers = [c for c in containers if service_of(c) == service]
    if index > 0:
        containers = [c for c in containers if number_of(c) == index]
    if not containers:
        if index > 0:
            raise ComposeError(f'service "{service}" is not running container #{index}')
        raise ComposeError(f'service "{service}" is not running')
    containers.sort(key=lambda c: (is_oneoff(c), number_of(c)))
    chosen = containers[0]
    protocol = protocol.lower()
    ports = chosen.get("Ports") or []
    for entry in ports:
        if int(entry.get("PrivatePort") or 0) == private_port and (entry.get("Type") or "tcp") == protocol:
            return str(entry.get("IP") or ""), int(entry.get("PublicPort") or 0)
    listed = ", ".join(f"{int(p.get('PrivatePort') or 0)}/{p.get('Type') or 'tcp'}" for p in ports)
    raise ComposeError(f"no port {private_port}/{protocol} for container {container_name(chosen)}: {listed}")
