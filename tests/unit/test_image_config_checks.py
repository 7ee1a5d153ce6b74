"""Loaded images cannot poison listings (issue 12): bad configs are refused at load, and a bad record
already on disk (from an older moor) is listed with its bad fields left out, never a 500."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moor import config as config_module
from moor.daemon.engine import Engine
from moor.drivers import DriverSet
from moor.errors import InvalidParameter
from moor.images import configcheck, views
from moor.testing.fakes import fake_drivers


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _config(layer: bytes, **fields: Any) -> bytes:
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    document = {"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
                "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": [diff_id]}, **fields}
    text = json.dumps(document)
    return text.replace('"@INF@"', "1e999").encode()  # json.dumps cannot write 1e999 itself


def docker_archive(config: bytes, layer: bytes, tag: str = "poison:latest") -> bytes:
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": ["layer/layer.tar"]}]
    return _tar({config_name: config, "layer/layer.tar": layer, "manifest.json": json.dumps(manifest).encode()})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    built = _engine(tmp_path)
    yield built
    built.close()


def _engine(tmp_path: Path, drivers: DriverSet | None = None) -> Engine:
    config = config_module.parse({"data_root": str(tmp_path / "data"), "exec_root": str(tmp_path / "exec")})
    return Engine(config, drivers or fake_drivers(tmp_path / "drivers"))


def _snapshot(root: Path) -> list[str]:
    """Every file and directory under ``root`` (the store and the fake storage driver)."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if "tmp" not in path.parts)


LAYER = _tar({"etc/motd": b"hi\n"})

BAD_FIELDS: list[dict[str, Any]] = [
    {"config": "a string"},
    {"created": "@INF@"},
    {"created": 12},
    {"created": "yesterday"},
    {"created": "2024-02-30T00:00:00Z"},
    {"config": {"Labels": ["a=b"]}},
    {"config": {"Labels": {"a": 1}}},
    {"config": {"Env": "A=1"}},
    {"config": {"Healthcheck": {"Interval": "@INF@"}}},
    {"config": {"ExposedPorts": ["80/tcp"]}},
    {"history": {"created_by": "x"}},
    {"history": [{"created": "@INF@"}]},
    {"history": [{"created_by": 5}]},
    {"container_config": []},
    {"os": 7},
]


@pytest.mark.parametrize("fields", BAD_FIELDS, ids=lambda f: json.dumps(f)[:40])
def test_a_bad_config_is_refused_at_load_and_nothing_is_written(engine: Engine, tmp_path: Path,
                                                                   fields: dict[str, Any]) -> None:
    before = _snapshot(tmp_path)
    with pytest.raises(InvalidParameter, match="invalid image config"):
        engine.transfer.load(io.BytesIO(docker_archive(_config(LAYER, **fields), LAYER)))
    assert _snapshot(tmp_path) == before
    assert engine.images.list(all_images=True) == []


def test_a_good_config_still_loads(engine: Engine) -> None:
    config = _config(LAYER, config={"Cmd": "sh", "Labels": {"a": "b"}}, history=[{"created": "2024-01-01T00:00:00Z"}])
    engine.transfer.load(io.BytesIO(docker_archive(config, LAYER)))
    [image] = engine.images.list()
    assert image.config["config"]["Cmd"] == ["sh"]  # a strslice string reads as Docker re-encodes it
    assert views.summary(engine.images, image)["Labels"] == {"a": "b"}


def test_a_bad_record_on_disk_never_breaks_the_listing(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    engine.transfer.load(io.BytesIO(docker_archive(_config(LAYER), LAYER, tag="good:latest")))
    [good] = engine.images.list()
    drivers = engine.drivers
    engine.close()
    # what an older moor stored without checking: the same layers, a config poisoned every way at once
    bad = _config(LAYER, config="a string", created="@INF@", history=[{"created": "@INF@", "created_by": 5}],
                  container_config={"Labels": [1]})
    image_dir = tmp_path / "data" / "image"
    hex_id = hashlib.sha256(bad).hexdigest()
    (image_dir / "blobs" / "sha256" / hex_id).write_bytes(bad)
    record = {"created": 1e300, "parent": None, "last_tag_time": -1e300}
    (image_dir / "images" / f"{hex_id}.json").write_text(json.dumps(record))
    engine = _engine(tmp_path, drivers)  # moord restarts (the fake storage lives in memory)
    try:
        found = {image.id: image for image in engine.images.list(all_images=True)}
        assert set(found) == {good.id, "sha256:" + hex_id}
        for image in found.values():
            row = views.summary(engine.images, image)
            assert isinstance(row["Created"], int)
            json.dumps(views.inspect(engine.images, image, {}))
            json.dumps(views.history(engine.images, image))
        poisoned = found["sha256:" + hex_id]
        assert views.inspect(engine.images, poisoned, {})["Config"] is None
        engine.images.resolve(hex_id[:12])  # and it can be removed by ID like any other
    finally:
        engine.close()


def test_an_image_of_no_layers_has_no_diff_ids() -> None:
    # as Docker writes FROM scratch plus config steps (Go's omitempty): accepted, as Docker accepts it
    assert configcheck.problems({"rootfs": {"type": "layers"}, "created": "2024-01-02T03:04:05Z"}) == []
    assert configcheck.problems({"rootfs": {"type": "layers", "diff_ids": "x"}}) == \
        ["rootfs: want an array of digests, got a string"]
