"""Volume endpoints (``/volumes/...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moor.api import schema
from moor.api.http import Request, Response, json_response
from moor.api.params import flag_query, parse_filters
from moor.api.router import Router
from moor.api.validate import decode
from moor.api.versions import at_least

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def build(engine: Engine) -> Router:
    router = Router()
    volumes = engine.volumes

    @router.route("GET", "/volumes")
    def list_volumes(request: Request) -> Response:
        return json_response(volumes.list(parse_filters(request)))

    @router.route("POST", "/volumes/create")
    def create(request: Request) -> Response:
        body = decode(schema.VOLUME_CREATE, request.json()) or {}
        name = str(body.get("Name") or "")
        # Docker 23+ (API 1.42+, whose prune takes anonymous volumes only) marks a volume made without a name
        # anonymous; Docker 20.10 (1.41) does not
        anonymous = not name and at_least(request.version, "1.42")
        volume = volumes.create(name, body.get("Driver") or "", dict(body.get("DriverOpts") or {}),
                                dict(body.get("Labels") or {}), anonymous=anonymous)
        return json_response(volume, status=201)

    @router.route("POST", "/volumes/prune")
    def prune(request: Request) -> Response:
        # Before API 1.42 (Docker 20.10) prune removes every unused volume, not only anonymous ones, unless
        # the client says otherwise with the filter ``all`` (moor's CLI does, to act as docker 23+ at any version).
        filters = parse_filters(request)
        major, minor = (int(part) for part in request.version.split(".")[:2])
        return json_response(volumes.prune(filters, all_volumes=(major, minor) < (1, 42) and "all" not in filters))

    @router.route("GET", "/volumes/{name}")
    def inspect(request: Request, name: str) -> Response:
        return json_response(volumes.inspect(name))

    @router.route("DELETE", "/volumes/{name}")
    def remove(request: Request, name: str) -> Response:
        volumes.remove(name, force=flag_query(request, "force"))
        return Response(status=204, content_type="")

    return router
