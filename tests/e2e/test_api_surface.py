"""The paths of the Engine API that a host without swarm or plugins serves, from a real moord, as Docker 20.10
answers them (checked against a private dockerd): the swarm family's 503s, no plugins, OPTIONS and HEAD of
``/_ping``, and percent-encoded path segments decoded one by one; docker-py and the docker CLI read them."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess

import docker
import pytest

from e2e.containerhelpers import moor, moord, ok  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess, UnixHTTPConnection

pytestmark = pytest.mark.root

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this '
                 "node to swarm and try again.")


def raw(daemon: DaemonProcess, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = UnixHTTPConnection(daemon.socket, timeout=30)
    connection.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), [
    ("GET", "/v1.41/swarm", None, 503, NOT_A_MANAGER),
    ("POST", "/v1.41/swarm/leave?force=1", None, 503, "This node is not part of a swarm"),
    ("GET", "/services", None, 503, NOT_A_MANAGER),
    ("GET", "/nodes", None, 503, NOT_A_MANAGER),
    ("GET", "/tasks", None, 503, NOT_A_MANAGER),
    ("POST", "/secrets/create", b'{"Name": "s"}', 503, NOT_A_MANAGER),
    ("GET", "/configs", None, 503, NOT_A_MANAGER),
    ("POST", "/services/x/update", b"{}", 400, "invalid service version '': strconv.ParseUint: parsing \"\": "
                                                "invalid syntax"),
    ("GET", "/plugins/foo/json", None, 404, 'plugin "foo" not found'),
    ("POST", "/session", None, 400, "no upgrade proto in request"),
    ("GET", "/containers/x/checkpoints", None, 501, "This experimental feature is disabled by default. Start the "
                                                    "Docker daemon in experimental mode in order to enable it."),
    ("DELETE", "/networks/test%2001", None, 404, "network test 01 not found"),
    ("DELETE", "/networks/a%2Fb", None, 404, "network a/b not found"),
    ("GET", "/images/busybox%3Anope/json", None, 404, "No such image: busybox:nope"),
])
def test_answers_as_docker_without_swarm_or_plugins(moord: DaemonProcess, method: str, path: str,
                                                    body: bytes | None, status: int, message: str) -> None:
    answer = raw(moord, method, path, body)
    assert (answer[0], json.loads(answer[2])) == (status, {"message": message})


def test_no_plugins_and_empty_options_and_head_ping(moord: DaemonProcess) -> None:
    status, _, body = raw(moord, "GET", "/v1.41/plugins")
    assert (status, json.loads(body)) == (200, [])
    status, headers, body = raw(moord, "OPTIONS", "/v1.41/containers/json")
    assert (status, body, headers["content-length"]) == (200, b"", "0")
    status, headers, body = raw(moord, "HEAD", "/_ping")
    assert (status, body, headers["content-length"]) == (200, b"", "0")


def test_docker_py_leaves_no_swarm_and_lists_no_plugins(moord: DaemonProcess) -> None:
    client = docker.APIClient(base_url=moord.host, version="1.41")
    try:
        assert client.leave_swarm(force=True) is True  # docker-py's tearDown of its network tests
        assert client.plugins() == []
        with pytest.raises(docker.errors.APIError) as caught:
            client.services()
        assert caught.value.status_code == 503
    finally:
        client.close()


@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
def test_the_docker_cli_reads_the_answers(moord: DaemonProcess) -> None:
    env = {**os.environ, "DOCKER_HOST": moord.host}
    plugins = subprocess.run(["docker", "plugin", "ls"], capture_output=True, text=True, env=env, timeout=60)
    assert plugins.returncode == 0 and plugins.stdout.split() == ["ID", "NAME", "DESCRIPTION", "ENABLED"]
    leave = subprocess.run(["docker", "swarm", "leave"], capture_output=True, text=True, env=env, timeout=60)
    assert leave.returncode == 1 and "This node is not part of a swarm" in leave.stderr
    services = subprocess.run(["docker", "service", "ls"], capture_output=True, text=True, env=env, timeout=60)
    assert services.returncode == 1 and "This node is not a swarm manager" in services.stderr


def _ws_connect(daemon: DaemonProcess, container: str, query: str) -> tuple[socket.socket, bytes]:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(30)
    sock.connect(daemon.socket)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /v1.41/containers/{container}/attach/ws?{query} HTTP/1.1\r\nHost: localhost\r\n"
                 f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 "Sec-WebSocket-Version: 13\r\nOrigin: http://localhost\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ") and b"Upgrade: websocket" in head, head
    return sock, rest


def _ws_messages(sock: socket.socket, rest: bytes) -> list[tuple[int, bytes]]:
    """Every frame the daemon sends until the connection ends."""
    data = rest
    while chunk := sock.recv(65536):
        data += chunk
    frames = []
    while data:
        opcode, size, at = data[0] & 0x0F, data[1] & 0x7F, 2
        if size == 126:
            size, at = int.from_bytes(data[2:4], "big"), 4
        frames.append((opcode, data[at:at + size]))
        data = data[at + size:]
    return frames


@pytest.mark.parametrize("tty", [False, True])
def test_a_websocket_attach_carries_output_and_input(moord: DaemonProcess, tty: bool) -> None:
    config = {"Image": "busybox", "Cmd": ["sh", "-c", "printf first; read line; echo got $line"], "OpenStdin": True,
              "StdinOnce": True, "Tty": tty}
    status, _, body = raw(moord, "POST", "/containers/create", json.dumps(config).encode())
    assert status == 201, body
    container = json.loads(body)["Id"]
    try:
        sock, rest = _ws_connect(moord, container, "stdin=1&stdout=1&stderr=1&stream=1")
        ok(moor(moord, "start", container))
        mask = os.urandom(4)
        message = b"hello\n"
        sock.sendall(bytes([0x82, 0x80 | len(message)]) + mask + bytes(b ^ mask[i % 4] for i, b in
                                                                       enumerate(message)))
        frames = _ws_messages(sock, rest)
        sock.close()
    finally:
        moor(moord, "rm", "-f", container)
    assert frames[-1] == (0x8, b"\x03\xe8")  # a normal close
    output = b"".join(payload for opcode, payload in frames[:-1])
    assert {opcode for opcode, _ in frames[:-1]} == {0x2}
    assert output.replace(b"\r\n", b"\n").endswith(b"got hello\n") and output.startswith(b"first")
