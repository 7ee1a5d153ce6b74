"""Requests are routed on the percent-decoded path, as Go's net/http gives Docker's router its URL.Path."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from moor.api.app import Application
from moor.api.http import Request, Response, json_response
from moor.api.router import Router
from moor.testing.apiserver import serving


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[str]:
    router = Router()

    @router.route("GET", "/images/{name:path}/json")
    def inspect(_request: Request, name: str) -> Response:
        return json_response({"name": name})

    with serving(str(tmp_path / "api.sock"), Application(router)) as server:
        yield str(server.server_address)


def get(path: str, target: str) -> tuple[int, bytes]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(("target", "name"), [
    ("/v1.41/images/busybox%3Alatest/json", "busybox:latest"),
    ("/images/localhost%3A5000%2Fteam%2Fapp/json", "localhost:5000/team/app"),
    ("/images/plain/json?x=%3A", "plain"),
])
def test_the_path_is_decoded_before_routing(socket_path: str, target: str, name: str) -> None:
    status, body = get(socket_path, target)
    assert status == 200 and json.loads(body) == {"name": name}


def test_a_nul_byte_in_the_decoded_path_names_nothing(socket_path: str) -> None:
    status, body = get(socket_path, "/images/a%00b/json")
    assert status == 404 and b"NUL byte" in body
