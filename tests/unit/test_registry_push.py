"""PushService against an in-memory registry: Docker's messages, blob skipping, mounts, cleanup, errors."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pathlib
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import pytest

from moor.errors import InvalidParameter, NotFound, RegistryUnreachable, Unauthorized
from moor.images.store import ImageStore
from moor.registry.authconfig import AuthConfig
from moor.registry.endpoints import Endpoint
from moor.registry.manifests import DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST
from moor.registry.settings import RegistrySettings
from moor.services.events import EventBus
from moor.services.images import ImageService
from moor.services.registry import push as push_module
from moor.services.registry.metadata import BlobSource, DistributionMetadata
from moor.services.registry.push import PushService
from moor.testing.fakes import fake_drivers, layer_tar

HOST = "127.0.0.1:5000"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FakeRegistry:
    """Repositories of blobs and manifests, as a distribution registry keeps them."""

    def __init__(self) -> None:
        self.blobs: dict[str, dict[str, bytes]] = {}
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.calls: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        #: operation -> error raised by its next call
        self.failures: dict[str, BaseException] = {}
        #: operation -> error raised by every call
        self.refusals: dict[str, BaseException] = {}
        #: schemes that do not answer (RegistryUnreachable)
        self.down: set[str] = set()
        self.chunk_sizes: list[int | None] = []

    def repo(self, name: str) -> dict[str, bytes]:
        return self.blobs.setdefault(name, {})

    def call(self, operation: str, repository: str, what: str) -> None:
        with self.lock:
            self.calls.append((operation, repository, what))
            error = self.failures.pop(operation, None) or self.refusals.get(operation)
        if error is not None:
            raise error

    def count(self, operation: str) -> int:
        return sum(1 for call in self.calls if call[0] == operation)


class FakeClient:
    """The push side of RegistryClient, over a FakeRegistry."""

    def __init__(self, registry: FakeRegistry, endpoint: Endpoint, repository: str) -> None:
        self.registry = registry
        self.endpoint = endpoint
        self.repository = repository

    def _reach(self) -> None:
        if self.endpoint.base_url.split(":", 1)[0] in self.registry.down:
            raise RegistryUnreachable(f"Get \"{self.endpoint.base_url}/v2/\": connection refused")

    def ping(self) -> None:
        self._reach()
        self.registry.call("ping", "", "")

    def blob_size(self, digest: str) -> int | None:
        self.registry.call("head", self.repository, digest)
        data = self.registry.repo(self.repository).get(digest)
        return None if data is None else len(data)

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        self.registry.call("mount", self.repository, f"{from_repository}@{digest}")
        data = self.registry.repo(from_repository).get(digest)
        if data is None:
            return False
        self.registry.repo(self.repository)[digest] = data
        return True

    def upload_blob(self, digest: str, source: IO[bytes], size: int, progress: Callable[[int], None] | None = None,
                    chunk_size: int | None = None) -> None:
        self.registry.call("upload", self.repository, digest)
        self.registry.chunk_sizes.append(chunk_size)
        parts = []
        while True:
            part = source.read(1000)
            if not part:
                break
            parts.append(part)
            if progress is not None:
                progress(len(part))
        data = b"".join(parts)
        assert len(data) == size and globals()["digest"](data) == digest
        self.registry.repo(self.repository)[digest] = data

    def put_manifest(self, reference: str, media_type: str, data: bytes) -> str:
        self.registry.call("manifest", self.repository, reference)
        document = json.loads(data)
        for blob in [document["config"], *document["layers"]]:
            if blob["digest"] not in self.registry.repo(self.repository):
                raise InvalidParameter("blob unknown to registry")
        self.registry.manifests[(self.repository, reference)] = (media_type, data)
        return digest(data)


class Setup:
    def __init__(self, tmp: pathlib.Path, uploads: int = 5) -> None:
        self.tmp = tmp
        drivers = fake_drivers(tmp / "drivers")
        self.store = ImageStore(str(tmp / "image"), drivers.storage)
        self.images = ImageService(self.store)
        self.events = EventBus()
        self.metadata = DistributionMetadata(str(tmp / "image"))
        self.registry = FakeRegistry()
        self.settings = RegistrySettings(max_concurrent_uploads=uploads)
        self.service = PushService(self.images, self.settings, self.events, self.metadata,
                                   client_factory=lambda endpoint, repository, credentials:
                                   FakeClient(self.registry, endpoint, repository))
        self.messages: list[dict[str, Any]] = []

    def image(self, layers: list[bytes], ref: str = f"{HOST}/app:latest") -> str:
        parent = None
        diff_ids = []
        for tar in layers:
            record = self.store.add_layer(parent, io.BytesIO(tar), digest(tar))
            parent = record.chain_id
            diff_ids.append(record.diff_id)
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"z": "1", "a": "2"}},
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        image = self.store.add_image(config)
        self.store.set_ref(ref, image.id)
        return image.id

    def push(self, name: str, tag: str = "latest", auth: AuthConfig | None = None) -> list[dict[str, Any]]:
        self.messages = []
        self.service.push(name, tag, auth or AuthConfig(), self.messages.append)
        return self.messages

    def leftovers(self) -> list[str]:
        return os.listdir(self.tmp / "image" / "tmp")


LAYERS = [layer_tar({"etc/base": b"base\n" * 100}), layer_tar({"etc/middle": b"middle\n"}),
          layer_tar({"usr/top": os.urandom(300_000)})]


def short(tar: bytes) -> str:
    return digest(tar)[7:19]


def statuses(messages: list[dict[str, Any]], layer: bytes) -> list[str]:
    return [m["status"] for m in messages if m.get("id") == short(layer)]


def test_push_sends_layers_config_and_manifest_as_docker(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    image_id = setup.image(LAYERS)
    messages = setup.push(f"{HOST}/app")
    assert messages[0] == {"status": f"The push refers to repository [{HOST}/app]"}
    preparing = [m["id"] for m in messages if m.get("status") == "Preparing"]
    assert preparing == [short(t) for t in reversed(LAYERS)]  # top first, as Docker lists them
    for tar in LAYERS:
        steps = statuses(messages, tar)
        assert steps[0] == "Preparing" and steps[-1] == "Pushed" and "Pushing" in steps
    pushing = [m for m in messages if m.get("status") == "Pushing"]
    assert all(m["progressDetail"]["current"] <= m["progressDetail"]["total"] for m in pushing)
    media_type, manifest = setup.registry.manifests[("app", "latest")]
    assert media_type == DOCKER_MANIFEST
    document = json.loads(manifest)
    assert manifest.startswith(b'{\n   "schemaVersion": 2,\n   "mediaType": ')  # Go's MarshalIndent, 3 spaces
    assert document["config"] == {"mediaType": DOCKER_CONFIG, "size": len(setup.store.get_blob(image_id)),
                                  "digest": image_id}
    blobs = setup.registry.repo("app")
    assert [gzip.decompress(blobs[layer["digest"]]) for layer in document["layers"]] == LAYERS  # base first
    assert all(layer["mediaType"] == DOCKER_LAYER for layer in document["layers"])
    manifest_digest = digest(manifest)
    assert messages[-2] == {"status": f"latest: digest: {manifest_digest} size: {len(manifest)}"}
    assert messages[-1] == {"progressDetail": {}, "aux": {"Tag": "latest", "Digest": manifest_digest,
                                                           "Size": len(manifest)}}
    assert setup.images.digests_of(image_id) == [f"{HOST}/app@{manifest_digest}"]
    for tar, layer in zip(LAYERS, document["layers"], strict=True):
        assert setup.metadata.sources(digest(tar))[0] == BlobSource(layer["digest"], layer["size"], DOCKER_LAYER,
                                                                    HOST, "app")
    event = setup.events.subscribe()[0][-1]
    assert (event["Type"], event["Action"], event["Actor"]["ID"]) == ("image", "push", f"{HOST}/app:latest")
    attributes = event["Actor"]["Attributes"]
    assert attributes == {"a": "2", "name": f"{HOST}/app", "z": "1"} and list(attributes) == ["a", "name", "z"]
    assert setup.leftovers() == []


def test_repush_finds_every_layer_and_uploads_nothing(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    setup.image(LAYERS)
    first = setup.push(f"{HOST}/app")
    uploads = setup.registry.count("upload")
    again = setup.push(f"{HOST}/app")
    assert setup.registry.count("upload") == uploads
    for tar in LAYERS:
        assert statuses(again, tar) == ["Preparing", "Layer already exists"]
    assert again[-2] == first[-2]  # the same manifest digest


def test_repush_without_metadata_finds_the_same_gzip(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    setup.image(LAYERS)
    setup.push(f"{HOST}/app")
    os.unlink(setup.metadata.path)
    uploads = setup.registry.count("upload")
    again = setup.push(f"{HOST}/app")
    assert setup.registry.count("upload") == uploads  # deterministic gzip: the digest is known again
    assert all(statuses(again, tar)[-1] == "Layer already exists" for tar in LAYERS)


def test_push_to_another_repository_mounts(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    image_id = setup.image(LAYERS)
    setup.push(f"{HOST}/app")
    setup.store.set_ref(f"{HOST}/team/other:v1", image_id)
    messages = setup.push(f"{HOST}/team/other", "v1")
    for tar in LAYERS:
        assert statuses(messages, tar) == ["Preparing", "Mounted from app"]
    assert ("other", "v1") not in setup.registry.manifests and ("team/other", "v1") in setup.registry.manifests
    assert setup.registry.count("upload") == len(LAYERS) + 2  # the config once per repository
    assert setup.metadata.sources(digest(LAYERS[0]))[0].repository == "team/other"


def test_layers_of_another_registry_are_pushed(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    setup.image(LAYERS)
    for tar in LAYERS:  # as a pull from docker.io records them: not on this registry
        setup.metadata.record([(digest(tar), BlobSource("sha256:" + "e" * 64, 10, DOCKER_LAYER, "docker.io",
                                                        "library/app"))])
    messages = setup.push(f"{HOST}/app")
    assert all(statuses(messages, tar)[-1] == "Pushed" for tar in LAYERS)
    assert setup.registry.count("mount") == 0


def test_a_stale_mapping_is_forgotten(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    setup.image(LAYERS)
    setup.push(f"{HOST}/app")
    setup.registry.blobs.clear()  # the registry was wiped
    messages = setup.push(f"{HOST}/app")
    assert all(statuses(messages, tar)[-1] == "Pushed" for tar in LAYERS)
    assert len(setup.metadata.sources(digest(LAYERS[0]))) == 1


def test_all_tags_push_each_tag_once(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    image_id = setup.image(LAYERS)
    setup.store.set_ref(f"{HOST}/app:v2", image_id)
    setup.store.set_ref(f"{HOST}/elsewhere:v3", image_id)
    messages = setup.push(f"{HOST}/app", "")
    digests = [m["status"].split(":", 1)[0] for m in messages if "digest: sha256:" in m.get("status", "")]
    assert digests == ["latest", "v2"]
    assert set(setup.registry.manifests) == {("app", "latest"), ("app", "v2")}
    assert setup.registry.count("upload") == len(LAYERS) + 1
    event = setup.events.subscribe()[0][-1]
    assert event["Actor"]["ID"] == f"{HOST}/app"


def test_waiting_when_every_slot_is_taken(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path, uploads=1)
    setup.image(LAYERS)
    messages = setup.push(f"{HOST}/app")
    waiting = [m["id"] for m in messages if m.get("status") == "Waiting"]
    assert waiting == [short(LAYERS[1]), short(LAYERS[0])]


def test_big_blobs_go_in_chunks(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push_module, "CHUNKED_ABOVE", 1000)
    setup = Setup(tmp_path)
    setup.image(LAYERS)
    setup.push(f"{HOST}/app")
    assert push_module.CHUNK_SIZE in setup.registry.chunk_sizes and None in setup.registry.chunk_sizes


def test_no_image_is_docker_wording_after_the_first_line(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    setup.image(LAYERS)
    with pytest.raises(NotFound, match=f"^An image does not exist locally with the tag: {HOST}/nothing$"):
        setup.push(f"{HOST}/nothing")
    assert setup.messages == [{"status": f"The push refers to repository [{HOST}/nothing]"}]
    with pytest.raises(NotFound, match=f"^tag does not exist: {HOST}/app:v9$"):
        setup.push(f"{HOST}/app", "v9")
    with pytest.raises(NotFound, match="^An image does not exist locally with the tag: busybox$"):
        setup.push("busybox")
    with pytest.raises(InvalidParameter, match="invalid reference format"):
        setup.push("app/UPPER")
    with pytest.raises(InvalidParameter, match="cannot specify 64-byte hexadecimal strings"):
        setup.push("a" * 64)
    assert setup.registry.calls == []  # nothing asked of the registry


def test_unauthorized_stops_before_any_layer(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    setup.image(LAYERS)
    for operation in ("head", "upload", "mount"):
        setup.registry.refusals[operation] = Unauthorized("unauthorized: authentication required")
    with pytest.raises(Unauthorized, match="^unauthorized: authentication required$"):
        setup.push(f"{HOST}/app", auth=AuthConfig(username="u", password="wrong"))
    assert [m["status"] for m in setup.messages[1:]] == ["Preparing"] * len(LAYERS)  # then the error, as Docker
    assert setup.registry.count("upload") == 0 and setup.leftovers() == []


def test_https_unreachable_falls_back_to_http(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    setup.image(LAYERS)
    setup.registry.down.add("https")
    setup.push(f"{HOST}/app")
    assert ("app", "latest") in setup.registry.manifests
    setup.registry.down.add("http")
    with pytest.raises(RegistryUnreachable, match="connection refused"):
        setup.push(f"{HOST}/app")


def test_a_failed_upload_leaves_no_temp_file_and_no_manifest(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path, uploads=2)
    setup.image(LAYERS)
    setup.registry.failures["upload"] = InvalidParameter("blob upload invalid")
    with pytest.raises(InvalidParameter, match="^blob upload invalid$"):
        setup.push(f"{HOST}/app")
    assert setup.registry.manifests == {}
    assert setup.leftovers() == []
    assert not [m for m in setup.messages if "digest:" in m.get("status", "")]


def test_a_client_that_leaves_stops_the_push_and_cleans_up(tmp_path: pathlib.Path) -> None:
    setup = Setup(tmp_path)
    setup.image(LAYERS)

    class Gone(Exception):
        pass

    def emit(message: dict[str, Any]) -> None:
        if message.get("status") == "Pushing":
            raise Gone()

    with pytest.raises(Gone):
        setup.service.push(f"{HOST}/app", "latest", AuthConfig(), emit)
    assert setup.registry.manifests == {}
    assert setup.leftovers() == []


def test_a_layer_changed_on_disk_is_refused(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = Setup(tmp_path)
    setup.image(LAYERS)
    monkeypatch.setattr(setup.store, "open_layer_tar", lambda record: io.BytesIO(b"not the layer"))
    with pytest.raises(Exception, match="has changed on disk"):
        setup.push(f"{HOST}/app")
    assert setup.registry.manifests == {} and setup.leftovers() == []


def test_concurrent_pushes_into_one_repository_upload_each_blob_once(tmp_path: pathlib.Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pushes at once of one image under two tags: the second waits for the first's uploads and finds
    the blobs there (a registry refuses same-blob uploads racing each other now and then)."""
    setup = Setup(tmp_path)
    image_id = setup.image(LAYERS)
    setup.store.set_ref(f"{HOST}/app:v2", image_id)
    upload = FakeClient.upload_blob

    def slow_upload(self: FakeClient, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.05)  # both pushes reach their uploads before either is done
        upload(self, *args, **kwargs)

    monkeypatch.setattr(FakeClient, "upload_blob", slow_upload)
    results: list[list[dict[str, Any]]] = [[], []]
    threads = [threading.Thread(target=setup.service.push, args=(f"{HOST}/app", tag, AuthConfig(), results[n].append))
               for n, tag in enumerate(["latest", "v2"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert setup.registry.count("upload") == len(LAYERS) + 1
    assert set(setup.registry.manifests) == {("app", "latest"), ("app", "v2")}
    assert len(setup.service.uploads) == 0
