"""HTTP/1.1 on the wire: a connection's buffered reader, the request head and the limits a peer must keep.

Nothing here knows a route. The server (:mod:`moor.api.server`) reads a request head into a
:class:`ConnectionReader`, :func:`parse_head` checks it against :class:`Limits` and either returns a
:class:`Head` or raises :class:`HttpError`, which the server answers by itself (400, 413, 431, 501, 505)
before closing the connection.
"""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import dataclass
from http import HTTPStatus


@dataclass(frozen=True)
class Limits:
    """What one peer may ask of the server, and how long it may take (Go's net/http sizes where Docker has one)."""

    max_line: int = 256 * 1024  #: the request line, and each header line
    max_header_bytes: int = 1 << 20  #: request line and headers together (Go's DefaultMaxHeaderBytes)
    max_headers: int = 256  #: header lines in one request
    header_timeout: float = 10.0  #: from a request's first byte to the end of its head (and of a buffered body)
    body_timeout: float = 120.0  #: the longest silence while a body is read
    idle_timeout: float = 120.0  #: a kept-alive connection without a request is closed after this
    send_timeout: float = 30.0  #: the longest a client may leave a whole answer unread (it holds a worker)
    buffered_body: int = 1 << 20  #: a body up to this size is read before the handler runs, off the pool
    drain_bytes: int = 256 * 1024  #: an unread body up to this size is skipped to keep the connection
    drain_timeout: float = 2.0  #: ... and read for at most this long
    max_json_bytes: int = 8 << 20  #: a JSON request body (archives and images are streamed, never capped)
    max_json_depth: int = 100  #: arrays and objects nested in a JSON body or parameter
    workers: int = 64  #: threads serving ordinary requests
    streams: int = 512  #: streamed answers and hijacked connections served at once, each by its own thread
    max_connections: int = 1000  #: open connections; more wait in the listen backlog
    tick: float = 1.0  #: how often an idle stream looks at its client (streams yield an empty chunk)


class HttpError(Exception):
    """A request the transport refuses before any route sees it; answered, then the connection is closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConnectionReader:
    """The reading half of a connection, with a buffer the server can see into.

    What arrives beyond one request is the next request (pipelining) or, after a hijack, the first bytes
    of the raw stream; the buffer keeps it for whoever reads next. ``deadline`` (a ``time.monotonic()``
    value) bounds every read on top of the socket's own timeout.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.deadline: float | None = None

    def fill(self) -> bool:
        """Receive once into the buffer; False at end of stream. ``TimeoutError`` past the deadline."""
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("read deadline passed")
            previous = self.sock.gettimeout()
            self.sock.settimeout(remaining if previous is None else min(previous, remaining))
            try:
                data = self.sock.recv(65536)
            finally:
                self.sock.settimeout(previous)
        else:
            data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def fill_available(self) -> bool:
        """Take what the (non-blocking) socket holds without waiting; False at end of stream."""
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        if not data:
            return False
        self.buffer += data
        return True

    def _take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes (fewer only at end of stream); all until the end when ``size`` < 0."""
        while (size < 0 or len(self.buffer) < size) and self.fill():
            pass
        return self._take(len(self.buffer) if size < 0 else size)

    def read1(self, size: int = -1) -> bytes:
        """What is buffered, or one receive's worth: at most ``size`` bytes, b"" at end of stream."""
        if not self.buffer:
            self.fill()
        return self._take(len(self.buffer) if size < 0 else size)

    def readinto(self, target: bytearray | memoryview) -> int:
        data = self.read1(len(target))
        target[: len(data)] = data
        return len(data)

    def readline(self, limit: int = -1) -> bytes:
        """One line with its ``\\n``; at most ``limit`` bytes; what is left at end of stream."""
        start = 0
        while True:
            end = len(self.buffer) if limit < 0 else min(len(self.buffer), limit)
            found = self.buffer.find(b"\n", start, end)
            if found >= 0:
                return self._take(found + 1)
            if limit >= 0 and len(self.buffer) >= limit:
                return self._take(limit)
            start = end
            if not self.fill():
                return self._take(len(self.buffer))

    def readable(self) -> bool:
        return True

    def head_end(self) -> int:
        """Where the request head in the buffer ends (after its blank line), or -1 while incomplete.

        One empty line before the request line is part of the head (RFC 9112 2.2: a server ignores it).
        """
        start = _leading_blank(self.buffer)
        found = [i for i in (self.buffer.find(b"\r\n\r\n", start), self.buffer.find(b"\n\n", start)) if i >= 0]
        if not found:
            return -1
        at = min(found)
        return at + (4 if self.buffer[at:at + 4] == b"\r\n\r\n" else 2)


def _leading_blank(data: bytes | bytearray) -> int:
    """The length of one empty line at the start of ``data`` (0 when there is none)."""
    return 2 if data[:2] == b"\r\n" else 1 if data[:1] == b"\n" else 0


@dataclass
class Head:
    """A request line and its headers, checked."""

    method: str
    target: str
    version: str
    headers: dict[str, str]
    content_length: int | None
    chunked: bool

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


#: a chunk size: 1 to 16 hex digits (Go refuses more too: "http chunk length too large"); no sign, no 0x
CHUNK_SIZE = re.compile(rb"^[0-9a-fA-F]{1,16}$")
CHUNK_LINE = 4096  #: the longest chunk-size line, extensions included

