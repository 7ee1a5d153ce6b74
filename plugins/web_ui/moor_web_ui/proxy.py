"""``ANY /api/docker/<path>?<query>``: the page's Docker API calls passed to moord with the acting user.

The body is streamed to moord; moord's status, ``Content-Type`` and body are streamed back unchanged (a pull or
an export flows as it comes). Endpoints that hijack the connection (attach, exec start, the BuildKit session) are
refused with 400: the console has its own WebSocket.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from aiohttp import web

from moor_web_ui.moord import MOORD
from moor_web_ui.replies import http_error

PREFIX = "/api/docker"
#: the request headers passed on (besides X-Moor-Actor, which the proxy sets)
FORWARDED = ("Content-Type", "X-Registry-Auth", "X-Registry-Config")
#: a percent-encoded path and query: nothing that could end or split the request line
SAFE_TARGET = re.compile(r"/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*")
VERSION = re.compile(r"v[0-9]+(\.[0-9]+)?")


def hijacks(path: str) -> bool:
    """Whether moord would take over the connection for ``path`` (its segments decoded, as moord's router does)."""
    segments = [unquote(s) for s in path.split("/") if s]
    if segments and VERSION.fullmatch(segments[0]):
        segments = segments[1:]
    if len(segments) in (3, 4) and segments[0] == "containers" and segments[2] == "attach":
        return len(segments) == 3 or segments[3] == "ws"
    if len(segments) == 3 and segments[0] == "exec" and segments[2] == "start":
        return True
    return segments in (["session"], ["grpc"])


def moord_target(raw_path: str) -> str:
    """The moord path and query of ``/api/docker/<path>?<query>`` (400 for a hijacking endpoint or a bad path)."""
    target = raw_path[len(PREFIX):]
    if not target.startswith("/") or target == "/" or not SAFE_TARGET.fullmatch(target):
        raise http_error(400, "invalid Docker API path")
    path = target.split("?", 1)[0]
    if hijacks(path):
        raise http_error(400, f"{path[:200]} takes over the connection: it is not available through the proxy")
    return target


async def proxy(request: web.Request) -> web.StreamResponse:
    """Pass one request to moord and stream its answer back."""
    if request.headers.get("Upgrade"):
        raise http_error(400, "connection upgrades are not available through the proxy")
    target = moord_target(request.raw_path)
    headers = {name: request.headers[name] for name in FORWARDED if name in request.headers}
    body = request.content if request.body_exists else None
    moord = request.app[MOORD]
    async with moord.request(request.method, target, actor=request["user"], data=body, headers=headers,
                             raw_path=True) as reply:
        response = web.StreamResponse(status=reply.status, reason=reply.reason)
        if reply.content_type and "Content-Type" in reply.headers:
            response.headers["Content-Type"] = reply.headers["Content-Type"]
        if reply.content_length is not None:
            response.content_length = reply.content_length
        await response.prepare(request)
        async for chunk in reply.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


def setup(app: web.Application) -> None:
    app.router.add_route("*", PREFIX + "/{path:.*}", proxy)
