"""Pull from Debian's docker-registry (seeded with skopeo) with moor's real client, then through moord.

Images are made here (a docker-archive of a few layers, one of them a few MB that do not compress) and
copied into the registry with skopeo, which computes the manifest digest moor must record. A private
ImageStore over the fake storage driver shows the service's part; a real moord shows the whole path:
Docker's progress stream, the docker CLI reading it, a docker.io name served by a mirror, a tampered
blob refused with nothing left behind, and a moord killed in the middle of a pull whose next pull
resumes with a Range request and yields the same image ID.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from moor.client import ConnectError, DaemonError
from moor.images.store import ImageStore
from moor.registry.authconfig import AuthConfig, encode_registry_auth
from moor.registry.settings import RegistrySettings
from moor.services.events import EventBus
from moor.services.images import ImageService
from moor.services.registry.downloads import BlobDownloads
from moor.services.registry.pull import PullService
from moor.testing.daemon import DaemonProcess
from moor.testing.fakes import fake_drivers, layer_tar
from moor.testing.registry import TestRegistry
from moor.testing.slowproxy import SlowProxy

pytestmark = pytest.mark.root


def noise(size: int, seed: bytes) -> bytes:
    """``size`` bytes that gzip cannot shrink."""
    out = bytearray()
    block = seed
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def make_archive(path: str, repo_tag: str, layers: list[dict[str, bytes | str]]) -> str:
    """A ``docker save`` archive of ``layers`` tagged ``repo_tag``; returns the image ID (its config digest)."""
    tars = [layer_tar(files) for files in layers]
    diff_ids = ["sha256:" + hashlib.sha256(tar).hexdigest() for tar in tars]
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                         "config": {"Cmd": ["sh"], "Labels": {"made-by": "moor-tests"}},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}, separators=(",", ":")).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    names = [f"{d[7:]}/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": f"{config_hex}.json", "RepoTags": [repo_tag], "Layers": names}]).encode()
    with tarfile.open(path, "w") as archive:
        for name, data in [("manifest.json", manifest), (f"{config_hex}.json", config),
                           *zip(names, tars, strict=True)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return "sha256:" + config_hex


LAYERS: list[dict[str, bytes | str]] = [
    {"bin/sh": "#!moor test\n", "etc/os-release": "ID=moor\n"},
    {"data/big": noise(3 << 20, b"big")},
    {"data/other": noise(1 << 20, b"other")},
    {"etc/hostname": "pulled\n"},
]


class Seeded:
    """An image in the registry: its repository, tag, image ID and manifest digest."""

    def __init__(self, registry: TestRegistry, workdir: Path, repository: str, tag: str,
                 layers: list[dict[str, bytes | str]]) -> None:
        archive = str(workdir / f"{repository.replace('/', '_')}-{tag}.tar")
        self.image_id = make_archive(archive, f"{repository}:{tag}", layers)
        self.manifest_digest = registry.seed(archive, f"{repository}:{tag}")
        self.repository, self.tag = repository, tag
        creds = [f"--creds={':'.join(registry.credentials)}"] if registry.mode in ("htpasswd", "token") else []
        manifest = json.loads(registry.skopeo("inspect", "--raw", "--tls-verify=false", *creds,
                                              f"docker://{registry.host}/{repository}:{tag}").stdout)
        self.layer_digests = [layer["digest"] for layer in manifest["layers"]]


def blob_file(registry: TestRegistry, digest: str) -> str:
    """Where docker-registry's filesystem driver keeps a blob's bytes."""
    hexa = digest.split(":", 1)[1]
    return os.path.join(registry.dir, "data", "docker", "registry", "v2", "blobs", "sha256", hexa[:2], hexa, "data")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestRegistry, Seeded]]:
    with TestRegistry("plain") as running:
        seeded = Seeded(running, tmp_path_factory.mktemp("images"), "app", "v1", LAYERS)
        yield running, seeded


# --------------------------------------------------------------------------- the service on its own


class Private:
    """A PullService over a private store (fake storage driver) with moor's real registry client."""

    def __init__(self, root: Path, settings: RegistrySettings | None = None) -> None:
        self.store = ImageStore(str(root / "image"), fake_drivers(root / "drivers").storage)
        self.images = ImageService(self.store)
        self.downloads = str(root / "image" / "downloads")
        self.service = PullService(self.images, settings or RegistrySettings(), EventBus(), self.downloads)

    def pull(self, name: str, tag: str, auth: AuthConfig | None = None) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        self.service.pull(name, tag, "", auth or AuthConfig(), False, messages.append)
        return messages