#: what :func:`scan_chunked` found
BODY_COMPLETE, BODY_INCOMPLETE, BODY_TOO_LONG, BODY_MALFORMED = "complete", "incomplete", "too long", "malformed"


def scan_chunked(data: bytes | bytearray, start: int, limit: int) -> tuple[str, int]:
    """How far a chunked body at the start of ``data`` has arrived, scanning on from ``start``.

    Returns (what, where): ``BODY_COMPLETE`` and its end; ``BODY_INCOMPLETE`` and where to scan on
    once more came; ``BODY_TOO_LONG`` when it passes ``limit`` bytes; ``BODY_MALFORMED`` (the reader of
    the body will say what is wrong).
    """
    position = start
    while True:
        if position > limit:
            return BODY_TOO_LONG, position
        line_end = data.find(b"\n", position, position + CHUNK_LINE)
        if line_end < 0:
            return (BODY_MALFORMED if len(data) - position >= CHUNK_LINE else BODY_INCOMPLETE), position
        digits = bytes(data[position:line_end]).split(b";", 1)[0].strip(b" \t\r")
        if not CHUNK_SIZE.match(digits):
            return BODY_MALFORMED, position
        size = int(digits, 16)
        if size == 0:
            cursor = line_end + 1
            while True:  # the trailer, up to an empty line
                trailer_end = data.find(b"\n", cursor)
                if trailer_end < 0:
                    return (BODY_TOO_LONG if len(data) > limit else BODY_INCOMPLETE), position
                if data[cursor:trailer_end] in (b"", b"\r"):
                    return BODY_COMPLETE, trailer_end + 1
                cursor = trailer_end + 1
        data_end = line_end + 1 + size
        if data_end > limit:
            return BODY_TOO_LONG, position
        if data[data_end:data_end + 2] == b"\r\n":
            position = data_end + 2
        elif data[data_end:data_end + 1] == b"\n":
            position = data_end + 1
        elif len(data) < data_end + 2:
            return BODY_INCOMPLETE, position
        else:
            return BODY_MALFORMED, position


_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(r"^[0-9]{1,18}$")


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(400, f"malformed HTTP request: {what} is not UTF-8") from None


def parse_head(raw: bytes, limits: Limits) -> Head:
    """Check a request head (the bytes up to and with its blank line) against ``limits``."""
    lines = raw[_leading_blank(raw):].split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    while lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise HttpError(400, "malformed HTTP request: no request line")
    if len(lines[0]) > limits.max_line:
        raise HttpError(414, "request URI too long")
    request_line = _text(lines[0], "the request line")
    parts = request_line.split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1] or _BAD_VALUE.search(parts[1]) \
            or " " in parts[1]:
        raise HttpError(400, f"malformed HTTP request {request_line[:100]!r}")
    method, target, version = parts
    if not re.match(r"^HTTP/\d\.\d$", version):
        raise HttpError(400, f"malformed HTTP version {version[:20]!r}")
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(505, f"unsupported HTTP version {version}")
    if not target.startswith("/"):
        raise HttpError(400, f"malformed request target {target[:100]!r}")
    if len(lines) - 1 > limits.max_headers:
        raise HttpError(431, f"too many header fields (at most {limits.max_headers})")
    headers: dict[str, str] = {}
    lengths: list[str] = []
    encodings: list[str] = []
    for line in lines[1:]:
        if len(line) > limits.max_line:
            raise HttpError(431, "header field too large")
        text = _text(line, "a header field")
        name, colon, value = text.partition(":")
        if not colon or not _TOKEN.match(name):
            raise HttpError(400, f"malformed header field {text[:100]!r}")
        value = value.strip(" \t")
        if _BAD_VALUE.search(value):
            raise HttpError(400, f"invalid character in header field {name[:100]!r}")
        key = name.lower()
        if key == "content-length":
            lengths.append(value)
        elif key == "transfer-encoding":
            encodings.append(value)
        headers[key] = f"{headers[key]}, {value}" if key in headers and key not in ("host",) else value
    return Head(method, target, version, headers, *_framing(lengths, encodings))


def _framing(lengths: list[str], encodings: list[str]) -> tuple[int | None, bool]:
    """Content-Length and Transfer-Encoding, as RFC 9112 6 wants them (one framing, no ambiguity)."""
    if encodings:
        codings = [c.strip().lower() for value in encodings for c in value.split(",") if c.strip()]
        if codings != ["chunked"]:
            raise HttpError(501, f"unsupported transfer encoding: {', '.join(encodings)[:100]!r}")
        if lengths:
            raise HttpError(400, "malformed HTTP request: both Content-Length and Transfer-Encoding")
        return None, True
    if not lengths:
        return None, False
    values = {value.strip() for value in ",".join(lengths).split(",")}
    if len(values) != 1 or not _DIGITS.match(next(iter(values))):
        raise HttpError(400, f"bad Content-Length {', '.join(lengths)[:100]!r}")
    return int(values.pop()), False


def answer_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """A status line and header fields, ready to send."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def error_body(message: str) -> bytes:
    """Docker's ``{"message": ...}``."""
    return json.dumps({"message": message}).encode() + b"\n"
