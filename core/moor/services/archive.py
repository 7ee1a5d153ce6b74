"""A container's files: stat, copy out and copy in (``docker cp``), and export of its whole filesystem.

The container's root filesystem is mounted through the storage driver (reference counted, so this
works for running and stopped containers alike) for the duration of the call, or of the returned
stream for copy-out and export; it is released when the stream ends, fails, or is dropped unread.
Copy-out, copy-in and export publish Docker's ``archive-path``, ``extract-to-dir`` and ``export``
events. The archive operations see the container's volumes and binds at their destinations, as
Docker's do (:mod:`moor.containers.mountroots`); ``export`` is the layer alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from moor.containers import archive
from moor.containers.mountroots import mount_roots
from moor.errors import InvalidParameter

if TYPE_CHECKING:
    from moor.containers.record import Container
    from moor.drivers import DriverSet
    from moor.services.containers import ContainerService
    from moor.services.events import EventBus


class ReleasingStream:
    """A tar stream that runs ``release`` once: at its end, on an error, or when dropped unread."""

    def __init__(self, stream: archive.TarStream, release: Callable[[], None]) -> None:
        self._stream = stream
        stream.on_close.append(release)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        finally:
            self._stream.close()

    def __del__(self) -> None:
        self._stream.close()


def _checked_path(path: str) -> str:
    if not path:
        raise InvalidParameter("bad parameter: path cannot be empty")
    return path


class ContainerArchive:
    """Files in and out of the containers of ``containers``, through the storage driver's mounts."""

    def __init__(self, containers: ContainerService, drivers: DriverSet, events: EventBus) -> None:
        self.containers = containers
        self.drivers = drivers
        self.events = events

    def _mount(self, container: Container) -> str:
        return str(self.drivers.storage.mount(key=container.storage_key))

    def _unmount(self, container: Container) -> None:
        self.drivers.storage.unmount(key=container.storage_key)

    def _releaser(self, container: Container) -> Callable[[], None]:
        """A callable that unmounts the container's filesystem the first time it is called, never again."""
        done: list[bool] = []

        def release() -> None:
            if not done:
                done.append(True)
                self._unmount(container)

        return release

    def stat(self, ident: str, path: str) -> dict[str, Any]:
        """Docker's stat of ``path`` in the container (``HEAD .../archive``)."""
        container = self.containers.get(ident)
        path = _checked_path(path)
        root = self._mount(container)
        try:
            return archive.stat_path(root, path, container=ident, mounts=mount_roots(container.mounts))
        finally:
            self._unmount(container)

    def copy_out(self, ident: str, path: str) -> tuple[ReleasingStream, dict[str, Any]]:
        """A tar of ``path`` in the container and the stat of ``path`` (``GET .../archive``)."""
        container = self.containers.get(ident)
        path = _checked_path(path)
        release = self._releaser(container)
        root = self._mount(container)
        try:
            stream, stat = archive.copy_out(root, path, follow_link=False, container=ident,
                                            mounts=mount_roots(container.mounts))
        except BaseException:
            release()
            raise
        self.events.publish_container(container, "archive-path")
        return ReleasingStream(stream, release), stat

    def copy_in(self, ident: str, path: str, tar: IO[bytes], no_overwrite_dir_non_dir: bool,
                copy_uid_gid: bool) -> None:
        """Extract ``tar`` into the directory ``path`` of the container (``PUT .../archive``)."""
        container = self.containers.get(ident)
        path = _checked_path(path)
        root = self._mount(container)
        try:
            archive.copy_in(root, path, tar, no_overwrite_dir_non_dir, copy_uid_gid,
                            user=container.config.get("User") or "",
                            read_only=bool(container.host_config.get("ReadonlyRootfs")), container=ident,
                            mounts=mount_roots(container.mounts))
        finally:
            self._unmount(container)
        self.events.publish_container(container, "extract-to-dir")

    def export(self, ident: str) -> ReleasingStream:
        """A tar of the container's whole filesystem, its volumes left out (``GET .../export``)."""
        container = self.containers.get(ident)
        release = self._releaser(container)
        root = self._mount(container)
        try:
            stream = archive.export_rootfs(root)
        except BaseException:
            release()
            raise
        self.events.publish_container(container, "export")
        return ReleasingStream(stream, release)
