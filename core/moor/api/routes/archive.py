"""File copy endpoints: ``/containers/{id}/archive`` (HEAD, GET, PUT) and ``/containers/{id}/export``.

The container's root filesystem is mounted through the storage driver (reference counted, so this
works for running and stopped containers alike) for the duration of the request, or of the response
stream for GET and export; it is released when the stream ends, fails, or the client goes away.
The archive endpoints see the container's volumes and binds at their destinations, as Docker's do
(:mod:`moor.containers.mountroots`); ``export`` is the layer alone.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from moor.api.http import Request, Response
from moor.api.router import Router
from moor.containers import archive
from moor.containers.mountroots import mount_roots
from moor.errors import InvalidParameter

if TYPE_CHECKING:
    from moor.containers.record import Container
    from moor.daemon.engine import Engine

TAR = "application/x-tar"


def encode_stat(stat: dict[str, Any]) -> str:
    """The value of the ``X-Docker-Container-Path-Stat`` header (base64 of compact JSON, as Go writes it)."""
    return base64.b64encode(json.dumps(stat, separators=(",", ":")).encode()).decode()


def _path_arg(request: Request) -> str:
    path = request.arg("path")
    if not path:
        raise InvalidParameter("bad parameter: path cannot be empty")
    return path


class _Releasing:
    """A response stream that runs ``release`` once: at its end, on an error, or when dropped unread."""

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


def build(engine: Engine) -> Router:
    router = Router()
    containers = engine.containers
    storage = containers.drivers.storage

    def mount(container: Container) -> str:
        return str(storage.mount(key=container.storage_key))

    def unmounter(container: Container) -> Callable[[], None]:
        done = []

        def release() -> None:
            if not done:
                done.append(True)
                storage.unmount(key=container.storage_key)

        return release

    # HEAD first: the router answers HEAD with a GET route of the same path when it meets that first.
    @router.route("HEAD", "/containers/{ident}/archive")
    def stat_path(request: Request, ident: str) -> Response:
        container = containers.get(ident)
        path = _path_arg(request)
        root = mount(container)
        try:
            stat = archive.stat_path(root, path, container=ident, mounts=mount_roots(container.mounts))
        finally:
            storage.unmount(key=container.storage_key)
        return Response(status=200, content_type="", headers={archive.STAT_HEADER: encode_stat(stat)})

    @router.route("GET", "/containers/{ident}/archive")
    def get_archive(request: Request, ident: str) -> Response:
        container = containers.get(ident)
        path = _path_arg(request)
        release = unmounter(container)
        root = mount(container)
        try:
            stream, stat = archive.copy_out(root, path, follow_link=False, container=ident,
                                            mounts=mount_roots(container.mounts))
        except BaseException:
            release()
            raise
        containers._event(container, "archive-path")
        return Response(stream=_Releasing(stream, release), content_type=TAR,
                        headers={archive.STAT_HEADER: encode_stat(stat)})

    @router.route("PUT", "/containers/{ident}/archive")
    def put_archive(request: Request, ident: str) -> Response:
        container = containers.get(ident)
        path = _path_arg(request)
        root = mount(container)
        try:
            archive.copy_in(root, path, request.body, request.flag("noOverwriteDirNonDir"),
                            request.flag("copyUIDGID"), user=container.config.get("User") or "",
                            read_only=bool(container.host_config.get("ReadonlyRootfs")), container=ident,
                            mounts=mount_roots(container.mounts))
        finally:
            storage.unmount(key=container.storage_key)
        containers._event(container, "extract-to-dir")
        return Response(status=200, content_type="")

    @router.route("GET", "/containers/{ident}/export")
    def export(request: Request, ident: str) -> Response:
        container = containers.get(ident)
        release = unmounter(container)
        root = mount(container)
        try:
            stream = archive.export_rootfs(root)
        except BaseException:
            release()
            raise
        containers._event(container, "export")
        return Response(stream=_Releasing(stream, release), content_type=TAR)

    return router
