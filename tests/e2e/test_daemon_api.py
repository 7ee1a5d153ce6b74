"""moord serves the Docker Engine API shape on its Unix socket."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import moor, moord, ok, wait_for  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess, UnixHTTPConnection


def raw(daemon: DaemonProcess, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = UnixHTTPConnection(daemon.socket)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


@pytest.mark.parametrize("prefix", ["", "/v1.41", "/v1.24"])
def test_ping_get_and_head(daemon: DaemonProcess, prefix: str) -> None:
    status, headers, body = raw(daemon, "GET", f"{prefix}/_ping")
    assert (status, body) == (200, b"OK")
    assert headers["api-version"] == "1.44" and headers["ostype"] == "linux"
    status, headers, body = raw(daemon, "HEAD", f"{prefix}/_ping")
    assert (status, body) == (200, b"")
    assert headers["api-version"] == "1.44"


def test_version(daemon: DaemonProcess) -> None:
    status, headers, body = raw(daemon, "GET", "/v1.41/version")
    assert status == 200 and headers["content-type"] == "application/json"
    version = json.loads(body)
    assert version["ApiVersion"] == "1.44" and version["MinAPIVersion"] == "1.12"
    assert version["Os"] == "linux" and version["Components"][0]["Name"] == "Engine"


def test_info_names_the_drivers_in_use(daemon: DaemonProcess) -> None:
    info = daemon.client().get("/info")
    assert info["Driver"] == "overlay"
    assert dict(info["DriverStatus"])["Supports d_type"] in ("true", "false")
    assert "Backing Filesystem" in dict(info["DriverStatus"])
    assert info["Plugins"]["Volume"] == ["local"]
    assert info["Plugins"]["Network"] == ["bridge", "host", "none"]
    assert info["Plugins"]["Log"] == ["json-file", "none"]
    assert info["LoggingDriver"] == "json-file"
    assert info["DockerRootDir"] == daemon.data_root


@pytest.mark.parametrize("path", ["/nope", "/v1.41/nope", "/v1.41/containers/x/frobnicate"])
def test_unknown_path_is_404_with_message(daemon: DaemonProcess, path: str) -> None:
    status, headers, body = raw(daemon, "GET", path)
    assert status == 404 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "page not found"}


def test_too_new_api_version_is_refused(daemon: DaemonProcess) -> None:
    status, _, body = raw(daemon, "GET", "/v1.99/version")
    assert status == 400
    assert json.loads(body)["message"] == ("client version 1.99 is too new. "
                                           "Maximum supported API version is 1.44")


def test_too_old_api_version_is_refused(daemon: DaemonProcess) -> None:
    status, _, body = raw(daemon, "GET", "/v1.11/version")
    assert status == 400 and b"too old" in body  # plain text: every error below API 1.24 is


def test_wrong_method_on_known_path(daemon: DaemonProcess) -> None:
    status, _, body = raw(daemon, "DELETE", "/v1.41/version")
    assert status == 405 and "message" in json.loads(body)


def test_keep_alive_serves_several_requests(daemon: DaemonProcess) -> None:
    connection = UnixHTTPConnection(daemon.socket)
    for _ in range(3):
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        assert response.read() == b"OK"
    connection.close()


def test_socket_is_0660_and_owned_by_the_daemon_user(daemon: DaemonProcess) -> None:
    info = os.stat(daemon.socket)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert info.st_uid == os.geteuid()


@pytest.mark.parametrize(("path", "message"), [
    ("/v1.41/containers/json?filters=" + json.dumps({"bogus": ["1"]}), "Invalid filter 'bogus'"),  # Docker's words
    ("/v1.41/events?filters=" + json.dumps({"bogus": ["1"]}), "invalid filter 'bogus'"),
])
def test_unknown_filter_is_refused_before_anything_is_listed(daemon: DaemonProcess, path: str, message: str) -> None:
    """A bad filter is a 400 at once: with no container running, and before an events stream starts."""
    status, _headers, body = raw(daemon, "GET", path.replace(" ", ""))
    assert status == 400 and json.loads(body) == {"message": message}


# ------------------------------------------------------------------ a server that trusts no peer (issue 12)


def _tasks_and_fds(daemon: DaemonProcess) -> tuple[int, int]:
    assert daemon.process is not None
    pid = daemon.process.pid
    return len(os.listdir(f"/proc/{pid}/task")), len(os.listdir(f"/proc/{pid}/fd"))


def _open_stream(daemon: DaemonProcess, request: str) -> socket.socket:
    """A client that asked for a stream (or an attach) and got its head: then it just sits there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(daemon.socket)
    method, path = request.split(" ", 1) if " " in request else ("GET", request)
    upgrade = "Connection: Upgrade\r\nUpgrade: tcp\r\n" if method == "POST" else ""
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: docker\r\n{upgrade}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101 " if upgrade else b"HTTP/1.1 200 "), head
    return sock


