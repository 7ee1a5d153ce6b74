"""Container resource endpoints: ``/containers/{id}/stats``, ``/update``, ``/pause``, ``/unpause``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from moor.api.http import Request, Response, json_response
from moor.api.router import Router
from moor.services import stats as resources

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def _bool(request: Request, name: str, default: bool) -> bool:
    """Docker's BoolValueOrDefault: absent -> default; "", 0, no, false, none -> false."""
    if name not in request.query:
        return default
    return request.arg(name).strip().lower() not in ("", "0", "no", "false", "none")


def build(engine: Engine) -> Router:
    router = Router()
    containers = engine.containers

    @router.route("GET", "/containers/{ident}/stats")
    def stats(request: Request, ident: str) -> Response:
        container = containers.get(ident)
        if not _bool(request, "stream", True):
            return json_response(resources.sample(containers, container.id, _bool(request, "one-shot", False)))

        def lines() -> Iterator[bytes]:
            for sample in resources.stream(containers, container.id):
                yield json.dumps(sample).encode() + b"\n"

        return Response(stream=lines())

    @router.route("POST", "/containers/{ident}/update")
    def update(request: Request, ident: str) -> Response:
        warnings = resources.update(containers, ident, request.json() or {})
        return json_response({"Warnings": warnings})

    @router.route("POST", "/containers/{ident}/pause")
    def pause(request: Request, ident: str) -> Response:
        resources.pause(containers, ident)
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/unpause")
    def unpause(request: Request, ident: str) -> Response:
        resources.unpause(containers, ident)
        return Response(status=204, content_type="")

    return router
