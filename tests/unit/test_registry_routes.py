"""The registry routes over a real HTTP server on a socket, with fake services: what each route decodes and
hands its service (credentials, tags, platform, limits), and how a streamed pull or push answers as
Docker's does (an error before the first message is an HTTP error, one after it a last ``errorDetail``
line; a client that leaves stops the operation)."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest

from moor import config as config_module
from moor.api.app import Application
from moor.api.http import BodyReader, Request
from moor.api.routes import build_router, registry
from moor.api.streaming import ClientGone, encode_message, progress_response
from moor.daemon.engine import Engine
from moor.errors import InvalidParameter, MoorError, NotFound
from moor.registry.authconfig import AuthConfig
from moor.testing.apiserver import serving
from moor.testing.fakes import fake_drivers

Emit = Callable[[dict[str, Any]], None]
WAIT = 30.0  # generous: an event that must happen, not a timing


class Refused(MoorError):
    """What the registry client raises for a wrong password (a 401)."""

    status = 401


@dataclass
class FakePulls:
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    script: Callable[[Emit], None] = lambda emit: emit({"status": "Pulling from library/busybox", "id": "latest"})

    def pull(self, name: str, tag: str, platform: str, auth: AuthConfig, all_tags: bool, emit: Emit) -> None:
        self.calls.append((name, tag, platform, auth, all_tags))
        self.script(emit)


@dataclass
class FakePushes:
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def push(self, name: str, tag: str, auth: AuthConfig, emit: Emit) -> None:
        self.calls.append((name, tag, auth))
        emit({"status": f"The push refers to repository [{name}]"})


@dataclass
class FakeLogin:
    calls: list[AuthConfig] = field(default_factory=list)

    def login(self, auth: AuthConfig) -> dict[str, str]:
        self.calls.append(auth)
        if auth.password != "right":
            raise Refused("login attempt to http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized")
        return {"Status": "Login Succeeded", "IdentityToken": ""}


@dataclass
class FakeSearch:
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    from_catalog: bool = False

    def search(self, term: str, limit: int, filters: dict[str, list[str]], auth: AuthConfig) -> Any:
        self.calls.append((term, limit, filters, auth))
        results = [{"name": "team/app", "description": "", "star_count": 0, "is_official": False,
                    "is_automated": False}]
        return SimpleNamespace(results=results, from_catalog=self.from_catalog)


@dataclass
class FakeDistribution:
    calls: list[tuple[str, AuthConfig]] = field(default_factory=list)

    def inspect(self, name: str, auth: AuthConfig) -> dict[str, Any]:
        self.calls.append((name, auth))
        if name.endswith("/missing"):
            raise NotFound("manifest unknown")
        return {"Descriptor": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                               "digest": "sha256:" + "a" * 64, "size": 527}, "Platforms": []}


@dataclass
class FakeTransfer:
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def import_tarball(self, stream: Any, repo: str, tag: str, changes: list[str], message: str,
                       platform_os: str = "") -> Any:
        self.calls.append((stream.read(), repo, tag, platform_os))
        return SimpleNamespace(id="sha256:" + "b" * 64)


@pytest.fixture
def engine() -> SimpleNamespace:
    return SimpleNamespace(pulls=FakePulls(), pushes=FakePushes(), registry_login=FakeLogin(),
                           registry_search=FakeSearch(), distribution=FakeDistribution(), transfer=FakeTransfer())


@pytest.fixture
def sock_path(tmp_path: Path, engine: SimpleNamespace) -> Iterator[str]:
    with serving(str(tmp_path / "api.sock"), Application(registry.build(engine))) as server:
        yield str(server.server_address)


def send(path: str, method: str, target: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(WAIT)
    sock.connect(path)
    lines = [f"{method} {target} HTTP/1.1", "Host: x", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
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


def call(path: str, method: str, target: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    with send(path, method, target, body, headers) as sock:
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if fields.get("transfer-encoding") == "chunked":
        rest = dechunk(rest)
    return int(lines[0].split()[1]), fields, rest


def messages(body: bytes) -> list[dict[str, Any]]:
    assert body.endswith(b"\r\n")
    return [json.loads(line) for line in body.split(b"\r\n") if line]


def auth_header(value: dict[str, str], padding: bool = False) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(value).encode()).decode()
    return encoded if padding else encoded.rstrip("=")


# --------------------------------------------------------------------------- pull


def test_pull_streams_dockers_json_lines_and_passes_what_the_query_says(sock_path: str, engine: Any) -> None:
    def script(emit: Emit) -> None:
        emit({"status": "Pulling from library/busybox", "id": "1.36"})
        emit({"status": "Digest: sha256:" + "c" * 64})
        emit({"status": "Status: Downloaded newer image for busybox:1.36 <&>"})

    engine.pulls.script = script
    header = auth_header({"username": "u", "password": "p", "serveraddress": "127.0.0.1:5000"})
    status, headers, body = call(sock_path, "POST", "/v1.41/images/create?fromImage=busybox&tag=1.36",
                                 headers={"X-Registry-Auth": header})
    assert status == 200 and headers["content-type"] == "application/json"
    assert b'{"status":"Pulling from library/busybox","id":"1.36"}\r\n' in body  # Go's compact JSON, \r\n
    assert b"\\u003c\\u0026\\u003e" in body  # and Go's escapes of <, & and >
    assert [m["status"][:6] for m in messages(body)] == ["Pullin", "Digest", "Status"]
    name, tag, platform, auth, all_tags = engine.pulls.calls[0]
    assert (name, tag, platform, all_tags) == ("busybox", "1.36", "", False)
    assert (auth.username, auth.password, auth.serveraddress) == ("u", "p", "127.0.0.1:5000")


def test_pull_without_a_tag_leaves_the_name_whole_and_bad_credentials_mean_anonymous(sock_path: str,
                                                                                   engine: Any) -> None:
    status, _, _ = call(sock_path, "POST", "/images/create?fromImage=127.0.0.1:5000/team/app",
                        headers={"X-Registry-Auth": "!!not base64!!"})
    assert status == 200
    name, tag, _, auth, all_tags = engine.pulls.calls[0]
    assert (name, tag, all_tags) == ("127.0.0.1:5000/team/app", "", False)  # the service reads it as Docker
    assert auth == AuthConfig()


def test_pull_checks_the_platform_first_with_containerds_words(sock_path: str, engine: Any) -> None:
    status, _, body = call(sock_path, "POST", "/v1.41/images/create?fromImage=busybox&tag=1&platform=lin%20ux")
    assert status == 400
    assert json.loads(body)["message"] == ('"lin ux" is an invalid component of "lin ux": platform specifier '
                                           'component must match "^[A-Za-z0-9_-]+$": invalid argument')
    status, _, body = call(sock_path, "POST", "/v1.41/images/create?fromImage=b&platform=linux/amd64/v2/x")
    assert status == 400 and "cannot parse platform specifier" in json.loads(body)["message"]
    assert engine.pulls.calls == []
    status, _, _ = call(sock_path, "POST", "/v1.41/images/create?fromImage=busybox&tag=1&platform=linux/arm64/v8")
    assert status == 200 and engine.pulls.calls[0][2] == "linux/arm64/v8"
    status, _, _ = call(sock_path, "POST", "/v1.31/images/create?fromImage=busybox&tag=1&platform=lin%20ux")
    assert status == 200 and engine.pulls.calls[1][2] == ""  # before API 1.32 Docker never reads it


@pytest.mark.parametrize(("error", "status"), [
    (NotFound("manifest unknown: manifest unknown"), 404),
    (Refused("unauthorized: authentication required"), 401),
    (InvalidParameter("invalid reference format"), 400),
])
def test_an_error_before_the_first_message_is_an_http_error(sock_path: str, engine: Any, error: MoorError,
                                                             status: int) -> None:
    def script(emit: Emit) -> None:
        raise error

    engine.pulls.script = script
    answer, _, body = call(sock_path, "POST", "/images/create?fromImage=busybox&tag=latest")
    assert answer == status and json.loads(body) == {"message": error.message}


def test_an_error_after_the_first_message_is_the_last_line_of_a_200(sock_path: str, engine: Any) -> None:
    def script(emit: Emit) -> None:
        emit({"status": "Pulling from library/busybox", "id": "latest"})
        raise InvalidParameter("filesystem layer verification failed for digest sha256:" + "d" * 64)

    engine.pulls.script = script
    status, _, body = call(sock_path, "POST", "/images/create?fromImage=busybox&tag=latest")
    message = "filesystem layer verification failed for digest sha256:" + "d" * 64
    assert status == 200
    assert body.endswith(b'{"errorDetail":{"message":"' + message.encode() + b'"},"error":"' + message.encode()
                         + b'"}\r\n')


def test_an_unexpected_failure_is_one_line_never_a_traceback(sock_path: str, engine: Any) -> None:
    def before(emit: Emit) -> None:
        raise KeyError("config")

    def after(emit: Emit) -> None:
        emit({"status": "Pulling fs layer", "id": "0123456789ab"})
        raise KeyError("config")

    engine.pulls.script = before
    status, _, body = call(sock_path, "POST", "/images/create?fromImage=busybox&tag=latest")
    assert status == 500 and json.loads(body) == {"message": "KeyError: 'config'"}
    engine.pulls.script = after
    status, _, body = call(sock_path, "POST", "/images/create?fromImage=busybox&tag=latest")
    assert status == 200 and messages(body)[-1]["error"] == "KeyError: 'config'"


def test_a_client_that_leaves_stops_the_pull(sock_path: str, engine: Any) -> None:
    stopped = threading.Event()

    def script(emit: Emit) -> None:
        try:
            for count in range(10**6):
                emit({"status": "Downloading", "progressDetail": {"current": count, "total": 10**6},
                      "id": "0123456789ab"})
                threading.Event().wait(0.01)
        except ClientGone:
            stopped.set()
            raise

    engine.pulls.script = script
    sock = send(sock_path, "POST", "/images/create?fromImage=busybox&tag=latest")
    received = b""
    while b"Downloading" not in received:
        received += sock.recv(65536)
    sock.close()
    assert stopped.wait(WAIT)


def test_a_client_that_leaves_before_the_first_message_stops_the_pull(sock_path: str, engine: Any) -> None:
    left, stopped = threading.Event(), threading.Event()

    def script(emit: Emit) -> None:
        assert left.wait(WAIT)  # resolving the manifest takes long; meanwhile the client goes
        while not stopped.is_set():
            try:
                emit({"status": "Pulling from library/busybox", "id": "latest"})
            except ClientGone:
                stopped.set()
                raise
            threading.Event().wait(0.05)

    engine.pulls.script = script
    sock = send(sock_path, "POST", "/images/create?fromImage=busybox&tag=latest")
    sock.close()
    left.set()
    assert stopped.wait(WAIT)


def test_encode_message_is_gos_compact_json() -> None:
    line = encode_message({"status": "a<b", "progressDetail": {}, "id": "x"})
    assert line == b'{"status":"a\\u003cb","progressDetail":{},"id":"x"}\r\n'


# --------------------------------------------------------------------------- import stays where it was


def test_from_src_still_imports(sock_path: str, engine: Any) -> None:
    status, _, body = call(sock_path, "POST", "/images/create?fromSrc=-&repo=mine&tag=v1&platform=linux",
                           body=b"tar bytes")
    assert status == 200 and json.loads(body) == {"status": "sha256:" + "b" * 64}
    assert engine.transfer.calls == [(b"tar bytes", "mine", "v1", "linux")]
    assert engine.pulls.calls == []
    status, _, body = call(sock_path, "POST", "/images/create")
    assert status == 400 and json.loads(body)["message"] == "fromImage or fromSrc is required"


# --------------------------------------------------------------------------- push


def test_push_takes_the_header_or_dockers_old_body(sock_path: str, engine: Any) -> None:
    status, _, body = call(sock_path, "POST", "/images/127.0.0.1:5000/team/app/push?tag=v1",
                           headers={"X-Registry-Auth": "e30="})
    assert status == 200 and messages(body) == [{"status": "The push refers to repository [127.0.0.1:5000/team/app]"}]
    assert engine.pushes.calls[-1] == ("127.0.0.1:5000/team/app", "v1", AuthConfig())
    status, _, _ = call(sock_path, "POST", "/images/app/push", body=b'{"username":"u","password":"p"}')
    assert status == 200 and engine.pushes.calls[-1] == ("app", "", AuthConfig(username="u", password="p"))
    status, _, _ = call(sock_path, "POST", "/images/app/push", headers={"X-Registry-Auth": "%%%"})
    assert status == 200 and engine.pushes.calls[-1][2] == AuthConfig()
    status, _, _ = call(sock_path, "POST", "/images/app/push", body=b"{}")  # docker-py, knowing no credentials
    assert status == 200 and engine.pushes.calls[-1][2] == AuthConfig()


@pytest.mark.parametrize(("body", "message"), [
    (b"", "Bad parameters and missing X-Registry-Auth: EOF"),
    (b'{"password":[]}', "Bad parameters and missing X-Registry-Auth: json: cannot unmarshal array into Go struct "
                         "field AuthConfig.password of type string"),
])
def test_push_without_credentials_at_all_is_dockers_400(sock_path: str, engine: Any, body: bytes,
                                                        message: str) -> None:
    status, _, answer = call(sock_path, "POST", "/images/app/push?tag=v1", body=body)
    assert status == 400 and json.loads(answer) == {"message": message}
    assert engine.pushes.calls == []


# --------------------------------------------------------------------------- login


def test_auth_logs_in_or_answers_401(sock_path: str, engine: Any) -> None:
    good = json.dumps({"username": "u", "password": "right", "serveraddress": "127.0.0.1:5000"}).encode()
    status, _, body = call(sock_path, "POST", "/v1.41/auth", body=good)
    assert status == 200 and json.loads(body) == {"Status": "Login Succeeded", "IdentityToken": ""}
    assert engine.registry_login.calls[0] == AuthConfig(username="u", password="right", serveraddress="127.0.0.1:5000")
    status, _, body = call(sock_path, "POST", "/v1.41/auth", body=good.replace(b"right", b"wrong"))
    assert status == 401 and "401 Unauthorized" in json.loads(body)["message"]


@pytest.mark.parametrize(("body", "message"), [
    (b"", "EOF"),
    (b'{"username":1}', "json: cannot unmarshal number into Go struct field AuthConfig.username of type string"),
    (b'{"serveraddress":true}', "json: cannot unmarshal bool into Go struct field AuthConfig.serveraddress of type "
                                "string"),
    (b"[]", "json: cannot unmarshal array into Go value of type types.AuthConfig"),
])
def test_auth_refuses_a_body_docker_refuses(sock_path: str, engine: Any, body: bytes, message: str) -> None:
    status, _, answer = call(sock_path, "POST", "/auth", body=body)
    assert status == 400 and json.loads(answer) == {"message": message}
    assert engine.registry_login.calls == []


def test_auth_reads_the_auth_field_and_keys_in_any_case(sock_path: str, engine: Any) -> None:
    body = json.dumps({"Auth": base64.b64encode(b"u:right").decode(), "ServerAddress": "h:1"}).encode()
    status, _, _ = call(sock_path, "POST", "/auth", body=body)
    assert status == 200
    auth = engine.registry_login.calls[0]
    assert (auth.username, auth.password, auth.serveraddress) == ("u", "right", "h:1")


# --------------------------------------------------------------------------- search


def test_search_decodes_term_limit_filters_and_notes_a_catalog_search(sock_path: str, engine: Any) -> None:
    status, headers, body = call(sock_path, "GET", "/images/search?term=127.0.0.1:5000/app")
    assert status == 200 and json.loads(body)[0]["name"] == "team/app"
    assert "x-moor-search-source" not in headers
    assert engine.registry_search.calls[-1][:3] == ("127.0.0.1:5000/app", 25, {})
    engine.registry_search.from_catalog = True
    filters = quote(json.dumps({"is-official": ["true"], "stars": ["3"]}))
    status, headers, _ = call(sock_path, "GET", f"/images/search?term=app&limit=7&filters={filters}",
                              headers={"X-Registry-Auth": auth_header({"username": "u"}, padding=True)})
    assert status == 200 and headers["x-moor-search-source"] == "catalog"
    term, limit, decoded, auth = engine.registry_search.calls[-1]
    assert (term, limit, decoded, auth.username) == ("app", 7, {"is-official": ["true"], "stars": ["3"]}, "u")


def test_search_refuses_a_limit_go_cannot_read_and_wants_a_term(sock_path: str, engine: Any) -> None:
    status, _, body = call(sock_path, "GET", "/images/search?term=app&limit=abc")
    assert status == 400 and json.loads(body) == {"message": 'strconv.Atoi: parsing "abc": invalid syntax'}
    status, _, body = call(sock_path, "GET", "/images/search?limit=3")
    assert status == 400 and json.loads(body) == {"message": "a search term is required (term)"}
    assert engine.registry_search.calls == []


# --------------------------------------------------------------------------- distribution


def test_distribution_inspect_passes_the_whole_name_and_credentials(sock_path: str, engine: Any) -> None:
    status, _, body = call(sock_path, "GET", "/v1.41/distribution/127.0.0.1:5000/team/app:v1/json",
                           headers={"X-Registry-Auth": auth_header({"username": "u", "password": "p"})})
    assert status == 200 and json.loads(body)["Descriptor"]["size"] == 527
    name, auth = engine.distribution.calls[0]
    assert name == "127.0.0.1:5000/team/app:v1" and auth.password == "p"
    status, _, body = call(sock_path, "GET", "/distribution/127.0.0.1:5000/missing/json")
    assert status == 404 and json.loads(body) == {"message": "manifest unknown"}


# --------------------------------------------------------------------------- the engine's wiring


@pytest.fixture
def real_engine(tmp_path: Path) -> Iterator[Any]:
    config = config_module.parse({"data_root": str(tmp_path / "data"), "exec_root": str(tmp_path / "exec"),
                                  "registry": {"max_concurrent_downloads": 2,
                                               "insecure_registries": ["127.0.0.1:1"]}})
    built = Engine(config, fake_drivers(tmp_path / "drivers"))
    yield built
    built.close()


def test_the_engine_builds_the_registry_services_from_its_config(real_engine: Any) -> None:
    settings = real_engine.config.registry
    assert settings.max_concurrent_downloads == 2
    for service in (real_engine.pulls, real_engine.pushes, real_engine.distribution, real_engine.registry_login,
                    real_engine.registry_search):
        assert service.settings is settings
    assert real_engine.pulls.metadata is real_engine.pushes.metadata  # what pull learns, push uses
    downloads = real_engine.pulls.downloads.directory
    assert downloads == os.path.join(real_engine.images.store.root, "downloads") and os.path.isdir(downloads)


def test_moords_router_sends_a_pull_to_the_registry(tmp_path: Path, real_engine: Any) -> None:
    with serving(str(tmp_path / "moord.sock"), Application(build_router(real_engine))) as server:
        path = str(server.server_address)
        status, _, body = call(path, "POST", "/v1.41/images/create?fromImage=127.0.0.1:1/app&tag=v1")
        assert status == 400 and "connection refused" in json.loads(body)["message"]  # nothing listens there
        status, _, body = call(path, "POST", "/v1.41/images/127.0.0.1:1/app/push?tag=v1",
                               headers={"X-Registry-Auth": "e30="})
        assert status == 200 and "An image does not exist locally" in messages(body)[-1]["error"]


def test_an_operation_slow_to_say_anything_gets_a_200_and_its_error_as_the_last_line() -> None:
    release = threading.Event()

    def operation(emit: Emit) -> None:
        assert release.wait(WAIT)
        raise NotFound("manifest unknown")

    request = Request("POST", "/images/create", {}, {}, BodyReader(io.BytesIO(b""), 0, False), "1.41")
    response = progress_response(request, operation, first_wait=0.1)  # stops waiting for a first message
    assert response.status == 200 and response.stream is not None
    release.set()
    body = b"".join(response.stream)
    assert body == b'{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\r\n'


def test_an_operation_that_ends_silently_answers_an_empty_200() -> None:
    request = Request("POST", "/images/create", {}, {}, BodyReader(io.BytesIO(b""), 0, False), "1.41")
    response = progress_response(request, lambda emit: None)
    assert response.status == 200 and response.stream is not None and b"".join(response.stream) == b""
