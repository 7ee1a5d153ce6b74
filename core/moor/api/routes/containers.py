"""Container and exec endpoints (``/containers/...``, ``/exec/...``) and ``/events``."""

from __future__ import annotations

import fnmatch
import json
import queue
import re
import socket
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from moor.api.http import Hijack, Request, Response, json_response
from moor.api.router import Router
from moor.api.routes.images import parse_filters
from moor.containers import views
from moor.containers.record import Container
from moor.errors import InvalidParameter, MoorError
from moor.filters import labels_match
from moor.images.views import parse_timestamp
from moor.services.container_io import frame

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
PS_FILTERS = ("status", "name", "label", "ancestor", "exited", "id", "before", "since", "health", "network",
              "volume", "publish", "expose", "isolation", "is-task")


def _container_matches(engine: Engine, container: Container, filters: dict[str, list[str]]) -> bool:
    for key in filters:
        if key not in PS_FILTERS:
            raise InvalidParameter(f"invalid filter '{key}'")
    for status in filters.get("status", []):
        if status not in STATUSES:
            raise InvalidParameter(f"Unrecognised filter value for status: {status}")
    if filters.get("status") and container.state.Status not in filters["status"]:
        return False
    if filters.get("name") and not any(re.search(p, container.name) or re.search(p, "/" + container.name)
                                       for p in filters["name"]):
        return False
    if filters.get("id") and not any(container.id.startswith(p) for p in filters["id"]):
        return False
    if not labels_match(container.config.get("Labels") or {}, {"label": filters.get("label", [])}):
        return False
    if filters.get("exited"):
        if container.state.Running or container.state.Status != "exited":
            return False
        if str(container.state.ExitCode) not in filters["exited"]:
            return False
    if filters.get("ancestor"):
        image = engine.images
        wanted_ids = set()
        for name in filters["ancestor"]:
            found = image.find(name)
            if found is not None:
                wanted_ids.add(found.id)
        if container.image_id not in wanted_ids and not any(fnmatch.fnmatch(container.image, p)
                                                            for p in filters["ancestor"]):
            return False
    if filters.get("volume"):  # a volume name, a bind's source or a mount destination
        mounted = {m.get("Name") or m.get("Source") for m in container.mounts} | \
            {m.get("Destination") for m in container.mounts}
        if not mounted & set(filters["volume"]):
            return False
    for key, newer in (("before", False), ("since", True)):
        for ident in filters.get(key, []):
            other = engine.containers.get(ident)
            mine, theirs = parse_timestamp(container.created), parse_timestamp(other.created)
            if (mine <= theirs) if newer else (mine >= theirs):
                return False
    return True


