"""``WS /api/containers/{id}/console?cmd=/bin/sh&cols=80&rows=24&csrf=...``: a terminal in the page.

An exec with a TTY is made in the container (``cmd`` split as a shell would, ``/bin/sh`` by default) and
started over a hijacked connection to moord (:mod:`moor_web_ui.hijack`); the WebSocket carries it: binary
frames both ways are the terminal's bytes, a text frame ``{"resize": [cols, rows]}`` resizes it (through
``/exec/{id}/resize``). The socket closes when the process ends (code 1000, the reason says its exit code);
when the page closes it, the connection to the process is closed (the terminal hangs up). A malformed request
is refused with a 4xx before the upgrade; when moord refuses the exec (no such container, not running), the
socket opens to say so: a text frame ``{"error": message}``, then close code 4000 + moord's status (4409).
The session, the CSRF token (``?csrf=``) and the Origin are checked by the auth middleware before this runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from moor_web_ui import upstream
from moor_web_ui.auth import ACTOR_HEADER
from moor_web_ui.hijack import HijackError, RawConnection, hijack
from moor_web_ui.moord import MOORD, MoordError
from moor_web_ui.replies import http_error
from moor_web_ui.streams import container_ident
from moor_web_ui.upstream import counted

DEFAULT_COMMAND = "/bin/sh"
MAX_COMMAND = 4096
#: the largest frame taken from the page (a paste); larger ones close the socket (1009)
MAX_FRAME = 1 << 20
#: a terminal's columns and rows, each at most this
MAX_SIZE = 10_000
TERM = "xterm-256color"
#: moord's refusals (no such container, not running) close the socket with this plus the HTTP status (4409)
ERROR_CLOSE_BASE = 4000


def command(request: web.Request) -> list[str]:
    """``cmd``, split as a shell splits words (400 if empty, unbalanced or too long)."""
    text = request.query.get("cmd", DEFAULT_COMMAND)
    if len(text) > MAX_COMMAND:
        raise http_error(400, f"cmd is longer than {MAX_COMMAND} characters")
    try:
        argv = shlex.split(text)
    except ValueError as err:
        raise http_error(400, f"invalid cmd {text[:80]!r}: {err}") from None
    if not argv or any("\0" in word for word in argv):
        raise http_error(400, "cmd must name a program, e.g. /bin/sh")
    return argv


def close_reason(text: str) -> bytes:
    """``text`` as a close frame's reason: at most 120 bytes of whole UTF-8 characters (123 is the frame's)."""
    return text.encode()[:120].decode(errors="ignore").encode()


def size_value(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SIZE:
        raise ValueError(f"{what} must be a number from 1 to {MAX_SIZE}")
    return value


def initial_size(request: web.Request) -> tuple[int, int] | None:
    """``(cols, rows)`` from the query, None when not given (400 when wrong)."""
    cols, rows = request.query.get("cols"), request.query.get("rows")
    if cols is None and rows is None:
        return None
    try:
        return (size_value(int(cols or ""), "cols"), size_value(int(rows or ""), "rows"))
    except ValueError as err:
        raise http_error(400, f"invalid terminal size: {err}") from None


def resize_request(text: str) -> tuple[int, int]:
    """``(cols, rows)`` of a text frame ``{"resize": [cols, rows]}`` (ValueError otherwise)."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("a text frame must be JSON: {\"resize\": [cols, rows]}") from None
    size = message.get("resize") if isinstance(message, dict) else None
    if not isinstance(size, list) or len(size) != 2:
        raise ValueError("a text frame must be {\"resize\": [cols, rows]}")
    return size_value(size[0], "cols"), size_value(size[1], "rows")


