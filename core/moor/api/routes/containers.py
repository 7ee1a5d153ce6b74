"""Container and exec endpoints (``/containers/...``, ``/exec/...``)."""
from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from moor.api import schema, versions
from moor.api.http import Hijack, Request, Response, json_response
from moor.api.params import (
    flag_query,
    int_query,
    parse_filters,
    platform_query,
    tail_query,
    time_arg,
    uint_query,
)
from moor.api.router import Router
from moor.api.validate import decode
from moor.containers import views
from moor.containers.createcheck import check_process
from moor.detachkeys import parse_detach_keys
from moor.errors import Conflict, InvalidParameter, MoorError, NotFound
from moor.services.container_io import frame
from moor.services.containers import create_warnings
from moor.services.top import top as container_top

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"
WAIT_CONDITIONS = ("not-running", "next-exit", "removed")


def stream_type(tty: bool, version: str) -> str:
    """The Content-Type of a container's output stream: multiplexed (no TTY) says so from API 1.42 on."""
    return MULTIPLEXED_STREAM if not tty and versions.logs_multiplexed_type(version) else RAW_STREAM


def build(engine: Engine) -> Router:
    router = Router()
    containers = engine.containers
    io = engine.container_io

    @router.route("POST", "/containers/create")
    def create(request: Request) -> Response:
        body = versions.container_create(decode(schema.CONTAINER_CREATE, request.json(required=True)),
                                         request.version)
        platform_query(request)  # checked as Docker checks it; a container runs on the host's platform
        container = containers.create(body, name=request.arg("name"))
        warnings = create_warnings(container) + versions.create_warnings(body, request.version)
        return json_response({"Id": container.id, "Warnings": warnings}, status=201)

    @router.route("GET", "/containers/json")
    def list_containers(request: Request) -> Response:
        filters = parse_filters(request)
        found = containers.list_containers(flag_query(request, "all"), filters, int_query(request, "limit", -1) or -1)
        return json_response(views.summaries(containers, found, flag_query(request, "size")))

    @router.route("GET", "/containers/{ident}/json")
    def inspect(request: Request, ident: str) -> Response:
        container = containers.get(ident)
        return json_response(views.inspect(containers, container, flag_query(request, "size"), request.version,
                                           io.exec_ids(container)))

    @router.route("POST", "/containers/{ident}/start")
    def start(request: Request, ident: str) -> Response:
        if not versions.start_body_allowed(request.version) and (
                (request.body.length is None and not request.body.done) or (request.body.length or 0) > 7):
            raise InvalidParameter("starting container with non-empty request body was deprecated since API v1.22 "
                                   "and removed in v1.24")
        containers.start(ident)
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/stop")
    def stop(request: Request, ident: str) -> Response:
        containers.stop(ident, int_query(request, "t"), versions.stop_signal(request.arg("signal"), request.version))
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/restart")
    def restart(request: Request, ident: str) -> Response:
        containers.restart(ident, int_query(request, "t"),
                           versions.stop_signal(request.arg("signal"), request.version))
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/kill")
    def kill(request: Request, ident: str) -> Response:
        try:
            containers.kill(ident, request.arg("signal") or "KILL")
        except Conflict:
            if not versions.kill_stopped_ok(request.version):
                raise
        return Response(status=204, content_type="")

    @router.route("POST", "/containers/{ident}/wait")
    def wait(request: Request, ident: str) -> Response:
        container = containers.get(ident)
        condition = versions.wait_condition(request.arg("condition"), WAIT_CONDITIONS, request.version)

        outcomes = containers.wait_ticking(container.id, condition)

        def result() -> Iterator[bytes]:
            for code in outcomes:  # b"": a tick, the server's moment to see whether the client is still there
                yield b"" if code is None else json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n"

        return Response(stream=result())

    @router.route("DELETE", "/containers/{ident}")
    def remove(request: Request, ident: str) -> Response:
        if flag_query(request, "link"):
            containers.remove_link(ident)
            return Response(status=204, content_type="")
        containers.remove(ident, force=flag_query(request, "force"), volumes=flag_query(request, "v"))
        return Response(status=204, content_type="")

    # any two-segment path matches: another method on it is Docker's 404 (page not found), not a 405
    @router.route("DELETE", "/containers/{parent}/{alias}", known_to_other_methods=False)
    def remove_link(request: Request, parent: str, alias: str) -> Response:
        if not flag_query(request, "link"):
            raise NotFound(f"No such container: {parent}/{alias}")
        containers.remove_link(f"{parent}/{alias}")
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
        height, width = uint_query(request, "h"), uint_query(request, "w")
        io.resize(containers.get(ident), height, width)
        return Response(status=200, body=b"", content_type="text/plain")

    @router.route("GET", "/containers/{ident}/top")
    def top(request: Request, ident: str) -> Response:
        return json_response(container_top(containers, ident, request.arg("ps_args")))

    @router.route("GET", "/containers/{ident}/logs")
    def logs(request: Request, ident: str) -> Response:
        container = containers.get(ident)
        if not flag_query(request, "stdout") and not flag_query(request, "stderr"):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        options = {
            "stdout": flag_query(request, "stdout"), "stderr": flag_query(request, "stderr"),
            "follow": flag_query(request, "follow"),
            "timestamps": flag_query(request, "timestamps"), "tail": tail_query(request),
            "details": flag_query(request, "details"),
            "since": time_arg(request.arg("since")), "until": time_arg(request.arg("until")),
        }
        chunks = io.log_chunks(container, options)
        content_type = stream_type(container.tty, request.version)
        return Response(stream=chunks, content_type=content_type)

    @router.route("POST", "/containers/{ident}/attach")
    def attach(request: Request, ident: str) -> Hijack:
        container = containers.get(ident)
        options = {"stream": flag_query(request, "stream"), "stdin": flag_query(request, "stdin"),
                   "stdout": flag_query(request, "stdout"), "stderr": flag_query(request, "stderr"),
                   "logs": flag_query(request, "logs"),
                   "detachKeys": request.arg("detachKeys")}
        if options["detachKeys"]:
            try:
                parse_detach_keys(str(options["detachKeys"]))
            except InvalidParameter:  # attach words it so (exec: "Invalid escape keys"), as Docker
                raise InvalidParameter(f"Invalid detach keys ({options['detachKeys']}) provided") from None
        upgrade = "upgrade" in request.headers.get("connection", "").lower()

        def run(sock: socket.socket, client_in: IO[bytes]) -> None:
            try:
                io.attach(container, sock, client_in, options)
            except MoorError as err:
                message = f"{err}\r\n".encode()
                sock.sendall(message if container.tty else frame("stderr", message))

        content_type = stream_type(container.tty, request.version)
        return Hijack(run=run, status=101 if upgrade else 200, content_type=content_type)

    @router.route("POST", "/containers/{ident}/exec")
    def exec_create(request: Request, ident: str) -> Response:
        body = versions.exec_create(decode(schema.EXEC_CONFIG, request.json()) or {}, request.version)
        check_process(body)
        if body.get("DetachKeys"):
            parse_detach_keys(body["DetachKeys"])
        record = io.exec_create(containers.get(ident), body)
        return json_response({"Id": record.id}, status=201)

    @router.route("POST", "/exec/{exec_id}/start")
    def exec_start(request: Request, exec_id: str) -> Response | Hijack:
        record = io.get_exec(exec_id)
        body = decode(schema.EXEC_START, request.json()) or {}
        detach, tty = bool(body.get("Detach")), body.get("Tty")
        if detach:
            io.exec_start(record, detach=True, tty=tty)
            return Response(status=200, body=b"", content_type="")
        upgrade = "upgrade" in request.headers.get("connection", "").lower()
        use_tty = io.exec_attach_tty(record, tty)

        def run(sock: socket.socket, client_in: IO[bytes]) -> None:
            try:
                io.exec_start(record, detach=False, tty=tty, sock=sock, client_in=client_in)
            except MoorError as err:
                message = f"{err}\r\n".encode()
                sock.sendall(message if use_tty else frame("stderr", message))

        content_type = stream_type(bool(use_tty), request.version)
        return Hijack(run=run, status=101 if upgrade else 200, content_type=content_type)

    @router.route("GET", "/exec/{exec_id}/json")
    def exec_inspect(request: Request, exec_id: str) -> Response:
        return json_response(io.exec_inspect(io.get_exec(exec_id)))

    @router.route("POST", "/exec/{exec_id}/resize")
    def exec_resize(request: Request, exec_id: str) -> Response:
        height, width = uint_query(request, "h"), uint_query(request, "w")
        io.exec_resize(io.get_exec(exec_id), height, width)
        return Response(status=201, body=b"", content_type="")

    return router

