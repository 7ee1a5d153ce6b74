"""Pulling from an in-memory registry: Docker's progress messages, parallel downloads applied in order,
resumed partial blobs, tampered blobs refused with nothing left behind, manifest lists, schema 1, mirrors."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from moor.errors import InvalidParameter, MoorError, NotFound
from moor.images.store import ImageStore, chain_ids, hex_of
from moor.registry.authconfig import AuthConfig
from moor.registry.manifests import SCHEMA1_SIGNED_MANIFEST
from moor.registry.settings import RegistrySettings
from moor.services.events import EventBus
from moor.services.images import ImageService
from moor.services.registry import progress
from moor.services.registry.downloads import BlobDownloads
from moor.services.registry.metadata import BlobSource, DistributionMetadata
from moor.services.registry.pull import PullService
from moor.testing.fakes import fake_drivers, fake_of
from unit.registry_fake import FakeRegistry, digest_of, factory_for


def _noise(size: int) -> bytes:
    """Bytes that do not compress (so that a gzip blob has some length)."""
    out, block = b"", b"seed"
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return out[:size]


LAYERS: list[dict[str, bytes | str]] = [{"bin/sh": "#!fake\n"}, {"etc/hostname": "one\n"},
                                        {"usr/share/doc": _noise(20000)}]


class Setup:
    def __init__(self, root: Path, settings: RegistrySettings | None = None,
                 mirrors: dict[str, FakeRegistry] | None = None) -> None:
        self.root = root
        self.drivers = fake_drivers(root / "drivers")
        self.store = ImageStore(str(root / "image"), self.drivers.storage)
        self.images = ImageService(self.store)
        self.events = EventBus()
        self.registry = FakeRegistry()
        self.downloads = str(root / "image" / "downloads")
        self.service = PullService(self.images, settings or RegistrySettings(), self.events, self.downloads,
                                   client_factory=factory_for(self.registry, mirrors))
        self.messages: list[dict[str, Any]] = []

    def pull(self, name: str, tag: str = "latest", platform: str = "", all_tags: bool = False) -> list[dict[str, Any]]:
        self.messages = []
        self.service.pull(name, tag, platform, AuthConfig(), all_tags, self.messages.append)
        return self.messages

    def statuses(self) -> list[tuple[str, str]]:
        return [(m.get("id", ""), m["status"]) for m in self.messages if m.get("status") != "Downloading"
                and m.get("status") != "Extracting"]

    def leftovers(self) -> list[str]:
        return sorted(os.listdir(self.downloads)) + sorted(os.listdir(os.path.join(self.store.root, "tmp")))


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


# --------------------------------------------------------------------------- progress shapes


def test_progress_bar_is_what_dockerd_writes() -> None:
    assert progress.bar(1080000, 25600000) == "[==>" + " " * 48 + "]   1.08MB/25.6MB"  # %8v of 1.08MB
    assert progress.bar(7914, 772788) == "[>" + " " * 50 + "]  7.914kB/772.8kB"
    assert progress.bar(772788, 772788) == "[" + "=" * 50 + ">]  772.8kB/772.8kB"
    assert progress.bar(5, 0) == "      5B"
    assert progress.bar(0, 0) == ""
    assert progress.bar(20, 10) == "[" + "=" * 50 + ">]      20B"


def test_messages_have_dockers_keys_in_dockers_order() -> None:
    assert progress.encode(progress.status("Pulling from library/busybox", "latest")) == \
        b'{"status":"Pulling from library/busybox","id":"latest"}\r\n'
    assert progress.encode(progress.update("5cc84ad355aa", "Pull complete")) == \
        b'{"status":"Pull complete","progressDetail":{},"id":"5cc84ad355aa"}\r\n'
    assert progress.encode(progress.progress("5cc84ad355aa", "Downloading", 7914, 772788)) == (
        b'{"status":"Downloading","progressDetail":{"current":7914,"total":772788},'
        b'"progress":"[\\u003e' + b" " * 50 + b']  7.914kB/772.8kB","id":"5cc84ad355aa"}\r\n')
    assert progress.encode(progress.error("boom & <x>")) == \
        b'{"errorDetail":{"message":"boom \\u0026 \\u003cx\\u003e"},"error":"boom \\u0026 \\u003cx\\u003e"}\r\n'
    assert progress.encode(progress.aux({"Tag": "latest", "Digest": "sha256:ab", "Size": 527})) == \
        b'{"progressDetail":{},"aux":{"Tag":"latest","Digest":"sha256:ab","Size":527}}\r\n'
    assert progress.short_id("sha256:" + "ab" * 32) == "abababababab"


def test_progress_tracker_throttles_but_always_sends_the_end() -> None:
    sent: list[dict[str, Any]] = []
    now = [0.0]
    tracker = progress.ProgressTracker(sent.append, "x", "Downloading", 1000, clock=lambda: now[0])
    for _ in range(100):
        tracker.add(10)  # 1 % steps at the same instant: one update, then only the last
    assert sent[0]["progressDetail"] == {"current": 20, "total": 1000}
    assert sent[-1]["progressDetail"] == {"current": 1000, "total": 1000}
    assert len(sent) == 2


# --------------------------------------------------------------------------- a whole pull


def test_pull_streams_dockers_messages_and_makes_the_image(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS, labels={"maintainer": "me"})
    _past, channel = setup.events.subscribe()
    setup.pull("busybox", "latest")
    ids = [progress.short_id(d) for d in built.layer_digests]
    assert setup.messages[0] == {"status": "Pulling from library/busybox", "id": "latest"}
    statuses = setup.statuses()
    for layer in ids:
        order = [status for lid, status in statuses if lid == layer]
        assert order == ["Pulling fs layer", "Verifying Checksum", "Download complete", "Pull complete"]
    assert statuses[-2:] == [("", f"Digest: {built.manifest_digest}"),
                             ("", "Status: Downloaded newer image for busybox:latest")]
    downloading = [m for m in setup.messages if m["status"] == "Downloading"]
    assert downloading and all(set(m) == {"status", "progressDetail", "progress", "id"} for m in downloading)
    assert any(m["status"] == "Extracting" for m in setup.messages)
    image = setup.images.resolve("busybox:latest")
    assert image.id == built.config_digest
    assert setup.images.digests_of(image.id) == [f"busybox@{built.manifest_digest}"]
    assert setup.images.resolve(f"busybox@{built.manifest_digest}").id == image.id
    event = channel.get_nowait()
    assert {k: event[k] for k in ("status", "id", "Type", "Action")} == \
        {"status": "pull", "id": "busybox:latest", "Type": "image", "Action": "pull"}
    assert event["Actor"] == {"ID": "busybox:latest", "Attributes": {"maintainer": "me", "name": "busybox"}}
    assert "from" not in event
    assert setup.leftovers() == []
    metadata = DistributionMetadata(setup.store.root)
    assert metadata.sources(built.diff_ids[1]) == [
        BlobSource(built.layer_digests[1], len(setup.registry.blobs[built.layer_digests[1]]),
                   "application/vnd.docker.image.rootfs.diff.tar.gzip", "docker.io", "library/busybox")]


def test_a_second_pull_finds_the_image_and_says_up_to_date(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    setup.pull("busybox")
    requests = len(setup.registry.blob_requests)
    setup.pull("busybox")
    assert setup.statuses() == [("latest", "Pulling from library/busybox"),  # as Docker: no layer lines
                                ("", f"Digest: {built.manifest_digest}"),
                                ("", "Status: Image is up to date for busybox:latest")]
    assert len(setup.registry.blob_requests) == requests  # not even the config


def test_layers_already_here_are_not_downloaded(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    setup.pull("busybox")
    more = setup.registry.add_image("more", [*LAYERS, {"etc/extra": "x"}])
    requests = list(setup.registry.blob_requests)
    setup.pull("busybox", "more")
    ids = [progress.short_id(d) for d in more.layer_digests]
    assert [(i, "Already exists") for i in ids[:3]] == [s for s in setup.statuses() if s[1] == "Already exists"]
    fetched = {d for d, _ in setup.registry.blob_requests[len(requests):]}
    assert fetched == {more.config_digest, more.layer_digests[3]}
    assert setup.images.resolve("busybox:more").diff_ids[:3] == built.diff_ids


def test_an_image_sharing_a_base_layer_downloads_only_the_rest(setup: Setup) -> None:
    setup.registry.add_image("one", LAYERS[:1])
    setup.pull("127.0.0.1:5000/app", "one")
    two = setup.registry.add_image("two", [LAYERS[0], {"etc/two": "2"}])
    setup.pull("127.0.0.1:5000/app", "two")
    statuses = setup.statuses()
    assert (progress.short_id(two.layer_digests[0]), "Already exists") in statuses
    assert (progress.short_id(two.layer_digests[1]), "Pull complete") in statuses
    assert setup.messages[0] == {"status": "Pulling from app", "id": "two"}
    assert setup.statuses()[-1] == ("", "Status: Downloaded newer image for 127.0.0.1:5000/app:two")


def test_zstd_and_uncompressed_layers(setup: Setup) -> None:
    zstd = setup.registry.add_image("zstd", LAYERS, compression="zstd")
    plain = setup.registry.add_image("plain", LAYERS, compression="none")
    setup.pull("app", "zstd")
    assert setup.images.resolve("app:zstd").id == zstd.config_digest
    setup.pull("app", "plain")
    assert setup.images.resolve("app:plain").id == plain.config_digest == zstd.config_digest


def test_pull_by_digest_records_only_the_digest(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    setup.pull("busybox", built.manifest_digest)
    assert setup.messages[0] == {"status": "Pulling from library/busybox", "id": built.manifest_digest}
    assert setup.statuses()[-1] == ("", f"Status: Downloaded newer image for busybox@{built.manifest_digest}")
    image = setup.images.resolve(f"busybox@{built.manifest_digest}")
    assert setup.images.tags_of(image.id) == []
    assert setup.registry.manifest_requests == [built.manifest_digest]


def test_all_tags(setup: Setup) -> None:
    setup.registry.add_image("1", LAYERS[:1])
    setup.registry.add_image("2", LAYERS[:2])
    setup.pull("busybox", "", all_tags=False)  # no tag anywhere: every tag, as Docker's API does
    assert [m["id"] for m in setup.messages if m["status"].startswith("Pulling from")] == ["1", "2"]
    assert setup.statuses()[-1] == ("", "Status: Downloaded newer image for busybox")
    assert setup.images.tags_of(setup.images.resolve("busybox:2").id) == ["busybox:2"]


# --------------------------------------------------------------------------- parallel, in order


def test_downloads_run_in_parallel_and_layers_apply_in_order(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    first = built.layer_digests[0]
    setup.registry.gates[first] = threading.Event()  # the base layer arrives last
    seen_later: list[str] = []

    def emit(message: dict[str, Any]) -> None:
        seen_later.append(f"{message.get('id')} {message['status']}")
        if message.get("id") == progress.short_id(built.layer_digests[2]) and message["status"] == "Download complete":
            setup.registry.gates[first].set()  # layers 2 and 3 downloaded while 1 was held

    setup.service.pull("busybox", "latest", "", AuthConfig(), False, emit)
    storage = fake_of(setup.drivers, "storage")
    applied = [call[1]["key"] for call in storage.calls if call[0] == "apply_layer"]
    assert applied == [hex_of(c) for c in chain_ids(built.diff_ids)]
    one = progress.short_id(first)
    assert seen_later.index(f"{one} Download complete") > \
        seen_later.index(f"{progress.short_id(built.layer_digests[2])} Download complete")


def test_layers_beyond_the_concurrency_limit_wait(tmp_path: Path) -> None:
    setup = Setup(tmp_path, RegistrySettings(max_concurrent_downloads=1))
    built = setup.registry.add_image("latest", LAYERS)
    setup.pull("busybox")
    ids = [progress.short_id(d) for d in built.layer_digests]
    assert [lid for lid, status in setup.statuses() if status == "Waiting"] == ids[1:]


# --------------------------------------------------------------------------- resume


def test_a_partial_blob_is_rehashed_and_resumed_with_a_range(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    blob = built.layer_digests[2]
    data = setup.registry.blobs[blob]
    downloads = BlobDownloads(setup.downloads)
    with open(downloads.partial_path(blob), "wb") as handle:
        handle.write(data[: len(data) // 2])
    setup.pull("busybox")
    assert (blob, len(data) // 2) in setup.registry.blob_requests
    assert setup.images.resolve("busybox").id == built.config_digest
    assert setup.leftovers() == []


def test_a_registry_ignoring_the_range_starts_the_blob_again(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    blob = built.layer_digests[2]
    data = setup.registry.blobs[blob]
    with open(BlobDownloads(setup.downloads).partial_path(blob), "wb") as handle:
        handle.write(b"garbage that must not be kept")
    setup.registry.ignore_range = True
    setup.pull("busybox")
    assert setup.images.resolve("busybox").id == built.config_digest
    assert (blob, len(b"garbage that must not be kept")) in setup.registry.blob_requests
    assert data


def test_a_wrong_partial_is_detected_after_resume_and_fetched_again(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    blob = built.layer_digests[1]
    data = setup.registry.blobs[blob]
    with open(BlobDownloads(setup.downloads).partial_path(blob), "wb") as handle:
        handle.write(b"\0" * 10)  # not the blob's first bytes
    setup.pull("busybox")
    assert [r for r in setup.registry.blob_requests if r[0] == blob] == [(blob, 10), (blob, 0)]
    assert setup.images.resolve("busybox").id == built.config_digest
    assert data


def test_a_dropped_connection_is_retried_from_where_it_stopped(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("moor.services.registry.pull.RETRY_DELAY", 0.01)
    built = setup.registry.add_image("latest", LAYERS)
    blob = built.layer_digests[2]
    setup.registry.fail_at[blob] = 3000
    setup.pull("busybox")
    assert [r for r in setup.registry.blob_requests if r[0] == blob] == [(blob, 0), (blob, 3000)]
    assert (progress.short_id(blob), "Retrying in 1 second") in setup.statuses()


def test_a_client_gone_cancels_and_the_next_pull_resumes(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    blob = built.layer_digests[2]
    setup.registry.gates[built.layer_digests[0]] = threading.Event()  # nothing applies before the cancel
    setup.registry.fail_at[blob] = 3000  # the biggest blob stops half-way: the client leaves meanwhile

    class Gone(Exception):
        pass

    def emit(message: dict[str, Any]) -> None:
        if message.get("status") == "Retrying in 1 second":
            setup.registry.gates[built.layer_digests[0]].set()  # may apply: the pull must take it back
            raise Gone()

    with pytest.raises(Gone):
        setup.service.pull("busybox", "latest", "", AuthConfig(), False, emit)
    setup.registry.gates[built.layer_digests[0]].set()
    assert os.path.getsize(BlobDownloads(setup.downloads).partial_path(blob)) == 3000
    assert setup.store.images() == []
    assert not os.listdir(os.path.join(setup.store.root, "layers"))
    setup.pull("busybox")
    assert (blob, 3000) in setup.registry.blob_requests
    assert setup.images.resolve("busybox").id == built.config_digest
    assert setup.leftovers() == []


# --------------------------------------------------------------------------- refusals


def test_a_tampered_blob_is_refused_and_nothing_is_left(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    bad = built.layer_digests[1]
    good = setup.registry.blobs[bad]
    setup.registry.tampered[bad] = good[:20] + bytes([good[20] ^ 1]) + good[21:]
    with pytest.raises(InvalidParameter, match=f"^filesystem layer verification failed for digest {bad}$"):
        setup.pull("busybox")
    assert setup.store.images() == [] and setup.store.refs() == {}
    assert not os.listdir(os.path.join(setup.store.root, "layers"))
    assert not any(name.startswith(bad[7:]) for name in os.listdir(setup.downloads))
    assert os.listdir(os.path.join(setup.store.root, "tmp")) == []
    assert fake_of(setup.drivers, "storage").entries == {}


def test_a_tampered_config_is_refused(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    setup.registry.tampered[built.config_digest] = b"{}"
    with pytest.raises(InvalidParameter, match="config verification failed"):
        setup.pull("busybox")
    assert setup.store.images() == []


def test_a_layer_whose_content_is_not_its_diff_id_is_refused(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS[:1])
    other = setup.registry.add_image("", [{"evil": "x"}])
    # a manifest naming the other image's (valid) blob under this config
    manifest = json.loads(setup.registry.manifests["latest"][1])
    manifest["layers"][0]["digest"] = other.layer_digests[0]
    manifest["layers"][0]["size"] = len(setup.registry.blobs[other.layer_digests[0]])
    setup.registry.manifests["latest"] = (setup.registry.manifests["latest"][0], json.dumps(manifest).encode())
    with pytest.raises(InvalidParameter, match="layer digest mismatch"):
        setup.pull("busybox")
    assert setup.store.images() == [] and fake_of(setup.drivers, "storage").entries == {}
    assert built


def test_schema1_is_refused_before_any_message(setup: Setup) -> None:
    setup.registry.manifests["old"] = (SCHEMA1_SIGNED_MANIFEST, json.dumps(
        {"schemaVersion": 1, "name": "library/busybox", "tag": "old", "fsLayers": []}).encode())
    with pytest.raises(InvalidParameter, match="schema 1"):
        setup.pull("busybox", "old")
    assert setup.messages == []


def test_an_unknown_tag_is_dockers_manifest_not_found(setup: Setup) -> None:
    with pytest.raises(NotFound, match=r"^manifest for busybox:nosuch not found: manifest unknown: manifest unknown$"):
        setup.pull("busybox", "nosuch")
    assert setup.messages == []


def test_bad_names_are_refused(setup: Setup) -> None:
    with pytest.raises(InvalidParameter, match="invalid reference format"):
        setup.pull("Not Valid", "latest")
    with pytest.raises(InvalidParameter):
        setup.pull("busybox", "bad tag!")


# --------------------------------------------------------------------------- manifest lists


def test_a_manifest_list_gives_this_platform_or_the_one_asked(setup: Setup) -> None:
    amd = setup.registry.add_image("", LAYERS[:1], architecture="amd64")
    arm = setup.registry.add_image("", [{"bin/sh": "#!arm\n"}], architecture="arm64")
    list_digest = setup.registry.add_list("latest", [(amd, "linux", "amd64", ""), (arm, "linux", "arm64", "v8")])
    setup.pull("busybox", "latest", platform="linux/arm64")
    assert setup.images.resolve("busybox").id == arm.config_digest
    assert setup.images.digests_of(arm.config_digest) == [f"busybox@{list_digest}"]
    assert ("", f"Digest: {list_digest}") in setup.statuses()
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x in the manifest list entries"):
        setup.pull("busybox", "latest", platform="linux/s390x")


# --------------------------------------------------------------------------- mirrors


def test_a_failing_mirror_falls_back_to_the_registry(tmp_path: Path) -> None:
    mirror = FakeRegistry()
    mirror.down = True
    settings = RegistrySettings(mirrors={"docker.io": ["http://127.0.0.1:5999"]})
    setup = Setup(tmp_path, settings, mirrors={"http://127.0.0.1:5999": mirror})
    built = setup.registry.add_image("latest", LAYERS)
    setup.pull("busybox")
    assert setup.images.resolve("busybox").id == built.config_digest


def test_a_working_mirror_serves_the_pull(tmp_path: Path) -> None:
    mirror = FakeRegistry()
    settings = RegistrySettings(mirrors={"docker.io": ["http://127.0.0.1:5999"]})
    setup = Setup(tmp_path, settings, mirrors={"http://127.0.0.1:5999": mirror})
    built = mirror.add_image("latest", LAYERS)
    setup.pull("busybox")
    assert setup.images.resolve("busybox").id == built.config_digest
    assert setup.registry.manifest_requests == [] and setup.registry.blob_requests == []


def test_a_mirror_without_the_tag_falls_back(tmp_path: Path) -> None:
    mirror = FakeRegistry()
    settings = RegistrySettings(mirrors={"docker.io": ["http://127.0.0.1:5999"]})
    setup = Setup(tmp_path, settings, mirrors={"http://127.0.0.1:5999": mirror})
    built = setup.registry.add_image("latest", LAYERS)
    setup.pull("busybox")
    assert mirror.manifest_requests == ["latest"]
    assert setup.images.resolve("busybox").id == built.config_digest


# --------------------------------------------------------------------------- downloads and metadata


def test_stale_downloads_expire(tmp_path: Path) -> None:
    downloads = BlobDownloads(str(tmp_path), stale_after=60)
    digest = digest_of(b"x")
    with open(downloads.partial_path(digest), "wb") as handle:
        handle.write(b"x")
    fresh = downloads.verified_path(digest_of(b"y"))
    with open(fresh, "wb") as handle:
        handle.write(b"y")
    os.utime(downloads.partial_path(digest), (0, 0))
    assert downloads.expire() == [os.path.basename(downloads.partial_path(digest))]
    assert os.listdir(tmp_path) == [os.path.basename(fresh)]


def test_stale_downloads_go_when_the_service_starts(tmp_path: Path) -> None:
    downloads = tmp_path / "image" / "downloads"
    downloads.mkdir(parents=True)
    old = downloads / ("a" * 64 + ".partial")
    old.write_bytes(b"x")
    os.utime(old, (0, 0))
    Setup(tmp_path)
    assert not old.exists()


def test_a_corrupt_verified_blob_is_fetched_again(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    blob = built.layer_digests[0]
    with open(BlobDownloads(setup.downloads).verified_path(blob), "wb") as handle:
        handle.write(b"rotten")
    setup.pull("busybox")
    assert (blob, 0) in setup.registry.blob_requests
    assert setup.images.resolve("busybox").id == built.config_digest


def test_store_garbage_collection_keeps_downloads(setup: Setup) -> None:
    path = BlobDownloads(setup.downloads).partial_path(digest_of(b"x"))
    with open(path, "wb") as handle:
        handle.write(b"x")
    setup.images.recover()
    assert os.path.exists(path)


def test_metadata_is_shared_by_instances_and_survives(tmp_path: Path) -> None:
    one, two = DistributionMetadata(str(tmp_path)), DistributionMetadata(str(tmp_path))
    a = BlobSource("sha256:" + "a" * 64, 10, "m", "docker.io", "library/busybox")
    b = BlobSource("sha256:" + "b" * 64, 11, "m", "127.0.0.1:5000", "app")
    one.record([("sha256:" + "1" * 64, a)])
    two.record([("sha256:" + "1" * 64, b)])
    assert DistributionMetadata(str(tmp_path)).sources("sha256:" + "1" * 64) == [b, a]
    assert one.diff_id_of(a.digest) == "sha256:" + "1" * 64
    one.forget("sha256:" + "1" * 64, b)
    assert two.sources("sha256:" + "1" * 64) == [a]
    with open(one.path, "w") as handle:
        handle.write("{not json")
    assert one.sources("sha256:" + "1" * 64) == []


def test_two_pulls_of_one_image_at_once_share_the_blobs(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    gate = setup.registry.gates[built.layer_digests[2]] = threading.Event()
    failures: list[BaseException] = []

    def pull(tag: str) -> None:
        try:
            setup.service.pull("busybox", tag, "", AuthConfig(), False, lambda message: None)
        except BaseException as error:  # noqa: BLE001  (reported by the test)
            failures.append(error)

    setup.registry.manifests["again"] = setup.registry.manifests["latest"]
    threads = [threading.Thread(target=pull, args=(tag,)) for tag in ("latest", "again")]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert setup.images.resolve("busybox:again").id == setup.images.resolve("busybox:latest").id == \
        built.config_digest
    assert setup.leftovers() == []


def test_a_blob_longer_than_its_descriptor_is_refused_and_dropped(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    long = built.layer_digests[2]
    setup.registry.tampered[long] = setup.registry.blobs[long] + b"more"
    with pytest.raises(InvalidParameter, match="sent more than"):
        setup.pull("busybox")
    assert not any(name.startswith(long[7:]) for name in os.listdir(setup.downloads))
    assert setup.store.images() == []


def test_a_disk_error_is_one_line_and_not_retried(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    real_open = open

    def full_disk(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith(".partial") and "b" in mode and ("w" in mode or "a" in mode):
            raise OSError(28, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_disk)
    with pytest.raises(MoorError, match="^cannot keep blob sha256:[0-9a-f]{64} in .*: No space left on device$"):
        setup.pull("busybox")
    monkeypatch.undo()
    assert len(setup.registry.blob_requests) == 1  # the config only: no retry of a disk error
    assert setup.store.images() == [] and built


def test_listing_images_does_not_wait_for_a_layer_being_applied(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    applying, release = threading.Event(), threading.Event()
    real = setup.store.storage

    class Slow:
        """The storage driver, holding each apply until the test releases it."""

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def apply_layer(self, key: str, parent: str | None, diff: Any) -> int:
            applying.set()
            assert release.wait(30)
            return int(real.apply_layer(key=key, parent=parent, diff=diff))

    setup.store.storage = Slow()  # type: ignore[assignment]
    puller = threading.Thread(target=setup.pull, args=("busybox",))
    puller.start()
    assert applying.wait(30)
    listed: list[int] = []
    lister = threading.Thread(target=lambda: listed.append(len(setup.images.store.images()) + len(setup.store.refs())))
    lister.start()
    lister.join(5)
    answered_meanwhile = list(listed)
    release.set()
    puller.join(30)
    assert answered_meanwhile == [0]  # answered while the apply was held
    assert setup.images.resolve("busybox").id == built.config_digest


def test_the_download_limit_holds_across_pulls(tmp_path: Path) -> None:
    setup = Setup(tmp_path, RegistrySettings(max_concurrent_downloads=2))
    one = setup.registry.add_image("one", LAYERS)
    two = setup.registry.add_image("two", [{"a": "1"}, {"b": "2"}, {"c": "3"}])
    gates = [setup.registry.gates.setdefault(d, threading.Event()) for d in one.layer_digests + two.layer_digests]
    threads = [threading.Thread(target=setup.service.pull, args=("app", tag, "", AuthConfig(), False, lambda m: None))
               for tag in ("one", "two")]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 10
        while setup.registry.open_layers < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # time for a third download to start, were it allowed to
        assert setup.registry.open_layers == 2
    finally:
        for gate in gates:
            gate.set()
        for thread in threads:
            thread.join(30)
    assert setup.registry.most_open_layers == 2
    assert setup.images.resolve("app:two").id == two.config_digest


def test_a_blob_the_registry_lacks_leaves_no_file(setup: Setup) -> None:
    built = setup.registry.add_image("latest", LAYERS)
    del setup.registry.blobs[built.layer_digests[1]]
    with pytest.raises(NotFound, match="blob unknown"):
        setup.pull("busybox")
    assert not any(name.startswith(built.layer_digests[1][7:]) for name in os.listdir(setup.downloads))