def _streams_leave_no_trace(daemon: DaemonProcess, request: str) -> None:
    """Five clients open the stream and leave while it is quiet: moord's fds go back to what they were, and
    its threads too, but for a worker or two the pool may have started meanwhile (it keeps them, bounded)."""
    assert raw(daemon, "GET", "/_ping")[0] == 200
    time.sleep(0.5)  # the server has closed its end of that connection
    tasks, fds = _tasks_and_fds(daemon)
    clients = [_open_stream(daemon, request) for _ in range(5)]
    during = _tasks_and_fds(daemon)
    assert during[0] >= tasks + 5 and during[1] >= fds + 5, (tasks, fds, during)
    for sock in clients:
        sock.close()  # while the stream is quiet: only the server's look at the socket can notice
    wait_for(lambda: _tasks_and_fds(daemon)[1] <= fds and _tasks_and_fds(daemon)[0] <= tasks + 2, timeout=20)


def test_events_clients_that_leave_while_quiet_leave_no_thread_or_fd(daemon: DaemonProcess) -> None:
    _streams_leave_no_trace(daemon, "/v1.41/events")


@pytest.fixture(scope="module")
def quiet(moord: DaemonProcess) -> Iterator[str]:
    """A running container that says nothing."""
    ok(moor(moord, "run", "-d", "--name", "quiet", "busybox", "sleep", "300"))
    yield "quiet"
    moor(moord, "rm", "-f", "quiet")


def test_logs_follow_clients_that_leave_while_quiet_leave_no_thread_or_fd(moord: DaemonProcess, quiet: str) -> None:
    _streams_leave_no_trace(moord, f"/v1.41/containers/{quiet}/logs?follow=1&stdout=1&stderr=1")


def test_attach_clients_that_leave_while_quiet_leave_no_thread_or_fd(moord: DaemonProcess, quiet: str) -> None:
    _streams_leave_no_trace(moord, f"POST /v1.41/containers/{quiet}/attach?stream=1&stdout=1&stderr=1")


def test_64_clients_connecting_at_once_are_all_answered(daemon: DaemonProcess) -> None:
    clients = []
    try:
        for _ in range(64):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)  # as Go's client does: a full backlog would be EAGAIN here
            sock.connect(daemon.socket)
            clients.append(sock)
        for sock in clients:
            sock.settimeout(30)
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
        for sock in clients:
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in clients:
            sock.close()


def test_a_huge_content_length_gets_an_answer(daemon: DaemonProcess) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(daemon.socket)
    with sock:
        sock.sendall(b"POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000000000\r\n\r\n{\"Image\": ")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"Connection: close" in answer and b"request body too large" in answer


@pytest.mark.parametrize("size", [b"-1", b"100000000000000000000"])
def test_a_bad_chunk_size_is_400(daemon: DaemonProcess, size: bytes) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(daemon.socket)
    with sock:
        sock.sendall(b"POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: application/json\r\n\r\n" + size + b"\r\n{}\r\n0\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"malformed chunked encoding: bad chunk size" in answer


def test_deeply_nested_json_is_400(daemon: DaemonProcess) -> None:
    body = b'{"Image": "busybox", "Labels": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, _, answer = raw(daemon, "POST", "/v1.41/containers/create", body, {"Content-Type": "application/json"})
    assert (status, json.loads(answer)) == (400, {"message": "invalid JSON: exceeded max depth"})


def test_fifty_logs_follow_clients_leave_ordinary_requests_served(moord: DaemonProcess, quiet: str) -> None:
    followers = [_open_stream(moord, f"/v1.41/containers/{quiet}/logs?follow=1&stdout=1") for _ in range(50)]
    try:
        for _ in range(10):
            assert raw(moord, "GET", "/v1.41/containers/json")[0] == 200
        status, _, body = raw(moord, "POST", "/v1.41/containers/create?name=beside-fifty",
                              b'{"Image": "busybox", "Cmd": ["true"]}', {"Content-Type": "application/json"})
        assert status == 201, body
        assert raw(moord, "DELETE", "/v1.41/containers/beside-fifty")[0] == 204
    finally:
        for sock in followers:
            sock.close()
