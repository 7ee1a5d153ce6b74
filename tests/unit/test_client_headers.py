"""moor.client.Client's default headers: sent with every request, under the request's own."""

from __future__ import annotations

import os
import socket
import tempfile
import threading

from moor.client import Client


def _serve_once(path: str, heads: list[bytes]) -> threading.Thread:
    """A Unix socket server answering one request with ``{}``; the request's head is kept in ``heads``."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                heads.append(data.split(b"\r\n\r\n", 1)[0])
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def _head_of(client_headers: dict[str, str] | None, request_headers: dict[str, str] | None) -> list[str]:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "s.sock")
        heads: list[bytes] = []
        thread = _serve_once(path, heads)
        assert Client(f"unix://{path}", headers=client_headers).call("GET", "/info", headers=request_headers) == {}
        thread.join(5)
    return heads[0].decode().split("\r\n")


def test_default_headers_go_with_every_request() -> None:
    lines = _head_of({"X-Moor-Actor": "alice"}, None)
    assert "X-Moor-Actor: alice" in lines


def test_a_request_header_wins_over_a_default_one() -> None:
    lines = _head_of({"X-Moor-Actor": "alice"}, {"X-Moor-Actor": "bob"})
    assert "X-Moor-Actor: bob" in lines
    assert "X-Moor-Actor: alice" not in lines


def test_without_default_headers_none_is_added() -> None:
    lines = _head_of(None, None)
    assert not any(line.lower().startswith("x-moor-actor") for line in lines)
