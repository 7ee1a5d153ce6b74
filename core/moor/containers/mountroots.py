"""Which filesystem a container path lives on, for ``docker cp`` and the archive API.

A container's volumes and bind mounts hide what its layer has below their destinations, so a copy
must read and write the mount's host source there, whether the container runs or not (Docker mounts
them for the copy). A path is mapped lexically, component by component, to the mount with the
longest ``Destination`` above it (or the root filesystem when none is): the mount's host ``Source``
becomes the root of the walk and the rest of the path is resolved inside it by
:mod:`moor.containers.rootpath`, so a symbolic link inside a volume is followed inside the volume
and never leads out of it. Tmpfs mounts have no host source and are left out (Docker cannot copy
into the tmpfs of a stopped container either).

Known limits: links in the root filesystem that lead into a mount (``/link -> /vol``) are resolved
in the layer, not in the mount; an absolute link inside a mount restarts at the mount's root, not at
the container's; an archive extracted above a mount point writes the entries that fall below it
into the layer; archiving a directory shows a mount whose parent directories the layer lacks (a
container never started) only when its direct parent exists.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from moor.containers.rootpath import components, go_clean

__all__ = ["MountRoot", "below", "display", "mount_roots", "split"]


@dataclass(frozen=True)
class MountRoot:
    """A mount seen by a copy: its cleaned container ``destination``, host ``source`` and writability."""

    destination: str
    source: str
    rw: bool

    @property
    def parts(self) -> list[str]:
        return components(self.destination)


def mount_roots(points: Iterable[dict[str, Any]]) -> list[MountRoot]:
    """The volume and bind mount points of a container record that have a host source."""
    result = []
    for point in points:
        if point.get("Type") not in ("volume", "bind") or not point.get("Source") or not point.get("Destination"):
            continue
        result.append(MountRoot(go_clean("/" + point["Destination"]), str(point["Source"]), bool(point.get("RW"))))
    return result


def split(root: str, abs_path: str, mounts: Iterable[MountRoot]) -> tuple[str, str, MountRoot | None]:
    """``(walk root, path inside it, mount)`` for the cleaned container path ``abs_path``.

    A trailing ``/`` or ``/.`` of ``abs_path`` is kept. A bind of a single file becomes its directory
    as the root and its name as the path (anything below it then fails as "not a directory").
    """
    parts = components(abs_path)
    best: MountRoot | None = None
    for mount in mounts:
        mount_parts = mount.parts
        if parts[:len(mount_parts)] == mount_parts and (best is None or len(mount_parts) > len(best.parts)):
            best = mount
    if best is None:
        return root, abs_path, None
    rest = parts[len(best.parts):]
    source = best.source
    if os.path.lexists(source) and not os.path.isdir(source):  # a file bind: the path runc binds (links followed)
        source = os.path.realpath(source)
        source, rest = os.path.dirname(source), [os.path.basename(source), *rest]
    inner = "/" + "/".join(rest)
    if abs_path.endswith("/."):
        inner = inner.rstrip("/") + "/."
    elif abs_path.endswith("/") and rest:
        inner += "/"
    return source, inner, best


def below(abs_path: str, mounts: Iterable[MountRoot]) -> dict[tuple[str, ...], MountRoot]:
    """The mounts strictly below the directory ``abs_path``, keyed by their components relative to it."""
    parts = components(abs_path)
    result: dict[tuple[str, ...], MountRoot] = {}
    for mount in mounts:
        mount_parts = mount.parts
        if len(mount_parts) > len(parts) and mount_parts[:len(parts)] == parts:
            result[tuple(mount_parts[len(parts):])] = mount
    return result


def display(mount: MountRoot | None, inner: str) -> str:
    """A path found inside a mount's root (``/x``) as the container sees it (``/vol/x``)."""
    if mount is None:
        return inner
    return posixpath.join(mount.destination, inner.lstrip("/")) if inner.strip("/") else mount.destination
