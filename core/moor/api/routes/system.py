"""``/_ping``, ``/version`` and ``/info``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moor.api import versions
from moor.api.http import Request, Response, json_response
from moor.api.router import Router
from moor.services.system import system_info, version_info

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

PING_HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Builder-Version": "1",
}


def build(engine: Engine) -> Router:
    router = Router()

    @router.route("HEAD", "/_ping")
    def ping_head(request: Request) -> Response:  # Docker's: the headers, and a length of 0
        return Response(body=b"", content_type="text/plain; charset=utf-8", headers=dict(PING_HEADERS))

    @router.route("GET", "/_ping")
    def ping(request: Request) -> Response:
        return Response(body=b"OK", content_type="text/plain; charset=utf-8", headers=dict(PING_HEADERS))

    @router.route("GET", "/version")
    def version(request: Request) -> Response:
        return json_response(version_info())

    @router.route("GET", "/info")
    def info(request: Request) -> Response:
        return json_response(versions.info(system_info(engine, engine.counts()), request.version))

    return router
