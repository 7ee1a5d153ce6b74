"""The UI's client of moord's API: aiohttp over the Unix socket, the acting user in ``X-Moor-Actor``.

Routes get it at ``request.app[MOORD]`` (also ``app["moord"]``) and the acting user at ``request["user"]``::

    async with moord.request("POST", f"/containers/{cid}/start", actor=request["user"]) as reply:
        ...
    async for message in moord.stream_json("GET", "/events", actor=request["user"]):
        ...

:meth:`Moord.request` returns moord's answer as it is (any status); :meth:`Moord.json` and
:meth:`Moord.stream_json` raise :class:`MoordError` with moord's message for a status of 400 or more.
Leaving the ``async with`` (or closing the iterator) closes moord's request, which ends its stream.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from moor_web_ui.auth import ACTOR_HEADER

BASE = "http://moord"


class MoordError(Exception):
    """moord answered with an error (``status`` >= 400), or could not be reached (status 502)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


#: what a stream that moord refused or broke off ends with
STREAM_FAILURES = (MoordError, aiohttp.ClientError)


def failure_message(err: MoordError | aiohttp.ClientError) -> str:
    """The end of a page's stream that moord refused (its message) or broke off."""
    return err.message if isinstance(err, MoordError) else f"moord's stream broke: {err}"


async def error_of(reply: aiohttp.ClientResponse) -> MoordError:
    """The :class:`MoordError` of an error answer (Docker's ``{"message": ...}`` or its text)."""
    raw = await reply.read()
    try:
        message = json.loads(raw)["message"]
    except (ValueError, KeyError, TypeError):
        message = raw.decode(errors="replace").strip() or reply.reason or "error"
    return MoordError(reply.status, str(message))


class Moord:
    """One connection pool to moord's socket, opened lazily, closed by :meth:`close`."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.UnixConnector(path=self.socket_path, limit=256)
            # no total timeout: streams (logs, events, pulls) last as long as the page wants them
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @asynccontextmanager
    async def request(self, method: str, path: str, *, actor: str | None, params: Mapping[str, str] | None = None,
                      json: Any = None, data: Any = None, headers: Mapping[str, str] | None = None,
                      raw_path: bool = False) -> AsyncIterator[aiohttp.ClientResponse]:
        """moord's answer to one request (any status), as an async context manager.

        ``path`` starts with ``/`` (e.g. ``/containers/json``); with ``raw_path`` it is already percent-encoded
        and may carry a query. ``actor`` (the UI user) goes in ``X-Moor-Actor``.
        Raises MoordError(502) if moord cannot be reached.
        """
        if not path.startswith("/"):
            raise ValueError(f"moord path {path!r} must start with /")
        sent = dict(headers or {})
        sent.pop(ACTOR_HEADER, None)
        if actor:
            sent[ACTOR_HEADER] = actor
        url: Any = URL(BASE + path, encoded=True) if raw_path else BASE + path
        try:
            reply = await self.session.request(method, url, params=params, json=json, data=data, headers=sent,
                                               allow_redirects=False)
        except aiohttp.ClientConnectionError as err:
            raise MoordError(502, f"cannot reach moord at {self.socket_path}: {err}") from None
        try:
            yield reply
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as err:
            # moord's side broke off; a browser that left (ConnectionResetError writing to it) is not moord's doing
            raise MoordError(502, f"moord closed the connection: {err}") from None
        finally:
            reply.release()  # an answer not read to its end closes its connection: moord's stream ends

    async def json(self, method: str, path: str, *, actor: str | None, params: Mapping[str, str] | None = None,
                   json: Any = None, headers: Mapping[str, str] | None = None) -> Any:
        """moord's JSON answer (None for an empty one); MoordError for a status of 400 or more."""
        async with self.request(method, path, actor=actor, params=params, json=json, headers=headers) as reply:
            if reply.status >= 400:
                raise await error_of(reply)
            raw = await reply.read()
            return _loads(raw) if raw.strip() else None

    async def stream_json(self, method: str, path: str, *, actor: str | None, params: Mapping[str, str] | None = None,
                          json: Any = None, data: Any = None,
                          headers: Mapping[str, str] | None = None) -> AsyncIterator[Any]:
        """The JSON messages of a streamed answer (events, pull or build progress, stats), as they arrive.

        MoordError before the first message for a status of 400 or more. Closing the iterator (``aclose()``, or
        leaving ``async for`` early in an ``aclosing`` block) closes moord's request.
        """
        decoder = _json_decoder()
        async with self.request(method, path, actor=actor, params=params, json=json, data=data,
                                headers=headers) as reply:
            if reply.status >= 400:
                raise await error_of(reply)
            buffer = ""
            utf8 = _Utf8()
            async for chunk in reply.content.iter_any():
                buffer += utf8.decode(chunk)
                while True:
                    buffer = buffer.lstrip()
                    if not buffer:
                        break
                    try:
                        message, end = decoder.raw_decode(buffer)
                    except ValueError:
                        break  # an incomplete message: wait for more
                    buffer = buffer[end:]
                    yield message
            if buffer.strip():
                raise MoordError(502, f"moord sent a malformed stream: {buffer[:100]!r}")


class _Utf8:
    """Incremental UTF-8 decoding (a character may be split between chunks)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def decode(self, chunk: bytes) -> str:
        return self._decoder.decode(chunk)


def _json_decoder() -> json.JSONDecoder:
    return json.JSONDecoder()


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as err:
        raise MoordError(502, f"moord sent malformed JSON: {err}") from None


MOORD = web.AppKey("moord", Moord)