def test_a_private_store_pulls_what_skopeo_pushed(registry: tuple[TestRegistry, Seeded], tmp_path: Path) -> None:
    running, seeded = registry
    private = Private(tmp_path)
    messages = private.pull(f"{running.host}/app", "v1")
    assert messages[0] == {"status": "Pulling from app", "id": "v1"}
    assert messages[-2:] == [{"status": f"Digest: {seeded.manifest_digest}"},
                             {"status": f"Status: Downloaded newer image for {running.host}/app:v1"}]
    image = private.images.resolve(f"{running.host}/app:v1")
    assert image.id == seeded.image_id
    assert private.images.digests_of(image.id) == [f"{running.host}/app@{seeded.manifest_digest}"]
    assert os.listdir(private.downloads) == []
    again = private.pull(f"{running.host}/app", "v1")
    assert again[-1] == {"status": f"Status: Image is up to date for {running.host}/app:v1"}
    private.images.remove(f"{running.host}/app:v1")
    private.pull(f"{running.host}/app", "v1")
    assert private.images.resolve(f"{running.host}/app:v1").id == seeded.image_id


def test_pull_with_basic_and_token_authentication(tmp_path: Path) -> None:
    for mode in ("htpasswd", "token"):
        with TestRegistry(mode) as running:
            seeded = Seeded(running, tmp_path, "private/app", "1", LAYERS[:1])
            user, password = running.credentials
            private = Private(tmp_path / mode)
            if mode == "htpasswd":
                with pytest.raises(Exception, match="(?i)unauthorized|denied|credentials"):
                    private.pull(f"{running.host}/private/app", "1")
            private.pull(f"{running.host}/private/app", "1", AuthConfig(username=user, password=password))
            assert private.images.resolve(f"{running.host}/private/app:1").id == seeded.image_id


