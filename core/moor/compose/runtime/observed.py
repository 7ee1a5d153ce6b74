"""What the engine has for a project: containers (and networks, volumes) found by compose's labels.

Compose keeps no state of its own: a project is whatever carries ``com.docker.compose.project=NAME``.
One ``GET /containers/json`` per question, filtered by label on the daemon side.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from moor.client import Client

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
CONFIG_HASH = "com.docker.compose.config-hash"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"
IMAGE = "com.docker.compose.image"
DEPENDS_ON = "com.docker.compose.depends_on"
REPLACE = "com.docker.compose.replace"


def _filters(labels: list[str], extra: dict[str, list[str]] | None = None) -> str:
    return json.dumps({"label": labels, **(extra or {})})


def label(item: dict[str, Any], key: str, default: str = "") -> str:
    """A label of a container (list or inspect shape), network or volume."""
    labels = item.get("Labels")
    if labels is None:
        labels = (item.get("Config") or {}).get("Labels")
    return str((labels or {}).get(key, default))


def number_of(container: dict[str, Any]) -> int:
    """The container's ``container-number`` label (0 when missing or garbled)."""
    try:
        return int(label(container, NUMBER, "0"))
    except ValueError:
        return 0


def name_of(container: dict[str, Any]) -> str:
    """The container's name without the leading slash (list or inspect shape)."""
    names = container.get("Names")
    if names:
        return str(names[0]).lstrip("/")
    return str(container.get("Name", "")).lstrip("/")


def is_running(container: dict[str, Any]) -> bool:
    """Running or paused (list or inspect shape)."""
    state = container.get("State")
    if isinstance(state, dict):
        return bool(state.get("Running"))
    return state in ("running", "paused", "restarting")


def project_containers(client: Client, project: str, services: Iterable[str] = (), *, oneoff: bool | None = False,
                       include_stopped: bool = True) -> list[dict[str, Any]]:
    """The project's containers as ``GET /containers/json`` lists them, sorted by service then number.

    ``services`` narrows to those services (empty: all); ``oneoff`` False = service containers only, True = one-off
    (``run``) containers only, None = both.
    """
    labels = [f"{PROJECT}={project}"]
    if oneoff is not None:
        labels.append(f"{ONEOFF}={'True' if oneoff else 'False'}")
    wanted = set(services)
    if len(wanted) == 1:
        labels.append(f"{SERVICE}={next(iter(wanted))}")
    params: dict[str, Any] = {"filters": _filters(labels)}
    if include_stopped:
        params["all"] = "1"
    items = client.call("GET", "/containers/json", params) or []
    if wanted:
        items = [item for item in items if label(item, SERVICE) in wanted]
    items.sort(key=lambda item: (label(item, SERVICE), number_of(item), name_of(item)))
    return list(items)


def list_projects(client: Client, include_stopped: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Every compose project the engine has containers of: name -> its containers (list shape), names sorted."""
    params: dict[str, Any] = {"filters": _filters([PROJECT])}
    if include_stopped:
        params["all"] = "1"
    projects: dict[str, list[dict[str, Any]]] = {}
    for item in client.call("GET", "/containers/json", params) or []:
        projects.setdefault(label(item, PROJECT), []).append(item)
    return {name: sorted(items, key=lambda item: (label(item, SERVICE), number_of(item)))
            for name, items in sorted(projects.items())}


def project_networks(client: Client, project: str) -> list[dict[str, Any]]:
    """Networks labelled for the project (``GET /networks``)."""
    return list(client.call("GET", "/networks", {"filters": _filters([f"{PROJECT}={project}"])}) or [])


def project_volumes(client: Client, project: str) -> list[dict[str, Any]]:
    """Volumes labelled for the project (``GET /volumes``)."""
    answer = client.call("GET", "/volumes", {"filters": _filters([f"{PROJECT}={project}"])}) or {}
    return list(answer.get("Volumes") or [])
