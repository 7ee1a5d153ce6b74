"""Image endpoints: list, inspect, history, tag, remove, prune, load, save, import (``/images/...``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from moor.api.http import Request, Response, json_response
from moor.api.router import Router
from moor.errors import InvalidParameter
from moor.images import views
from moor.services.image_transfer import stream_lines
from moor.services.images import reference_matches_any

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def parse_filters(request: Request) -> dict[str, list[str]]:
    """Docker's ``filters`` query parameter: {"key": ["v"]} or the legacy {"key": {"v": true}}."""
    raw = request.json_arg("filters")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidParameter("invalid filters: expected a JSON object")
    result: dict[str, list[str]] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            result[key] = [k for k, enabled in value.items() if enabled]
        elif isinstance(value, list):
            result[key] = [str(v) for v in value]
        else:
            raise InvalidParameter(f"invalid filter value for {key!r}")
    return result


def _tar_stream(write: callable[[object], None]) -> Iterator[bytes]:  # type: ignore[valid-type]
    """Run ``write(out)`` in a thread and yield what it writes, chunk by chunk."""
    import os
    import threading

    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def produce() -> None:
        with os.fdopen(write_fd, "wb") as out:
            try:
                write(out)
            except BaseException as err:  # reported to the reader below
                errors.append(err)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    with os.fdopen(read_fd, "rb") as source:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            yield chunk
    thread.join()
    if errors:
        raise errors[0]


def build(engine: Engine) -> Router:
    router = Router()
    images = engine.images
    transfer = engine.transfer

    @router.route("GET", "/images/json")
    def list_images(request: Request) -> Response:
        filters = parse_filters(request)
        if request.arg("filter"):
            filters.setdefault("reference", []).append(request.arg("filter"))
        found = images.list(all_images=request.flag("all"), filters=filters)
        rows = [views.summary(images, image) for image in found]
        patterns = filters.get("reference")
        if patterns:  # like Docker, show only the names that matched
            for row in rows:
                row["RepoTags"] = [t for t in row["RepoTags"] if reference_matches_any(patterns, t)]
                row["RepoDigests"] = [d for d in row["RepoDigests"] if reference_matches_any(patterns, d)]
        return json_response(rows)

    @router.route("GET", "/images/get")
    def save_many(request: Request) -> Response:
        names = request.query.get("names", [])
        items = transfer.save_images(names)
        from moor.images.archive import write_docker_archive

        return Response(content_type="application/x-tar",
                        stream=_tar_stream(lambda out: write_docker_archive(out, items)))

    @router.route("POST", "/images/load")
    def load(request: Request) -> Response:
        messages = transfer.load(request.body)
        return Response(body=b"".join(stream_lines(messages)), content_type="application/json")

    @router.route("POST", "/images/create")
    def create(request: Request) -> Response:
        source = request.arg("fromSrc")
        if not source:
            if request.arg("fromImage"):
                raise InvalidParameter("pulling images is not supported yet")
            raise InvalidParameter("fromImage or fromSrc is required")
        if source != "-":
            raise InvalidParameter("import from a URL is not supported: use a file or '-' for stdin")
        image = transfer.import_tarball(request.body, request.arg("repo"), request.arg("tag"),
                                       request.query.get("changes", []), request.arg("message"),
                                       request.arg("platform").split("/")[0])
        return Response(body=json.dumps({"status": image.id}).encode() + b"\r\n")

    @router.route("POST", "/images/prune")
    def prune(request: Request) -> Response:
        filters = parse_filters(request)
        return json_response(images.prune(all_images=False, filters=filters))

    @router.route("GET", "/images/{name:path}/json")
    def inspect(request: Request, name: str) -> Response:
        return json_response(views.inspect(images, images.resolve(name), {}))

    @router.route("GET", "/images/{name:path}/history")
    def history(request: Request, name: str) -> Response:
        return json_response(views.history(images, images.resolve(name)))

    @router.route("GET", "/images/{name:path}/get")
    def save_one(request: Request, name: str) -> Response:
        items = transfer.save_images([name])
        from moor.images.archive import write_docker_archive

        return Response(content_type="application/x-tar",
                        stream=_tar_stream(lambda out: write_docker_archive(out, items)))

    @router.route("POST", "/images/{name:path}/tag")
    def tag(request: Request, name: str) -> Response:
        images.tag(name, request.arg("repo"), request.arg("tag"))
        return Response(status=201, body=b"", content_type="")

    @router.route("DELETE", "/images/{name:path}")
    def remove(request: Request, name: str) -> Response:
        return json_response(images.remove(name, force=request.flag("force"), prune=not request.flag("noprune")))

    @router.route("GET", "/system/df")
    def disk_usage(request: Request) -> Response:
        everything = images.list(all_images=True)
        chains = {image.id: images.store.layer_chain(image) for image in everything}
        users_of_layer: dict[str, int] = {}
        for layers in chains.values():
            for layer in layers:
                users_of_layer[layer.chain_id] = users_of_layer.get(layer.chain_id, 0) + 1
        rows = []
        for image in everything:
            row = views.summary(images, image)
            row["Containers"] = len(images.users(image.id))
            row["SharedSize"] = sum(l.disk_size for l in chains[image.id] if users_of_layer[l.chain_id] > 1)
            rows.append(row)
        unique_layers = {l.chain_id: l.disk_size for layers in chains.values() for l in layers}
        return json_response({"LayersSize": sum(unique_layers.values()), "Images": rows, "Containers": [],
                              "Volumes": engine.volumes.usage(), "BuildCache": []})

    return router
