"""The page's live streams (Server-Sent Events, for ``EventSource``), each over one moord request:

- ``GET /api/streams/containers/{id}/logs?tail=200``: ``{"stream", "time", "line"}`` per line, following;
- ``GET /api/streams/containers/{id}/stats``: ``{"time", "cpu_percent", "mem_usage", ...}`` once a second;
- ``GET /api/streams/events``: Docker's event JSON as moord sends it (``since``, ``until`` and ``filters``
  passed on).

An error before the stream opens (an unknown container, a bad ``tail``) is an ordinary JSON error with moord's
status; after it, the stream's ``event: end`` says it. When the page leaves, the handler is cancelled and the
moord request closed with it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from aiohttp import web

from moor_web_ui import upstream
from moor_web_ui.loglines import MULTIPLEXED, LogLines
from moor_web_ui.moord import STREAM_FAILURES, failure_message
from moor_web_ui.replies import http_error
from moor_web_ui.sse import EventStream, with_keepalive
from moor_web_ui.statsview import summary
from moor_web_ui.upstream import counted, json_messages, open_stream

#: a container's ID (or a prefix of it) or name, as Docker allows names
IDENT = re.compile(r"/?[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
DEFAULT_TAIL = "200"
MAX_TAIL = 100_000
EVENT_PARAMS = ("since", "until", "filters")


def container_ident(request: web.Request) -> str:
    """The ``{id}`` of the path: an ID, an ID prefix or a name (400 otherwise)."""
    ident = request.match_info["id"]
    if not IDENT.fullmatch(ident):
        raise http_error(400, f"invalid container name or ID: {ident[:80]!r}")
    return ident.lstrip("/")


def tail_param(request: web.Request) -> str:
    """``tail``: a number of lines (0 to MAX_TAIL) or ``all``; DEFAULT_TAIL when absent (400 otherwise)."""
    tail = request.query.get("tail", DEFAULT_TAIL)
    if tail == "all" or (tail.isdigit() and len(tail) <= 6 and int(tail) <= MAX_TAIL):
        return tail
    raise http_error(400, f"invalid tail {tail[:40]!r}: a number of lines from 0 to {MAX_TAIL}, or all")


async def forward(request: web.Request, stream: EventStream, messages: AsyncIterator[Any]) -> None:
    """Send each message on, then the end (with moord's error if its stream broke)."""
    try:
        async with aclosing(with_keepalive(messages, stream)) as items:
            async for message in items:
                await stream.send(message)
    except STREAM_FAILURES as err:
        await stream.end(failure_message(err))
    else:
        await stream.end(None)


async def logs(request: web.Request) -> web.StreamResponse:
    ident = container_ident(request)
    params = {"stdout": "1", "stderr": "1", "follow": "1", "timestamps": "1", "tail": tail_param(request)}
    with counted(request, "logs"):
        async with open_stream(request, "GET", f"/containers/{ident}/logs", params=params) as reply:
            lines = LogLines(multiplexed=reply.content_type == MULTIPLEXED)

            async def messages() -> AsyncIterator[dict[str, str]]:
                async for chunk in reply.content.iter_any():
                    for line in lines.feed(chunk):
                        yield line.message()
                for line in lines.flush():
                    yield line.message()

            stream = await EventStream.open(request)
            await forward(request, stream, messages())
            return stream.response


async def stats(request: web.Request) -> web.StreamResponse:
    ident = container_ident(request)
    with counted(request, "stats"):
        async with open_stream(request, "GET", f"/containers/{ident}/stats", params={"stream": "1"}) as reply:

            async def messages() -> AsyncIterator[dict[str, Any]]:
                async for sample in json_messages(reply):
                    if isinstance(sample, dict):
                        yield summary(sample)

            stream = await EventStream.open(request)
            await forward(request, stream, messages())
            return stream.response


async def events(request: web.Request) -> web.StreamResponse:
    params = {}
    for name in EVENT_PARAMS:
        if name in request.query:
            value = request.query[name]
            if len(value) > 4096:
                raise http_error(400, f"{name} is longer than 4096 characters")
            params[name] = value
    with counted(request, "events"):
        async with open_stream(request, "GET", "/events", params=params) as reply:
            stream = await EventStream.open(request)
            await forward(request, stream, json_messages(reply))
            return stream.response


def setup(app: web.Application) -> None:
    upstream.setup(app)
    app.router.add_get("/api/streams/containers/{id}/logs", logs)
    app.router.add_get("/api/streams/containers/{id}/stats", stats)
    app.router.add_get("/api/streams/events", events)
