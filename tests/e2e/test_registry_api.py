"""The registry endpoints of a real moord against Debian's docker-registry: pull, push, ``/auth``, search
(the catalog fallback) and distribution inspect through the API, then the docker CLI and docker-py
doing ``pull``/``push``/``login`` against moord unchanged.

Images are made in the test (imported from a tar) and pushed by moord itself; every registry listens on
127.0.0.1. An error before the first progress message is an HTTP status, one after it the stream's last
line; a client that leaves in the middle of a pull stops it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from moor.client import DaemonError
from moor.registry.authconfig import AuthConfig, encode_registry_auth
from moor.testing.daemon import DaemonProcess
from moor.testing.fakes import layer_tar
from moor.testing.registry import TestRegistry
from moor.testing.slowproxy import SlowProxy

pytestmark = pytest.mark.root

WAIT = 120.0  # generous: what must happen, not how fast
USER, PASSWORD = "moor", "s3cret"
ANONYMOUS = {"X-Registry-Auth": encode_registry_auth(AuthConfig())}


@pytest.fixture(scope="module")
def registry() -> Iterator[TestRegistry]:
    with TestRegistry("plain") as running:
        yield running


@pytest.fixture(scope="module")
def locked() -> Iterator[TestRegistry]:
    """A registry that wants Basic credentials for everything."""
    with TestRegistry("htpasswd", users={USER: PASSWORD}) as running:
        yield running


@pytest.fixture(scope="module")
def moord(tmp_path_factory: pytest.TempPathFactory, registry: TestRegistry) -> Iterator[DaemonProcess]:
    config = f'[registry]\ninsecure_registries = ["{registry.host}"]\nmax_concurrent_downloads = 2\n'
    with DaemonProcess(str(tmp_path_factory.mktemp("registry-api")), config_text=config) as daemon:
        yield daemon


def make_image(moord: DaemonProcess, name: str, tag: str, files: dict[str, bytes | str]) -> str:
    """Import a one-layer image as ``name:tag``; its ID."""
    answer = moord.client().call("POST", "/images/create", {"fromSrc": "-", "repo": name, "tag": tag},
                                 body=layer_tar(files))
    return str(answer["status"])


def stream(moord: DaemonProcess, method: str, path: str, params: dict[str, str],
           headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return list(moord.client().stream(method, path, params, headers=headers if headers is not None else ANONYMOUS))


def inspect(moord: DaemonProcess, name: str) -> dict[str, Any]:
    answer: dict[str, Any] = moord.client().get(f"/images/{name}/json")
    return answer


def remove(moord: DaemonProcess, name: str) -> list[dict[str, str]]:
    answer: list[dict[str, str]] = moord.client().call("DELETE", f"/images/{name}")
    return answer


def pushed_digest(messages: list[dict[str, Any]]) -> str:
    aux = [m["aux"] for m in messages if "aux" in m]
    assert aux, messages
    return str(aux[-1]["Digest"])


# --------------------------------------------------------------------------- the API


def test_push_then_pull_back_the_same_image_with_its_digest(moord: DaemonProcess, registry: TestRegistry) -> None:
    name = f"{registry.host}/e2e/app"
    image_id = make_image(moord, name, "v1", {"etc/app.conf": "one\n", "bin/app": b"\x7fELF fake"})
    pushed = stream(moord, "POST", f"/images/{name}/push", {"tag": "v1"})
    assert pushed[0] == {"status": f"The push refers to repository [{name}]"}
    assert not [m for m in pushed if "error" in m], pushed
    digest = pushed_digest(pushed)
    assert registry.manifest_digest("e2e/app:v1") == digest  # skopeo sees what moord pushed
    assert inspect(moord, f"{name}:v1")["RepoDigests"] == [f"{name}@{digest}"]

    report = remove(moord, f"{name}:v1")  # the last tag takes its digest reference and the image with it
    assert report[:2] == [{"Untagged": f"{name}:v1"}, {"Untagged": f"{name}@{digest}"}]
    assert {"Deleted": image_id} in report

    pulled = stream(moord, "POST", "/images/create", {"fromImage": name, "tag": "v1"})
    statuses = [m.get("status", "") for m in pulled]
    assert statuses[0] == "Pulling from e2e/app" and f"Digest: {digest}" in statuses
    assert statuses[-1] == f"Status: Downloaded newer image for {name}:v1"
    found = inspect(moord, f"{name}:v1")
    assert found["Id"] == image_id and found["RepoDigests"] == [f"{name}@{digest}"]
    listed = moord.client().get("/images/json", filters=json.dumps({"reference": [name]}))
    assert listed[0]["RepoDigests"] == [f"{name}@{digest}"]

    again = stream(moord, "POST", "/images/create", {"fromImage": f"{name}@{digest}"})
    assert again[-1]["status"] == f"Status: Image is up to date for {name}@{digest}"
    assert inspect(moord, f"{name}@{digest}")["Id"] == image_id
    assert remove(moord, f"{name}@{digest}") == [{"Untagged": f"{name}@{digest}"}]  # rmi by digest: the tag stays
    assert inspect(moord, f"{name}:v1")["RepoDigests"] == []


def test_pull_errors_before_any_message_are_http_errors(moord: DaemonProcess, registry: TestRegistry) -> None:
    make_image(moord, f"{registry.host}/e2e/known", "v1", {"a": "a\n"})
    stream(moord, "POST", f"/images/{registry.host}/e2e/known/push", {"tag": "v1"})
    cases = [
        ({"fromImage": f"{registry.host}/e2e/known", "tag": "nope"}, 404, "manifest unknown"),
        ({"fromImage": f"{registry.host}/e2e/nobody", "tag": "v1"}, 404, "not found"),
        ({"fromImage": "127.0.0.1:1/e2e/app", "tag": "v1"}, 400, "connection refused"),
        ({"fromImage": "UPPER", "tag": "v1"}, 400, "invalid reference format"),
        ({"fromImage": f"{registry.host}/e2e/known", "platform": "linux/amd64/v2/x"}, 400,
         "cannot parse platform specifier"),
    ]
    for params, status, words in cases:
        with pytest.raises(DaemonError) as caught:
            stream(moord, "POST", "/images/create", params)
        assert caught.value.status == status and words in str(caught.value), (params, caught.value)
        assert "\n" not in str(caught.value)


def test_a_client_that_leaves_stops_the_pull(moord: DaemonProcess, registry: TestRegistry) -> None:
    name = f"{registry.host}/e2e/big"
    make_image(moord, name, "v1", {"blob": os.urandom(6 << 20)})
    assert not [m for m in stream(moord, "POST", f"/images/{name}/push", {"tag": "v1"}) if "error" in m]
    remove(moord, f"{name}:v1")
    with SlowProxy("127.0.0.1", registry.port, rate=256 << 10) as proxy:
        response = moord.client().open("POST", "/images/create", {"fromImage": f"{proxy.host}/e2e/big", "tag": "v1"},
                                       headers=ANONYMOUS)
        for message in moord.client().stream_json(response):
            if message.get("status") == "Downloading":
                break  # ... and the client goes (stream_json's response is closed with the generator)
        response.close()
        deadline = time.monotonic() + WAIT
        while "pull stopped: the client went away" not in moord.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "pull stopped: the client went away" in moord.log()
    with pytest.raises(DaemonError) as caught:
        inspect(moord, f"{proxy.host}/e2e/big:v1")
    assert caught.value.status == 404


def test_distribution_inspect_answers_from_the_registry(moord: DaemonProcess, registry: TestRegistry) -> None:
    name = f"{registry.host}/e2e/dist"
    make_image(moord, name, "v1", {"d": "d\n"})
    digest = pushed_digest(stream(moord, "POST", f"/images/{name}/push", {"tag": "v1"}))
    answer = moord.client().get(f"/distribution/{name}:v1/json")
    assert answer["Descriptor"]["digest"] == digest
    assert answer["Descriptor"]["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    by_digest = moord.client().get(f"/distribution/{name}@{digest}/json")
    assert by_digest["Descriptor"]["digest"] == digest
    with pytest.raises(DaemonError) as caught:
        moord.client().get(f"/distribution/{name}:absent/json")
    assert caught.value.status == 404


def test_search_falls_back_to_the_catalog_and_says_so(moord: DaemonProcess, registry: TestRegistry) -> None:
    name = f"{registry.host}/e2e/searchable"
    make_image(moord, name, "v1", {"s": "s\n"})
    stream(moord, "POST", f"/images/{name}/push", {"tag": "v1"})
    response = moord.client().open("GET", "/images/search", {"term": f"{registry.host}/searchab", "limit": "5"})
    assert response.getheader("X-Moor-Search-Source") == "catalog"
    results = json.loads(response.read())
    response.close()
    assert [r["name"] for r in results] == [name]
    assert set(results[0]) >= {"name", "description", "star_count", "is_official", "is_automated"}
    with pytest.raises(DaemonError) as caught:
        moord.client().get("/images/search", term=f"{registry.host}/x", limit="101")
    assert caught.value.status == 400 and "outside the range" in str(caught.value)


def test_auth_checks_credentials_against_the_registry(moord: DaemonProcess, locked: TestRegistry) -> None:
    good = {"username": USER, "password": PASSWORD, "serveraddress": locked.host}
    assert moord.client().call("POST", "/auth", body=good) == {"Status": "Login Succeeded", "IdentityToken": ""}
    with pytest.raises(DaemonError) as caught:
        moord.client().call("POST", "/auth", body={**good, "password": "wrong"})
    assert caught.value.status == 401 and "\n" not in str(caught.value)
    with pytest.raises(DaemonError) as caught:
        moord.client().call("POST", "/auth", body={**good, "password": 5})
    assert caught.value.status == 400
    assert str(caught.value) == "json: cannot unmarshal number into Go struct field AuthConfig.password of type string"


def test_push_and_pull_with_credentials(moord: DaemonProcess, locked: TestRegistry) -> None:
    name = f"{locked.host}/e2e/private"
    image_id = make_image(moord, name, "v1", {"p": "p\n"})
    with pytest.raises(DaemonError) as caught:  # no credentials: refused before any layer moves
        stream(moord, "POST", "/images/create", {"fromImage": name, "tag": "v1"})
    assert caught.value.status == 401
    auth = {"X-Registry-Auth": encode_registry_auth(AuthConfig(username=USER, password=PASSWORD,
                                                                serveraddress=locked.host))}
    pushed = stream(moord, "POST", f"/images/{name}/push", {"tag": "v1"}, headers=auth)
    assert not [m for m in pushed if "error" in m], pushed
    remove(moord, f"{name}:v1")
    pulled = stream(moord, "POST", "/images/create", {"fromImage": name, "tag": "v1"}, headers=auth)
    assert pulled[-1]["status"] == f"Status: Downloaded newer image for {name}:v1"
    assert inspect(moord, f"{name}:v1")["Id"] == image_id


# --------------------------------------------------------------------------- the docker CLI


def docker_cli(moord: DaemonProcess, config_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cli = shutil.which("docker") or "/usr/local/bin/docker"
    env = {**os.environ, "DOCKER_CONFIG": str(config_dir)}
    env.pop("DOCKER_HOST", None)
    return subprocess.run([cli, "-H", moord.host, *args], capture_output=True, text=True, timeout=WAIT, env=env,
                          stdin=subprocess.DEVNULL)


def test_the_docker_cli_logs_in_pushes_and_pulls(moord: DaemonProcess, locked: TestRegistry, tmp_path: Path) -> None:
    name = f"{locked.host}/cli/app"
    image_id = make_image(moord, name, "v1", {"cli": "cli\n"})
    wrong = docker_cli(moord, tmp_path, "login", "-u", USER, "-p", "wrong", locked.host)
    assert wrong.returncode == 1 and "Error response from daemon" in wrong.stderr
    assert "unauthorized" in wrong.stderr.lower()
    login = subprocess.run([shutil.which("docker") or "/usr/local/bin/docker", "-H", moord.host, "login", "-u", USER,
                            "--password-stdin", locked.host], input=PASSWORD + "\n", capture_output=True, text=True,
                           timeout=WAIT, env={**os.environ, "DOCKER_CONFIG": str(tmp_path)})
    assert login.returncode == 0 and "Login Succeeded" in login.stdout, login.stderr
    saved = json.loads((tmp_path / "config.json").read_text())["auths"][locked.host]["auth"]
    assert base64.b64decode(saved).decode() == f"{USER}:{PASSWORD}"

    push = docker_cli(moord, tmp_path, "push", f"{name}:v1")
    assert push.returncode == 0, push.stderr
    assert "v1: digest: sha256:" in push.stdout
    assert docker_cli(moord, tmp_path, "rmi", f"{name}:v1").returncode == 0
    pull = docker_cli(moord, tmp_path, "pull", f"{name}:v1")
    assert pull.returncode == 0, pull.stderr
    assert f"Status: Downloaded newer image for {name}:v1" in pull.stdout
    assert inspect(moord, f"{name}:v1")["Id"] == image_id
    digests = docker_cli(moord, tmp_path, "images", "--digests", "--format", "{{.Repository}} {{.Digest}}", name)
    assert digests.stdout.split() == [name, pull.stdout.split("Digest: ")[1].split()[0]]

    missing = docker_cli(moord, tmp_path, "pull", f"{locked.host}/cli/app:absent")
    assert missing.returncode == 1 and "manifest unknown" in missing.stderr
    assert docker_cli(moord, tmp_path, "logout", locked.host).returncode == 0
    assert locked.host not in json.loads((tmp_path / "config.json").read_text()).get("auths", {})


# --------------------------------------------------------------------------- docker-py


def test_docker_py_logs_in_pushes_and_pulls(moord: DaemonProcess, locked: TestRegistry, tmp_path: Path) -> None:
    name = f"{locked.host}/py/app"
    image_id = make_image(moord, name, "v1", {"py": "py\n"})
    client = docker.APIClient(base_url=moord.host, version="1.41")
    try:
        with pytest.raises(docker.errors.APIError) as caught:
            client.login(USER, "wrong", registry=locked.host, reauth=True, dockercfg_path=str(tmp_path / "none"))
        assert caught.value.status_code == 401
        answer = client.login(USER, PASSWORD, registry=locked.host, reauth=True,
                              dockercfg_path=str(tmp_path / "none"))
        assert answer["Status"] == "Login Succeeded"
        auth = {"username": USER, "password": PASSWORD}
        pushed = list(client.push(name, tag="v1", auth_config=auth, stream=True, decode=True))
        assert not [m for m in pushed if "error" in m], pushed
        digest = pushed_digest(pushed)
        client.remove_image(f"{name}:v1")
        pulled = list(client.pull(name, tag="v1", auth_config=auth, stream=True, decode=True))
        assert pulled[-1]["status"] == f"Status: Downloaded newer image for {name}:v1"
        assert client.inspect_image(f"{name}:v1")["Id"] == image_id
        assert client.inspect_image(f"{name}:v1")["RepoDigests"] == [f"{name}@{digest}"]
        high = docker.DockerClient(base_url=moord.host, version="1.41")
        try:
            image = high.images.pull(name, tag="v1", auth_config=auth)
            assert image.id == image_id
            assert high.images.get_registry_data(f"{name}:v1", auth_config=auth).id == digest
        finally:
            high.close()
        with pytest.raises(docker.errors.NotFound):
            client.pull(name, tag="absent", auth_config=auth)
    finally:
        client.close()


def test_docker_py_pulls_docker_hub_names_through_a_mirror(moord: DaemonProcess, registry: TestRegistry,
                                                           tmp_path: Path) -> None:
    """The names docker-py's own integration tests pull, served by a local registry as docker.io's mirror."""
    ids = {}
    for repository, tag in (("alpine", "3.10"), ("alpine", "latest"), ("hello-world", "latest")):
        name = f"{registry.host}/library/{repository}"
        ids[f"{repository}:{tag}"] = make_image(moord, name, tag, {f"{repository}-{tag}": f"{repository}\n"})
        assert not [m for m in stream(moord, "POST", f"/images/{name}/push", {"tag": tag}) if "error" in m]
    config = f'[registry]\nmirrors = ["{registry.url}"]\n'
    with DaemonProcess(str(tmp_path / "mirrored"), config_text=config) as mirrored:
        client = docker.DockerClient(base_url=mirrored.host, version="1.41")
        try:
            assert client.images.pull("alpine:3.10").id == ids["alpine:3.10"]
            assert client.images.pull("hello-world").id == ids["hello-world:latest"]  # docker-py asks for latest
            every = client.images.pull("alpine", all_tags=True)
            assert sorted(image.id for image in every) == sorted([ids["alpine:3.10"], ids["alpine:latest"]])
            found = client.images.get("alpine:3.10")
            assert found.tags == ["alpine:3.10"] and found.attrs["RepoDigests"][0].startswith("alpine@sha256:")
            found.tag(f"{registry.host}/py/anonymous", "v1")  # no credentials anywhere: docker-py sends "{}"
            pushed = client.images.push(f"{registry.host}/py/anonymous", tag="v1", stream=True, decode=True)
            assert "error" not in list(pushed)[-1]
            assert registry.manifest_digest("py/anonymous:v1").startswith("sha256:")
        finally:
            client.close()
