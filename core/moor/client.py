"""A small Docker Engine API client over a Unix socket (moby's ``client`` package beside its CLI).

The moor CLI talks to moord through it, and so do :mod:`moor.testing` and the benches: it
lives outside :mod:`moor.cli` so that nothing but the CLI imports the CLI.

Raw sockets and a hand-written HTTP/1.1 exchange instead of :mod:`http.client`:
the CLI must start fast (http.client pulls in the email package, ~25 ms), and
attach/exec need the raw socket after the response headers anyway.
"""

from __future__ import annotations

import _socket  # socket's C core: socket.py (enum classes, selectors) costs the CLI's start ~1.5 ms
import json
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

from moor import API_VERSION

DEFAULT_HOST = "unix:///run/moor/moor.sock"
_CHUNK = 65536

#: the bytes percent-encoding leaves as they are: RFC 3986's unreserved characters, as :func:`urllib.parse.quote`
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str, safe: str = "/") -> str:
    """``text`` percent-encoded as :func:`urllib.parse.quote` does it (UTF-8; unreserved and ``safe`` kept).

    Written out here because urllib.parse costs the CLI's start ~1.5 ms (it imports ipaddress)."""
    keep = _UNRESERVED.union(safe.encode())
    return "".join(chr(byte) if byte in keep else f"%{byte:02X}" for byte in text.encode())


def urlencode(params: dict[str, Any]) -> str:
    """A query string as :func:`urllib.parse.urlencode` (``doseq=True``) makes it: a list or tuple is one pair
    per item, spaces become ``+``."""

    def plus(value: Any) -> str:
        return quote(str(value), safe=" ").replace(" ", "+")

    pairs: list[str] = []
    for key, value in params.items():
        if isinstance(value, (list, tuple)):
            pairs.extend(f"{plus(key)}={plus(item)}" for item in value)
        else:
            pairs.append(f"{plus(key)}={plus(value)}")
    return "&".join(pairs)


