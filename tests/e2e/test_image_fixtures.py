"""Images made by Docker and skopeo load, look right, and mount to the right root filesystem."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest

from e2e.imagehelpers import ENGINE_PATHS, FIXTURES, describe_tree, engine_at, expected_tree

pytestmark = pytest.mark.root

CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "ExposedPorts", "Volumes", "WorkingDir", "Healthcheck", "Labels",
                 "StopSignal")


def expected_inspect() -> dict:
    return json.loads((FIXTURES / "expected-image-inspect.json").read_text())[0]


@pytest.mark.parametrize("archive", ["docker-save-whiteouts.tar", "oci-archive-whiteouts.tar"])
def test_fixture_loads_with_dockers_config_and_rootfs(tmp_path, archive: str) -> None:
    from moor.images import views

    expected = expected_inspect()
    with engine_at(tmp_path) as engine:
        with open(FIXTURES / archive, "rb") as stream:
            messages = engine.transfer.load(stream)
        assert messages == ["Loaded image: moor-fixture:whiteouts\n"]
        image = engine.images.resolve("moor-fixture:whiteouts")
        if archive.startswith("docker"):
            assert image.id == expected["Id"]  # skopeo rewrites the config as an OCI config
        inspect = views.inspect(engine.images, image, {})
        for field in CONFIG_FIELDS:
            assert inspect["Config"][field] == expected["Config"][field], field
        assert inspect["RootFS"] == expected["RootFS"]
        assert inspect["RepoTags"] == ["moor-fixture:whiteouts"]
        assert (inspect["Architecture"], inspect["Os"]) == ("amd64", "linux")

        key = engine.images.store.layer_chain(image)[-1].key
        rootfs = engine.drivers.storage.mount(key=key)
        try:
            actual = describe_tree(rootfs)
        finally:
            engine.drivers.storage.unmount(key=key)
    wanted = {p: row for p, row in expected_tree().items() if p not in ENGINE_PATHS}
    actual = {p: row for p, row in actual.items() if p not in ENGINE_PATHS}
    assert "/data/sub/keep" not in actual and "/bin/ping" not in actual
    assert actual == wanted


def test_save_round_trip_gives_the_same_image_id(tmp_path) -> None:
    expected = expected_inspect()
    with engine_at(tmp_path) as engine:
        with open(FIXTURES / "docker-save-whiteouts.tar", "rb") as stream:
            engine.transfer.load(stream)
        saved = io.BytesIO()
        engine.transfer.save(["moor-fixture:whiteouts"], saved)
        engine.images.remove("moor-fixture:whiteouts")
        assert engine.images.find(expected["Id"]) is None
        assert engine.images.store.images() == []
        saved.seek(0)
        assert engine.transfer.load(saved) == ["Loaded image: moor-fixture:whiteouts\n"]
        assert engine.images.resolve("moor-fixture:whiteouts").id == expected["Id"]


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is installed by make install")
def test_skopeo_reads_what_save_writes(tmp_path) -> None:
    with engine_at(tmp_path / "e") as engine:
        with open(FIXTURES / "docker-save-whiteouts.tar", "rb") as stream:
            engine.transfer.load(stream)
        archive = tmp_path / "saved.tar"
        with open(archive, "wb") as out:
            engine.transfer.save(["moor-fixture:whiteouts"], out)
    inspect = subprocess.run(["skopeo", "inspect", f"docker-archive:{archive}"], capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["Layers"]
    copy = subprocess.run(["skopeo", "copy", f"docker-archive:{archive}", f"oci:{tmp_path}/oci:x"],
                          capture_output=True, text=True)
    assert copy.returncode == 0, copy.stderr
    index = json.loads((tmp_path / "oci" / "index.json").read_text())
    assert index["manifests"]
    config_digest = json.loads((tmp_path / "oci" / "blobs" / "sha256" /
                                index["manifests"][0]["digest"].split(":")[1]).read_text())["config"]["digest"]
    config = (tmp_path / "oci" / "blobs" / "sha256" / config_digest.split(":")[1]).read_bytes()
    # skopeo rewrites the config in OCI form; the layers must be ours, byte for byte
    assert json.loads(config)["rootfs"]["diff_ids"] == expected_inspect()["RootFS"]["Layers"]
    assert json.loads(config)["config"]["Env"] == expected_inspect()["Config"]["Env"]
