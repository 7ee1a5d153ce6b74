"""A plain HTTP client over a Unix socket for hostile cases: any method, any body, a timeout, raw bytes back."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from moor.testing.daemon import UnixHTTPConnection

#: the longest a well-behaved server may take to answer one hostile request
TIMEOUT = 20.0


@dataclass
class Answer:
    """What the daemon answered: status (0 when it closed without answering), headers, body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def message(self) -> str:
        """Docker's ``{"message": ...}`` of an error answer ("" when the body is not that)."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return ""
        return str(value.get("message", "")) if isinstance(value, dict) else ""

    def json(self) -> Any:
        return json.loads(self.body)


def call(socket_path: str, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = TIMEOUT) -> Answer:
    """One request; the whole answer read (streams too, so only call endpoints that end)."""
    connection = UnixHTTPConnection(socket_path, timeout=timeout)
    try:
        sent = {"Content-Type": "application/json"} if body is not None else {}
        sent.update(headers or {})
        try:
            connection.request(method, path, body=body, headers=sent)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse before it read the whole body: its answer is still there
        try:
            response = connection.getresponse()
            data = response.read()
        except (ConnectionError, http.client.HTTPException):
            return Answer(0, {}, b"")
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


def call_json(socket_path: str, method: str, path: str, value: Any = None, timeout: float = TIMEOUT) -> Answer:
    return call(socket_path, method, path, None if value is None else json.dumps(value).encode(), timeout=timeout)


def query(params: dict[str, str]) -> str:
    """``?a=b&c=d`` with every byte of the values percent-encoded as needed."""
    if not params:
        return ""
    return "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())


@dataclass
class RawResult:
    """What came back on a raw connection, and whether the server closed it (else the read timed out)."""

    data: bytes
    closed: bool


def raw_exchange(socket_path: str, data: bytes | list[bytes], timeout: float = TIMEOUT,
                 shut_write: bool = False) -> RawResult:
    """Send raw bytes (a list: one send each), read until the server closes or is quiet for ``timeout``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(socket_path)
    received, closed = b"", False
    try:
        try:
            for part in data if isinstance(data, list) else [data]:
                sock.sendall(part)
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                closed = True
                break
            except TimeoutError:
                break
            if not chunk:
                closed = True
                break
            received += chunk
    finally:
        sock.close()
    return RawResult(received, closed)


def first_status(raw: bytes) -> int:
    """The status code of the first response in ``raw`` (0 when there is none)."""
    line = raw.split(b"\r\n", 1)[0].split()
    if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
        return int(line[1])
    return 0


def statuses(raw: bytes) -> list[int]:
    """Status codes of every response in ``raw`` (pipelined answers)."""
    found = []
    for part in raw.split(b"HTTP/1.")[1:]:
        fields = part.split(b" ", 2)
        if len(fields) >= 2 and fields[1][:3].isdigit():
            found.append(int(fields[1][:3]))
    return found

