"""A tiny stand-in for moord on a Unix socket: canned answers per route, every request recorded.

CLI unit tests point ``moor -H unix://...`` at it to see what the CLI sends (paths, queries, headers,
bodies) and how it prints what the daemon answers (JSON, streams, errors), without root or a real daemon.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: send the body, then keep the connection open until the client leaves or the fake stops
    open_ended: bool = False
    #: send the body as it is (no Content-Length added), then close: a chunked body cut short, say
    raw: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


def json_answer(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})})


def error_answer(status: int, message: str) -> Answer:
    return json_answer({"message": message}, status)


def stream_answer(messages: list[dict[str, Any]]) -> Answer:
    """A progress stream as dockerd writes it: one JSON object per line, ``\\r\\n`` after each."""
    body = b"".join(json.dumps(m, separators=(",", ":")).encode() + b"\r\n" for m in messages)
    return Answer(200, body, {"Content-Type": "application/json"})


class FakeDaemon:
    """Serve ``routes`` on ``<directory>/fake.sock``; use as a context manager."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "fake.sock")
        self.host = f"unix://{self.path}"
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[Recorded] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._stopping = threading.Event()
        #: set when a client left an open-ended answer
        self.left = threading.Event()

    def on(self, method: str, path: str, *answers: Answer) -> None:
        """Answer ``method path`` with ``answers`` in turn (the last one again and again)."""
        self.routes[(method, path)] = list(answers)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if (r.method, r.path) == (method, path)]

    def __enter__(self) -> FakeDaemon:
        self._server.bind(self.path)
        self._server.listen(8)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopping.set()
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        except OSError:
            pass
        self._server.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                try:
                    self._answer(conn)
                except OSError:
                    pass

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        body = self._body(conn, headers, rest)
        url = urlsplit(target)
        path = url.path
        if path.startswith("/v1."):
            path = "/" + path.split("/", 2)[2]
        self.requests.append(Recorded(method, path, parse_qs(url.query, keep_blank_values=True), headers, body))
        answers = self.routes.get((method, path))
        if not answers:
            answer = error_answer(404, f"page not found: {method} {path}")
        else:
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
        reason = {200: "OK", 201: "Created", 204: "No Content"}.get(answer.status, "Error")
        out = f"HTTP/1.1 {answer.status} {reason}\r\n"
        length = {} if answer.open_ended or answer.raw else {"Content-Length": str(len(answer.body))}
        for key, value in {**answer.headers, **length, "Connection": "close"}.items():
            out += f"{key}: {value}\r\n"
        conn.sendall(out.encode() + b"\r\n" + answer.body)
        if answer.open_ended:
            conn.settimeout(0.1)
            while not self._stopping.is_set():
                try:
                    if not conn.recv(1):
                        self.left.set()
                        return
                except TimeoutError:
                    continue

    @staticmethod
    def _body(conn: socket.socket, headers: dict[str, str], rest: bytes) -> bytes:
        if "content-length" in headers:
            size = int(headers["content-length"])
            while len(rest) < size:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                rest += chunk
            return rest[:size]
        if "chunked" in headers.get("transfer-encoding", ""):
            while not rest.endswith(b"0\r\n\r\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                rest += chunk
            body, data = b"", rest
            while data:
                size_line, _, data = data.partition(b"\r\n")
                size = int(size_line, 16)
                if size == 0:
                    break
                body, data = body + data[:size], data[size + 2:]
            return body
        return b""
