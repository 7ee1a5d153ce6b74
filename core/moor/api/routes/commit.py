"""``POST /commit`` and ``GET /containers/{id}/changes``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moor.api import schema
from moor.api.http import Request, Response, json_response
from moor.api.params import flag_query
from moor.api.router import Router
from moor.api.validate import decode

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def build(engine: Engine) -> Router:
    router = Router()
    commits = engine.commits

    @router.route("POST", "/commit")
    def commit_container(request: Request) -> Response:
        image = commits.commit(request.arg("container"), request.arg("repo"), request.arg("tag"),
                               request.arg("comment"), request.arg("author"), flag_query(request, "pause", True),
                               request.query.get("changes", []),
                               decode(schema.CONTAINER_CREATE, request.json()))
        return json_response({"Id": image.id}, status=201)

    @router.route("GET", "/containers/{ident}/changes")
    def changes(request: Request, ident: str) -> Response:
        found = commits.changes(ident)
        return json_response([{"Path": c.path, "Kind": c.kind} for c in found] or None)

    return router
