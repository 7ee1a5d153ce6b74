"""Push from a real moord to Debian's docker-registry, checked with skopeo and the docker CLI.

moord pushes an image loaded from a fixture archive; skopeo copies it back out (verifying every blob's
digest) and finds the same manifest digest, config (the image ID) and layers (their diff IDs). A second
push finds every layer ("Layer already exists"), a push to another repository mounts them ("Mounted
from"), errors are one line and leave no temp file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pathlib
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import pytest

from e2e.imagehelpers import FIXTURES
from moor.images.store import ImageStore
from moor.registry.authconfig import AuthConfig, encode_registry_auth
from moor.registry.client import RegistryClient
from moor.registry.settings import RegistrySettings
from moor.services.events import EventBus
from moor.services.images import ImageService
from moor.services.registry import push as push_module
from moor.services.registry.metadata import DistributionMetadata
from moor.testing.daemon import DaemonProcess
from moor.testing.fakes import fake_drivers, layer_tar
from moor.testing.registry import TestRegistry

pytestmark = pytest.mark.root

IMAGE = "moor-fixture:whiteouts"


@pytest.fixture(scope="module")
def registry() -> Iterator[TestRegistry]:
    with TestRegistry("plain") as running:
        yield running


@pytest.fixture(scope="module")
def moord(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with DaemonProcess(str(tmp_path_factory.mktemp("push"))) as daemon:
        client = daemon.client()
        with open(FIXTURES / "docker-save-whiteouts.tar", "rb") as archive:
            client.call("POST", "/images/load", body=archive.read())
        yield daemon


def tag(moord: DaemonProcess, repository: str, tag: str = "latest") -> None:
    moord.client().call("POST", f"/images/{IMAGE}/tag", {"repo": repository, "tag": tag})


def push(moord: DaemonProcess, name: str, tag: str = "latest", auth: AuthConfig | None = None) \
        -> list[dict[str, Any]]:
    headers = {"X-Registry-Auth": encode_registry_auth(auth or AuthConfig())}
    return list(moord.client().stream("POST", f"/images/{name}/push", {"tag": tag}, headers=headers))


def layer_statuses(messages: list[dict[str, Any]]) -> dict[str, str]:
    """Each layer's last status."""
    return {m["id"]: m["status"] for m in messages if "id" in m and "status" in m}


def image_inspect(moord: DaemonProcess, name: str) -> dict[str, Any]:
    result: dict[str, Any] = moord.client().get(f"/images/{name}/json")
    return result


def skopeo(*args: str) -> str:
    done = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def leftovers(moord: DaemonProcess) -> list[str]:
    return os.listdir(os.path.join(moord.data_root, "image", "tmp"))


def test_push_then_skopeo_copies_the_same_image(moord: DaemonProcess, registry: TestRegistry,
                                                tmp_path: pathlib.Path) -> None:
    name = f"{registry.host}/app"
    tag(moord, name)
    messages = push(moord, name)
    assert messages[0] == {"status": f"The push refers to repository [{name}]"}
    assert not [m for m in messages if "error" in m], messages
    image = image_inspect(moord, IMAGE)
    diff_ids = image["RootFS"]["Layers"]
    statuses = layer_statuses(messages)
    assert statuses == {d[7:19]: "Pushed" for d in diff_ids}
    assert any(m.get("status") == "Pushing" and m["progressDetail"].get("total") for m in messages)
    digest_line = messages[-2]["status"]
    assert digest_line.startswith("latest: digest: sha256:")
    digest = digest_line.split()[2]
    size = int(digest_line.split()[4])
    assert messages[-1] == {"progressDetail": {}, "aux": {"Tag": "latest", "Digest": digest, "Size": size}}

    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{name}:latest").encode()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest and len(raw) == size
    assert json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{name}:latest"))["Digest"] == digest
    out = tmp_path / "copy"
    skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{name}:latest", f"dir:{out}")  # checks digests
    manifest = json.loads((out / "manifest.json").read_bytes())
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest["config"]["digest"] == image["Id"]
    unpacked = ["sha256:" + hashlib.sha256(gzip.decompress((out / layer["digest"][7:]).read_bytes())).hexdigest()
                for layer in manifest["layers"]]
    assert unpacked == diff_ids
    assert f"{name}@{digest}" in image_inspect(moord, name)["RepoDigests"]
    assert leftovers(moord) == []
    answer = moord.client().open("GET", "/events", {"since": "1", "until": str(int(time.time()) + 1),
                                                     "filters": json.dumps({"event": ["push"]})}, None, None)
    try:
        pushed = [json.loads(line) for line in answer.read().splitlines() if line.strip()]
    finally:
        answer.close()
    assert pushed[-1]["Actor"] == {"ID": f"{name}:latest", "Attributes": {
        "maintainer": "fixtures", "name": name, "org.example.fixture": "whiteouts"}}  # as dockerd's


