"""Container resource endpoints: ``/containers/{id}/stats``, ``/update``, ``/pause``, ``/unpause``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from moor.api import schema, versions
from moor.api.http import Request, Response, json_response
from moor.api.params import flag_query
from moor.api.router import Router
from moor.api.validate import decode

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def build(engine: Engine) -> Router:
    router = Router()
    resources = engine.resources

    @router.route("GET", "/containers/{ident}/stats")
    def stats(request: Request, ident: str) -> Response:
        if not flag_query(request, "stream", True):
            one_shot = versions.stats_one_shot(flag_query(request, "one-shot"), request.version)
            return json_response(versions.stats(resources.sample(ident, one_shot), request.version))
        samples = resources.stream(ident)

        def lines() -> Iterator[bytes]:
            for sample in samples:
                yield json.dumps(versions.stats(sample, request.version)).encode() + b"\n"

        return Response(stream=lines())

    @router.route("POST", "/containers/{ident}/update")
    def update(request: Request, ident: str) -> Response:
        body = versions.container_update(decode(schema.CONTAINER_UPDATE, request.json()) or {}, request.version)
        warnings = resources.update(ident, body)
        return json_response({"Warnings": warnings})

    @router.route("POST", "/containers/{ident}/pause")
    def pause(request: Request, ident: str) -> Response:
        resources.pause(ident)
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/unpause")
    def unpause(request: Request, ident: str) -> Response:
        resources.unpause(ident)
        return Response(status=204, content_type="")

    return router
