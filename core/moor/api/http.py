"""A small threaded HTTP/1.1 server on a Unix socket that can hijack connections.

The Docker Engine API needs three kinds of answer: a whole body (JSON), a
streamed body (chunked: progress of ``load``/``pull``, ``logs --follow``,
events) and a hijacked connection (``attach`` and ``exec`` upgrade the
connection after a 101/200 header and then speak raw bytes both ways). The
stdlib's :mod:`http.server` gives us the raw socket of each connection, which
makes the third easy; one thread per connection is fine for a daemon whose
clients are CLIs.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import socketserver
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import IO, Any, cast
from urllib.parse import parse_qs, urlsplit

from moor.errors import InvalidParameter

log = logging.getLogger(__name__)


class BodyReader:
    """Reads a request body framed by Content-Length or chunked transfer encoding."""

    def __init__(self, stream: io.BufferedIOBase, length: int | None, chunked: bool) -> None:
        self._stream = stream
        self._remaining = length if length is not None else (0 if not chunked else None)
        self._chunked = chunked
        self._chunk_left = 0
        self._done = False

    def read(self, size: int = -1) -> bytes:
        if self._chunked:
            return self._read_chunked(size)
        assert self._remaining is not None
        if self._remaining <= 0:
            return b""
        want = self._remaining if size < 0 else min(size, self._remaining)
        data = self._stream.read(want)
        self._remaining -= len(data)
        if len(data) < want and size < 0:
            raise InvalidParameter("unexpected EOF: the request body is shorter than its Content-Length")
        return data

    def _read_chunked(self, size: int) -> bytes:
        parts: list[bytes] = []
        wanted = size if size >= 0 else None
        while not self._done and (wanted is None or wanted > 0):
            if self._chunk_left == 0:
                line = self._stream.readline(1024)
                if not line:
                    raise InvalidParameter("unexpected EOF in chunked request body")
                try:
                    self._chunk_left = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise InvalidParameter("malformed chunk size in request body") from None
                if self._chunk_left == 0:
                    while self._stream.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    self._done = True
                    break
            take = self._chunk_left if wanted is None else min(wanted, self._chunk_left)
            data = self._stream.read(take)
            if not data:
                raise InvalidParameter("unexpected EOF in chunked request body")
            parts.append(data)
            self._chunk_left -= len(data)
            if wanted is not None:
                wanted -= len(data)
            if self._chunk_left == 0:
                self._stream.readline(16)
            if wanted is not None and parts:
                break
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

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

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
            return json.loads(value)
        except ValueError:
            raise InvalidParameter(f"invalid {name} parameter: malformed JSON") from None

    def body_file(self) -> IO[bytes]:
        """The body as the binary file the services read (a tar, an image archive): :class:`BodyReader` has the
        reading half of a file's interface (``read``, ``readinto``, ``readable``), which is all they use."""
        return cast(IO[bytes], self.body)

    def json(self, required: bool = False) -> Any:
        data = self.body.read()
        if not data.strip():
            if required:
                raise InvalidParameter("config cannot be empty in order to create a container")
            return None
        try:
            return json.loads(data)
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


class RequestHandler(BaseHTTPRequestHandler):
    """Parses a request, asks the application for an answer, writes it."""

    protocol_version = "HTTP/1.1"
    server: UnixHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s", format % args)

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._dispatch()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length_header = self.headers.get("Content-Length")
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            length = int(length_header) if length_header is not None else None
        except ValueError:
            self.send_error(400, "bad Content-Length")
            return
        body = BodyReader(self.rfile, length, chunked)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            version="",
            connection=self.connection,
        )
        answer = self.server.app(request)
        if isinstance(answer, Hijack):
            self._hijack(answer)
            return
        try:
            body.drain()
        except Exception:  # noqa: BLE001 - the client sent a broken body we did not need: drop the connection
            self.close_connection = True
        self._write(request, answer)

    def _common_headers(self) -> None:
        for key, value in self.server.extra_headers.items():
            self.send_header(key, value)

    def _write(self, request: Request, response: Response) -> None:
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        self._common_headers()
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.content_type and response.status not in (204, 304):
            self.send_header("Content-Type", response.content_type)
        if response.stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            for chunk in response.stream:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if request.method != "HEAD" and response.status not in (204, 304):
            self.wfile.write(response.body)
        self.wfile.flush()

    def _hijack(self, hijack: Hijack) -> None:
        self.send_response_only(hijack.status)
        self._common_headers()
        self.send_header("Content-Type", hijack.content_type)
        if hijack.status == 101:
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "tcp")
        for key, value in hijack.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        hijack.run(self.connection, cast(IO[bytes], self.rfile))  # the connection's buffered reader


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves ``app`` on a Unix socket, one thread per connection."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, path: str, app: Callable[[Request], Response | Hijack],
                 extra_headers: dict[str, str], mode: int = 0o660) -> None:
        self.app = app
        self.extra_headers = extra_headers
        if os.path.exists(path) or os.path.islink(path):
            os.unlink(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        old_umask = os.umask(0o177)
        try:
            super().__init__(path, RequestHandler)
        finally:
            os.umask(old_umask)
        os.chmod(path, mode)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, _ = self.socket.accept()
        return conn, ("unix", 0)