def _event_matches(event: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    attributes = event["Actor"]["Attributes"]
    checks = {
        "type": [event["Type"]],
        "event": [event["Action"], event["Action"].split(":", 1)[0]],
        "container": [event["Actor"]["ID"], attributes.get("name", "")] if event["Type"] == "container" else [],
        "image": [attributes.get("image", ""), event["Actor"]["ID"]],
        "label": [f"{k}={v}" for k, v in attributes.items()] + list(attributes),
        "network": [event["Actor"]["ID"], attributes.get("name", "")] if event["Type"] == "network" else [],
        "volume": [event["Actor"]["ID"]] if event["Type"] == "volume" else [],
    }
    fuzzy = ("container", "network", "volume")  # an ID or name prefix matches, as in Docker
    for key, values in filters.items():
        if key not in checks:
            raise InvalidParameter(f"invalid filter '{key}'")
        if not any(v in checks[key] or any(c.startswith(v) for c in checks[key] if c and key in fuzzy)
                   for v in values):
            return False
    return True


def build(engine: Engine) -> Router:
    router = Router()
    containers = engine.containers
    io = engine.container_io

    @router.route("POST", "/containers/create")
    def create(request: Request) -> Response:
        body = request.json(required=True)
        container = containers.create(body, name=request.arg("name"))
        warnings = []
        if container.host_config.get("NetworkMode") == "host" and container.host_config.get("PortBindings"):
            warnings.append("Published ports are discarded when using host network mode")  # Docker's words
        return json_response({"Id": container.id, "Warnings": warnings}, status=201)

    @router.route("GET", "/containers/json")
    def list_containers(request: Request) -> Response:
        filters = parse_filters(request)
        everything = request.flag("all") or bool(filters.get("status")) or bool(filters.get("exited"))
        found = [c for c in containers.store.all() if (everything or c.state.Running)
                 and _container_matches(engine, c, filters)]
        found.sort(key=lambda c: (parse_timestamp(c.created), c.id), reverse=True)
        limit = request.int_arg("limit", -1)
        if limit > 0:
            found = found[:limit]
        return json_response([views.summary(containers, c, request.flag("size")) for c in found])

    @router.route("GET", "/containers/{ident}/json")
    def inspect(request: Request, ident: str) -> Response:
        return json_response(views.inspect(containers, containers.get(ident), request.flag("size")))

    @router.route("POST", "/containers/{ident}/start")
    def start(request: Request, ident: str) -> Response:
        containers.start(ident)
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/stop")
    def stop(request: Request, ident: str) -> Response:
        timeout = request.arg("t")
        containers.stop(ident, int(timeout) if timeout else None)
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/restart")
    def restart(request: Request, ident: str) -> Response:
        timeout = request.arg("t")
        containers.restart(ident, int(timeout) if timeout else None)
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/kill")
    def kill(request: Request, ident: str) -> Response:
        containers.kill(ident, request.arg("signal") or "KILL")
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/wait")
    def wait(request: Request, ident: str) -> Response:
        container = containers.get(ident)
        condition = request.arg("condition") or "not-running"

        def result() -> Iterator[bytes]:
            code = containers.wait(container.id, condition)
            yield json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n"

        return Response(stream=result())

    @router.route("DELETE", "/containers/{ident}")
    def remove(request: Request, ident: str) -> Response:
        containers.remove(ident, force=request.flag("force"), volumes=request.flag("v"))
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/rename")
    def rename(request: Request, ident: str) -> Response:
        containers.rename(ident, request.arg("name"))
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/prune")
    def prune(request: Request) -> Response:
        return json_response(containers.prune(parse_filters(request)))

    @router.route("POST", "/containers/{ident}/resize")
    def resize(request: Request, ident: str) -> Response:
        io.resize(containers.get(ident), request.int_arg("h"), request.int_arg("w"))
        return Response(status=200, body=b"", content_type="text/plain")

    @router.route("GET", "/containers/{ident}/top")
    def top(request: Request, ident: str) -> Response:
        from moor.services.top import top as run_top

        return json_response(run_top(containers, containers.get(ident), request.arg("ps_args")))

    @router.route("GET", "/containers/{ident}/logs")
    def logs(request: Request, ident: str) -> Response:
        container = containers.get(ident)
        if not request.flag("stdout") and not request.flag("stderr"):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        tail = request.arg("tail", "all")
        options = {
            "stdout": request.flag("stdout"), "stderr": request.flag("stderr"), "follow": request.flag("follow"),
            "timestamps": request.flag("timestamps"), "tail": -1 if tail in ("all", "") else int(tail),
            "since": _time_arg(request.arg("since")), "until": _time_arg(request.arg("until")),
        }
        chunks = io.log_chunks(container, options)
        content_type = "application/vnd.docker.raw-stream" if container.tty else "application/vnd.docker.multiplexed-stream"
        return Response(stream=chunks, content_type=content_type)

    @router.route("POST", "/containers/{ident}/attach")
    def attach(request: Request, ident: str) -> Hijack:
        container = containers.get(ident)
        options = {"stream": request.flag("stream"), "stdin": request.flag("stdin"), "stdout": request.flag("stdout"),
                   "stderr": request.flag("stderr"), "logs": request.flag("logs"),
                   "detachKeys": request.arg("detachKeys")}
        if options["detachKeys"]:
            from moor.detachkeys import parse_detach_keys

            parse_detach_keys(options["detachKeys"])
        upgrade = "upgrade" in request.headers.get("connection", "").lower()

        def run(sock: socket.socket, client_in: IO[bytes]) -> None:
            try:
                io.attach(container, sock, client_in, options)
            except MoorError as err:
                message = f"{err}\r\n".encode()
                sock.sendall(message if container.tty else frame("stderr", message))

        content_type = "application/vnd.docker.raw-stream" if container.tty else "application/vnd.docker.multiplexed-stream"
        return Hijack(run=run, status=101 if upgrade else 200, content_type=content_type)

    @router.route("POST", "/containers/{ident}/exec")
    def exec_create(request: Request, ident: str) -> Response:
        record = io.exec_create(containers.get(ident), request.json(required=True))
        return json_response({"Id": record.id}, status=201)

    @router.route("POST", "/exec/{exec_id}/start")
    def exec_start(request: Request, exec_id: str) -> Response | Hijack:
        record = io.get_exec(exec_id)
        body = request.json() or {}
        detach, tty = bool(body.get("Detach")), body.get("Tty")
        if detach:
            io.exec_start(record, detach=True, tty=tty)
            return Response(status=200, body=b"", content_type="")
        upgrade = "upgrade" in request.headers.get("connection", "").lower()
        container = containers.get(record.container_id)
        if not container.state.Running:
            from moor.errors import Conflict

            raise Conflict(f"Container {container.id} is not running")
        use_tty = record.config["Tty"] if tty is None else tty

        def run(sock: socket.socket, client_in: IO[bytes]) -> None:
            try:
                io.exec_start(record, detach=False, tty=tty, sock=sock, client_in=client_in)
            except MoorError as err:
                message = f"{err}\r\n".encode()
                sock.sendall(message if use_tty else frame("stderr", message))

        content_type = "application/vnd.docker.raw-stream" if use_tty else "application/vnd.docker.multiplexed-stream"
        return Hijack(run=run, status=101 if upgrade else 200, content_type=content_type)

    @router.route("GET", "/exec/{exec_id}/json")
    def exec_inspect(request: Request, exec_id: str) -> Response:
        return json_response(io.exec_inspect(io.get_exec(exec_id)))

    @router.route("POST", "/exec/{exec_id}/resize")
    def exec_resize(request: Request, exec_id: str) -> Response:
        io.exec_resize(io.get_exec(exec_id), request.int_arg("h"), request.int_arg("w"))
        return Response(status=201, body=b"", content_type="")

    @router.route("GET", "/events")
    def events(request: Request) -> Response:
        filters = parse_filters(request)
        since = _time_arg(request.arg("since"))
        until = _time_arg(request.arg("until"))
        past, channel = engine.events.subscribe()

        def stream() -> Iterator[bytes]:
            try:
                for event in past:
                    if since and event["timeNano"] / 1e9 >= since and (not until or event["timeNano"] / 1e9 < until) \
                            and _event_matches(event, filters):
                        yield json.dumps(event).encode() + b"\n"
                yield b""
                while True:
                    remaining = (until - time.time()) if until else 1.0
                    if until and remaining <= 0:
                        return
                    try:
                        event = channel.get(timeout=min(max(remaining, 0.01), 1.0))
                    except queue.Empty:
                        continue
                    if until and event["timeNano"] / 1e9 >= until:
                        return
                    if _event_matches(event, filters):
                        yield json.dumps(event).encode() + b"\n"
            finally:
                engine.events.unsubscribe(channel)

        return Response(stream=stream())

    return router


def _time_arg(text: str) -> float:
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        return parse_timestamp(text)
