"""The request and answer types of the API: what the server hands a route, and what a route hands back.

The Docker Engine API needs three kinds of answer: a whole body (JSON), a
streamed body (chunked: progress of ``load``/``pull``, ``logs --follow``,
events) and a hijacked connection (``attach`` and ``exec`` upgrade the
connection after a 101/200 header and then speak raw bytes both ways). The
server that speaks HTTP on the socket is :mod:`moor.api.server`; the wire
format and its limits are in :mod:`moor.api.wire`.

A stream may yield ``b""`` at any time: nothing is sent, and the server looks
whether the client is still there (an idle stream yields one about once a
second, so a client that left is noticed and the stream closed).
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, cast

from moor.api.wire import CHUNK_LINE, CHUNK_SIZE, Limits
from moor.errors import InvalidParameter, RequestTimeout, TooLarge

_PIECE = 1 << 20  # the most one read takes from the socket for a chunk


class LineReader(Protocol):
    """The buffered reading half of a connection (:class:`moor.api.wire.ConnectionReader`)."""

    def read(self, size: int = -1) -> bytes: ...

    def readline(self, limit: int = -1) -> bytes: ...


class BodyReader:
    """Reads a request body framed by Content-Length or chunked transfer encoding.

    A body that breaks its framing (a bad chunk size, an early end) raises :class:`InvalidParameter`, one
    that stalls raises :class:`RequestTimeout`; either marks the reader ``broken`` (every later read
    raises again), and the server closes the connection after its answer. ``on_start`` runs before the
    first read (the server's ``100 Continue``); ``done`` tells that the whole body was read.
    """

    def __init__(self, stream: LineReader, length: int | None, chunked: bool,
                 on_start: Callable[[], None] | None = None, max_line: int = 256 * 1024) -> None:
        self._stream = stream
        self.length = length
        self._remaining = length or 0
        self._chunked = chunked
        self._chunk_left = 0
        self.on_start = on_start
        self._max_line = max_line
        self.done = not chunked and not length
        self.started = False
        self.broken = False
        self.consumed = 0
        self.limit: int | None = None  # set by read_limited: a chunk that would pass it is refused at once

    def read(self, size: int = -1) -> bytes:
        if self.broken:
            raise InvalidParameter("the request body was cut short")
        if self.done or size == 0:
            return b""
        if not self.started:
            self.started = True
            if self.on_start is not None:
                self.on_start()
        try:
            data = self._read_chunked(size) if self._chunked else self._read_length(size)
        except TimeoutError:
            self.broken = True
            raise RequestTimeout("timed out reading the request body") from None
        except (InvalidParameter, TooLarge):
            self.broken = True
            raise
        except OSError as err:
            self.broken = True
            raise InvalidParameter(f"reading the request body: {err.strerror or err}") from None
        self.consumed += len(data)
        return data

    def _read_length(self, size: int) -> bytes:
        want = self._remaining if size < 0 else min(size, self._remaining)
        data = self._stream.read(want)
        self._remaining -= len(data)
        if len(data) < want:
            raise InvalidParameter("unexpected EOF: the request body is shorter than its Content-Length")
        self.done = self._remaining == 0
        return data

    def _chunk_header(self) -> None:
        line = self._stream.readline(CHUNK_LINE)
        if not line.endswith(b"\n"):
            raise InvalidParameter("unexpected EOF in chunked request body" if len(line) < CHUNK_LINE
                                   else "malformed chunked encoding: chunk size line too long")
        digits = line.split(b";", 1)[0].strip(b" \t\r\n")
        if not CHUNK_SIZE.match(digits):
            raise InvalidParameter(f"malformed chunked encoding: bad chunk size {digits[:20]!r}")
        self._chunk_left = int(digits, 16)
        if self.limit is not None and self.consumed + self._chunk_left > self.limit:
            raise TooLarge(f"request body too large: more than {self.limit} bytes")
        if self._chunk_left == 0:
            for _ in range(256):  # the trailer: header lines up to a blank one
                trailer = self._stream.readline(self._max_line)
                if trailer in (b"\r\n", b"\n"):
                    self.done = True
                    return
                if not trailer.endswith(b"\n"):
                    raise InvalidParameter("unexpected EOF in chunked request body")
            raise InvalidParameter("malformed chunked encoding: trailer too long")

    def _read_chunked(self, size: int) -> bytes:
        parts: list[bytes] = []
        wanted = size if size >= 0 else None
        while not self.done and (wanted is None or wanted > 0):
            if self._chunk_left == 0:
                self._chunk_header()
                if self.done:
                    break
            take = min(self._chunk_left, _PIECE if wanted is None else wanted, _PIECE)
            data = self._stream.read(take)
            if len(data) < take:
                raise InvalidParameter("unexpected EOF in chunked request body")
            parts.append(data)
            self._chunk_left -= len(data)
            if wanted is not None:
                wanted -= len(data)
            if self._chunk_left == 0 and self._stream.readline(3) not in (b"\r\n", b"\n"):
                raise InvalidParameter("malformed chunked encoding: chunk data longer than its size")
            if wanted is not None:
                break
        return b"".join(parts)

    def read_limited(self, limit: int) -> bytes:
        """The whole body, refused (:class:`TooLarge`) as soon as it is known to pass ``limit`` bytes."""
        if self.length is not None and self.length > limit:
            raise TooLarge(f"request body too large: {self.length} bytes, at most {limit} are accepted")
        self.limit = limit
        parts: list[bytes] = []
        total = 0
        while not self.done:
            data = self.read(min(65536, limit + 1 - total))
            parts.append(data)
            total += len(data)
            if total > limit:
                raise TooLarge(f"request body too large: more than {limit} bytes")
        return b"".join(parts)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(65536):
            pass


def json_too_deep(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` in ``value`` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object with its keys interned: a container's record keeps its create body's objects for its
    whole life, and a thousand records then share one copy of each key (17 kB a record becomes 10 kB)."""
    return {sys.intern(key): value for key, value in pairs}


def parse_json(data: bytes | str, limit: int) -> Any:
    """``json.loads`` of UTF-8 text (as Go reads it: no UTF-16 guessing) that refuses nesting deeper than
    ``limit`` (ValueError ``exceeded max depth``, Go's words); the objects' keys interned (:func:`_object`)."""
    try:
        value = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data, object_pairs_hook=_object)
    except RecursionError:
        raise ValueError("exceeded max depth") from None
    if isinstance(value, (dict, list)) and json_too_deep(value, limit):
        raise ValueError("exceeded max depth")
    return value


