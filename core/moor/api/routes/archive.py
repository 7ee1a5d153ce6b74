"""File copy endpoints: ``/containers/{id}/archive`` (HEAD, GET, PUT) and ``/containers/{id}/export``.

The work (mounting, releasing, events) is :class:`moor.services.archive.ContainerArchive`'s; the
routes decode the query and encode the stat header and the tar stream.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from moor.api import schema, versions
from moor.api.http import Request, Response
from moor.api.params import flag_query, path_query
from moor.api.router import Router
from moor.api.validate import decode
from moor.containers import legacycopy
from moor.containers.archive import STAT_HEADER
from moor.errors import InvalidParameter

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

TAR = "application/x-tar"


def encode_stat(stat: dict[str, Any]) -> str:
    """The value of the ``X-Docker-Container-Path-Stat`` header (base64 of compact JSON, as Go writes it)."""
    return base64.b64encode(json.dumps(stat, separators=(",", ":")).encode()).decode()


def build(engine: Engine) -> Router:
    router = Router()
    files = engine.archive

    # HEAD first: the router answers HEAD with a GET route of the same path when it meets that first.
    @router.route("HEAD", "/containers/{ident}/archive")
    def stat_path(request: Request, ident: str) -> Response:
        stat = files.stat(ident, path_query(request))
        return Response(status=200, content_type="", headers={STAT_HEADER: encode_stat(stat)})

    @router.route("GET", "/containers/{ident}/archive")
    def get_archive(request: Request, ident: str) -> Response:
        stream, stat = files.copy_out(ident, path_query(request))
        return Response(stream=stream, content_type=TAR, headers={STAT_HEADER: encode_stat(stat)})

    @router.route("PUT", "/containers/{ident}/archive")
    def put_archive(request: Request, ident: str) -> Response:
        files.copy_in(ident, path_query(request), request.body_file(), flag_query(request, "noOverwriteDirNonDir"),
                      flag_query(request, "copyUIDGID"))
        return Response(status=200, content_type="")

    @router.route("POST", "/containers/{ident}/copy")
    def legacy_copy(request: Request, ident: str) -> Response:
        if not versions.legacy_copy(request.version):
            return Response(status=404, content_type="")  # gone since API 1.24: Docker's empty 404
        body = decode(schema.COPY_CONFIG, request.json())
        if body is None:
            raise InvalidParameter("got EOF while reading request body")
        resource = body.get("Resource") or ""
        if not resource:
            raise InvalidParameter("Path cannot be empty")
        stream, stat = files.copy_out(ident, resource)
        directory = stat.get("name", "") if legacycopy.is_directory(stat) else ""
        return Response(stream=legacycopy.rebased(stream, str(directory)), content_type=TAR)

    @router.route("GET", "/containers/{ident}/export")
    def export(request: Request, ident: str) -> Response:
        return Response(stream=files.export(ident), content_type=TAR)

    return router
