"""Image archive formats: loading docker-save and OCI archives, refusing hostile ones, saving like Docker."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import pathlib
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from typing import IO

import pytest

from moor.errors import InvalidParameter
from moor.images import archive_read, compression
from moor.images.archive import (
    ArchiveImage,
    SaveImage,
    SaveLayer,
    archive_kind,
    open_layer,
    read_archive,
    spool_archive,
    write_docker_archive,
)
from moor.images.archive_v1 import go_json, go_time

FIXTURES = pathlib.Path("/work/shared/fixtures/images")
if not FIXTURES.exists():
    FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "images"
DOCKER_TAR = FIXTURES / "docker-save-whiteouts.tar"
OCI_TAR = FIXTURES / "oci-archive-whiteouts.tar"
INSPECT = json.loads((FIXTURES / "expected-image-inspect.json").read_text())[0]
DIFF_IDS = INSPECT["RootFS"]["Layers"]
OCI_CONFIG_DIGEST = "sha256:2baa4b803de90679aa43d717c2399ab38880f528aada97fb4455710d07bc549d"


# --- helpers ----------------------------------------------------------------------------------

class Trickle:
    """A non-seekable reader that hands out at most ``step`` bytes per read, like a socket."""

    def __init__(self, data: bytes, step: int = 7000) -> None:
        self._data, self._pos, self._step = data, 0, step

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._pos:self._pos + size]
        self._pos += len(chunk)
        return chunk


class WriteOnly:
    """A non-seekable writer (stdout, a socket): write() and nothing else."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def stream_digest(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    with stream:
        while chunk := stream.read(1 << 16):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def load(data: bytes | IO[bytes], workdir: pathlib.Path) -> list[ArchiveImage]:
    workdir.mkdir(exist_ok=True)
    spool_archive(io.BytesIO(data) if isinstance(data, bytes) else data, str(workdir))
    return read_archive(str(workdir))


