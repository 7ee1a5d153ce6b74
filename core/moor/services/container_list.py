"""``docker ps``: which containers a ``GET /containers/json`` lists, in which order.

Docker's filters: ``status``, ``name`` (a regular expression searched in the name, with or
without its slash), ``id`` (a prefix), ``label``, ``exited`` (an exit code of an exited
container), ``ancestor`` (an image by reference or ID, or a glob on the name the container
was made from), ``volume`` (a volume name, a bind's source or a mount destination),
``before``/``since`` (another container, by creation time), ``health`` (``starting``,
``healthy``, ``unhealthy`` or ``none``), ``network`` (a network's name or an ID prefix),
``publish`` (a host port a running container publishes) and ``expose`` (a container port it
exposes or publishes while it runs; both ``PORT[-END][/PROTO]``), ``is-task`` (no container is a
swarm task). ``isolation`` is accepted and ignored, as on Linux. Newest first, then cut at
``limit``; a ``limit`` lists stopped containers too, as Docker's.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from moor.errors import InvalidParameter
from moor.filters import labels_match
from moor.namepattern import name_matches
from moor.timefmt import parse_timestamp

if TYPE_CHECKING:
    from moor.containers.record import Container
    from moor.images.store import ImageRecord

HEALTH = ("starting", "healthy", "unhealthy", "none")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
PS_FILTERS = ("status", "name", "label", "ancestor", "exited", "id", "before", "since", "health", "network",
              "volume", "publish", "expose", "isolation", "is-task")


def select(candidates: Iterable[Container], all_containers: bool, filters: dict[str, list[str]], limit: int,
           find_image: Callable[[str], ImageRecord | None], get: Callable[[str], Container],
           children: Callable[[str], list[ImageRecord]] | None = None) -> list[Container]:
    """The containers ``ps`` shows: running ones unless ``all_containers`` (or a status/exited filter).

    The filters are checked first, so a bad one is refused even when no container is a candidate.
    ``children`` lists the images made on an image: ``ancestor`` matches its descendants too.
    """
    check_filters(filters)
    ancestors = ancestor_ids(filters["ancestor"], find_image, children) if filters.get("ancestor") else None
    everything = all_containers or limit > 0 or bool(filters.get("status")) or bool(filters.get("exited"))
    found = [c for c in candidates if (everything or c.state.Running)
             and matches(c, filters, find_image, get, ancestors)]
    found.sort(key=lambda c: (parse_timestamp(c.created), c.id), reverse=True)
    if limit > 0:
        found = found[:limit]
    return found


def ancestor_ids(names: list[str], find_image: Callable[[str], ImageRecord | None],
                 children: Callable[[str], list[ImageRecord]] | None) -> set[str]:
    """The IDs of the images ``names`` name and of every image made on them (Docker's ``ancestor``)."""
    found: set[str] = set()
    pending = [image.id for image in map(find_image, names) if image is not None]
    while pending:
        image_id = pending.pop()
        if image_id not in found:
            found.add(image_id)
            pending.extend(child.id for child in (children(image_id) if children is not None else []))
    return found


def check_filters(filters: dict[str, list[str]]) -> None:
    """Refuse an unknown filter key or a bad value with Docker's words (:class:`InvalidParameter`)."""
    for key in filters:
        if key not in PS_FILTERS:
            raise InvalidParameter(f"Invalid filter '{key}'")
    for status in filters.get("status", []):
        if status not in STATUSES:
            raise InvalidParameter(f"Invalid filter 'status={status}'")
    for health in filters.get("health", []):
        if health not in HEALTH:
            raise InvalidParameter(f"Unrecognised filter value for health: {health}")
    for code in filters.get("exited", []):
        if not re.fullmatch(r"[+-]?[0-9]+", code):
            raise InvalidParameter(f'strconv.Atoi: parsing "{code}": invalid syntax')
    tasks = filters.get("is-task", [])
    if tasks and (len(tasks) > 1 or tasks[0] not in ("true", "false")):
        raise InvalidParameter(f"Invalid filter 'is-task=[{' '.join(tasks)}]'")
    for key in ("publish", "expose"):
        port_set(key, filters.get(key, []))


def port_set(key: str, values: list[str]) -> set[str]:
    """Every ``PORT/PROTO`` the ``publish`` or ``expose`` filter values name (ranges expanded; tcp by default)."""
    wanted: set[str] = set()
    for value in values:
        ports, _, protocol = value.partition("/")
        start, _, end = ports.partition("-")
        bounds = []
        for part in (start, end) if end else (start,):
            if not part.isdigit() or int(part) > 65535:
                reason = "value out of range" if part.isdigit() else "invalid syntax"
                raise InvalidParameter(f'error while looking up for {key} {value}: strconv.ParseUint: '
                                       f'parsing "{part}": {reason}')
            bounds.append(int(part))
        low, high = bounds[0], bounds[-1]
        if high < low:
            raise InvalidParameter(f"error while looking up for {key} {value}: "
                                   f"invalid range specified for the Port: {ports}")
        wanted.update(f"{number}/{protocol or 'tcp'}" for number in range(low, high + 1))
    return wanted


def _published(container: Container) -> set[str]:
    """The host ports (``PORT/PROTO``) a running container publishes."""
    if not container.state.Running:
        return set()
    return {f"{b.get('HostPort')}/{port.partition('/')[2] or 'tcp'}"
            for port, bindings in container.ports.items() for b in bindings or []}


def _exposed(container: Container) -> set[str]:
    """The container ports a running container exposes or publishes (its ``NetworkSettings.Ports``)."""
    if not container.state.Running:
        return set()
    return {p if "/" in p else p + "/tcp" for p in [*(container.config.get("ExposedPorts") or {}), *container.ports]}


def _health(container: Container) -> str:
    health = container.state.Health
    return str(health.get("Status") or "starting") if health else "none"


def _on_network(container: Container, wanted: list[str]) -> bool:
    return any(name in container.networks or any(str(s.get("NetworkID") or "").startswith(name) and name
                                                for s in container.networks.values() if s)
               for name in wanted)


def matches(container: Container, filters: dict[str, list[str]], find_image: Callable[[str], ImageRecord | None],
            get: Callable[[str], Container], ancestors: set[str] | None = None) -> bool:
    """Whether ``container`` passes every filter (checked beforehand by :func:`check_filters`); ``ancestors``:
    the image IDs ``ancestor`` accepts (:func:`ancestor_ids`), else the images it names alone."""
    if filters.get("status") and container.state.Status not in filters["status"]:
        return False
    if filters.get("name") and not any(name_matches(p, container.name) or name_matches(p, "/" + container.name)
                                       for p in filters["name"]):
        return False
    if filters.get("id") and not any(container.id.startswith(p) for p in filters["id"]):
        return False
    if not labels_match(container.config.get("Labels") or {}, {"label": filters.get("label", [])}):
        return False
    if filters.get("exited"):
        if container.state.Running or container.state.Status != "exited":
            return False
        if str(container.state.ExitCode) not in filters["exited"]:
            return False
    if filters.get("ancestor"):
        wanted_ids = ancestors if ancestors is not None else ancestor_ids(filters["ancestor"], find_image, None)
        if container.image_id not in wanted_ids and not any(fnmatch.fnmatch(container.image, p)
                                                            for p in filters["ancestor"]):
            return False
    if filters.get("volume"):  # a volume name, a bind's source or a mount destination
        mounted = {m.get("Name") or m.get("Source") for m in container.mounts} | \
            {m.get("Destination") for m in container.mounts}
        if not mounted & set(filters["volume"]):
            return False
    if filters.get("health") and _health(container) not in filters["health"]:
        return False
    if filters.get("network") and not _on_network(container, filters["network"]):
        return False
    if filters.get("publish") and not _published(container) & port_set("publish", filters["publish"]):
        return False
    if filters.get("expose") and not _exposed(container) & port_set("expose", filters["expose"]):
        return False
    if filters.get("is-task") == ["true"]:  # no moor container is a swarm task
        return False
    for key, newer in (("before", False), ("since", True)):
        for ident in filters.get(key, []):
            other = get(ident)
            mine, theirs = parse_timestamp(container.created), parse_timestamp(other.created)
            if (mine <= theirs) if newer else (mine >= theirs):
                return False
    return True