class DaemonError(Exception):
    """The daemon answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConnectError(Exception):
    """The daemon could not be reached."""


class Response:
    """Status and headers of an answer; the body is read on demand from the socket."""

    def __init__(self, sock: _socket.socket, status: int, headers: dict[str, str], rest: bytes,
                 head_request: bool = False) -> None:
        self.sock = sock
        self.status = status
        self.headers = headers
        self._buffer = rest
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._remaining: int | None = int(length) if length is not None else None
        if head_request or status in (204, 304):
            self._remaining = 0
            self._chunked = False
        elif status == 101:  # a hijacked connection: raw bytes until the daemon closes
            self._remaining = None
            self._chunked = False
        self._chunk_left = 0
        self._done = False

    def getheader(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def _fill(self) -> bool:
        data = self.sock.recv(_CHUNK)
        if not data:
            return False
        self._buffer += data
        return True

    def _take(self, size: int) -> bytes:
        while not self._buffer:
            if not self._fill():
                return b""
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            if not self._fill():
                raise ConnectError("the daemon closed the connection mid-answer")
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def read1(self, size: int = _CHUNK) -> bytes:
        """Up to ``size`` bytes of the body as soon as any are there; b"" at its end."""
        if self._done:
            return b""
        if self._chunked:
            if self._chunk_left == 0:
                self._chunk_left = int(self._line().split(b";")[0], 16)
                if self._chunk_left == 0:
                    self._line()
                    self._done = True
                    return b""
            data = self._take(min(size, self._chunk_left))
            if not data:
                raise ConnectError("the daemon closed the connection mid-answer")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._line()
            return data
        if self._remaining is not None:
            if self._remaining == 0:
                self._done = True
                return b""
            data = self._take(min(size, self._remaining))
            if not data:
                raise ConnectError("the daemon closed the connection mid-answer")
            self._remaining -= len(data)
            return data
        data = self._take(size)
        self._done = not data
        return data

    def read(self) -> bytes:
        parts = []
        while True:
            data = self.read1()
            if not data:
                break
            parts.append(data)
        return b"".join(parts)

    def close(self) -> None:
        self.sock.close()


def resolve_host(host: str | None) -> str:
    return host or os.environ.get("MOOR_HOST") or DEFAULT_HOST


def _body_chunks(body: bytes | Iterable[bytes] | IO[bytes] | None) -> Iterator[bytes]:
    if body is None:
        return
    if isinstance(body, bytes):
        yield body
    elif hasattr(body, "read"):
        while True:
            data = body.read(_CHUNK)
            if not data:
                break
            yield data
    else:
        yield from body


class Client:
    """Talks to moord at ``host`` (``unix:///path``); ``headers`` go with every request (the web UI's
    ``X-Moor-Actor``), under the headers a request gives itself."""

    def __init__(self, host: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.host = resolve_host(host)
        self.headers = dict(headers or {})
        if not self.host.startswith("unix://"):
            raise ConnectError(f"unsupported host {self.host!r}: use unix:///path/to/socket")
        self.path = self.host[len("unix://"):]

    def _connect(self) -> _socket.socket:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise ConnectError(
                f"Cannot connect to the moor daemon at {self.host}. Is the moor daemon running?"
            ) from None
        return sock

    def open(self, method: str, path: str, params: dict[str, Any] | None = None,
             body: bytes | Iterable[bytes] | IO[bytes] | None = None,
             headers: dict[str, str] | None = None) -> Response:
        """Send a request and return the answer once its headers arrived; raise on an error status."""
        return self.receive(self.send(method, path, params, body, headers), method)

    def open_together(self, *requests: tuple[str, str, dict[str, Any] | None, dict[str, str] | None]) -> list[Response]:
        """Several requests (method, path, params, headers) sent at once, their answers' heads then read in
        order: one round trip for all (``run``'s attach and wait). An error status raises once every socket is
        closed."""
        socks: list[_socket.socket] = []
        responses: list[Response] = []
        try:
            for method, path, params, headers in requests:
                socks.append(self.send(method, path, params, None, headers))
            for sock, request in zip(socks, requests):
                responses.append(self.receive(sock, request[0]))
        except BaseException:
            for response in responses:
                response.close()
            for sock in socks[len(responses):]:
                sock.close()
            raise
        return responses

    def send(self, method: str, path: str, params: dict[str, Any] | None = None,
             body: bytes | Iterable[bytes] | IO[bytes] | None = None,
             headers: dict[str, str] | None = None) -> _socket.socket:
        """Connect and send a request, not waiting for its answer: :meth:`receive` reads that."""
        query = ""
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            query = "?" + urlencode(clean) if clean else ""
        all_headers = {"Host": "moor", "User-Agent": "moor-cli", **self.headers, **(headers or {})}
        if isinstance(body, bytes):
            all_headers["Content-Length"] = str(len(body))
        elif body is not None:
            all_headers["Transfer-Encoding"] = "chunked"
        head = f"{method} /v{API_VERSION}{path}{query} HTTP/1.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in all_headers.items()) + "\r\n"
        sock = self._connect()
        try:
            if isinstance(body, bytes):  # one write for the head and a small body: one wake-up of the daemon
                sock.sendall(head.encode() + body)
            else:
                sock.sendall(head.encode())
                for chunk in _body_chunks(body):
                    if chunk:
                        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                if body is not None:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon answered early (an error): read what it said
        return sock

    def receive(self, sock: _socket.socket, method: str = "GET") -> Response:
        """The answer to what :meth:`send` sent on ``sock``, once its headers arrived; raise on an error status."""
        response = self._read_head(sock, method == "HEAD")
        if response.status >= 400:
            data = response.read()
            response.close()
            try:
                message = json.loads(data).get("message", "")
            except (ValueError, AttributeError):
                message = data.decode(errors="replace").strip()
            raise DaemonError(response.status, message or f"HTTP {response.status}")
        return response

    def _read_head(self, sock: _socket.socket, head_request: bool) -> Response:
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(_CHUNK)
            if not data:
                sock.close()
                raise ConnectError("the daemon closed the connection without answering")
            buffer += data
        head, rest = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        return Response(sock, status, headers, rest, head_request)

    def call(self, method: str, path: str, params: dict[str, Any] | None = None,
             body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """Send a request, return the decoded JSON answer (raw bytes if not JSON, None if empty)."""
        return self.call_with_headers(method, path, params, body, headers)[0]

    def call_with_headers(self, method: str, path: str, params: dict[str, Any] | None = None,
                          body: Any = None, headers: dict[str, str] | None = None) -> tuple[Any, dict[str, str]]:
        """:meth:`call`, with the answer's headers (lower-case names) beside its decoded body."""
        if body is not None and not isinstance(body, (bytes, str)) and not hasattr(body, "read"):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        response = self.open(method, path, params, body, headers)
        try:
            data = response.read()
        finally:
            response.close()
        if not data:
            return None, response.headers
        if response.getheader("Content-Type").startswith("application/json"):
            return json.loads(data), response.headers
        return data, response.headers

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params)

    def stream(self, method: str, path: str, params: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Send a request whose answer is a JSON message stream (pull, push); an error status raises here,
        before any message is read, as :class:`DaemonError`."""
        return self.stream_json(self.open(method, path, params, None, headers))

    def stream_json(self, response: Response) -> Iterator[dict[str, Any]]:
        """The JSON messages of a streamed answer (progress of load, pull, ...)."""
        buffer = b""
        while True:
            chunk = response.read1()
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
        if buffer.strip():
            yield json.loads(buffer)
        response.close()


def quote_name(name: str) -> str:
    """An object name as a path segment (image names keep their slashes)."""
    return quote(name, safe="/:@")