def make_tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def entry(name: str, data: bytes | None = b"x", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info, data if kind == tarfile.REGTYPE else None


def tar_dir(root: pathlib.Path) -> bytes:
    """A tar of a directory's contents with sorted relative names."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return out.getvalue()


def extracted(archive: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    target.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="fully_trusted")
    for path in target.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
    return target


@pytest.fixture
def sandbox(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """(work dir, sentinel): nothing may appear beside the work dir or change the sentinel."""
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("untouched")
    work = tmp_path / "work"
    work.mkdir()
    return work, sentinel


def assert_contained(sandbox: tuple[pathlib.Path, pathlib.Path]) -> None:
    work, sentinel = sandbox
    assert sentinel.read_text() == "untouched"
    assert sorted(p.name for p in work.parent.iterdir()) == ["sentinel", "work"]
    assert not any(path.is_symlink() for path in work.rglob("*"))


# --- loading the fixtures ---------------------------------------------------------------------

@pytest.mark.parametrize("fixture", [DOCKER_TAR, OCI_TAR], ids=["docker-save", "oci"])
def test_fixture_loads(fixture: pathlib.Path, tmp_path: pathlib.Path) -> None:
    with open(fixture, "rb") as stream:
        images = load(stream, tmp_path / "work")
    assert len(images) == 1
    image = images[0]
    assert image.repo_tags == ["moor-fixture:whiteouts"]
    assert len(image.layers) == 3
    config = json.loads(image.config)
    assert config["rootfs"]["diff_ids"] == DIFF_IDS
    assert config["config"]["Env"] == INSPECT["Config"]["Env"]
    assert config["config"]["Labels"] == INSPECT["Config"]["Labels"]
    if fixture == DOCKER_TAR:
        assert archive_kind(str(tmp_path / "work")) == "docker"
        assert sha256(image.config) == INSPECT["Id"]  # Docker's image ID is the digest of these bytes
        assert [(layer.digest, layer.media_type) for layer in image.layers] == [(None, "")] * 3
    else:
        assert archive_kind(str(tmp_path / "work")) == "oci"
        assert sha256(image.config) == OCI_CONFIG_DIGEST  # skopeo rewrites the config as an OCI config
        for layer in image.layers:
            assert layer.media_type == "application/vnd.oci.image.layer.v1.tar+gzip"
            assert layer.digest == sha256(pathlib.Path(layer.path).read_bytes())
    for layer in image.layers:
        assert layer.path.startswith(str(tmp_path / "work") + "/")
    assert [stream_digest(open_layer(layer.path)) for layer in image.layers] == DIFF_IDS


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress, bz2.compress], ids=["gzip", "xz", "bzip2"])
def test_compressed_archive_loads_the_same(compress: Callable[[bytes], bytes], tmp_path: pathlib.Path) -> None:
    plain = load(DOCKER_TAR.read_bytes(), tmp_path / "plain")[0]
    packed = load(Trickle(compress(DOCKER_TAR.read_bytes())), tmp_path / "packed")[0]
    assert packed.config == plain.config and packed.repo_tags == plain.repo_tags
    assert [stream_digest(open_layer(layer.path)) for layer in packed.layers] == DIFF_IDS


def test_open_layer_detects_compression(tmp_path: pathlib.Path) -> None:
    data = b"layer" * 1000
    for name, packed in [("plain", data), ("gz", gzip.compress(data)), ("xz", lzma.compress(data))]:
        (tmp_path / name).write_bytes(packed)
        with open_layer(str(tmp_path / name)) as stream:
            assert stream.read() == data


# --- hostile and broken archives --------------------------------------------------------------

@pytest.mark.parametrize(("member", "named"), [
    (entry("../x"), "'../x'"),
    (entry("ok/../../x"), "'ok/../../x'"),
    (entry("/abs"), "'/abs'"),
    (entry("etc", kind=tarfile.SYMTYPE, link="/etc"), "'etc'"),
    (entry("a/layer.tar", kind=tarfile.SYMTYPE, link="../../outside/layer.tar"), "'a/layer.tar'"),
    (entry("a/layer.tar", kind=tarfile.SYMTYPE, link="/etc/passwd"), "'a/layer.tar'"),
    (entry("passwd", kind=tarfile.LNKTYPE, link="/etc/passwd"), "'passwd'"),
    (entry("null", kind=tarfile.CHRTYPE), "'null'"),
    (entry("fifo", kind=tarfile.FIFOTYPE), "'fifo'"),
], ids=["dotdot", "inner-dotdot", "absolute", "symlink", "layer-symlink-out", "layer-symlink-abs", "hardlink",
        "device", "fifo"])
def test_hostile_entries_are_refused(member: tuple, named: str, sandbox: tuple) -> None:
    data = make_tar([entry("manifest.json", b"[]"), member, entry("after", b"y")])
    with pytest.raises(InvalidParameter, match="invalid archive: entry " + named.replace(".", r"\.")):
        spool_archive(io.BytesIO(data), str(sandbox[0]))
    assert_contained(sandbox)


def test_layer_symlink_inside_becomes_a_file(sandbox: tuple) -> None:
    data = make_tar([entry("a/layer.tar", kind=tarfile.SYMTYPE, link="../b/layer.tar"),
                     entry("b/layer.tar", b"layer bytes"),
                     entry("c/layer.tar", kind=tarfile.SYMTYPE, link="../a/layer.tar")])
    spool_archive(io.BytesIO(data), str(sandbox[0]))
    for name in "abc":
        assert (sandbox[0] / name / "layer.tar").read_bytes() == b"layer bytes"
    assert_contained(sandbox)


def test_layer_symlink_to_missing_file_is_refused(sandbox: tuple) -> None:
    data = make_tar([entry("a/layer.tar", kind=tarfile.SYMTYPE, link="../b/layer.tar")])
    with pytest.raises(InvalidParameter, match="'a/layer.tar'.*not a file"):
        spool_archive(io.BytesIO(data), str(sandbox[0]))
    assert_contained(sandbox)


def test_truncated_archives_are_refused(tmp_path: pathlib.Path) -> None:
    data = DOCKER_TAR.read_bytes()
    with tarfile.open(DOCKER_TAR) as tar:
        boundary = tar.getmembers()[6].offset  # a cut between two members, no end-of-archive block
    cases = {"half": data[:len(data) // 2], "boundary": data[:boundary], "header": data[:boundary + 100],
             "gzip-half": gzip.compress(data)[:len(gzip.compress(data)) // 2]}
    for name, cut in cases.items():
        work = tmp_path / name
        work.mkdir()
        with pytest.raises(InvalidParameter, match="truncated"):
            spool_archive(Trickle(cut), str(work))


@pytest.mark.parametrize(("data", "says"), [
    (b"", "invalid archive: not a tar archive"),
    (b"notatar\n", r"^Error processing tar file\(exit status 1\): unexpected EOF$"),
    (b"garbage " * 200, r"^Error processing tar file\(exit status 1\): archive/tar: invalid tar header$"),
    (b"\x01" + os.urandom(4095), "Error processing tar file"),
], ids=["empty", "short", "text", "random"])
def test_garbage_is_not_a_tar_archive(data: bytes, says: str, sandbox: tuple) -> None:
    """Docker 20.10's words for a load of data that is no tar (checked against its dockerd)."""
    with pytest.raises(InvalidParameter, match=says):
        spool_archive(io.BytesIO(data), str(sandbox[0]))
    assert_contained(sandbox)


def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setattr(compression, "BOMB_RATIO", 10)
    monkeypatch.setattr(compression, "BOMB_MIN_BYTES", 1 << 20)
    bomb = gzip.compress(make_tar([entry("zeros", b"\0" * (8 << 20))]))
    (tmp_path / "work").mkdir()
    with pytest.raises(InvalidParameter, match="decompression bomb"):
        spool_archive(io.BytesIO(bomb), str(tmp_path / "work"))
    (tmp_path / "layer.gz").write_bytes(bomb)
    with pytest.raises(InvalidParameter, match="decompression bomb"), open_layer(str(tmp_path / "layer.gz")) as s:
        s.read()
    # Above the ratio but under the byte floor, and under the ratio: both fine.
    monkeypatch.setattr(compression, "BOMB_MIN_BYTES", 64 << 20)
    with open_layer(str(tmp_path / "layer.gz")) as stream:
        assert len(stream.read()) > 8 << 20


def test_oci_blob_digest_mismatch_is_refused(tmp_path: pathlib.Path) -> None:
    layout = extracted(OCI_TAR, tmp_path / "layout")
    blob = layout / "blobs/sha256/ccd4059e33c6a73abbf105cd7ed83e6a6ea33fd9399b7f6d262e1dab3a1ad667"
    data = bytearray(blob.read_bytes())
    data[1000] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(InvalidParameter, match=r"digest mismatch for blobs/sha256/ccd4059e.*: got sha256:"):
        load(tar_dir(layout), tmp_path / "work")
    blob.write_bytes(bytes(data) + b"!")
    with pytest.raises(InvalidParameter, match=r"size mismatch for blobs/sha256/ccd4059e"):
        load(tar_dir(layout), tmp_path / "work2")


def _docker_layout(tmp_path: pathlib.Path) -> tuple[pathlib.Path, list]:
    layout = extracted(DOCKER_TAR, tmp_path / "layout")
    return layout, json.loads((layout / "manifest.json").read_text())


@pytest.mark.parametrize(("edit", "message"), [
    (lambda layout, manifest: "{not json", "manifest.json: not valid JSON"),
    (lambda layout, manifest: [{k: v for k, v in manifest[0].items() if k != "Config"}], "missing Config"),
    (lambda layout, manifest: [{**manifest[0], "Layers": None}], "missing Layers"),
    (lambda layout, manifest: {"Config": "x"}, "expected a JSON array"),
    (lambda layout, manifest: [{**manifest[0], "Layers": manifest[0]["Layers"][:2]}], "layers length mismatch"),
    (lambda layout, manifest: [{**manifest[0], "Layers": ["nope/layer.tar"] * 3}], "nope/layer.tar is missing"),
    (lambda layout, manifest: [{**manifest[0], "Config": "../etc/passwd"}], "invalid path"),
], ids=["not-json", "no-config", "no-layers", "not-array", "diff-ids-count", "missing-layer", "escape"])
def test_corrupt_docker_manifest_is_refused(edit: Callable, message: str, tmp_path: pathlib.Path) -> None:
    layout, manifest = _docker_layout(tmp_path)
    edited = edit(layout, manifest)
    (layout / "manifest.json").write_text(edited if isinstance(edited, str) else json.dumps(edited))
    with pytest.raises(InvalidParameter, match="invalid archive: .*" + message):
        load(tar_dir(layout), tmp_path / "work")


def test_docker_config_is_checked(tmp_path: pathlib.Path) -> None:
    layout, manifest = _docker_layout(tmp_path)
    config_path = layout / manifest[0]["Config"]
    config_path.write_bytes(config_path.read_bytes().replace(b"hello world", b"hello moon!"))
    with pytest.raises(InvalidParameter, match=f"digest mismatch for {manifest[0]['Config']}"):
        load(tar_dir(layout), tmp_path / "w1")
    config = json.loads(config_path.read_bytes())
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:2]
    data = json.dumps(config).encode()
    config_path.unlink()
    (layout / (sha256(data)[7:] + ".json")).write_bytes(data)
    (layout / "manifest.json").write_text(json.dumps([{**manifest[0], "Config": sha256(data)[7:] + ".json"}]))
    with pytest.raises(InvalidParameter, match="layers length mismatch"):
        load(tar_dir(layout), tmp_path / "w2")