def test_a_tampered_blob_from_the_registry_is_refused(tmp_path: Path) -> None:
    with TestRegistry("plain") as running:
        seeded = Seeded(running, tmp_path, "app", "bad", LAYERS)
        path = blob_file(running, seeded.layer_digests[2])
        with open(path, "r+b") as handle:  # same size, one byte flipped in the middle
            handle.seek(os.path.getsize(path) // 2)
            byte = handle.read(1)
            handle.seek(-1, os.SEEK_CUR)
            handle.write(bytes([byte[0] ^ 0xFF]))
        private = Private(tmp_path / "store")
        with pytest.raises(Exception, match=f"^filesystem layer verification failed for digest "
                                             f"{seeded.layer_digests[2]}$"):
            private.pull(f"{running.host}/app", "bad")
        assert private.store.images() == [] and private.store.refs() == {}
        assert os.listdir(os.path.join(private.store.root, "layers")) == []
        assert os.listdir(os.path.join(private.store.root, "tmp")) == []
        assert not any(seeded.layer_digests[2][7:] in name for name in os.listdir(private.downloads))


# --------------------------------------------------------------------------- through moord


def pull_stream(daemon: DaemonProcess, image: str, tag: str) -> list[dict[str, Any]]:
    headers = {"X-Registry-Auth": encode_registry_auth(AuthConfig())}
    return list(daemon.client().stream("POST", "/images/create", {"fromImage": image, "tag": tag}, headers=headers))


def test_moord_pulls_and_the_docker_cli_reads_its_progress(registry: tuple[TestRegistry, Seeded],
                                                           tmp_path: Path) -> None:
    running, seeded = registry
    with DaemonProcess(str(tmp_path / "moord")) as daemon:
        messages = pull_stream(daemon, f"{running.host}/app", "v1")
        assert messages[0] == {"status": "Pulling from app", "id": "v1"}
        downloading = [m for m in messages if m.get("status") == "Downloading"]
        assert downloading and downloading[-1]["progress"].startswith("[")
        assert messages[-1] == {"status": f"Status: Downloaded newer image for {running.host}/app:v1"}
        inspect = daemon.client().get(f"/images/{running.host}/app:v1/json")
        assert inspect["Id"] == seeded.image_id
        assert inspect["RepoDigests"] == [f"{running.host}/app@{seeded.manifest_digest}"]
        done = subprocess.run(["docker", "-H", daemon.host, "pull", f"{running.host}/app:v1"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"Status: Image is up to date for {running.host}/app:v1" in done.stdout
        assert f"Digest: {seeded.manifest_digest}" in done.stdout
        done = subprocess.run(["docker", "-H", daemon.host, "pull", f"{running.host}/app:nosuch"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        assert f"manifest for {running.host}/app:nosuch not found" in done.stderr
        by_digest = f"{running.host}/app@{seeded.manifest_digest}"
        done = subprocess.run(["docker", "-H", daemon.host, "pull", by_digest], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0 and f"Status: Image is up to date for {by_digest}" in done.stdout, done
        done = subprocess.run(["docker", "-H", daemon.host, "pull", "-a", f"{running.host}/app"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"Status: Image is up to date for {running.host}/app" in done.stdout
        inspected = daemon.client().get(f"/distribution/{running.host}/app:v1/json")
        assert inspected == {"Descriptor": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                            "digest": seeded.manifest_digest, "size": inspected["Descriptor"]["size"]},
                             "Platforms": [{"architecture": "amd64", "os": "linux"}]}
        now = int(time.time())
        events = daemon.client().stream("GET", "/events", {"since": str(now - 300), "until": str(now + 1)})
        pulls = [e for e in events if e.get("Action") == "pull"]
        assert pulls and pulls[0]["id"] == pulls[0]["Actor"]["ID"] == f"{running.host}/app:v1"
        assert pulls[0]["Actor"]["Attributes"] == {"made-by": "moor-tests", "name": f"{running.host}/app"}


def test_a_docker_io_name_comes_from_its_mirror(tmp_path: Path) -> None:
    with TestRegistry("plain") as running:
        seeded = Seeded(running, tmp_path, "library/busybox", "latest", LAYERS[:1])
        config = f'[registry]\nmirrors = ["{running.url}"]\n'
        with DaemonProcess(str(tmp_path / "moord"), config_text=config) as daemon:
            messages = pull_stream(daemon, "busybox", "latest")
            assert messages[0] == {"status": "Pulling from library/busybox", "id": "latest"}
            assert messages[-1] == {"status": "Status: Downloaded newer image for busybox:latest"}
            inspect = daemon.client().get("/images/busybox/json")
            assert inspect["Id"] == seeded.image_id
            assert inspect["RepoDigests"] == [f"busybox@{seeded.manifest_digest}"]


def test_a_tampered_blob_is_an_error_line_and_leaves_nothing(tmp_path: Path) -> None:
    with TestRegistry("plain") as running:
        seeded = Seeded(running, tmp_path, "app", "bad", LAYERS)
        bad = seeded.layer_digests[1]
        path = blob_file(running, bad)
        with open(path, "r+b") as handle:
            handle.seek(100)
            byte = handle.read(1)
            handle.seek(100)
            handle.write(bytes([byte[0] ^ 0xFF]))
        with DaemonProcess(str(tmp_path / "moord")) as daemon:
            messages = pull_stream(daemon, f"{running.host}/app", "bad")
            text = f"filesystem layer verification failed for digest {bad}"
            assert messages[-1] == {"errorDetail": {"message": text}, "error": text}
            assert daemon.client().get("/images/json") == []
            image_root = os.path.join(daemon.data_root, "image")
            assert os.listdir(os.path.join(image_root, "tmp")) == []
            assert os.listdir(os.path.join(image_root, "layers")) == []
            assert not any(bad[7:] in name for name in os.listdir(os.path.join(image_root, "downloads")))


def test_a_pull_killed_half_way_resumes_with_a_range_and_the_same_image(registry: tuple[TestRegistry, Seeded],
                                                                        tmp_path: Path) -> None:
    running, seeded = registry
    big = seeded.layer_digests[1]
    with SlowProxy("127.0.0.1", running.port, rate=2 << 20) as proxy, \
            DaemonProcess(str(tmp_path / "moord")) as daemon:
        partial = BlobDownloads(os.path.join(daemon.data_root, "image", "downloads")).partial_path(big)
        seen = threading.Event()

        def follow() -> None:
            try:
                for message in daemon.client().stream("POST", "/images/create",
                                                      {"fromImage": f"{proxy.host}/app", "tag": "v1"}):
                    if message.get("id") == big[7:19] and message.get("status") == "Downloading" and \
                            message["progressDetail"].get("current", 0) > 1 << 20:
                        seen.set()
            except (OSError, DaemonError, ConnectError):
                pass  # moord was killed under the stream

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        assert seen.wait(60), "the big layer never got past 1 MB"
        daemon.kill()
        reader.join(30)
        assert os.path.exists(partial), (os.listdir(os.path.dirname(partial)), daemon.log()[-3000:])
        kept = os.path.getsize(partial)
        assert kept > 1 << 20
        daemon.start()
        proxy.request_heads.clear()
        messages = pull_stream(daemon, f"{proxy.host}/app", "v1")
        assert messages[-1] == {"status": f"Status: Downloaded newer image for {proxy.host}/app:v1"}
        ranges = [head for head in proxy.request_heads if big in head.split("\r\n", 1)[0]]
        assert any("range: bytes=" in head.lower() for head in ranges), ranges
        assert daemon.client().get(f"/images/{proxy.host}/app:v1/json")["Id"] == seeded.image_id
        assert os.listdir(os.path.dirname(partial)) == []


def test_a_client_leaving_cancels_the_pull_and_the_next_one_resumes(registry: tuple[TestRegistry, Seeded],
                                                                     tmp_path: Path) -> None:
    running, seeded = registry
    big = seeded.layer_digests[1]
    with SlowProxy("127.0.0.1", running.port, rate=2 << 20) as proxy, \
            DaemonProcess(str(tmp_path / "moord")) as daemon:
        partial = BlobDownloads(os.path.join(daemon.data_root, "image", "downloads")).partial_path(big)
        client = daemon.client()
        response = client.open("POST", "/images/create", {"fromImage": f"{proxy.host}/app", "tag": "v1"})
        for message in client.stream_json(response):
            if message.get("id") == big[7:19] and message.get("status") == "Downloading" and \
                    message["progressDetail"].get("current", 0) > 1 << 20:
                break
        response.close()  # the client goes away half-way through the big layer
        deadline = time.monotonic() + 60
        while "stopped: the client went away" not in daemon.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "stopped: the client went away" in daemon.log()
        assert client.get("/images/json") == []
        image_root = os.path.join(daemon.data_root, "image")
        assert os.listdir(os.path.join(image_root, "layers")) == []  # what it applied was taken back
        kept = os.path.getsize(partial)
        assert kept > 1 << 20
        proxy.request_heads.clear()
        messages = pull_stream(daemon, f"{proxy.host}/app", "v1")
        assert messages[-1] == {"status": f"Status: Downloaded newer image for {proxy.host}/app:v1"}
        heads = [head for head in proxy.request_heads if big in head.split("\r\n", 1)[0]]
        assert any(f"range: bytes={kept}-" in head.lower() for head in heads), heads
        assert client.get(f"/images/{proxy.host}/app:v1/json")["Id"] == seeded.image_id


def make_oci_index_layout(directory: str, ref_name: str, architectures: list[str]) -> dict[str, str]:
    """An OCI layout holding an index of one small image per architecture; returns arch -> image ID."""
    blobs = os.path.join(directory, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest[7:]), "wb") as handle:
            handle.write(data)
        return digest, len(data)

    ids, entries = {}, []
    for arch in architectures:
        tar = layer_tar({"etc/arch": arch + "\n"})
        layer_digest, layer_size = put(gzip.compress(tar, mtime=0))
        config = json.dumps({"architecture": arch, "os": "linux", "created": "2026-01-01T00:00:00Z",
                             "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": [
                                 "sha256:" + hashlib.sha256(tar).hexdigest()]}}).encode()
        config_digest, config_size = put(config)
        ids[arch] = config_digest
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": config_digest, "size": config_size},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                           "digest": layer_digest, "size": layer_size}]}).encode()
        digest, size = put(manifest)
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
                        "platform": {"architecture": arch, "os": "linux"}})
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    index_digest, index_size = put(json.dumps(index).encode())
    with open(os.path.join(directory, "oci-layout"), "w") as handle:
        handle.write('{"imageLayoutVersion": "1.0.0"}')
    with open(os.path.join(directory, "index.json"), "w") as handle:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": index_size,
             "annotations": {"org.opencontainers.image.ref.name": ref_name}}]}, handle)
    return ids


