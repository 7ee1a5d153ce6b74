"""Image endpoints: list, inspect, history, tag, remove, prune, load, save (``/images/...``), and ``/system/df``
(mostly about images). ``POST /images/create`` (pull, and import) is in :mod:`moor.api.routes.registry`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moor.api import versions
from moor.api.http import Request, Response, json_response
from moor.api.params import flag_query, parse_filters
from moor.api.router import Router
from moor.api.streaming import encode_message, error_message
from moor.images import views
from moor.images.archive_spool import NotATarArchive
from moor.services.disk_usage import disk_usage
from moor.services.image_transfer import stream_lines
from moor.services.images import reference_matches_any

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def build(engine: Engine) -> Router:
    router = Router()
    images = engine.images
    transfer = engine.transfer

    @router.route("GET", "/images/json")
    def list_images(request: Request) -> Response:
        filters = parse_filters(request)
        if request.arg("filter") and versions.legacy_image_filter(request.version):
            filters.setdefault("reference", []).append(request.arg("filter"))
        found = images.list(all_images=flag_query(request, "all"), filters=filters)
        rows = [views.summary(images, image, request.version) for image in found]
        patterns = filters.get("reference")
        if patterns:  # like Docker, show only the names that matched
            for row in rows:
                row["RepoTags"] = [t for t in row["RepoTags"] if reference_matches_any(patterns, t)]
                row["RepoDigests"] = [d for d in row["RepoDigests"] if reference_matches_any(patterns, d)]
        return json_response(rows)

    @router.route("GET", "/images/get")
    def save_many(request: Request) -> Response:
        return Response(content_type="application/x-tar", stream=transfer.save_stream(request.query.get("names", [])))

    @router.route("POST", "/images/load")
    def load(request: Request) -> Response:
        try:
            messages = transfer.load(request.body_file())
        except NotATarArchive as err:  # Docker 20.10 answers 200 and streams this one as the last message
            return Response(body=encode_message(error_message(err)), content_type="application/json")
        return Response(body=b"".join(stream_lines(messages)), content_type="application/json")

    @router.route("POST", "/images/prune")
    def prune(request: Request) -> Response:
        filters = parse_filters(request)
        return json_response(images.prune(all_images=False, filters=filters))

    @router.route("GET", "/images/{name:path}/json")
    def inspect(request: Request, name: str) -> Response:
        return json_response(views.inspect(images, images.resolve(name), {}, request.version))

    @router.route("GET", "/images/{name:path}/attestations")
    def attestations(request: Request, name: str) -> Response:
        images.resolve(name)  # moor keeps no attestation manifests: an image it has has none (the spec's [])
        return json_response([])

    @router.route("GET", "/images/{name:path}/history")
    def history(request: Request, name: str) -> Response:
        return json_response(views.history(images, images.resolve(name)))

    @router.route("GET", "/images/{name:path}/get")
    def save_one(request: Request, name: str) -> Response:
        return Response(content_type="application/x-tar", stream=transfer.save_stream([name]))

    @router.route("POST", "/images/{name:path}/tag")
    def tag(request: Request, name: str) -> Response:
        images.tag(name, request.arg("repo"), request.arg("tag"))
        return Response(status=201, body=b"", content_type="")

    @router.route("DELETE", "/images/{name:path}")
    def remove(request: Request, name: str) -> Response:
        return json_response(images.remove(name, force=flag_query(request, "force"),
                                           prune=not flag_query(request, "noprune")))

    @router.route("GET", "/system/df")
    def system_disk_usage(request: Request) -> Response:
        return json_response(versions.disk_usage(disk_usage(images, engine.volumes, engine.build_cache,
                                                            engine.containers),
                                                     request.version, request.query.get("type")))

    return router
