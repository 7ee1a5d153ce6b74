"""A container's mount points: planned when it is created, mounted when it starts, released when it stops.

A mount point is a dict kept in the container record (``Container.mounts``) in the shape of
Docker's inspect ``Mounts`` entries plus a few private keys (``Anonymous``, ``CopyData``,
``CreateSource``, ``NonRecursive``, ``TmpfsOptions``) that :func:`mount_view` leaves out.

Planning follows Docker 20.10: ``--volumes-from`` first (every volume and bind of the other
container; ``:ro`` makes them read-only), then ``Binds`` and ``Mounts`` (each replacing what
volumes-from put on the same destination), then an anonymous volume for each ``Config.Volumes``
destination nothing is mounted on yet. Volumes are created through the volume service when the
container is created, so that they count as referenced from then on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moor.containers.mountspec import DEFAULT_BIND_PROPAGATION, MountRequest, parse_all, parse_volumes_from
from moor.containers.mounttarget import copy_up, prepare_target
from moor.containers.security import DEFAULT_TMPFS_OPTIONS
from moor.errors import InvalidParameter, MoorError, NotFound
from moor.mountinfo import mount_of

if TYPE_CHECKING:
    from moor.containers.record import Container
    from moor.services.volumes import VolumeService

log = logging.getLogger(__name__)

SHARED = ("shared", "rshared")
SLAVE = ("slave", "rslave")
VOLUME_KEYS = ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation")
OTHER_KEYS = ("Type", "Source", "Destination", "Mode", "RW", "Propagation")


def mount_view(point: dict[str, Any]) -> dict[str, Any]:
    """Docker's ``Mounts`` entry for a mount point (no private keys)."""
    keys = VOLUME_KEYS if point.get("Type") == "volume" else OTHER_KEYS
    return {key: point.get(key, "") for key in keys}


