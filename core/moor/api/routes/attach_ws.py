"""``GET /containers/{id}/attach/ws``: an attach carried over a WebSocket (:mod:`moor.api.websocket`)."""

from __future__ import annotations

import socket
from typing import IO, TYPE_CHECKING

from moor.api import versions, websocket
from moor.api.http import Hijack, Request
from moor.api.params import flag_query
from moor.api.router import Router
from moor.detachkeys import parse_detach_keys
from moor.errors import MoorError

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def build(engine: Engine) -> Router:
    router = Router()
    containers = engine.containers
    io = engine.container_io

    @router.route("GET", "/containers/{ident}/attach/ws")
    def attach_ws(request: Request, ident: str) -> Hijack:
        container = containers.get(ident)
        options = {"stream": flag_query(request, "stream"), "stdin": flag_query(request, "stdin"),
                   "stdout": flag_query(request, "stdout"), "stderr": flag_query(request, "stderr"),
                   "logs": flag_query(request, "logs"), "detachKeys": request.arg("detachKeys")}
        if not versions.ws_streams_chosen(request.version):  # Docker 20.10 attaches every stream
            options.update(stdin=True, stdout=True, stderr=True)
        if options["detachKeys"]:
            parse_detach_keys(str(options["detachKeys"]))
        accept = websocket.accept_key(request.headers)

        def attach(sock: socket.socket, client_in: IO[bytes]) -> None:
            try:
                io.attach(container, sock, client_in, options)
            except MoorError as err:  # after the handshake: the reason is the last message
                sock.sendall(f"{err}\r\n".encode())

        def run(sock: socket.socket, client_in: IO[bytes]) -> None:
            opcode = websocket.BINARY if versions.ws_binary_frames(request.version) else websocket.TEXT
            websocket.bridge(sock, client_in, container.tty, attach, opcode)

        return Hijack(run=run, status=101, content_type="",
                      headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept})

    return router
