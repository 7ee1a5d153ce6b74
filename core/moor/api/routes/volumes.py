"""Volume endpoints (``/volumes/...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moor.api.http import Request, Response, json_response
from moor.api.params import parse_filters
from moor.api.router import Router
from moor.errors import InvalidParameter

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def _string_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidParameter(f"invalid {what}: expected an object of strings")
    return dict(value)


def build(engine: Engine) -> Router:
    router = Router()
    volumes = engine.volumes

    @router.route("GET", "/volumes")
    def list_volumes(request: Request) -> Response:
        return json_response(volumes.list(parse_filters(request)))

    @router.route("POST", "/volumes/create")
    def create(request: Request) -> Response:
        body = request.json() or {}
        if not isinstance(body, dict):
            raise InvalidParameter("invalid volume create request: expected a JSON object")
        name = body.get("Name") or ""
        if not isinstance(name, str):
            raise InvalidParameter("invalid volume name: expected a string")
        volume = volumes.create(name, str(body.get("Driver") or ""), _string_map(body.get("DriverOpts"), "DriverOpts"),
                                _string_map(body.get("Labels"), "Labels"))
        return json_response(volume, status=201)

    @router.route("POST", "/volumes/prune")
    def prune(request: Request) -> Response:
        return json_response(volumes.prune(parse_filters(request)))

    @router.route("GET", "/volumes/{name}")
    def inspect(request: Request, name: str) -> Response:
        return json_response(volumes.inspect(name))

    @router.route("DELETE", "/volumes/{name}")
    def remove(request: Request, name: str) -> Response:
        volumes.remove(name, force=request.flag("force"))
        return Response(status=204, content_type="")

    return router
