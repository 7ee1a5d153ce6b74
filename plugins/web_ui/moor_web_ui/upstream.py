"""moord's streamed answers as the stream routes read them: the error checked before the page's stream opens,
then the JSON messages one a line (events, stats, pull and build progress) or the raw chunks (logs).

:data:`ACTIVE` counts the page streams open right now, by kind (``logs``, ``stats``, ``events``, ``pull``,
``build``, ``recreate``, ``console``): each one holds one moord request, closed when the page leaves. At most
:data:`STREAM_LIMIT` are open at once (429 past it): the connections to moord they hold are taken from the pool
every other request of the UI needs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp
from aiohttp import web

from moor_web_ui.moord import MOORD, MoordError, error_of
from moor_web_ui.replies import http_error

#: the longest line of JSON accepted from moord (a build's output line, a pull's progress)
MAX_MESSAGE = 4 << 20
ACTIVE = web.AppKey("active_streams", Counter)
#: how many streams may be open at once (the app's value, else DEFAULT_STREAM_LIMIT); moord's pool holds 256
STREAM_LIMIT = web.AppKey("stream_limit", int)
DEFAULT_STREAM_LIMIT = 128


def setup(app: web.Application) -> None:
    """Make the counter of open streams (once, whichever feature module comes first)."""
    if ACTIVE not in app:
        app[ACTIVE] = Counter()


@contextmanager
def counted(request: web.Request, kind: str) -> Iterator[None]:
    """Count one open stream of ``kind`` while the block runs (429 when STREAM_LIMIT are open already)."""
    active = request.app[ACTIVE]
    limit = request.app.get(STREAM_LIMIT, DEFAULT_STREAM_LIMIT)
    if sum(active.values()) >= limit:
        raise http_error(429, f"too many live streams open ({limit}): close some pages or tabs",
                         headers={"Retry-After": "5"})
    active[kind] += 1
    try:
        yield
    finally:
        active[kind] -= 1


@asynccontextmanager
async def open_stream(request: web.Request, method: str, path: str, *, params: Mapping[str, str] | None = None,
                      json_body: Any = None, data: Any = None,
                      headers: Mapping[str, str] | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
    """moord's answer once its status is known: :class:`MoordError` (moord's status and message) for an error,
    so that the page gets an ordinary JSON error before any stream opens. Leaving the block closes the request."""
    async with request.app[MOORD].request(method, path, actor=request["user"], params=params, json=json_body,
                                          data=data, headers=headers) as reply:
        if reply.status >= 400:
            raise await error_of(reply)
        yield reply


async def json_messages(reply: aiohttp.ClientResponse) -> AsyncIterator[Any]:
    """The JSON messages of a line-per-message answer, as they arrive (blank lines skipped)."""
    buffer = bytearray()
    async for chunk in reply.content.iter_any():
        buffer += chunk
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > MAX_MESSAGE:
                    raise MoordError(502, f"moord sent a message longer than {MAX_MESSAGE} bytes")
                break
            line = bytes(buffer[:end]).strip()
            del buffer[:end + 1]
            if line:
                yield _decode(line)
    if buffer.strip():
        yield _decode(bytes(buffer).strip())


def _decode(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        raise MoordError(502, f"moord sent a malformed message: {line[:100]!r}") from None
