"""``commit`` and ``diff``: a container's changes as a new image layer on top of its image, with its config,
and the list of the paths it changed."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from moor.errors import Conflict, InvalidParameter, MoorError
from moor.images import reference
from moor.images.changes import apply_changes
from moor.images.store import ImageRecord
from moor.timefmt import format_timestamp

if TYPE_CHECKING:
    from moor.containers.processes import ContainerProcesses
    from moor.drivers import DriverSet
    from moor.services.containers import ContainerService
    from moor.services.events import EventBus
    from moor.services.images import ImageService

from moor.types import Change

#: sha256 of a tar holding nothing but its end blocks: a commit that changed nothing adds no layer
EMPTY_TAR_DIGEST = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

#: container-config fields an image keeps (the rest describe one run)
IMAGE_CONFIG_FIELDS = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
                       "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "Image",
                       "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels", "StopSignal")

#: what Docker's init layer holds (its mount points and the files it bind-mounts): ``diff`` never lists them,
#: nor anything below the directories among them, nor a directory changed only because of them
INIT_LAYER_PATHS = frozenset({"/dev", "/dev/pts", "/dev/shm", "/dev/console", "/proc", "/sys", "/.dockerenv",
                              "/etc/resolv.conf", "/etc/hosts", "/etc/hostname", "/etc/mtab"})
INIT_LAYER_TREES = ("/dev", "/proc", "/sys")


def hide_init_paths(changes: list[Change]) -> list[Change]:
    """``changes`` without Docker's own mount points, as Docker's ``diff`` shows only what the container wrote."""

    def hidden(path: str) -> bool:
        return path in INIT_LAYER_PATHS or any(path.startswith(tree + "/") for tree in INIT_LAYER_TREES)

    kept = [change for change in changes if not hidden(change.path)]
    dropped = [change.path for change in changes if hidden(change.path)]
    result = []
    for change in kept:
        prefix = change.path.rstrip("/") + "/"
        if change.kind == 0 and any(path.startswith(prefix) for path in dropped) and not any(
                other.path.startswith(prefix) for other in kept):
            continue  # a directory modified only by the entries hidden above
        result.append(change)
    return result


class CommitService:
    """Images from containers (``POST /commit``) and a container's changed paths (``GET .../changes``).

    A running container is paused during its commit through ``processes``, the container service's."""

    def __init__(self, containers: ContainerService, images: ImageService, drivers: DriverSet,
                 events: EventBus, processes: ContainerProcesses) -> None:
        self.containers = containers
        self.images = images
        self.drivers = drivers
        self.events = events
        self.processes = processes

    def changes(self, ident: str) -> list[Change]:
        """The paths the container ``ident`` added, changed or deleted over its image (Docker's ``diff``)."""
        container = self.containers.get(ident)
        return hide_init_paths(list(self.drivers.storage.changes(key=container.storage_key)))

    def commit(self, ident: str, repo: str, tag: str, comment: str, author: str, pause: bool, changes: list[str],
               overrides: dict[str, Any] | None) -> ImageRecord:
        """A new image of the container ``ident``: its image plus a layer of its changes (none when it changed
        nothing), its config with ``overrides`` and the Dockerfile ``changes`` applied, tagged ``repo:tag``.
        The container is paused meanwhile when ``pause`` (and it runs)."""
        container = self.containers.get(ident)
        store = self.images.store
        image = store.get(container.image_id)
        if image is None:
            raise Conflict(f"the image of container {container.short_id} is gone")
        target = reference.parse_repository_and_tag(repo, tag) if repo else None
        # as Docker's: the container's config (its host name and its image as named too), then the overrides
        # and the changes; the image's container_config is the container's own, untouched
        own = {key: container.config.get(key) for key in IMAGE_CONFIG_FIELDS}
        own.update(Hostname=container.config.get("Hostname") or "", Domainname=container.config.get("Domainname")
                   or "", Image=container.image or container.image_id)
        config = dict(own)
        for key, value in (overrides or {}).items():
            if key not in IMAGE_CONFIG_FIELDS:
                raise InvalidParameter(f"invalid config field for commit: {key!r}")
            config[key] = value
        config = _omit_empty(apply_changes(config, changes))
        paused_here = False
        if pause and container.state.Running and not container.state.Paused:
            paused_here = self._pause(container.id)
            if paused_here:
                self.events.publish_container(container, "pause")
        try:
            stream = self.drivers.storage.diff(key=container.storage_key)
            try:
                with store.spooled(stream) as (spool, diff_id):
                    empty = diff_id == EMPTY_TAR_DIGEST
                    layer = None if empty else store.add_layer(image.top_layer, spool, diff_id)
            finally:
                stream.close()
        finally:
            if paused_here and self._resume(container.id):
                self.events.publish_container(container, "unpause")
        now = format_timestamp(time.time())
        base = image.config
        history = list(base.get("history") or [])
        history.append({"created": now, "created_by": " ".join([container.path, *container.args]),
                        **({"author": author} if author else {}), **({"comment": comment} if comment else {}),
                        **({"empty_layer": True} if empty else {})})
        diff_ids = list(image.diff_ids) + ([layer.diff_id] if layer is not None else [])
        image_config = {
            "architecture": base.get("architecture", "amd64"),
            "os": base.get("os", "linux"),
            "author": author,
            "comment": comment,
            "config": config,
            "container": container.id,
            "container_config": _omit_empty(own),
            "created": now,
            "docker_version": "moor",
            "history": history,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        record = store.add_image(json.dumps(image_config, separators=(",", ":")).encode(), parent=image.id)
        if target is not None:
            store.set_ref(str(target), record.id)
            self.events.publish_image(record, "tag", target.familiar)
        self.events.publish_container(container, "commit", comment=comment, imageID=record.id,
                                      imageRef=target.familiar if target is not None else "")
        return record

    def _pause(self, container_id: str) -> bool:
        """Pause the container for its commit; False when it stopped meanwhile (nothing to pause, as Docker)."""
        try:
            self.processes.pause(container_id)
        except MoorError:
            if self._running(container_id):
                raise
            return False
        return True

    def _resume(self, container_id: str) -> bool:
        """Resume the container after its commit; False when it stopped meanwhile."""
        try:
            self.processes.resume(container_id)
        except MoorError:
            if self._running(container_id):
                raise
            return False
        return True

    def _running(self, container_id: str) -> bool:
        """Whether the container still runs, once its exit (if the runtime saw one) is recorded."""
        return not self.containers.wait_until_stopped(container_id, 2.0)


#: fields of Docker's container config that are left out when empty (``omitempty``)
OMIT_EMPTY = ("ExposedPorts", "Healthcheck", "StopSignal")


def _omit_empty(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in OMIT_EMPTY or value}
