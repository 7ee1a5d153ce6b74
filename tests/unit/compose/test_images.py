"""Compose's image rules without a daemon: pull_policy, what ``up`` pulls and builds, build args and the build
request, against a fake client that records what it was asked."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moor.client import DaemonError
from moor.compose.errors import ComposeError
from moor.compose.model import Project
from moor.compose.runtime import images
from moor.compose.runtime.images import (
    BuildFailed,
    build_args,
    build_params,
    ensure_images,
    must_pull,
    policies_for,
    pull_policy,
    pull_services,
    push_services,
)
from moor.compose.runtime.progress import Progress


class FakeClient:
    """Answers image inspects from ``present``; pulls, pushes and builds succeed unless listed as failing."""

    def __init__(self, present: dict[str, dict[str, Any]] | None = None, failing: tuple[str, ...] = (),
                 build_messages: list[dict[str, Any]] | None = None) -> None:
        self.present = dict(present or {})
        self.failing = failing
        self.requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
        self.build_messages = build_messages
        self.contexts: list[bytes] = []

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        self.requests.append((method, path, dict(params or {}), dict(headers or {})))
        if method == "GET" and path.startswith("/images/") and path.endswith("/json"):
            name = path[len("/images/"):-len("/json")]
            if name in self.present:
                return self.present[name]
            raise DaemonError(404, f"No such image: {name}")
        raise AssertionError(f"unexpected {method} {path}")

    def stream(self, method: str, path: str, params: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        self.requests.append((method, path, dict(params or {}), dict(headers or {})))
        params = params or {}
        if path == "/images/create":
            name = f"{params['fromImage']}:{params['tag']}"
            if name in self.failing:
                raise DaemonError(404, f"pull access denied for {params['fromImage']}")
            self.present[name] = {"Id": f"sha256:pulled-{name}"}
            if params["tag"] == "latest":
                self.present[params["fromImage"]] = self.present[name]
            return iter([{"status": "Pulling"}, {"status": f"Status: Downloaded newer image for {name}"}])
        if path.endswith("/push"):
            name = path[len("/images/"):-len("/push")] + ":" + params["tag"]
            if name in self.failing:
                return iter([{"status": "Preparing"}, {"errorDetail": {"message": "denied"}, "error": "denied"}])
            return iter([{"status": "Pushed"}])
        raise AssertionError(f"unexpected stream {path}")

    def open(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        self.requests.append((method, path, dict(params or {}), dict(headers or {})))
        assert path == "/build"
        self.contexts.append(body.read())
        tags = (params or {})["t"]
        for tag in tags:
            self.present[tag if ":" in tag else tag + ":latest"] = {"Id": f"sha256:built-{tags[0]}"}
            self.present[tag] = {"Id": f"sha256:built-{tags[0]}"}
        return tags

    def stream_json(self, response: Any) -> Iterator[dict[str, Any]]:
        if self.build_messages is not None:
            return iter(self.build_messages)
        return iter([{"stream": "Step 1/1 : FROM busybox\n"}, {"aux": {"ID": f"sha256:built-{response[0]}"}},
                     {"stream": "Successfully built 123\n"}])

    def paths(self, method: str) -> list[str]:
        return [path for m, path, _, _ in self.requests if m == method and path != "/images/x/json"]


def project(services: dict[str, dict[str, Any]], tmp_path: Path | None = None, **environment: str) -> Project:
    return Project(name="proj", working_dir=str(tmp_path or "/nowhere"), config_files=[], services=services,
                   environment=dict(environment))


def quiet() -> Progress:
    return Progress("quiet", io.StringIO())


@pytest.fixture
def context_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dockercfg"))
    directory = tmp_path / "ctx"
    directory.mkdir()
    (directory / "Dockerfile").write_text("FROM busybox\n")
    (directory / "kept.txt").write_text("kept\n")
    (directory / "ignored.txt").write_text("ignored\n")
    (directory / ".dockerignore").write_text("ignored.txt\n")
    return directory


# ---------------------------------------------------------------------- policies


@pytest.mark.parametrize(("text", "expected"), [
    ("always", ("always", 0.0)), ("never", ("never", 0.0)), ("build", ("build", 0.0)),
    ("missing", ("missing", 0.0)), ("if_not_present", ("missing", 0.0)), ("", ("missing", 0.0)),
    ("daily", ("refresh", 86400.0)), ("weekly", ("refresh", 604800.0)),
    ("every_12h", ("refresh", 43200.0)), ("every_1d12h", ("refresh", 129600.0)), ("every_2w", ("refresh", 1209600.0)),
    ("every_1h30m", ("refresh", 5400.0)),
])
def test_pull_policy_values(text: str, expected: tuple[str, float]) -> None:
    assert pull_policy("web", {"pull_policy": text}) == expected


@pytest.mark.parametrize("text", ["every_", "every_soon", "every_12x"])
def test_a_bad_refresh_period_is_one_line(text: str) -> None:
    with pytest.raises(ComposeError) as caught:
        pull_policy("web", {"pull_policy": text})
    assert str(caught.value).startswith(f'service "web": invalid pull_policy "{text}": time: invalid duration')


def test_up_flags_over_the_files_policies() -> None:
    proj = project({"built": {"build": {"context": "."}, "image": "x", "pull_policy": "always"},
                    "plain": {"image": "busybox", "pull_policy": "never"}})
    assert policies_for(proj, ["built", "plain"]) == {"built": ("always", 0.0), "plain": ("never", 0.0)}
    assert policies_for(proj, ["built", "plain"], pull="always")["plain"] == ("always", 0.0)
    assert policies_for(proj, ["built", "plain"], pull="policy")["plain"] == ("never", 0.0)
    assert policies_for(proj, ["built", "plain"], pull="missing", build=True) == {
        "built": ("build", 0.0), "plain": ("missing", 0.0)}
    with pytest.raises(ComposeError, match='invalid --pull option "sometimes"'):
        policies_for(proj, ["plain"], pull="sometimes")


def test_must_pull() -> None:
    present = {"busybox": {"Id": "sha256:1", "Metadata": {"LastTagTime": "2000-01-01T00:00:00Z"}}}
    now_tagged = {"busybox": {"Id": "sha256:1", "Metadata": {"LastTagTime": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}}
    service = {"image": "busybox"}
    assert must_pull(service, ("always", 0), present)
    assert not must_pull(service, ("never", 0), {})
    assert not must_pull(service, ("build", 0), {})
    assert must_pull(service, ("missing", 0), {})
    assert not must_pull(service, ("missing", 0), present)
    assert must_pull(service, ("refresh", 86400), present)  # tagged long ago
    assert not must_pull(service, ("refresh", 86400), now_tagged)
    assert not must_pull({"build": {"context": "."}}, ("always", 0), {})  # no image: nothing to pull


# ---------------------------------------------------------------------- up's images


def test_up_pulls_what_is_missing_and_builds_what_has_no_image(context_dir: Path) -> None:
    proj = project({"web": {"build": {"context": str(context_dir)}},
                    "db": {"image": "redis:7"},
                    "cache": {"image": "busybox:latest"}})
    client = FakeClient({"busybox:latest": {"Id": "sha256:bb"}})
    ids = ensure_images(client, proj, [], progress=quiet())  # type: ignore[arg-type]
    assert ids == {"cache": "sha256:bb", "db": "sha256:pulled-redis:7", "web": "sha256:built-proj-web"}
    assert client.paths("POST") == ["/images/create", "/build"]
    again = ensure_images(client, proj, [], progress=quiet())  # type: ignore[arg-type]
    assert again == ids
    assert client.paths("POST") == ["/images/create", "/build"]  # nothing more: everything is there


def test_up_build_rebuilds_and_no_build_never_builds(context_dir: Path) -> None:
    proj = project({"web": {"build": {"context": str(context_dir)}, "image": "team/web:1"}})
    client = FakeClient({"team/web:1": {"Id": "sha256:old"}})
    assert ensure_images(client, proj, [], progress=quiet()) == {"web": "sha256:old"}  # type: ignore[arg-type]
    assert client.paths("POST") == []
    built = ensure_images(client, proj, [], build=True, progress=quiet())  # type: ignore[arg-type]
    assert built == {"web": "sha256:built-team/web:1"}
    assert client.paths("POST") == ["/build"]  # --build: no pull of an image it builds

    missing = project({"web": {"build": {"context": str(context_dir)}}})
    with pytest.raises(ComposeError, match="^Error response from daemon: No such image: proj-web:latest$"):
        ensure_images(FakeClient(), missing, [], no_build=True, progress=quiet())  # type: ignore[arg-type]
    with pytest.raises(ComposeError, match="^--build and --no-build are incompatible$"):
        ensure_images(FakeClient(), missing, [], build=True, no_build=True, progress=quiet())  # type: ignore[arg-type]


def test_a_failed_pull_of_a_buildable_image_is_built_instead(context_dir: Path) -> None:
    proj = project({"web": {"build": {"context": str(context_dir)}, "image": "team/web:1", "pull_policy": "always"}})
    client = FakeClient(failing=("team/web:1",))
    assert ensure_images(client, proj, [], progress=quiet()) == {"web": "sha256:built-team/web:1"}  # type: ignore[arg-type]
    assert client.paths("POST") == ["/images/create", "/build"]


def test_a_failed_pull_of_an_image_nothing_builds_stops_up() -> None:
    proj = project({"db": {"image": "nowhere/db:1"}})
    with pytest.raises(ComposeError, match="^Error response from daemon: pull access denied for nowhere/db$"):
        ensure_images(FakeClient(failing=("nowhere/db:1",)), proj, [], progress=quiet())  # type: ignore[arg-type]


def test_never_with_a_missing_image_is_no_such_image() -> None:
    proj = project({"db": {"image": "busybox:1.36", "pull_policy": "never"}})
    client = FakeClient()
    with pytest.raises(ComposeError, match="^Error response from daemon: No such image: busybox:1.36$"):
        ensure_images(client, proj, [], progress=quiet())  # type: ignore[arg-type]
    assert client.paths("POST") == []


def test_a_service_without_image_or_build_is_invalid() -> None:
    with pytest.raises(ComposeError, match='^invalid service "x". Must specify either image or build$'):
        ensure_images(FakeClient(), project({"x": {}}), [], progress=quiet())  # type: ignore[arg-type]


def test_pull_credentials_come_from_the_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "dockercfg"
    config.mkdir()
    auth = base64.b64encode(b"alice:wonder1and").decode()
    (config / "config.json").write_text(json.dumps({"auths": {"127.0.0.1:5000": {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    client = FakeClient()
    ensure_images(client, project({"db": {"image": "127.0.0.1:5000/team/db"}}), [],  # type: ignore[arg-type]
                  progress=quiet())
    (_, _, params, headers), = [r for r in client.requests if r[1] == "/images/create"]
    assert params["fromImage"] == "127.0.0.1:5000/team/db" and params["tag"] == "latest"
    sent = json.loads(base64.urlsafe_b64decode(headers["X-Registry-Auth"]))
    assert sent == {"username": "alice", "password": "wonder1and", "serveraddress": "127.0.0.1:5000"}


# ---------------------------------------------------------------------- compose pull / push


def test_compose_pull_skips_and_refreshes_as_compose_does() -> None:
    proj = project({"plain": {"image": "busybox:1.36"},
                    "latest": {"image": "alpine", "pull_policy": "missing"},
                    "kept": {"image": "redis:7", "pull_policy": "missing"},
                    "never": {"image": "nginx:1", "pull_policy": "never"},
                    "built": {"build": {"context": "."}}})
    client = FakeClient({"busybox:1.36": {"Id": "1"}, "alpine": {"Id": "2"}, "redis:7": {"Id": "3"}})
    out = io.StringIO()
    pull_services(client, proj, [], progress=Progress("plain", out))  # type: ignore[arg-type]
    pulled = sorted(f"{p['fromImage']}:{p['tag']}" for _, path, p, _ in client.requests if path == "/images/create")
    assert pulled == ["alpine:latest", "busybox:1.36"]  # no policy: always; missing but latest: refreshed
    lines = out.getvalue().splitlines()
    assert " built  Skipped No image to be pulled" in lines
    assert " Image redis:7  Skipped Image is already present locally" in lines
    assert " Image nginx:1  Skipped" in lines


def test_compose_pull_failures(capsys: pytest.CaptureFixture[str]) -> None:
    proj = project({"web": {"image": "team/web:1", "build": {"context": "."}}, "db": {"image": "team/db:1"}})
    with pytest.raises(ComposeError, match="pull access denied for team/db"):
        pull_services(FakeClient(failing=("team/db:1",)), proj, [], progress=quiet())  # type: ignore[arg-type]
    err = io.StringIO()
    pull_services(FakeClient(failing=("team/web:1", "team/db:1")), proj, [],  # type: ignore[arg-type]
                  ignore_failures=True, progress=quiet(), err=err)
    assert err.getvalue() == ("WARNING: Some service image(s) must be built from source by running:\n"
                              "    moor compose build web\n")
    policy = FakeClient({"team/web:1": {"Id": "1"}, "team/db:1": {"Id": "2"}})
    pull_services(policy, proj, [], policy="missing", progress=quiet())  # type: ignore[arg-type]
    assert [path for _, path, _, _ in policy.requests if path == "/images/create"] == []


def test_push_pushes_built_images_with_their_tags() -> None:
    proj = project({"web": {"image": "team/web:1", "build": {"context": ".", "tags": ["team/web:extra"]}},
                    "db": {"image": "team/db:1"}, "local": {"build": {"context": "."}}})
    client = FakeClient()
    out = io.StringIO()
    push_services(client, proj, [], progress=Progress("plain", out))  # type: ignore[arg-type]
    pushed = sorted(f"{path}?{p['tag']}" for _, path, p, _ in client.requests if path.endswith("/push"))
    assert pushed == ["/images/team/web/push?1", "/images/team/web/push?extra"]
    assert " db  Skipped" in out.getvalue() and " local  Skipped" in out.getvalue()
    with pytest.raises(ComposeError, match="^denied$"):
        push_services(FakeClient(failing=("team/web:1",)), proj, ["web"], progress=quiet())  # type: ignore[arg-type]
    push_services(FakeClient(failing=("team/web:1",)), proj, ["web"], ignore_failures=True,  # type: ignore[arg-type]
                  progress=quiet())


# ---------------------------------------------------------------------- builds


def test_build_args_follow_compose(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "dockercfg"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"proxies": {"default": {"httpProxy": "http://127.0.0.1:3128",
                                                                            "noProxy": "localhost"}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    proj = project({}, FROM_ENV="env value", HTTP_PROXY="not used")
    service = {"build": {"context": ".", "args": {"A": "file", "B": "file", "FROM_ENV": None, "UNSET": None,
                                                  "http_proxy": "mine"}}}
    args = build_args(proj, service, {"B": "flag", "C": None})
    assert args == {"A": "file", "B": "flag", "FROM_ENV": "env value", "UNSET": None, "C": None,
                    "http_proxy": "mine", "HTTP_PROXY": "http://127.0.0.1:3128", "NO_PROXY": "localhost",
                    "no_proxy": "localhost"}


def test_build_request(context_dir: Path) -> None:
    proj = project({"web": {"build": {"context": str(context_dir), "target": "final", "cache_from": ["team/web:cache"],
                                      "labels": {"role": "web"}, "network": "host", "extra_hosts": ["db:127.0.0.1"],
                                      "shm_size": 1 << 20, "tags": ["team/web:extra"], "no_cache": True}}})
    params = build_params(proj, "web", proj.services["web"])
    assert params["t"] == ["proj-web", "team/web:extra"]
    assert params["target"] == "final" and params["networkmode"] == "host" and params["shmsize"] == 1 << 20
    assert params["extrahosts"] == ["db:127.0.0.1"] and params["nocache"] == "1" and params["pull"] is None
    assert json.loads(params["cachefrom"]) == ["team/web:cache"]
    assert json.loads(params["labels"]) == {"role": "web", "com.docker.compose.version": images.COMPOSE_VERSION,
                                            "com.docker.compose.project": "proj", "com.docker.compose.service": "web",
                                            "com.docker.compose.image.builder": "classic"}
    client = FakeClient()
    built = images.build_services(client, proj, [], pull=True, progress=quiet(),  # type: ignore[arg-type]
                                  out=io.StringIO())
    assert built == {"web": "sha256:built-proj-web"}
    (_, _, sent, headers), = [r for r in client.requests if r[1] == "/build"]
    assert sent["pull"] == "1" and sent["dockerfile"] == "Dockerfile"
    assert headers["Content-Type"] == "application/x-tar" and "X-Registry-Config" in headers
    with tarfile.open(fileobj=io.BytesIO(client.contexts[0])) as tar:
        assert sorted(tar.getnames()) == [".dockerignore", "Dockerfile", "kept.txt"]


def test_inline_and_outside_dockerfiles_travel_in_the_context(context_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "Dockerfile.web").write_text("FROM busybox\nRUN echo outside\n")
    proj = project({"inline": {"build": {"context": str(context_dir), "dockerfile_inline": "FROM busybox\n"}},
                    "outside": {"build": {"context": str(context_dir), "dockerfile": "../elsewhere/Dockerfile.web"}}})
    client = FakeClient()
    images.build_services(client, proj, [], progress=quiet(), parallel=1, out=io.StringIO())  # type: ignore[arg-type]
    sent = [params["dockerfile"] for _, path, params, _ in client.requests if path == "/build"]
    expected = {"inline": b"FROM busybox\n", "outside": b"FROM busybox\nRUN echo outside\n"}
    for name, dockerfile, context in zip(["inline", "outside"], sent, client.contexts, strict=True):
        assert dockerfile.startswith(".dockerfile.")
        with tarfile.open(fileobj=io.BytesIO(context)) as tar:
            member = tar.extractfile(dockerfile)
            assert member is not None and member.read() == expected[name]
            ignore = tar.extractfile(".dockerignore")
            assert ignore is not None and dockerfile in ignore.read().decode().split()
            assert "ignored.txt" not in tar.getnames()


def test_a_failed_build_keeps_its_exit_code(context_dir: Path) -> None:
    proj = project({"web": {"build": {"context": str(context_dir)}}})
    failing = FakeClient(build_messages=[
        {"stream": "Step 1/2 : RUN exit 3\n"},
        {"errorDetail": {"code": 3, "message": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"},
         "error": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"}])
    out = io.StringIO()
    with pytest.raises(BuildFailed) as caught:
        images.build_services(failing, proj, [], progress=quiet(), out=out)  # type: ignore[arg-type]
    assert caught.value.exit_code == 3
    assert str(caught.value) == "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    assert out.getvalue() == "Step 1/2 : RUN exit 3\n"


def test_context_errors_are_compose_words(tmp_path: Path) -> None:
    missing = project({"web": {"build": {"context": str(tmp_path / "absent")}}})
    with pytest.raises(ComposeError, match=f'^unable to prepare context: path "{tmp_path}/absent" not found$'):
        images.build_services(FakeClient(), missing, [], progress=quiet())  # type: ignore[arg-type]
    (tmp_path / "empty").mkdir()
    no_dockerfile = project({"web": {"build": {"context": str(tmp_path / "empty")}}})
    with pytest.raises(ComposeError, match="^unable to prepare context: unable to evaluate symlinks in Dockerfile "
                                           f"path: lstat {tmp_path}/empty/Dockerfile: no such file or directory$"):
        images.build_services(FakeClient(), no_dockerfile, [], progress=quiet())  # type: ignore[arg-type]
    multi = project({"web": {"build": {"context": str(tmp_path), "platforms": ["linux/amd64", "linux/arm64"]}}})
    with pytest.raises(ComposeError, match="^the classic builder doesn't support multi-arch build$"):
        images.build_services(FakeClient(), multi, [], progress=quiet())  # type: ignore[arg-type]


def test_build_secrets_travel_in_moords_header(context_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("file secret")
    proj = project({"web": {"build": {"context": str(context_dir),
                                      "secrets": [{"source": "token"}, {"source": "env", "target": "renamed"}]}}},
                   BUILD_TOKEN="env secret")
    proj.secrets = {"token": {"name": "token", "file": str(tmp_path / "token.txt")},
                    "env": {"name": "env", "environment": "BUILD_TOKEN"}}
    client = FakeClient()
    images.build_services(client, proj, [], progress=quiet(), out=io.StringIO())  # type: ignore[arg-type]
    (_, _, _, headers), = [r for r in client.requests if r[1] == "/build"]
    sent = json.loads(base64.b64decode(headers["X-Moor-Build-Secrets"]))
    assert {key: base64.b64decode(value) for key, value in sent.items()} == {
        "token": b"file secret", "renamed": b"env secret"}
    proj.services["web"]["build"]["secrets"] = [{"source": "undeclared"}]
    with pytest.raises(ComposeError, match='^service "web" refers to undefined build secret undeclared: '
                                           "invalid compose project$"):
        images.build_services(client, proj, [], progress=quiet())  # type: ignore[arg-type]


def test_build_text_goes_to_stdout_unless_the_progress_is_a_live_list(context_dir: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    proj = project({"web": {"build": {"context": str(context_dir)}}})
    images.build_services(FakeClient(), proj, [], progress=Progress("plain", io.StringIO()))  # type: ignore[arg-type]
    assert capsys.readouterr().out == "Step 1/1 : FROM busybox\nSuccessfully built 123\n"
    live = Progress("tty", io.StringIO())
    images.build_services(FakeClient(), proj, [], progress=live)  # type: ignore[arg-type]
    live.close()
    assert capsys.readouterr().out == ""
    images.build_services(FakeClient(), proj, [], quiet=True, progress=quiet())  # type: ignore[arg-type]
    assert capsys.readouterr().out == ""