def test_an_oci_index_gives_the_platform_asked_for(registry: tuple[TestRegistry, Seeded], tmp_path: Path) -> None:
    running, _seeded = registry
    layout = str(tmp_path / "layout")
    ids = make_oci_index_layout(layout, "multi", ["amd64", "arm64", "s390x"])
    running.skopeo("copy", "--quiet", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi",
                   f"docker://{running.host}/multi:1")
    with DaemonProcess(str(tmp_path / "moord")) as daemon:
        headers = {"X-Registry-Auth": encode_registry_auth(AuthConfig())}
        list(daemon.client().stream("POST", "/images/create", {"fromImage": f"{running.host}/multi", "tag": "1",
                                                                "platform": "linux/arm64"}, headers=headers))
        assert daemon.client().get(f"/images/{running.host}/multi:1/json")["Id"] == ids["arm64"]
        done = subprocess.run(["docker", "-H", daemon.host, "pull", "--platform", "linux/ppc64le",
                               f"{running.host}/multi:1"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        assert "no matching manifest for linux/ppc64le in the manifest list entries" in done.stderr
        inspected = daemon.client().get(f"/distribution/{running.host}/multi:1/json")
        assert inspected["Descriptor"]["mediaType"] == "application/vnd.oci.image.index.v1+json"
        assert inspected["Platforms"] == [{"architecture": a, "os": "linux"} for a in ("amd64", "arm64", "s390x")]


def test_zstd_and_uncompressed_layers_from_the_registry(registry: tuple[TestRegistry, Seeded], tmp_path: Path) -> None:
    running, _seeded = registry
    layout = str(tmp_path / "layout")
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data: bytes) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest[7:]), "wb") as handle:
            handle.write(data)
        return {"digest": digest, "size": len(data)}

    tars = [layer_tar({"etc/zstd": "z\n"}), layer_tar({"etc/plain": "p\n"})]
    layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
               **put(zstandard.ZstdCompressor().compress(tars[0]))},
              {"mediaType": "application/vnd.oci.image.layer.v1.tar", **put(tars[1])}]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {
        "type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]}}).encode()
    config_ref = put(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_ref},
                           "layers": layers}).encode()
    with open(os.path.join(layout, "oci-layout"), "w") as handle:
        handle.write('{"imageLayoutVersion": "1.0.0"}')
    with open(os.path.join(layout, "index.json"), "w") as handle:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                      **put(manifest),
                                                      "annotations": {"org.opencontainers.image.ref.name": "z"}}]},
                  handle)
    running.skopeo("copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false", f"oci:{layout}:z",
                   f"docker://{running.host}/zstd:1")
    private = Private(tmp_path / "store")
    private.pull(f"{running.host}/zstd", "1")
    image = private.images.resolve(f"{running.host}/zstd:1")
    assert image.id == config_ref["digest"]
    assert [private.store.open_layer_tar(layer).read() for layer in private.store.layer_chain(image)] == tars

