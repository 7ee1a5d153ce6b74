"""A small Docker Engine API client over a Unix socket (stdlib only, for a fast CLI)."""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import IO, Any, Iterable, Iterator
from urllib.parse import quote, urlencode

from moor import API_VERSION

DEFAULT_HOST = "unix:///run/moor/moor.sock"


class DaemonError(Exception):
    """The daemon answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConnectError(Exception):
    """The daemon could not be reached."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None = None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def resolve_host(host: str | None) -> str:
    return host or os.environ.get("MOOR_HOST") or DEFAULT_HOST


class Client:
    """Talks to moord at ``host`` (``unix:///path``)."""

    def __init__(self, host: str | None = None) -> None:
        self.host = resolve_host(host)
        if not self.host.startswith("unix://"):
            raise ConnectError(f"unsupported host {self.host!r}: use unix:///path/to/socket")
        self.path = self.host[len("unix://"):]

    def _connect_error(self) -> ConnectError:
        return ConnectError(f"Cannot connect to the moor daemon at {self.host}. Is the moor daemon running?")

    def open(self, method: str, path: str, params: dict[str, Any] | None = None,
             body: bytes | Iterable[bytes] | IO[bytes] | None = None,
             headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        """Send a request and return the response once its headers arrived; raise on error status."""
        query = ""
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            query = "?" + urlencode(clean, doseq=True) if clean else ""
        url = f"/v{API_VERSION}{path}{query}"
        connection = _UnixConnection(self.path)
        all_headers = {"User-Agent": "moor-cli", **(headers or {})}
        if isinstance(body, (bytes, type(None))) or hasattr(body, "read"):
            send_body = body
        else:
            send_body = body
            all_headers["Transfer-Encoding"] = "chunked"
        try:
            connection.request(method, url, body=send_body, headers=all_headers,
                               encode_chunked="Transfer-Encoding" in all_headers)
            response = connection.getresponse()
        except (FileNotFoundError, ConnectionRefusedError, PermissionError):
            raise self._connect_error() from None
        except BrokenPipeError:
            response = connection.getresponse()
        if response.status >= 400:
            data = response.read()
            try:
                message = json.loads(data).get("message", "")
            except (ValueError, AttributeError):
                message = data.decode(errors="replace").strip()
            raise DaemonError(response.status, message or f"HTTP {response.status}")
        return response

    def call(self, method: str, path: str, params: dict[str, Any] | None = None,
             body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """Send a request, return the decoded JSON answer (or None for an empty body)."""
        if body is not None and not isinstance(body, (bytes, str)) and not hasattr(body, "read"):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        response = self.open(method, path, params, body, headers)
        data = response.read()
        if not data:
            return None
        if response.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(data)
        return data

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params)

    def stream_json(self, response: http.client.HTTPResponse) -> Iterator[dict[str, Any]]:
        """The JSON messages of a streamed answer (progress of load, pull, ...)."""
        buffer = b""
        while True:
            chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
        if buffer.strip():
            yield json.loads(buffer)


def quote_name(name: str) -> str:
    """An object name as a path segment (image names keep their slashes)."""
    return quote(name, safe="/:@")
