"""The image commands through the CLI and the API against a private moord on real overlayfs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import moor_bytes as moor
from e2e.containerhelpers import ok
from e2e.imagehelpers import FIXTURES, busybox_rootfs_tar
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def moord(tmp_path_factory) -> Iterator[DaemonProcess]:
    with DaemonProcess(str(tmp_path_factory.mktemp("images"))) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory) -> str:
    return str(busybox_rootfs_tar(tmp_path_factory.mktemp("rootfs") / "busybox.tar"))


def test_import_busybox_with_changes(moord: DaemonProcess, busybox_tar: str) -> None:
    out = ok(moor(moord, "import", "-c", 'CMD ["sh"]', "-c", "ENV A=1", "-c", "EXPOSE 80", "-c", "WORKDIR /tmp",
                  "-c", "USER nobody", "-c", "VOLUME /data", "-c", "LABEL k=v", "-c", "ENTRYPOINT []",
                  "-m", "base image", busybox_tar, "busybox:latest"))
    image_id = out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    inspect = json.loads(ok(moor(moord, "image", "inspect", "busybox")))[0]
    assert inspect["Id"] == image_id and inspect["RepoTags"] == ["busybox:latest"]
    config = inspect["Config"]
    assert config["Cmd"] == ["sh"] and config["Env"] == ["A=1"] and config["ExposedPorts"] == {"80/tcp": {}}
    assert (config["WorkingDir"], config["User"]) == ("/tmp", "nobody")
    assert config["Volumes"] == {"/data": {}} and config["Labels"] == {"k": "v"}
    assert inspect["Comment"] == "base image"
    assert len(inspect["RootFS"]["Layers"]) == 1 and inspect["Size"] > 1_000_000


def test_import_from_stdin_untagged(moord: DaemonProcess, busybox_tar: str) -> None:
    with open(busybox_tar, "rb") as stdin:
        image_id = ok(moor(moord, "import", "-", stdin=stdin)).strip()
    listed = ok(moor(moord, "images", "--filter", "dangling=true", "-q", "--no-trunc")).split()
    assert image_id in listed
    ok(moor(moord, "rmi", image_id))


def test_import_refuses_bad_change(moord: DaemonProcess, busybox_tar: str) -> None:
    before = ok(moor(moord, "images", "-a", "-q"))
    result = moor(moord, "import", "-c", "RUN rm -rf /", busybox_tar, "bad:change")
    assert result.returncode == 1
    assert b"run is not a valid change command" in result.stderr  # dockerd 20.10 says it so
    assert ok(moor(moord, "images", "-a", "-q")) == before


def test_images_table_and_formats(moord: DaemonProcess) -> None:
    out = ok(moor(moord, "images"))
    header, *rows = out.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(row.split()[:2] == ["busybox", "latest"] for row in rows)
    formatted = ok(moor(moord, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "busybox"))
    name, short = formatted.split()
    assert name == "busybox:latest" and len(short) == 12
    table = ok(moor(moord, "image", "ls", "--format", "table {{.Repository}}\t{{.Size}}"))
    assert table.splitlines()[0].split() == ["REPOSITORY", "SIZE"]
    digests = ok(moor(moord, "images", "--digests"))
    assert "DIGEST" in digests.splitlines()[0]


def test_tag_and_reference_filter_and_rmi(moord: DaemonProcess) -> None:
    ok(moor(moord, "tag", "busybox", "localhost:5000/team/box:v1"))
    ok(moor(moord, "tag", "busybox:latest", "other"))
    listed = ok(moor(moord, "images", "--format", "{{.Repository}}:{{.Tag}}",
                     "--filter", "reference=localhost:5000/*/*"))
    assert listed.split() == ["localhost:5000/team/box:v1"]
    inspect = json.loads(ok(moor(moord, "inspect", "other")))[0]
    assert sorted(inspect["RepoTags"]) == ["busybox:latest", "localhost:5000/team/box:v1", "other:latest"]
    short = inspect["Id"][7:19]
    refused = moor(moord, "rmi", short)
    assert refused.returncode == 1
    assert f"conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories" \
        in refused.stderr.decode()
    assert ok(moor(moord, "rmi", "other", "localhost:5000/team/box:v1")).splitlines() == [
        "Untagged: other:latest", "Untagged: localhost:5000/team/box:v1"]


def test_label_filter(moord: DaemonProcess) -> None:
    assert ok(moor(moord, "images", "-q", "--filter", "label=k=v")).strip()
    assert ok(moor(moord, "images", "-q", "--filter", "label=k=nope")).strip() == ""


def test_history(moord: DaemonProcess) -> None:
    out = ok(moor(moord, "history", "busybox"))
    header, row = out.splitlines()
    assert header.split()[:2] == ["IMAGE", "CREATED"]
    assert "base image" in row
    quiet = ok(moor(moord, "history", "-q", "--no-trunc", "busybox")).split()
    assert quiet[0].startswith("sha256:")


def test_errors_for_missing_images(moord: DaemonProcess) -> None:
    for args, message in [
        (("image", "inspect", "nope"), b"Error: No such image: nope"),
        (("rmi", "nope"), b"Error response from daemon: No such image: nope"),
        (("history", "nope"), b"Error response from daemon: No such image: nope"),
        (("tag", "nope", "x"), b"Error response from daemon: No such image: nope"),
        (("tag", "busybox", "Bad:Name"), b"must be lowercase"),
    ]:
        result = moor(moord, *args)
        assert result.returncode == 1, args
        assert message in result.stderr, (args, result.stderr)
        assert b"Traceback" not in result.stderr


def test_load_save_round_trip_through_the_cli(moord: DaemonProcess, tmp_path) -> None:
    out = ok(moor(moord, "load", "-i", str(FIXTURES / "docker-save-whiteouts.tar")))
    assert out == "Loaded image: moor-fixture:whiteouts\n"
    image_id = json.loads(ok(moor(moord, "inspect", "moor-fixture:whiteouts")))[0]["Id"]
    archive = tmp_path / "both.tar"
    ok(moor(moord, "save", "-o", str(archive), "moor-fixture:whiteouts", "busybox"))
    streamed = subprocess.run([sys.executable, "-m", "moor.cli", "-H", moord.host, "save", "moor-fixture:whiteouts"],
                              capture_output=True, timeout=120)
    assert streamed.returncode == 0 and streamed.stdout[:512].strip(b"\0")
    ok(moor(moord, "rmi", "moor-fixture:whiteouts"))
    with open(archive, "rb") as stdin:
        reloaded = ok(moor(moord, "load", stdin=stdin))
    assert "Loaded image: moor-fixture:whiteouts" in reloaded and "Loaded image: busybox:latest" in reloaded
    assert json.loads(ok(moor(moord, "inspect", "moor-fixture:whiteouts")))[0]["Id"] == image_id


@pytest.mark.parametrize("compression", ["gzip", "xz"])
def test_load_compressed_archives(moord: DaemonProcess, tmp_path, compression: str) -> None:
    packed = tmp_path / f"fixture.tar.{compression}"
    with open(packed, "wb") as out:
        subprocess.run([compression, "-c", str(FIXTURES / "oci-archive-whiteouts.tar")], stdout=out, check=True)
    assert ok(moor(moord, "load", "-i", str(packed))).endswith("Loaded image: moor-fixture:whiteouts\n")
    assert json.loads(ok(moor(moord, "inspect", "moor-fixture:whiteouts")))[0]["Config"]["Healthcheck"]["Retries"] == 2


def _store_listing(daemon: DaemonProcess) -> list[str]:
    root = os.path.join(daemon.data_root, "image")
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files
                  if not d.endswith("tmp"))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "digest", "manifest"])
def test_bad_archives_leave_the_store_as_it_was(moord: DaemonProcess, tmp_path, damage: str) -> None:
    import tarfile

    source = (FIXTURES / "oci-archive-whiteouts.tar").read_bytes()
    bad = tmp_path / "bad.tar"
    if damage == "truncated":
        bad.write_bytes(source[: len(source) // 2])
    elif damage == "garbage":
        bad.write_bytes(os.urandom(4096))
    else:
        with tarfile.open(FIXTURES / "oci-archive-whiteouts.tar") as original, tarfile.open(bad, "w") as out:
            for member in original.getmembers():
                data = original.extractfile(member).read() if member.isfile() else None
                if damage == "digest" and member.isfile() and member.size > 100000:
                    data = data[:-10] + b"x" * 10
                if damage == "manifest" and member.name == "index.json":
                    data = b"{not json"
                if data is not None:
                    member.size = len(data)
                    import io
                    out.addfile(member, io.BytesIO(data))
                else:
                    out.addfile(member)
    if moor(moord, "inspect", "moor-fixture:whiteouts").returncode == 0:
        ok(moor(moord, "rmi", "-f", "moor-fixture:whiteouts"))
    before = _store_listing(moord)
    result = moor(moord, "load", "-i", str(bad))
    assert result.returncode == 1
    error = result.stderr.decode()
    prefix = "Error processing tar file" if damage == "garbage" else "Error response from daemon: "  # as Docker's
    assert error.startswith(prefix) and len(error.strip().splitlines()) == 1
    assert "Traceback" not in error
    assert _store_listing(moord) == before
    assert os.listdir(os.path.join(moord.data_root, "image", "tmp")) == []


def test_image_prune_and_system_df(moord: DaemonProcess, busybox_tar: str) -> None:
    dangling = ok(moor(moord, "import", busybox_tar)).strip()
    df = ok(moor(moord, "system", "df"))
    assert df.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert df.splitlines()[1].startswith("Images")
    out = ok(moor(moord, "image", "prune", "-f"))
    assert f"deleted: {dangling}" in out and "Total reclaimed space:" in out
    assert dangling not in ok(moor(moord, "images", "-a", "-q", "--no-trunc"))
    assert "busybox" in ok(moor(moord, "images"))


def test_docker_cli_lists_and_inspects_moor_images(moord: DaemonProcess, docker_cli: str) -> None:
    env = {**os.environ, "DOCKER_HOST": moord.host, "DOCKER_CONFIG": moord.root}
    listed = subprocess.run([docker_cli, "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "busybox:latest" in listed.stdout.split()
    inspect = subprocess.run([docker_cli, "image", "inspect", "busybox", "--format", "{{.Os}}"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert inspect.stdout.strip() == "linux", inspect.stderr
