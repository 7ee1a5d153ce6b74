"""``docker ps``: which containers a ``GET /containers/json`` lists, in which order.

Docker's filters: ``status``, ``name`` (a regular expression searched in the name, with or
without its slash), ``id`` (a prefix), ``label``, ``exited`` (an exit code of an exited
container), ``ancestor`` (an image by reference or ID, or a glob on the name the container
was made from), ``volume`` (a volume name, a bind's source or a mount destination),
``before``/``since`` (another container, by creation time). The other keys Docker knows are
accepted and ignored. Newest first, then cut at ``limit``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from moor.errors import InvalidParameter
from moor.filters import labels_match
from moor.namepattern import name_matches
from moor.timefmt import parse_timestamp

if TYPE_CHECKING:
    from moor.containers.record import Container
    from moor.images.store import ImageRecord

STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
PS_FILTERS = ("status", "name", "label", "ancestor", "exited", "id", "before", "since", "health", "network",
              "volume", "publish", "expose", "isolation", "is-task")


def select(candidates: Iterable[Container], all_containers: bool, filters: dict[str, list[str]], limit: int,
           find_image: Callable[[str], ImageRecord | None], get: Callable[[str], Container]) -> list[Container]:
    """The containers ``ps`` shows: running ones unless ``all_containers`` (or a status/exited filter).

    The filters are checked first, so a bad one is refused even when no container is a candidate.
    """
    check_filters(filters)
    everything = all_containers or bool(filters.get("status")) or bool(filters.get("exited"))
    found = [c for c in candidates if (everything or c.state.Running)
             and matches(c, filters, find_image, get)]
    found.sort(key=lambda c: (parse_timestamp(c.created), c.id), reverse=True)
    if limit > 0:
        found = found[:limit]
    return found


def check_filters(filters: dict[str, list[str]]) -> None:
    """Refuse an unknown filter key or status with Docker's words (:class:`InvalidParameter`)."""
    for key in filters:
        if key not in PS_FILTERS:
            raise InvalidParameter(f"invalid filter '{key}'")
    for status in filters.get("status", []):
        if status not in STATUSES:
            raise InvalidParameter(f"Unrecognised filter value for status: {status}")


def matches(container: Container, filters: dict[str, list[str]], find_image: Callable[[str], ImageRecord | None],
            get: Callable[[str], Container]) -> bool:
    """Whether ``container`` passes every filter (checked beforehand by :func:`check_filters`)."""
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
        wanted_ids = set()
        for name in filters["ancestor"]:
            found = find_image(name)
            if found is not None:
                wanted_ids.add(found.id)
        if container.image_id not in wanted_ids and not any(fnmatch.fnmatch(container.image, p)
                                                            for p in filters["ancestor"]):
            return False
    if filters.get("volume"):  # a volume name, a bind's source or a mount destination
        mounted = {m.get("Name") or m.get("Source") for m in container.mounts} | \
            {m.get("Destination") for m in container.mounts}
        if not mounted & set(filters["volume"]):
            return False
    for key, newer in (("before", False), ("since", True)):
        for ident in filters.get(key, []):
            other = get(ident)
            mine, theirs = parse_timestamp(container.created), parse_timestamp(other.created)
            if (mine <= theirs) if newer else (mine >= theirs):
                return False
    return True