def mount_views(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [mount_view(point) for point in points]


def _require(volumes: VolumeService | None) -> VolumeService:
    if volumes is None:
        raise InvalidParameter("this engine has no volume service")
    return volumes


def _realize(request: MountRequest, volumes: VolumeService | None, created: list[str]) -> dict[str, Any]:
    if request.type == "bind":
        return {"Type": "bind", "Source": request.source, "Destination": request.destination, "Mode": request.mode,
                "RW": request.rw, "Propagation": request.propagation, "CreateSource": request.create_source,
                "PropagationGiven": request.propagation_given, "NonRecursive": not request.recursive}
    if request.type == "tmpfs":
        return {"Type": "tmpfs", "Source": "", "Destination": request.destination, "Mode": "", "RW": request.rw,
                "Propagation": "", "TmpfsOptions": list(request.tmpfs_options)}
    service = _require(volumes)
    view = service.create(name=request.source, driver=request.driver, options=request.driver_options or None,
                          labels=request.labels or None, anonymous=not request.source)
    if not request.source:
        created.append(view["Name"])
    return {"Type": "volume", "Name": view["Name"], "Source": view.get("Mountpoint") or "",
            "Destination": request.destination, "Driver": view.get("Driver") or "", "Mode": request.mode,
            "RW": request.rw, "Propagation": "", "Anonymous": not request.source, "CopyData": request.copy_data}


def plan(host_config: dict[str, Any], config_volumes: dict[str, Any] | None,
         find_container: Callable[[str], Container], volumes: VolumeService | None) -> list[dict[str, Any]]:
    """The mount points of a new container; creates the volumes it names (anonymous ones too).

    Raises InvalidParameter (bad specs and a missing volumes-from container, in Docker's words),
    or what the volume service raises; anonymous volumes made before a failure are removed again.
    """
    requests, anonymous, _ = parse_all(host_config, config_volumes)
    points: dict[str, dict[str, Any]] = {}
    for entry in host_config.get("VolumesFrom") or []:
        name, rw = parse_volumes_from(entry)
        try:
            other = find_container(name)
        except NotFound as err:
            raise InvalidParameter(err.message) from None  # a bad request in Docker (400), not a missing image
        for point in other.mounts:
            if point.get("Type") not in ("volume", "bind"):
                continue  # Docker cannot share a tmpfs either
            shared = {key: point.get(key, "") for key in VOLUME_KEYS if key in point}
            # an anonymous volume stays anonymous: `rm -v` of either container removes it once unused (Docker)
            shared.update(Mode="", RW=bool(point.get("RW")) and rw, Anonymous=bool(point.get("Anonymous")),
                          CopyData=False,
                          CreateSource=bool(point.get("CreateSource")),
                          PropagationGiven=bool(point.get("PropagationGiven")),
                          NonRecursive=bool(point.get("NonRecursive")))
            points[point["Destination"]] = shared
    created: list[str] = []
    try:
        for request in requests:
            points[request.destination] = _realize(request, volumes, created)
        for request in anonymous:
            if request.destination not in points:
                points[request.destination] = _realize(request, volumes, created)
    except BaseException:
        for name in created:
            try:
                _require(volumes).remove(name)
            except MoorError:
                log.exception("could not remove the volume %s of a failed create", name)
        raise
    return list(points.values())


def volume_names(points: list[dict[str, Any]]) -> list[str]:
    return [point["Name"] for point in points if point.get("Type") == "volume" and point.get("Name")]


def references(points: list[dict[str, Any]], name: str) -> bool:
    return any(point.get("Type") == "volume" and point.get("Name") == name for point in points)


def _bind_propagation(point: dict[str, Any], data_root: str) -> str:
    """The propagation for a bind; a source holding the data root must be a slave (Docker's rule).

    As in Docker, a shared propagation needs a shared source mount, a slave one a shared or slave source.
    """
    source, propagation = point["Source"], point.get("Propagation") or DEFAULT_BIND_PROPAGATION
    root = os.path.realpath(data_root)
    if root == source or root.startswith(source.rstrip("/") + "/"):
        if not point.get("PropagationGiven"):
            return "rslave"
        if propagation not in ("rslave", "rshared"):
            raise InvalidParameter('invalid mount config: must use either propagation mode "rslave" or "rshared" '
                                   f'when mount source is within the daemon root, daemon root: "{data_root}", '
                                   f'bind mount source: "{source}", propagation: "{propagation}"')
    if propagation in SHARED or propagation in SLAVE:
        mount_point, fields = mount_of(source)
        shared = any(field.startswith("shared:") for field in fields)
        if propagation in SHARED and not shared:
            raise InvalidParameter(f"path {source} is mounted on {mount_point} but it is not a shared mount")
        if propagation in SLAVE and not shared and not any(field.startswith("master:") for field in fields):
            raise InvalidParameter(f"path {source} is mounted on {mount_point} but it is not a shared or slave mount")
    return propagation


def rootfs_propagation(mounts: list[dict[str, Any]]) -> str:
    """The spec's ``rootfsPropagation``: ``shared`` when a bind is shared (so that its mounts reach the
    host, as Docker sets it), else "" (runc's default, rslave)."""
    return "shared" if any(set(mount.get("options") or []) & set(SHARED) for mount in mounts) else ""


def _bind_source(point: dict[str, Any]) -> str:
    source = point["Source"]
    if not os.path.lexists(source):
        if not point.get("CreateSource"):
            raise InvalidParameter(f'invalid mount config for type "bind": bind source path does not exist: {source}')
        os.makedirs(source, mode=0o755, exist_ok=True)
    return source


def oci_mounts(container: Container, rootfs: str, volumes: VolumeService | None,
               data_root: str) -> list[dict[str, Any]]:
    """Mount the container's volumes and return its OCI mounts for them, its binds and tmpfs mounts.

    Targets are resolved and made inside ``rootfs`` (:mod:`moor.containers.mounttarget`); a new
    empty volume is first filled from the image (unless ``nocopy``). The caller must
    :func:`release` the volumes when the container stops or its start fails.
    """
    result = []
    for point in container.mounts:
        kind = point.get("Type")
        if kind == "tmpfs":
            with prepare_target(rootfs, point["Destination"], make="parent") as target:
                result.append({"destination": target.path, "type": "tmpfs", "source": "tmpfs",
                               "options": [*DEFAULT_TMPFS_OPTIONS, "rprivate", *point.get("TmpfsOptions", [])]})
            continue
        if kind == "volume":
            host = _require(volumes).mount(point["Name"], container.id, point["Destination"], bool(point.get("RW")))
            point["Source"] = host
            options = ["rbind"] + ([] if point.get("RW") else ["ro"])
            with prepare_target(rootfs, point["Destination"]) as target:
                if point.get("CopyData"):
                    copy_up(target, host)
                result.append({"destination": target.path, "type": "bind", "source": host, "options": options})
            continue
        if kind == "bind":
            host = _bind_source(point)
            options = ["bind" if point.get("NonRecursive") else "rbind"] + ([] if point.get("RW") else ["ro"]) \
                + [_bind_propagation(point, data_root)]
            with prepare_target(rootfs, point["Destination"], make="dir" if os.path.isdir(host) else "file") as target:
                result.append({"destination": target.path, "type": "bind", "source": host, "options": options})
    return result


def in_root(mounts: list[dict[str, Any]], rootfs: str) -> list[dict[str, Any]]:
    """OCI mounts made elsewhere (``--tmpfs``) with their destinations resolved inside ``rootfs`` too."""
    result = []
    for mount in mounts:
        with prepare_target(rootfs, mount["destination"], make="parent") as target:
            result.append({**mount, "destination": target.path})
    return result


def release(container: Container, volumes: VolumeService | None) -> None:
    """Release the container's use of its volumes (it stopped, or its start failed)."""
    if volumes is None:
        return
    for name in volume_names(container.mounts):
        try:
            volumes.unmount(name, container.id)
        except MoorError:
            log.exception("unmounting the volume %s of %s failed", name, container.short_id)


def discard_anonymous(points: list[dict[str, Any]], volumes: VolumeService | None) -> None:
    """Remove the anonymous volumes among ``points`` that no container references any more: those of a
    failed create, and ``rm -v`` / ``--rm`` (the anonymous volumes a container created, not named ones)."""
    if volumes is None:
        return
    for point in points:
        if point.get("Type") == "volume" and point.get("Anonymous"):
            try:
                volumes.remove(point["Name"])
            except MoorError as err:
                log.info("anonymous volume %s kept: %s", point["Name"], err)
