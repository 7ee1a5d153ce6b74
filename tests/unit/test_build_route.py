"""``POST /build`` and ``POST /build/prune`` over a real HTTP server with a fake build service: every query
parameter decoded as Docker 20.10 reads it (its words for a bad one), ``X-Registry-Config`` and moor's
``X-Moor-Build-Secrets``, the context streamed to the service (never read whole first), Docker's stream
rules (``q`` holds messages back; an error before the first message is an HTTP error), a client that
leaves cancels the build."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any
from urllib.parse import quote

import pytest

from moor.api.app import Application
from moor.api.routes import ROUTE_MODULES
from moor.api.routes import build as build_routes
from moor.api.streaming import ClientGone
from moor.build.options import BuildOptions
from moor.errors import InvalidParameter
from moor.testing.apiserver import serving

Emit = Callable[[dict[str, Any]], None]
WAIT = 30.0
IMAGE_ID = "sha256:" + "f" * 64


@dataclass
class FakeBuilds:
    calls: list[BuildOptions] = field(default_factory=list)
    context: bytes = b""
    script: Callable[[Emit, IO[bytes]], None] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def build(self, options: BuildOptions, context: IO[bytes], emit: Emit) -> str:
        self.calls.append(options)
        if self.script is not None:
            try:
                self.script(emit, context)
            except ClientGone:
                self.cancelled.set()
                raise
        self.context += _read_all(context)
        emit({"stream": "Step 1/1 : FROM scratch"})
        emit({"stream": "\n"})
        emit({"aux": {"ID": IMAGE_ID}})
        emit({"stream": "Successfully built ffffffffffff\n"})
        return IMAGE_ID


def _read_all(stream: IO[bytes]) -> bytes:
    parts = []
    while data := stream.read(65536):
        parts.append(data)
    return b"".join(parts)


@dataclass
class FakeCache:
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def prune(self, filters: dict[str, list[str]], all_: bool, keep_storage: int) -> dict[str, Any]:
        self.calls.append((filters, all_, keep_storage))
        return {"CachesDeleted": ["abc"], "SpaceReclaimed": 10}


@pytest.fixture
def engine() -> SimpleNamespace:
    return SimpleNamespace(builds=FakeBuilds(), build_cache=FakeCache())


@pytest.fixture
def sock_path(tmp_path: Path, engine: SimpleNamespace) -> Iterator[str]:
    with serving(str(tmp_path / "api.sock"), Application(build_routes.build(engine))) as server:
        yield str(server.server_address)


def connect(path: str, target: str, headers: dict[str, str] | None = None, length: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(WAIT)
    sock.connect(path)
    lines = [f"POST {target} HTTP/1.1", "Host: x", "Connection: close", f"Content-Length: {length}",
             "Content-Type: application/x-tar"]
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def call(path: str, target: str, body: bytes = b"tar", headers: dict[str, str] | None = None
         ) -> tuple[int, bytes]:
    with connect(path, target, headers, len(body)) as sock:
        sock.sendall(body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        rest = dechunk(rest)
    return int(head.split()[1]), rest


def messages(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.split(b"\r\n") if line]


def query(**params: str) -> str:
    return "/v1.41/build?" + "&".join(f"{key}={quote(value)}" for key, value in params.items())


def error_of(status_body: tuple[int, bytes]) -> tuple[int, str]:
    status, body = status_body
    return status, json.loads(body)["message"]


# --------------------------------------------------------------------------- decoding


def test_build_is_a_route_module() -> None:
    assert build_routes in ROUTE_MODULES


def test_every_parameter_reaches_the_service_typed(sock_path: str, engine: Any) -> None:
    target = (query(dockerfile="sub/Dockerfile.dev", buildargs='{"A":"1","B":null}', labels='{"l":"v"}',
                    cachefrom='["img:1"]', target="stage", networkmode="host", platform="linux/amd64",
                    memory="1000000", memswap="-1", cpushares="512", cpusetcpus="0-1", cpuperiod="100000",
                    cpuquota="50000", shmsize="65536", nocache="1", pull="true", forcerm="1", rm="0",
                    outputs='[{"Type":"moby","Attrs":{}}]', isolation="default",
                    ulimits='[{"Name":"nofile","Soft":1,"Hard":2}]', version="1")
              + "&t=one:1&t=two&extrahosts=h1:127.0.0.1&extrahosts=h2:127.0.0.2")
    status, body = call(sock_path, target, b"the context")
    assert status == 200
    options = engine.builds.calls[0]
    assert options == BuildOptions(
        dockerfile="sub/Dockerfile.dev", tags=["one:1", "two"], build_args={"A": "1", "B": None},
        labels={"l": "v"}, target="stage", no_cache=True, pull=True, rm=True, forcerm=True,
        cache_from=["img:1"], network_mode="host", extra_hosts=["h1:127.0.0.1", "h2:127.0.0.2"],
        platform="linux/amd64", quiet=False, memory=1000000, memswap=-1, cpu_shares=512, cpuset_cpus="0-1",
        cpu_period=100000, cpu_quota=50000, shm_size=65536, ulimits=[{"Name": "nofile", "Soft": 1, "Hard": 2}])
    assert engine.builds.context == b"the context"
    assert [m.get("stream") for m in messages(body)][:2] == ["Step 1/1 : FROM scratch", "\n"]
    assert {"aux": {"ID": IMAGE_ID}} in messages(body)


def test_defaults_are_dockers(sock_path: str, engine: Any) -> None:
    assert call(sock_path, "/build")[0] == 200
    assert engine.builds.calls[0] == BuildOptions()  # rm defaults to true, Dockerfile to "Dockerfile"
    assert call(sock_path, query(rm="0"))[0] == 200
    assert engine.builds.calls[1].rm is False


@pytest.mark.parametrize(("params", "message"), [
    ({"buildargs": "[1]"}, "error reading build args: json: cannot unmarshal array into Go value of type "
                           "map[string]*string"),
    ({"buildargs": '{"a":1}'}, "error reading build args: json: cannot unmarshal number into Go value of type "
                               "string"),
    ({"labels": "["}, "error reading labels: unexpected end of JSON input"),
    ({"labels": '{"a":1}'}, "error reading labels: json: cannot unmarshal number into Go value of type string"),
    ({"cachefrom": "{}"}, "json: cannot unmarshal object into Go value of type []string"),
    ({"cachefrom": "x"}, "invalid character 'x' looking for beginning of value"),
    ({"outputs": "x"}, "invalid character 'x' looking for beginning of value"),
    ({"ulimits": "x"}, "error reading ulimit settings: invalid character 'x' looking for beginning of value"),
    ({"version": "3"}, 'invalid version "3"'),
    ({"version": "2"}, "buildkit is not enabled on daemon"),
    ({"squash": "1"}, "squash is only supported with experimental mode"),
    ({"shmsize": "abc"}, 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ({"memory": "abc"}, 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ({"isolation": "foo"}, 'Unsupported isolation: "foo"'),
    ({"securityopt": "x"}, "The daemon on this platform does not support setting security options on build"),
    ({"t": "UPPER"}, "invalid reference format: repository name must be lowercase"),
    ({"t": "a:b:c"}, "invalid reference format"),
    ({"t": "a@sha256:" + "a" * 64}, "build tag cannot contain a digest"),
    ({"platform": "foo"}, '"foo": unknown operating system or architecture: invalid argument'),
])
def test_bad_parameters_are_400_with_dockers_words(sock_path: str, engine: Any, params: dict[str, str],
                                                    message: str) -> None:
    assert error_of(call(sock_path, query(**params))) == (400, message)
    assert engine.builds.calls == []


def test_a_remote_context_is_refused_clearly(sock_path: str, engine: Any) -> None:
    status, message = error_of(call(sock_path, query(remote="http://127.0.0.1:1/ctx.tar")))
    assert status == 400 and "remote build contexts are not supported" in message


def test_registry_config_is_decoded_and_bad_means_none(sock_path: str, engine: Any) -> None:
    auths = {"127.0.0.1:5000": {"username": "u", "password": "p"},
             "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()}}
    header = base64.urlsafe_b64encode(json.dumps(auths).encode()).decode()
    assert call(sock_path, "/build", headers={"X-Registry-Config": header})[0] == 200
    options = engine.builds.calls[0]
    assert (options.auth_for("127.0.0.1:5000").username, options.auth_for("127.0.0.1:5000").password) == ("u", "p")
    assert options.auth_for("docker.io").password == "pw"
    assert call(sock_path, "/build", headers={"X-Registry-Config": "!!nope"})[0] == 200
    assert engine.builds.calls[1].auth == {}


def test_secrets_header(sock_path: str, engine: Any) -> None:
    secrets = {"token": base64.b64encode(b"s3cr\x00t").decode()}
    header = base64.b64encode(json.dumps(secrets).encode()).decode()
    assert call(sock_path, "/build", headers={"X-Moor-Build-Secrets": header})[0] == 200
    assert engine.builds.calls[0].secrets == {"token": b"s3cr\x00t"}
    status, message = error_of(call(sock_path, "/build", headers={"X-Moor-Build-Secrets": "e30x!"}))
    assert status == 400 and message.startswith("invalid X-Moor-Build-Secrets header")


# --------------------------------------------------------------------------- streaming


def test_quiet_sends_only_the_id_on_success(sock_path: str, engine: Any) -> None:
    status, body = call(sock_path, query(q="1"))
    assert status == 200 and messages(body) == [{"stream": IMAGE_ID + "\n"}]
    assert engine.builds.calls[0].quiet is True


def test_quiet_sends_what_was_held_back_then_the_error(sock_path: str, engine: Any) -> None:
    def script(emit: Emit, context: IO[bytes]) -> None:
        emit({"stream": "Step 1/1 : RUN exit 3"})
        raise InvalidParameter("The command '/bin/sh -c exit 3' returned a non-zero code: 3")

    engine.builds.script = script
    status, body = call(sock_path, query(q="1"))
    assert status == 200
    assert messages(body)[0] == {"stream": "Step 1/1 : RUN exit 3"}
    assert messages(body)[-1]["errorDetail"]["message"].startswith("The command")


def test_an_error_before_any_message_is_an_http_error(sock_path: str, engine: Any) -> None:
    def script(emit: Emit, context: IO[bytes]) -> None:
        raise InvalidParameter("Cannot locate specified Dockerfile: Dockerfile")

    engine.builds.script = script
    assert error_of(call(sock_path, "/build")) == (400, "Cannot locate specified Dockerfile: Dockerfile")


def test_old_clients_get_no_aux(sock_path: str, engine: Any) -> None:
    _, body = call(sock_path, "/v1.29/build")
    assert not [m for m in messages(body) if "aux" in m]
    _, body = call(sock_path, "/v1.30/build")
    assert [m for m in messages(body) if "aux" in m]


def test_the_context_is_streamed_to_the_service_not_read_first(sock_path: str, engine: Any) -> None:
    size = 4 << 20  # past the server's buffered body: the service reads it from the socket

    def script(emit: Emit, context: IO[bytes]) -> None:
        first = context.read(65536)
        emit({"stream": f"got {len(first)}\n"})

    engine.builds.script = script
    with connect(sock_path, "/build", length=size) as sock:
        sock.sendall(b"x" * (size // 2))
        data = b""
        while b"got " not in data:  # the build began with half the context still to come
            data += sock.recv(65536)
        sock.sendall(b"x" * (size // 2))
        while chunk := sock.recv(65536):
            data += chunk
    assert b"Successfully built" in data
    assert len(engine.builds.context) == size - 65536


def test_a_client_that_leaves_cancels_the_build(sock_path: str, engine: Any) -> None:
    started = threading.Event()

    def script(emit: Emit, context: IO[bytes]) -> None:
        emit({"stream": "Step 1/2 : RUN sleep 1000"})
        started.set()
        for _ in range(600):
            emit({"stream": "."})
            threading.Event().wait(0.05)

    engine.builds.script = script
    sock = connect(sock_path, "/build", length=3)
    sock.sendall(b"tar")
    assert started.wait(WAIT)
    sock.recv(1024)
    sock.close()
    assert engine.builds.cancelled.wait(WAIT)


# --------------------------------------------------------------------------- prune


def test_prune_passes_filters_all_and_keep_storage(sock_path: str, engine: Any) -> None:
    target = "/v1.41/build/prune?all=1&keep-storage=1000&filters=" + quote('{"until":{"24h":true}}')
    status, body = call(sock_path, target, b"")
    assert status == 200 and json.loads(body) == {"CachesDeleted": ["abc"], "SpaceReclaimed": 10}
    assert engine.build_cache.calls == [({"until": ["24h"]}, True, 1000)]
    assert call(sock_path, "/build/prune", b"")[0] == 200
    assert engine.build_cache.calls[1] == ({}, False, 0)


def test_prune_refuses_bad_parameters_with_dockers_words(sock_path: str, engine: Any) -> None:
    assert error_of(call(sock_path, "/build/prune?keep-storage=abc", b"")) == (
        400, 'keep-storage is in bytes and expects an integer, got abc: strconv.Atoi: parsing "abc": invalid syntax')
    status, message = error_of(call(sock_path, "/build/prune?filters=x", b""))
    assert status == 400 and message.startswith("could not parse filters")


def test_a_quiet_build_learns_that_its_client_left_from_an_empty_probe(sock_path: str, engine: Any) -> None:
    probed = threading.Event()

    def script(emit: Emit, context: IO[bytes]) -> None:
        emit({"stream": "Step 1/1 : RUN sleep 1000"})
        while True:  # a RUN with no output: only probes, which send nothing
            emit({})
            probed.set()
            threading.Event().wait(0.05)

    engine.builds.script = script
    sock = connect(sock_path, "/build", length=3)
    sock.sendall(b"tar")
    assert probed.wait(WAIT)
    data = b""
    while b"RUN sleep 1000" not in data:
        data += sock.recv(1024)
    sock.close()
    assert engine.builds.cancelled.wait(WAIT)
    assert b"{}" not in data


def test_a_failed_run_s_exit_code_is_in_the_error_detail(sock_path: str, engine: Any) -> None:
    class StepFailed(InvalidParameter):
        code = 3

    def script(emit: Emit, context: IO[bytes]) -> None:
        emit({"stream": "Step 1/1 : RUN exit 3"})
        raise StepFailed("The command '/bin/sh -c exit 3' returned a non-zero code: 3")

    engine.builds.script = script
    _, body = call(sock_path, "/build")
    assert messages(body)[-1] == {"errorDetail": {"code": 3, "message": "The command '/bin/sh -c exit 3' returned a "
                                                  "non-zero code: 3"},
                                  "error": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"}