def test_a_fresh_moord_pulls_back_the_same_image(moord: DaemonProcess, registry: TestRegistry,
                                                tmp_path: pathlib.Path) -> None:
    name = f"{registry.host}/roundtrip"
    tag(moord, name)
    digest = push(moord, name)[-2]["status"].split()[2]
    with DaemonProcess(str(tmp_path / "other")) as other:
        headers = {"X-Registry-Auth": encode_registry_auth(AuthConfig())}
        pulled = list(other.client().stream("POST", "/images/create", {"fromImage": name, "tag": "latest"},
                                            headers=headers))
        assert not [m for m in pulled if "error" in m], pulled
        assert {"status": f"Digest: {digest}"} in pulled
        again = image_inspect(other, f"{name}:latest")
    assert again["Id"] == image_inspect(moord, IMAGE)["Id"]
    assert again["RepoDigests"] == [f"{name}@{digest}"]


def test_a_second_push_finds_every_layer(moord: DaemonProcess, registry: TestRegistry) -> None:
    name = f"{registry.host}/again"
    tag(moord, name)
    first = push(moord, name)
    second = push(moord, name)
    assert set(layer_statuses(second).values()) == {"Layer already exists"}
    assert second[-2] == first[-2]  # the same digest


def test_a_push_to_another_repository_mounts_the_layers(moord: DaemonProcess, registry: TestRegistry) -> None:
    source, target = f"{registry.host}/mount-source", f"{registry.host}/team/mount-target"
    tag(moord, source)
    tag(moord, target, "v1")
    push(moord, source)
    messages = push(moord, target, "v1")
    assert set(layer_statuses(messages).values()) == {"Mounted from mount-source"}
    digest = messages[-2]["status"].split()[2]
    assert json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{target}:v1"))["Digest"] == digest


def test_push_all_tags(moord: DaemonProcess, registry: TestRegistry) -> None:
    name = f"{registry.host}/every"
    tag(moord, name, "one")
    tag(moord, name, "two")
    messages = push(moord, name, "")
    lines = [m["status"] for m in messages if "digest: sha256:" in m.get("status", "")]
    assert [line.split(":")[0] for line in lines] == ["one", "two"]
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{name}"))["Tags"]
    assert sorted(tags) == ["one", "two"]


def test_push_of_a_missing_image_is_one_line(moord: DaemonProcess, registry: TestRegistry) -> None:
    messages = push(moord, f"{registry.host}/nothing")
    assert messages[-1]["error"] == f"An image does not exist locally with the tag: {registry.host}/nothing"
    assert len(messages) == 2


def test_push_to_an_unreachable_registry_is_one_line(moord: DaemonProcess) -> None:
    with TestRegistry("plain") as gone:
        host = gone.host
    tag(moord, f"{host}/app")
    messages = push(moord, f"{host}/app")
    assert len(messages) == 2 and "connection refused" in messages[-1]["error"], messages
    assert "\n" not in messages[-1]["error"]
    assert leftovers(moord) == []


