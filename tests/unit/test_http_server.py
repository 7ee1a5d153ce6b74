"""The HTTP server on a real Unix socket: limits, deadlines, a bounded pool, streams that notice a client leave.

Each test serves a tiny application in-process with small limits, and talks raw bytes to it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from moor.api.app import Application
from moor.api.http import Request, Response, json_response, parse_json
from moor.api.router import Router
from moor.api.routes import events
from moor.api.server import UnixHTTPServer
from moor.api.wire import Limits
from moor.services.events import EventBus
from moor.testing.apiserver import serving as serve_app

SHORT = Limits(header_timeout=0.5, body_timeout=0.5, idle_timeout=0.5, drain_timeout=0.5, workers=4, streams=8,
               max_json_bytes=64 * 1024, max_json_depth=20, max_line=1024, max_headers=20, max_header_bytes=8192,
               drain_bytes=4096, buffered_body=1024)


class Tiny:
    """The application under test: a few routes that show what the server did."""

    def __init__(self) -> None:
        self.router = Router()
        self.release = threading.Event()
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()
        self.stream_closed = threading.Event()
        route = self.router.route

        @route("GET", "/ping")
        def ping(request: Request) -> Response:
            return Response(body=b"OK", content_type="text/plain")

        @route("POST", "/json")
        def echo_json(request: Request) -> Response:
            return json_response({"got": request.json()})

        @route("POST", "/ignore")
        def ignore(request: Request) -> Response:
            return Response(body=b"ignored", content_type="text/plain")

        @route("GET", "/block")
        def block(request: Request) -> Response:
            with self.lock:
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            try:
                self.release.wait(20)
            finally:
                with self.lock:
                    self.running -= 1
            return Response(body=b"released", content_type="text/plain")

        @route("GET", "/big")
        def big(request: Request) -> Response:
            return Response(body=b"x" * (8 << 20), content_type="text/plain")

        @route("GET", "/boom")
        def boom(request: Request) -> Response:
            raise RuntimeError("kaboom")

        @route("GET", "/quiet-stream")
        def quiet_stream(request: Request) -> Response:
            def ticks() -> Iterator[bytes]:
                try:
                    yield b"started\n"
                    while True:
                        time.sleep(0.05)
                        yield b""
                finally:
                    self.stream_closed.set()

            return Response(stream=ticks())

        @route("GET", "/broken-stream")
        def broken_stream(request: Request) -> Response:
            def fail() -> Iterator[bytes]:
                yield b"one\n"
                raise RuntimeError("the stream broke")

            return Response(stream=fail())


@contextmanager
def serving(tmp_path: Path, app: Callable[[Request], Any], limits: Limits = SHORT) -> Iterator[UnixHTTPServer]:
    with serve_app(str(tmp_path / "api.sock"), app, limits) as server:
        yield server


@pytest.fixture
def tiny() -> Tiny:
    return Tiny()


@pytest.fixture
def server(tmp_path: Path, tiny: Tiny) -> Iterator[UnixHTTPServer]:
    with serving(tmp_path, Application(tiny.router)) as running:
        yield running
    tiny.release.set()


def connect(server: UnixHTTPServer, timeout: float = 10) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(server.server_address)
    return sock


_LEFTOVER: weakref.WeakKeyDictionary[socket.socket, bytes] = weakref.WeakKeyDictionary()


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One whole answer (Content-Length framed, or until close); status 0 when the server closed silently."""
    data = _LEFTOVER.pop(sock, b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return 0, {}, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "content-length" in headers:
        while len(rest) < int(headers["content-length"]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        length = int(headers["content-length"])
        rest, _LEFTOVER[sock] = rest[:length], rest[length:]
    return status, headers, rest


def exchange(server: UnixHTTPServer, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(server) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_answer(sock)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed the connection (EOF or reset), waiting a few seconds at most."""
    sock.settimeout(5)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {marker!r}: {data!r}"
        data += chunk
    return data


def message(body: bytes) -> str:
    return str(json.loads(body)["message"])


# ---------------------------------------------------------------------------------------------- basics


def test_keep_alive_and_pipelining(server: UnixHTTPServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_answer(sock)[::2] == (200, b"OK")
        assert read_answer(sock)[::2] == (200, b"OK")
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_answer(sock)
        assert (status, body, headers["api-version"]) == (200, b"OK", "1.41")


def test_a_failing_handler_is_a_500_and_the_server_goes_on(server: UnixHTTPServer) -> None:
    status, _, body = exchange(server, b"GET /boom HTTP/1.1\r\n\r\n")
    assert (status, message(body)) == (500, "RuntimeError: kaboom")
    with connect(server) as sock:
        sock.sendall(b"GET /broken-stream HTTP/1.1\r\n\r\n")
        assert closed_by_server(sock)  # cut short: the client sees no final chunk
    assert exchange(server, b"GET /ping HTTP/1.1\r\n\r\n")[::2] == (200, b"OK")


# ---------------------------------------------------------------------------------------------- deadlines


def test_an_idle_keep_alive_connection_is_closed(server: UnixHTTPServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\n\r\n")
        assert read_answer(sock)[0] == 200
        assert closed_by_server(sock)


def test_a_head_sent_too_slowly_gets_408(server: UnixHTTPServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: ")
        for _ in range(4):  # a byte now and then keeps nothing alive
            time.sleep(0.2)
            try:
                sock.sendall(b"x")
            except OSError:
                break
        status, _, body = read_answer(sock)
        assert (status, message(body)) == (408, "timed out reading the request")


@pytest.mark.parametrize(("length", "text"), [
    (100, "timed out reading the request"),  # a small body is read before any handler runs
    (2000, "timed out reading the request body"),  # a large one by its handler, on a thread of its own
])
def test_a_body_that_stalls_gets_408_and_the_connection_closes(server: UnixHTTPServer, length: int,
                                                               text: str) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /json HTTP/1.1\r\nContent-Length: %d\r\n\r\n{\"a\":" % length)
        status, headers, body = read_answer(sock)
        assert (status, message(body), headers["connection"]) == (408, text, "close")
        assert closed_by_server(sock)


@pytest.mark.parametrize("request_start", [
    b"GET /ping HT",
    b"POST /json HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"a\":",
    b"POST /json HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a",
    b"POST /json HTTP/1.1\r\nContent-Length: 2000\r\n\r\n{\"a\":",
])
def test_slow_clients_take_no_worker(tmp_path: Path, tiny: Tiny, request_start: bytes) -> None:
    limits = Limits(workers=2, streams=30, header_timeout=30, body_timeout=30, buffered_body=1024)
    with serving(tmp_path, Application(tiny.router), limits) as running:
        slow = [connect(running) for _ in range(20)]
        try:
            for sock in slow:
                sock.sendall(request_start)
            for _ in range(4):
                assert exchange(running, b"GET /ping HTTP/1.1\r\n\r\n")[::2] == (200, b"OK")
            assert running.pool.threads <= 2
        finally:
            for sock in slow:
                sock.close()


# ---------------------------------------------------------------------------------------------- bodies


def test_a_huge_content_length_is_answered_without_reading_it(server: UnixHTTPServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /ignore HTTP/1.1\r\nContent-Length: 1000000000000\r\n\r\n" + b"x" * 1000)
        status, headers, body = read_answer(sock)
        assert (status, body, headers["connection"]) == (200, b"ignored", "close")
    status, _, body = exchange(server, b"POST /json HTTP/1.1\r\nContent-Length: 1000000000000\r\n\r\n")
    assert status == 413 and message(body) == \
        "request body too large: 1000000000000 bytes, at most 65536 are accepted"


def test_a_small_unread_body_is_skipped_and_the_connection_kept(server: UnixHTTPServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /ignore HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET /ping HTTP/1.1\r\n\r\n")
        status, headers, _ = read_answer(sock)
        assert status == 200 and "connection" not in headers
        assert read_answer(sock)[::2] == (200, b"OK")


def test_a_chunked_json_body_too_large_is_413(server: UnixHTTPServer) -> None:
    chunk = b"[" + b"1," * 20000 + b"1]"
    data = b"%x\r\n%s\r\n" % (len(chunk), chunk) * 3
    status, _, body = exchange(server, b"POST /json HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + data)
    assert status == 413 and message(body) == "request body too large: more than 65536 bytes"


@pytest.mark.parametrize("size", [b"-1", b"100000000000000000000", b"0x10", b"+5", b" ", b"zz"])
def test_a_bad_chunk_size_is_400_and_close(server: UnixHTTPServer, size: bytes) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /json HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\n{}\r\n0\r\n\r\n")
        status, headers, body = read_answer(sock)
        assert (status, headers["connection"]) == (400, "close")
        assert message(body).startswith("malformed chunked encoding: bad chunk size")
        assert closed_by_server(sock)


def test_chunked_bodies_are_read(server: UnixHTTPServer) -> None:
    data = b"4;ext=1\r\n{\"a\"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\nTrailer: x\r\n\r\n"
    status, _, body = exchange(server, b"POST /json HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + data)
    assert (status, json.loads(body)) == (200, {"got": {"a": 1}})


@pytest.mark.parametrize("depth", [21, 30000])
def test_deeply_nested_json_is_400(server: UnixHTTPServer, depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    status, _, body = exchange(server, b"POST /json HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(nested), nested))
    assert (status, message(body)) == (400, "invalid JSON: exceeded max depth")


def test_json_at_the_depth_limit_is_read(server: UnixHTTPServer) -> None:
    nested = b'{"a":' * 19 + b"[]" + b"}" * 19
    status, _, body = exchange(server, b"POST /json HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(nested), nested))
    assert status == 200 and json.loads(body)["got"] == json.loads(nested)


def test_deep_json_in_a_query_parameter_is_400(tmp_path: Path) -> None:
    def app(request: Request) -> Response:
        return json_response(request.json_arg("filters"))

    with pytest.raises(ValueError, match="exceeded max depth"):
        parse_json("[" * 50 + "]" * 50, 20)
    with serving(tmp_path, Application(_single(app))) as running:
        deep = "%5B" * 50 + "%5D" * 50
        status, _, body = exchange(running, f"GET /x?filters={deep} HTTP/1.1\r\n\r\n".encode())
        assert (status, message(body)) == (400, "invalid filters parameter: malformed JSON")


def _single(handler: Callable[[Request], Response]) -> Router:
    router = Router()
    router.add("GET", "/x", handler)
    return router


# ---------------------------------------------------------------------------------------------- heads


@pytest.mark.parametrize(("data", "status", "text"), [
    (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n", 414, "request URI too long"),
    (b"GET /ping HTTP/1.1\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n", 431, "header field too large"),
    (b"GET /ping HTTP/1.1\r\n" + b"X-A: b\r\n" * 21 + b"\r\n", 431, "too many header fields (at most 20)"),
    (b"GET /ping HTTP/1.1\r\n" + b"X-A: " + b"b" * 1000 + b"\r\n" * 0, 431, "request header fields too large"),
    (b"GET /ping\r\n\r\n", 400, "malformed HTTP request 'GET /ping'"),
    (b"\x00\x01\x02 / HTTP/1.1\r\n\r\n", 400, "malformed HTTP request '\\x00\\x01\\x02 / HTTP/1.1'"),
    (b"GET /\xff HTTP/1.1\r\n\r\n", 400, "malformed HTTP request: the request line is not UTF-8"),
    (b"GET /ping HTTP/1.1\r\nX-A: \xff\xfe\r\n\r\n", 400, "malformed HTTP request: a header field is not UTF-8"),
    (b"GET /ping HTTP/1.1\r\nX A: b\r\n\r\n", 400, "malformed header field 'X A: b'"),
    (b"GET /ping HTTP/1.1\r\n folded\r\n\r\n", 400, "malformed header field ' folded'"),
    (b"GET /ping HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400, "bad Content-Length '-5'"),
    (b"GET /ping HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "bad Content-Length '1, 2'"),
    (b"POST /json HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "malformed HTTP request: both Content-Length and Transfer-Encoding"),
    (b"POST /json HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported transfer encoding: 'gzip'"),
    (b"GET /ping HTTP/2.0\r\n\r\n", 505, "unsupported HTTP version HTTP/2.0"),
    (b"GET http://x/ping HTTP/1.1\r\n\r\n", 400, "malformed request target 'http://x/ping'"),
])
def test_malformed_heads_are_refused(server: UnixHTTPServer, data: bytes, status: int, text: str) -> None:
    with connect(server) as sock:
        if status == 431 and b"\r\n\r\n" not in data:  # a head that never ends: past max_header_bytes
            data += b"b" * 9000
        sock.sendall(data)
        got, headers, body = read_answer(sock)
        assert (got, message(body), headers["connection"]) == (status, text, "close")
        assert closed_by_server(sock)
    assert exchange(server, b"GET /ping HTTP/1.1\r\n\r\n")[::2] == (200, b"OK")


def test_expect_100_continue(server: UnixHTTPServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /json HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 8\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b'{"a": 1}')
        assert read_answer(sock)[::2] == (200, b'{"got": {"a": 1}}\n')


# ---------------------------------------------------------------------------------------------- the pool


def test_the_listen_backlog_takes_64_clients_at_once(tmp_path: Path, tiny: Tiny) -> None:
    server = UnixHTTPServer(str(tmp_path / "api.sock"), Application(tiny.router), {}, limits=SHORT)
    assert server.request_queue_size == socket.SOMAXCONN
    clients = []
    try:
        for _ in range(64):  # before anything is accepted: all of them fit in the backlog
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect(server.server_address)
            sock.settimeout(10)
            sock.sendall(b"GET /ping HTTP/1.1\r\n\r\n")
            clients.append(sock)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        assert all(read_answer(sock)[::2] == (200, b"OK") for sock in clients)
    finally:
        for sock in clients:
            sock.close()
        server.shutdown()
        server.server_close()


def test_workers_are_bounded_and_the_rest_wait(server: UnixHTTPServer, tiny: Tiny) -> None:
    clients = [connect(server) for _ in range(10)]
    try:
        for sock in clients:
            sock.sendall(b"GET /block HTTP/1.1\r\n\r\n")
        deadline = time.monotonic() + 5
        while tiny.running < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert tiny.running == 4 and server.pool.threads == 4
        tiny.release.set()
        assert all(read_answer(sock)[::2] == (200, b"released") for sock in clients)
        assert tiny.most_running == 4
    finally:
        for sock in clients:
            sock.close()


def test_streams_leave_the_pool_to_ordinary_requests(server: UnixHTTPServer) -> None:
    streams = [connect(server) for _ in range(8)]
    try:
        for sock in streams:
            sock.sendall(b"GET /quiet-stream HTTP/1.1\r\n\r\n")
            read_until(sock, b"started")
        for _ in range(6):  # more than the 4 workers: none is taken by a stream
            assert exchange(server, b"GET /ping HTTP/1.1\r\n\r\n")[::2] == (200, b"OK")
        status, _, body = exchange(server, b"GET /quiet-stream HTTP/1.1\r\n\r\n")
        assert (status, message(body)) == (503, "too many streaming connections, try again later")
    finally:
        for sock in streams:
            sock.close()
    deadline = time.monotonic() + 5
    while server.streams and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.streams == 0


def test_a_quiet_stream_ends_when_its_client_leaves(server: UnixHTTPServer, tiny: Tiny) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /quiet-stream HTTP/1.1\r\n\r\n")
        read_until(sock, b"started")
    assert tiny.stream_closed.wait(5)


def test_a_quiet_stream_is_not_cut_by_the_idle_timeout(server: UnixHTTPServer, tiny: Tiny) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /quiet-stream HTTP/1.1\r\n\r\n")
        read_until(sock, b"started")
        time.sleep(1.5)  # three idle timeouts
        assert not tiny.stream_closed.is_set() and server.streams == 1


def test_an_events_client_that_leaves_is_unsubscribed(tmp_path: Path) -> None:
    bus = EventBus()  # the real /events route, on a bus of its own
    engine: Any = type("EngineWithABus", (), {"events": bus})()
    with serving(tmp_path, Application(events.build(engine))) as running:
        with connect(running) as sock:
            sock.sendall(b"GET /events HTTP/1.1\r\n\r\n")
            assert read_answer(sock)[0] == 200
            assert (bus.listeners, running.streams) == (1, 1)
            bus.publish("volume", "create", "v1")
            read_until(sock, b"v1")
        deadline = time.monotonic() + 10
        while (bus.listeners or running.streams) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (bus.listeners, running.streams) == (0, 0)


def test_one_empty_line_before_a_request_is_ignored_more_are_400(server: UnixHTTPServer) -> None:
    assert exchange(server, b"\r\nGET /ping HTTP/1.1\r\n\r\n")[::2] == (200, b"OK")
    status, _, body = exchange(server, b"\r\n\r\n\r\n")
    assert (status, message(body)) == (400, "malformed HTTP request: no request line")


def test_a_huge_api_version_is_too_new_not_a_500(tmp_path: Path) -> None:
    with serving(tmp_path, Application(_single(lambda request: Response(body=b"OK"))), Limits()) as running:
        status, _, body = exchange(running, b"GET /v" + b"9" * 5000 + b".1/x HTTP/1.1\r\n\r\n")
        assert status == 400 and message(body).endswith("is too new. Maximum supported API version is 1.44")
        status, _, body = exchange(running, b"GET /v1." + b"0" * 5000 + b"1/x HTTP/1.1\r\n\r\n")
        assert status == 400 and b"is too old" in body  # plain text, as every error of an API before 1.24


def test_a_json_body_in_utf16_is_400(server: UnixHTTPServer) -> None:
    text = '{"a": 1}'.encode("utf-16")
    status, _, body = exchange(server, b"POST /json HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
    assert status == 400 and message(body).startswith("invalid JSON: ")


def test_requests_sent_before_the_client_shut_its_side_are_answered(server: UnixHTTPServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\n\r\nPOST /json HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        sock.shutdown(socket.SHUT_WR)
        assert read_answer(sock)[::2] == (200, b"OK")
        assert read_answer(sock)[::2] == (200, b'{"got": {}}\n')
        assert closed_by_server(sock)


def test_a_request_cut_short_is_dropped(server: UnixHTTPServer) -> None:
    for partial in (b"GET /ping HTTP/1.1\r\nHost", b"POST /json HTTP/1.1\r\nContent-Length: 20\r\n\r\n{"):
        with connect(server) as sock:
            sock.sendall(partial)
            sock.shutdown(socket.SHUT_WR)
            assert closed_by_server(sock)
    assert exchange(server, b"GET /ping HTTP/1.1\r\n\r\n")[::2] == (200, b"OK")


def test_a_failure_in_the_accepting_thread_drops_one_connection_only(server: UnixHTTPServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(conn: Any) -> bool:
        raise RuntimeError("a bug")

    monkeypatch.setattr(server, "_read_head", broken)
    with connect(server) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\n\r\n")
        assert closed_by_server(sock)
    monkeypatch.undo()
    assert exchange(server, b"GET /ping HTTP/1.1\r\n\r\n")[::2] == (200, b"OK")


def test_clients_that_leave_their_answer_unread_lose_it_and_free_the_workers(tmp_path: Path, tiny: Tiny) -> None:
    limits = Limits(workers=2, send_timeout=0.5)
    with serving(tmp_path, Application(tiny.router), limits) as running:
        stalled = [connect(running) for _ in range(4)]
        try:
            for sock in stalled:
                sock.sendall(b"GET /big HTTP/1.1\r\n\r\n")  # and never read
            assert exchange(running, b"GET /ping HTTP/1.1\r\n\r\n")[::2] == (200, b"OK")  # in 10 s at most
        finally:
            for sock in stalled:
                sock.close()