class Console:
    """One exec's terminal bridged to one WebSocket."""

    def __init__(self, request: web.Request, exec_id: str, connection: RawConnection, ws: web.WebSocketResponse):
        self.moord = request.app[MOORD]
        self.actor = request["user"]
        self.exec_id = exec_id
        self.connection = connection
        self.ws = ws

    async def resize(self, cols: int, rows: int) -> None:
        try:
            await self.moord.json("POST", f"/exec/{self.exec_id}/resize", actor=self.actor,
                                  params={"h": str(rows), "w": str(cols)})
        except MoordError:
            pass  # the process ended meanwhile: the socket closes next

    async def to_page(self) -> None:
        """The terminal's output as binary frames, until the process ends."""
        while data := await self.connection.reader.read(1 << 16):
            await self.ws.send_bytes(data)

    async def from_page(self) -> None:
        """Keystrokes (binary frames) to the terminal, resizes (text frames) to moord, until the page closes."""
        async for message in self.ws:
            if message.type == WSMsgType.BINARY:
                self.connection.writer.write(message.data)
                await self.connection.writer.drain()
            elif message.type == WSMsgType.TEXT:
                try:
                    cols, rows = resize_request(message.data)
                except ValueError as err:
                    await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=close_reason(str(err)))
                    return
                await self.resize(cols, rows)
            elif message.type == WSMsgType.ERROR:
                return

    async def exit_reason(self) -> str:
        try:
            found = await self.moord.json("GET", f"/exec/{self.exec_id}/json", actor=self.actor)
        except MoordError:
            return "the process ended"
        code = found.get("ExitCode") if isinstance(found, dict) else None
        return "the process ended" if code is None else f"the process exited with code {code}"

    async def run(self) -> None:
        output = asyncio.ensure_future(self.to_page())
        keys = asyncio.ensure_future(self.from_page())
        try:
            done, _ = await asyncio.wait({output, keys}, return_when=asyncio.FIRST_COMPLETED)
            if output in done and not self.ws.closed:
                with contextlib.suppress(ConnectionError, OSError):
                    output.result()
                await self.ws.close(code=WSCloseCode.OK, message=close_reason(await self.exit_reason()))
        finally:
            for task in (output, keys):
                task.cancel()
            await asyncio.gather(output, keys, return_exceptions=True)
            await self.connection.close()
            await self.ws.close()


async def console(request: web.Request) -> web.StreamResponse:
    ident = container_ident(request)
    argv = command(request)
    size = initial_size(request)
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=30.0)
    if not ws.can_prepare(request).ok:
        raise http_error(400, "the console is a WebSocket: connect with an Upgrade: websocket request")
    with counted(request, "console"):
        try:
            exec_id, connection = await start_exec(request, ident, argv, size)
        except MoordError as err:  # (the container stopped, say): told in the page's terminal, then closed
            await ws.prepare(request)
            await ws.send_str(json.dumps({"error": err.message}))
            await ws.close(code=ERROR_CLOSE_BASE + err.status, message=close_reason(err.message))
            return ws
        try:
            await ws.prepare(request)
            bridge = Console(request, exec_id, connection, ws)
            if size is not None:
                await bridge.resize(*size)
            await bridge.run()
        finally:
            await connection.close()
        return ws


async def start_exec(request: web.Request, ident: str, argv: list[str], size: tuple[int, int] | None) \
        -> tuple[str, RawConnection]:
    """Make the exec and start it over a hijacked connection: its ID and the connection (MoordError with
    moord's status and message when it refuses)."""
    moord = request.app[MOORD]
    actor = request["user"]
    body: dict[str, Any] = {"AttachStdin": True, "AttachStdout": True, "AttachStderr": True, "Tty": True,
                            "Cmd": argv, "Env": [f"TERM={TERM}"]}
    if size is not None:
        body["ConsoleSize"] = [size[1], size[0]]
    created = await moord.json("POST", f"/containers/{ident}/exec", actor=actor, json=body)
    exec_id = str(created["Id"])
    headers = {ACTOR_HEADER: actor} if actor else {}
    try:
        connection = await hijack(moord.socket_path, f"/exec/{exec_id}/start", {"Detach": False, "Tty": True},
                                  headers)
    except HijackError as err:
        raise MoordError(err.status if 400 <= err.status < 600 else 502, err.message) from None
    except OSError as err:
        raise MoordError(502, f"cannot reach moord at {moord.socket_path}: {err}") from None
    return exec_id, connection


def setup(app: web.Application) -> None:
    upstream.setup(app)
    app.router.add_get("/api/containers/{id}/console", console)