@dataclass
class Request:
    """One HTTP request, with the API version prefix already taken off the path."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: BodyReader
    version: str
    connection: socket.socket | None = None
    params: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)

    def arg(self, name: str, default: str = "") -> str:
        """A query parameter's first value, as Go's ``Form.Get`` (docker-py repeats ``dockerfile``)."""
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter as Docker reads them (1/true/True; 0/false/empty)."""
        value = self.arg(name, "")
        if value == "":
            return default
        return value.lower() not in ("0", "false", "no")

    def int_arg(self, name: str, default: int = 0) -> int:
        value = self.arg(name, "")
        if value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise InvalidParameter(f"invalid value for {name}: {value!r} is not an integer") from None

    def json_arg(self, name: str) -> Any:
        value = self.arg(name, "")
        if not value:
            return None
        try:
            return parse_json(value, self.limits.max_json_depth)
        except ValueError:
            raise InvalidParameter(f"invalid {name} parameter: malformed JSON") from None

    def body_file(self) -> IO[bytes]:
        """The body as the binary file the services read (a tar, an image archive): :class:`BodyReader` has the
        reading half of a file's interface (``read``, ``readinto``, ``readable``), which is all they use."""
        return cast(IO[bytes], self.body)

    def json(self, required: bool = False) -> Any:
        """The body as JSON: at most ``limits.max_json_bytes`` (:class:`TooLarge`), nested at most
        ``limits.max_json_depth`` deep."""
        data = self.body.read_limited(self.limits.max_json_bytes)
        if not data.strip():
            if required:
                raise InvalidParameter("config cannot be empty in order to create a container")
            return None
        try:
            return parse_json(data, self.limits.max_json_depth)
        except ValueError as err:
            raise InvalidParameter(f"invalid JSON: {err}") from None


@dataclass
class Response:
    """A whole (or streamed, when ``stream`` is set) response."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None


@dataclass
class Hijack:
    """Take over the connection: send ``status`` headers, then hand the socket to ``run``."""

    run: Callable[[socket.socket, IO[bytes]], None]
    status: int = 101
    content_type: str = "application/vnd.docker.raw-stream"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, body=json.dumps(value).encode() + b"\n", headers=headers or {})


def json_lines(items: Iterable[Any]) -> Iterator[bytes]:
    for item in items:
        yield json.dumps(item).encode() + b"\r\n"


Handler = Callable[[Request], "Response | Hijack"]
