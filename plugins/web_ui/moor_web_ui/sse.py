"""Server-Sent Events to the page: one ``data: <json>`` per message, ended by ``event: end``.

A stream that stays quiet sends a comment line now and then (``KEEPALIVE`` seconds): the page's connection
stays open through proxies, and a page that went away is noticed at the latest then (the server also cancels
the handler as soon as the connection drops), so the moord request behind the stream is closed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from aiohttp import web

#: seconds without a message before a comment line is sent
KEEPALIVE = 15.0


def encode(message: Any, event: str = "") -> bytes:
    """One SSE message: ``event:`` (when named) and one ``data:`` line of compact JSON."""
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(message, separators=(",", ":")) + "\n\n").encode()


class EventStream:
    """An open ``text/event-stream`` answer: :meth:`send` messages, then :meth:`end`."""

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        self.ended = False

    @classmethod
    async def open(cls, request: web.Request) -> EventStream:
        """Send the status and headers: the stream has begun (errors from now on go in ``end``)."""
        response = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",
        })
        await response.prepare(request)
        return cls(response)

    async def send(self, message: Any) -> None:
        await self.response.write(encode(message))

    async def comment(self) -> None:
        """A line the page ignores: tells whether it is still there."""
        await self.response.write(b": keepalive\n\n")

    async def end(self, error: str | None = None, **extra: Any) -> None:
        """The last message, ``event: end`` with ``{"error": ...}`` (and ``extra`` keys), and the end of the body."""
        if self.ended:
            return
        self.ended = True
        try:
            await self.response.write(encode({"error": error, **extra}, event="end"))
            await self.response.write_eof()
        except (ConnectionError, RuntimeError):  # the page has gone: nothing to tell it
            pass


async def with_keepalive(items: AsyncIterator[Any], stream: EventStream,
                         interval: float = KEEPALIVE) -> AsyncGenerator[Any, None]:
    """``items`` as they come; a comment goes to the page whenever none came for ``interval`` seconds
    (a page that left then raises ``ConnectionResetError`` here)."""
    iterator = aiter(items)
    pending: asyncio.Task[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                await stream.comment()
                continue
            task, pending = pending, None
            try:
                yield task.result()
            except StopAsyncIteration:
                return
    finally:
        if pending is not None:
            pending.cancel()
            try:
                await pending
            except (asyncio.CancelledError, StopAsyncIteration):
                pass

