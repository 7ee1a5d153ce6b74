"""Malformed HTTP on moord's raw socket: answered with a 4xx (or the connection closed) promptly, never a
5xx other than the protocol's own (505, 501), never a traceback; the daemon serves on."""

from __future__ import annotations

import os
import socket
import time

import pytest

from hostile.httpcases import CASES, CLOSED, RawCase
from hostile.invariants import Guard, still_serves
from hostile.wire import call, first_status, raw_exchange, statuses
from moor.testing.daemon import DaemonProcess


def _containers(daemon: DaemonProcess) -> set[str]:
    return {c["Id"] for c in call(daemon.socket, "GET", "/containers/json?all=1").json()}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_raw_http(hostile_daemon: DaemonProcess, guard: Guard, case: RawCase) -> None:
    before = _containers(hostile_daemon)
    try:
        result = raw_exchange(hostile_daemon.socket, case.data, timeout=20, shut_write=case.shut_write)
    finally:  # the cases that create a container well framed leave it: remove it
        for made in _containers(hostile_daemon) - before:
            call(hostile_daemon.socket, "DELETE", f"/containers/{made}?force=1", timeout=60)
    status = first_status(result.data)
    assert status or result.closed, "no answer and the connection stayed open (a hang)"
    assert status in case.expect, f"answered {status}: {result.data[:300]!r}"
    if status == CLOSED:
        assert result.data == b"", f"garbage instead of an answer: {result.data[:300]!r}"
    assert b"Traceback" not in result.data, result.data[:2000]
    if case.then:
        assert statuses(result.data)[1:] == case.then, result.data[:600]


def _partial(path: str, data: bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.sendall(data)
    return sock


SLOW_HEADS = {
    "slowloris-request-line": b"GET /_ping HT",
    "slowloris-headers": b"GET /_ping HTTP/1.1\r\nHost: moor\r\nX-Slow: ",
    "slowloris-body": b"POST /containers/create HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{\"Image\"",
    "slowloris-chunks": b"POST /containers/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"Ima",
    "slowloris-idle": b"",
}


@pytest.mark.parametrize("head", list(SLOW_HEADS.values()), ids=list(SLOW_HEADS))
def test_slow_clients_starve_nobody(hostile_daemon: DaemonProcess, guard: Guard, head: bytes) -> None:
    """150 connections stalled mid-request: other clients are served at once all the same."""
    held = [_partial(hostile_daemon.socket, head) for _ in range(150)]
    try:
        started = time.monotonic()
        still_serves(hostile_daemon)
        created = call(hostile_daemon.socket, "POST", "/containers/create",
                       b'{"Image": "busybox", "Cmd": ["true"]}', timeout=30)
        assert created.status == 201, created
        call(hostile_daemon.socket, "DELETE", f"/containers/{created.json()['Id']}?force=1", timeout=60)
        assert time.monotonic() - started < 30
    finally:
        for sock in held:
            sock.close()


def test_many_connections_at_once(hostile_daemon: DaemonProcess, guard: Guard) -> None:
    """Fifty clients connecting in the same instant all get in (a backlog of SOMAXCONN, not 5)."""
    socks = []
    try:
        for _ in range(50):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect(hostile_daemon.socket)  # EAGAIN here is the finding
            socks.append(sock)
        for sock in socks:
            sock.setblocking(True)
            sock.settimeout(30)
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: moor\r\nConnection: close\r\n\r\n")
        for sock in socks:
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            assert first_status(data) == 200, data[:200]
    finally:
        for sock in socks:
            sock.close()


def _open_fds(daemon: DaemonProcess) -> int:
    """moord's open file descriptors (threads are no measure: the server keeps idle pool threads)."""
    assert daemon.process is not None
    return len(os.listdir(f"/proc/{daemon.process.pid}/fd"))


def _settles(daemon: DaemonProcess, baseline: int, slack: int = 8, timeout: float = 30) -> None:
    """moord's descriptors come back to ``baseline`` (give or take ``slack``) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (now := _open_fds(daemon)) > baseline + slack:
        assert time.monotonic() < deadline, f"moord holds {now} descriptors, it held {baseline} before"
        time.sleep(0.5)


STREAMS = {
    "events": b"GET /events HTTP/1.1\r\nHost: moor\r\n\r\n",
    "logs-follow": b"GET /containers/hostile-run/logs?stdout=1&follow=1 HTTP/1.1\r\nHost: moor\r\n\r\n",
    "stats-stream": b"GET /containers/hostile-run/stats HTTP/1.1\r\nHost: moor\r\n\r\n",
    "wait": b"POST /containers/hostile-run/wait HTTP/1.1\r\nHost: moor\r\n\r\n",
    "listing": b"GET /containers/json?all=1 HTTP/1.1\r\nHost: moor\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", list(STREAMS.values()), ids=list(STREAMS))
def test_clients_that_leave_mid_answer(hostile_daemon: DaemonProcess, guard: Guard, request_bytes: bytes) -> None:
    """Forty clients that hang up on an endless answer (or before reading one): their connections close."""
    baseline = _open_fds(hostile_daemon)
    held = []
    for _ in range(40):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(hostile_daemon.socket)
        sock.sendall(request_bytes)
        held.append(sock)
    time.sleep(1)  # the answers have started
    for sock in held:
        sock.close()
    still_serves(hostile_daemon)
    _settles(hostile_daemon, baseline)