def test_neither_format_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidParameter, match="neither manifest.json"):
        load(make_tar([entry("README", b"{}")]), tmp_path / "work")


def test_a_legacy_archive_names_its_images_in_repositories(tmp_path: pathlib.Path) -> None:
    """``repositories`` without manifest.json is a legacy (v1) archive: an empty one holds no image; one naming a
    v1 ID its archive lacks, or an ID that is not one, is refused."""
    assert load(make_tar([entry("repositories", b"{}")]), tmp_path / "empty") == []
    with pytest.raises(InvalidParameter, match="json: missing"):
        load(make_tar([entry("repositories", json.dumps({"x": {"1": "a" * 64}}).encode())]), tmp_path / "missing")
    with pytest.raises(InvalidParameter, match="invalid v1 image ID"):
        load(make_tar([entry("repositories", b'{"x": {"1": "../../etc"}}')]), tmp_path / "dotdot")


def _oci_blob(layout: pathlib.Path, document: dict) -> dict:
    data = json.dumps(document).encode()
    (layout / "blobs/sha256" / sha256(data)[7:]).write_bytes(data)
    return {"digest": sha256(data), "size": len(data)}


def test_oci_index_is_followed_for_the_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    layout = extracted(OCI_TAR, tmp_path / "layout")
    index = json.loads((layout / "index.json").read_text())
    image = index["manifests"][0]
    other = _oci_blob(layout, {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": sha256(b"{}"), "size": 2}, "layers": []})
    nested = _oci_blob(layout, {"schemaVersion": 2, "manifests": [
        {"mediaType": image["mediaType"], **other, "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": image["mediaType"], "digest": image["digest"], "size": image["size"],
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": image["mediaType"], **other, "platform": {"os": "unknown", "architecture": "unknown"}},
    ]})
    index["manifests"] = [{"mediaType": "application/vnd.oci.image.index.v1+json", **nested,
                           "annotations": {"org.opencontainers.image.ref.name": "latest"}}]
    (layout / "index.json").write_text(json.dumps(index))
    monkeypatch.setattr(archive_read, "host_platform", lambda: ("linux", "s390x"))
    images = load(tar_dir(layout), tmp_path / "work")
    assert [sha256(image.config) for image in images] == [OCI_CONFIG_DIGEST]
    assert images[0].repo_tags == ["latest"]  # a bare tag is returned as written


def test_oci_unsupported_media_type_is_refused(tmp_path: pathlib.Path) -> None:
    layout = extracted(OCI_TAR, tmp_path / "layout")
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0]["mediaType"] = "application/vnd.example.artifact"
    (layout / "index.json").write_text(json.dumps(index))
    with pytest.raises(InvalidParameter, match="unsupported media type 'application/vnd.example.artifact'"):
        load(tar_dir(layout), tmp_path / "work")


# --- saving -----------------------------------------------------------------------------------

def save_image(image: ArchiveImage, opened: list[str] | None = None) -> SaveImage:
    """A SaveImage serving the layers of a loaded docker-save image."""
    def opener(path: str, diff_id: str) -> Callable[[], IO[bytes]]:
        def open_it() -> IO[bytes]:
            if opened is not None:
                opened.append(diff_id)
            return open(path, "rb")
        return open_it
    diff_ids = json.loads(image.config)["rootfs"]["diff_ids"]
    layers = [SaveLayer(diff_id, os.path.getsize(layer.path), opener(layer.path, diff_id))
              for layer, diff_id in zip(image.layers, diff_ids)]
    return SaveImage(id=sha256(image.config), config=image.config, layers=layers, repo_tags=list(image.repo_tags))


@pytest.fixture
def fixture_image(tmp_path: pathlib.Path) -> ArchiveImage:
    return load(DOCKER_TAR.read_bytes(), tmp_path / "fixture")[0]


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {member.name: member for member in tar.getmembers()}


def test_save_writes_what_docker_writes(fixture_image: ArchiveImage, tmp_path: pathlib.Path) -> None:
    out = WriteOnly()
    write_docker_archive(out, [save_image(fixture_image)])  # type: ignore[arg-type]
    written = out.getvalue()
    # Same names (v1 IDs included) and same bytes in every file as `docker save`.
    with tarfile.open(DOCKER_TAR) as ours, tarfile.open(fileobj=io.BytesIO(written)) as theirs:
        assert ours.getnames() == theirs.getnames()
        for member in ours.getmembers():
            if member.isfile():
                assert ours.extractfile(member).read() == theirs.extractfile(member.name).read(), member.name
    again = load(written, tmp_path / "again")[0]
    assert again.config == fixture_image.config and again.repo_tags == ["moor-fixture:whiteouts"]
    assert [stream_digest(open_layer(layer.path)) for layer in again.layers] == DIFF_IDS


def test_save_to_bytesio_equals_save_to_pipe(fixture_image: ArchiveImage) -> None:
    buffer, pipe = io.BytesIO(), WriteOnly()
    write_docker_archive(buffer, [save_image(fixture_image)])
    write_docker_archive(pipe, [save_image(fixture_image)])  # type: ignore[arg-type]
    assert buffer.getvalue() == pipe.getvalue()


def _derived(image: ArchiveImage, layer_count: int, label: str, tag: str) -> SaveImage:
    """An image on the first ``layer_count`` layers of ``image`` with its own config."""
    base = save_image(image)
    config = json.loads(image.config)
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:layer_count]
    config["config"]["Labels"] = {"derived": label}
    data = json.dumps(config).encode()
    return SaveImage(sha256(data), data, base.layers[:layer_count], [tag])


def test_shared_layers_are_written_once(fixture_image: ArchiveImage, tmp_path: pathlib.Path) -> None:
    opened: list[str] = []
    first = save_image(fixture_image, opened)
    second = _derived(fixture_image, 2, "two", "localhost:5000/two:1")
    second.layers = first.layers[:2]
    untagged = _derived(fixture_image, 3, "three", "x:y")
    untagged.repo_tags, untagged.layers = [], first.layers
    out = io.BytesIO()
    write_docker_archive(out, [first, second, untagged, first])
    assert sorted(opened) == sorted(DIFF_IDS)  # every layer stream read exactly once
    found = members(out.getvalue())
    layer_files = [m for name, m in found.items() if name.endswith("/layer.tar") and m.isfile()]
    links = [m for name, m in found.items() if name.endswith("/layer.tar") and m.issym()]
    assert len(layer_files) == 3 and len(links) == 2  # second's top layer and untagged's top layer
    manifest = json.loads(out.getvalue()[found["manifest.json"].offset_data:][:found["manifest.json"].size])
    assert [item["RepoTags"] for item in manifest] == [["moor-fixture:whiteouts"], ["localhost:5000/two:1"], None]
    assert manifest[0]["Layers"][:1] == manifest[1]["Layers"][:1]  # same chain: same v1 directory
    repositories = json.loads(out.getvalue()[found["repositories"].offset_data:][:found["repositories"].size])
    assert set(repositories) == {"moor-fixture", "localhost:5000/two"}
    images = load(out.getvalue(), tmp_path / "work")
    assert [image.config for image in images] == [first.config, second.config, untagged.config]
    for image in images:
        diff_ids = json.loads(image.config)["rootfs"]["diff_ids"]
        assert [stream_digest(open_layer(layer.path)) for layer in image.layers] == diff_ids


def test_save_refuses_inconsistent_images(fixture_image: ArchiveImage) -> None:
    image = save_image(fixture_image)
    with pytest.raises(InvalidParameter, match="does not hash to the image ID"):
        write_docker_archive(io.BytesIO(), [SaveImage("sha256:" + "0" * 64, image.config, image.layers, [])])
    with pytest.raises(InvalidParameter, match="do not match the config's diff IDs"):
        write_docker_archive(io.BytesIO(), [SaveImage(image.id, image.config, image.layers[:2], [])])
    short = SaveLayer(image.layers[0].diff_id, image.layers[0].size + 10, image.layers[0].open)
    with pytest.raises(InvalidParameter, match="stream ended after"):
        write_docker_archive(io.BytesIO(), [SaveImage(image.id, image.config, [short, *image.layers[1:]], [])])
    wrong = SaveLayer(image.layers[0].diff_id, image.layers[1].size, image.layers[1].open)
    with pytest.raises(InvalidParameter, match="stream hashes to"):
        write_docker_archive(io.BytesIO(), [SaveImage(image.id, image.config, [wrong, *image.layers[1:]], [])])


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_reads_what_we_save(fixture_image: ArchiveImage, tmp_path: pathlib.Path) -> None:
    archive = tmp_path / "saved.tar"
    with open(archive, "wb") as out:
        write_docker_archive(out, [save_image(fixture_image)])
    inspected = json.loads(subprocess.run(["skopeo", "inspect", f"docker-archive:{archive}"], check=True,
                                          capture_output=True, text=True, timeout=120).stdout)
    assert inspected["Layers"] == DIFF_IDS
    subprocess.run(["skopeo", "copy", "-q", f"docker-archive:{archive}", f"oci:{tmp_path / 'oci'}:copied"],
                   check=True, capture_output=True, timeout=120)
    images = load(tar_dir(tmp_path / "oci"), tmp_path / "work")
    assert json.loads(images[0].config)["rootfs"]["diff_ids"] == DIFF_IDS
    assert images[0].repo_tags == ["copied"]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_we_read_what_skopeo_saves(tmp_path: pathlib.Path) -> None:
    archive = tmp_path / "skopeo.tar"  # layers as <hex>.tar, layer.tar symlinks to them
    subprocess.run(["skopeo", "copy", "-q", f"oci-archive:{OCI_TAR}", f"docker-archive:{archive}:moor-fixture:x"],
                   check=True, capture_output=True, timeout=120)
    with open(archive, "rb") as stream:
        image = load(stream, tmp_path / "work")[0]
    assert sha256(image.config) == OCI_CONFIG_DIGEST
    assert image.repo_tags == ["docker.io/library/moor-fixture:x"]  # skopeo writes the full name
    assert [stream_digest(open_layer(layer.path)) for layer in image.layers] == DIFF_IDS


# --- Go-compatible JSON -----------------------------------------------------------------------

def test_go_json_escapes_like_go() -> None:
    assert go_json({"b": "<a&b>\u2028\x01\n", "a": [1, True, None]}) == \
        '{"b":"\\u003ca\\u0026b\\u003e\\u2028\\u0001\\n","a":[1,true,null]}'
    assert go_time("2026-11-23T07:55:34.770689940Z") == "2026-11-23T07:55:34.77068994Z"
    assert go_time("2020-01-01T00:00:00.000+00:00") == "2020-01-01T00:00:00Z"
    assert go_time(None) == "0001-01-01T00:00:00Z"