def test_push_with_a_wrong_password_is_unauthorized(moord: DaemonProcess) -> None:
    with TestRegistry("htpasswd", users={"moor": "s3cret"}) as locked:
        name = f"{locked.host}/app"
        tag(moord, name)
        messages = push(moord, name, auth=AuthConfig(username="moor", password="wrong",
                                                     serveraddress=locked.host))
        error = messages[-1].get("error", "")
        assert "unauthorized" in error.lower() and "\n" not in error, messages
        assert leftovers(moord) == []
        messages = push(moord, name, auth=AuthConfig(username="moor", password="s3cret",
                                                     serveraddress=locked.host))
        assert messages[-2]["status"].startswith("latest: digest: sha256:"), messages


def test_push_through_a_token_server(moord: DaemonProcess) -> None:
    with TestRegistry("token", users={"moor": "s3cret"}) as locked:
        name = f"{locked.host}/team/app"
        tag(moord, name)
        messages = push(moord, name, auth=AuthConfig(username="moor", password="s3cret",
                                                     serveraddress=locked.host))
        digest = messages[-2]["status"].split()[2]
        assert locked.manifest_digest("team/app:latest") == digest


def test_the_docker_cli_pushes_through_moord(moord: DaemonProcess, registry: TestRegistry,
                                             docker_cli: str) -> None:
    name = f"{registry.host}/docker-cli"
    tag(moord, name)
    done = subprocess.run([docker_cli, "-H", moord.host, "push", name], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "DOCKER_CONFIG": str(pathlib.Path(moord.root) / "docker")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Using default tag: latest\nThe push refers to repository [{name}]\n")
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("latest: digest: sha256:")
    finals = {line.split(": ", 1)[1] for line in lines[2:-1]} - {"Preparing", "Waiting"}
    # the non-TTY CLI prints each layer's steps; other tests pushed the same layers to this registry
    assert finals and all(f in ("Pushed", "Layer already exists") or f.startswith("Mounted from ") for f in finals)


def test_big_blobs_go_up_in_chunks(registry: TestRegistry, tmp_path: pathlib.Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunked upload (PATCH pieces, then PUT) against the real registry, in-process on fake storage."""
    monkeypatch.setattr(push_module, "CHUNKED_ABOVE", 64 << 10)
    monkeypatch.setattr(push_module, "CHUNK_SIZE", 100_000)
    store = ImageStore(str(tmp_path / "image"), fake_drivers(tmp_path / "drivers").storage)
    layer = layer_tar({"data/random": os.urandom(1 << 20)})
    record = store.add_layer(None, io.BytesIO(layer), "sha256:" + hashlib.sha256(layer).hexdigest())
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [record.diff_id]}}).encode()
    image = store.add_image(config)
    name = f"{registry.host}/chunked"
    store.set_ref(f"{name}:latest", image.id)
    pieces: list[int | None] = []

    class Recording(RegistryClient):
        def upload_blob(self, digest: str, source: IO[bytes], size: int,
                        progress: Callable[[int], None] | None = None, chunk_size: int | None = None) -> None:
            pieces.append(chunk_size)
            super().upload_blob(digest, source, size, progress, chunk_size)

    service = push_module.PushService(ImageService(store), RegistrySettings(), EventBus(),
                                      DistributionMetadata(str(tmp_path / "image")),
                                      client_factory=lambda endpoint, repository, credentials: Recording(
                                          endpoint, repository, credentials, actions=("pull", "push")))
    messages: list[dict[str, Any]] = []
    service.push(name, "latest", AuthConfig(), messages.append)
    assert layer_statuses(messages)[record.diff_id[7:19]] == "Pushed"
    out = tmp_path / "copy"
    skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{name}:latest", f"dir:{out}")
    manifest = json.loads((out / "manifest.json").read_bytes())
    assert gzip.decompress((out / manifest["layers"][0]["digest"][7:]).read_bytes()) == layer
    assert manifest["layers"][0]["size"] > 100_000 and pieces[0] == 100_000  # it took several pieces
    assert os.listdir(tmp_path / "image" / "tmp") == []
