"""Copies through a container's volumes and binds (:mod:`moor.containers.mountroots` with the archive functions)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from moor.containers import archive
from moor.containers.mountroots import MountRoot, below, mount_roots, split
from moor.errors import MoorError, NotFound

SECRET = b"HOST SECRET\n"


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A rootfs with /data (holding a layer file under the mount point /data/vol) and a volume beside it."""
    rootfs = tmp_path / "rootfs"
    (rootfs / "data" / "vol").mkdir(parents=True)
    (rootfs / "data" / "vol" / "hidden").write_text("layer below the mount\n")
    (rootfs / "data" / "own").write_text("layer\n")
    outer = tmp_path / "outer"
    volume = outer / "volume"
    (volume / "sub").mkdir(parents=True)
    (outer / "secret").write_bytes(SECRET)
    (volume / "sub" / "f").write_text("in the volume\n")
    os.symlink("/", volume / "root")
    os.symlink("../..", volume / "up")
    single = tmp_path / "single.txt"
    single.write_text("one file\n")
    return {"rootfs": rootfs, "outer": outer, "volume": volume, "single": single}


def mounts_of(layout: dict[str, Path], rw: bool = True) -> list[MountRoot]:
    return mount_roots([
        {"Type": "volume", "Name": "v", "Source": str(layout["volume"]), "Destination": "/data/vol", "RW": rw},
        {"Type": "bind", "Source": str(layout["single"]), "Destination": "/etc/single.txt", "RW": True},
        {"Type": "tmpfs", "Source": "", "Destination": "/data/tmp", "RW": True},
    ])


def names(stream: archive.TarStream) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(stream.read_all())) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isreg() else b"") for m in tar.getmembers()}  # type: ignore[union-attr]


def tar_of(name: str, data: bytes) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def test_split_takes_the_longest_mount_component_wise() -> None:
    mounts = [MountRoot("/data", "/h/a", True), MountRoot("/data/vol", "/h/b", True)]
    assert split("/r", "/data/vol/x/", mounts) == ("/h/b", "/x/", mounts[1])
    assert split("/r", "/data/vol", mounts) == ("/h/b", "/", mounts[1])
    assert split("/r", "/data/vol/.", mounts) == ("/h/b", "/.", mounts[1])
    assert split("/r", "/data/volume", mounts) == ("/h/a", "/volume", mounts[0])
    assert split("/r", "/etc", mounts) == ("/r", "/etc", None)
    assert below("/data", mounts) == {("vol",): mounts[1]}
    assert below("/", mounts) == {("data",): mounts[0], ("data", "vol"): mounts[1]}


def test_tmpfs_and_sourceless_mounts_are_left_out(layout: dict[str, Path]) -> None:
    assert [m.destination for m in mounts_of(layout)] == ["/data/vol", "/etc/single.txt"]


def test_reads_and_stats_see_the_mount_not_the_layer(layout: dict[str, Path]) -> None:
    rootfs, mounts = str(layout["rootfs"]), mounts_of(layout)
    stream, info = archive.copy_out(rootfs, "/data/vol/sub/f", mounts=mounts)
    assert names(stream) == {"f": b"in the volume\n"} and info["name"] == "f"
    stream, _ = archive.copy_out(rootfs, "/data", mounts=mounts)
    got = names(stream)
    assert got["data/vol/sub/f"] == b"in the volume\n" and got["data/own"] == b"layer\n"
    assert "data/vol/hidden" not in got
    os.rename(layout["rootfs"] / "data" / "vol", layout["rootfs"] / "vol-gone")  # not made yet (never started)
    stream, _ = archive.copy_out(rootfs, "/data", mounts=mounts)
    assert names(stream)["data/vol/sub/f"] == b"in the volume\n"
    stream, _ = archive.copy_out(rootfs, "/etc/single.txt", mounts=mounts)
    assert names(stream) == {"single.txt": b"one file\n"}
    assert archive.stat_path(rootfs, "/data/vol/root", mounts=mounts)["linkTarget"] == "/data/vol"
    assert archive.stat_path(rootfs, "/data/vol/up", mounts=mounts)["linkTarget"] == "/data/vol"


@pytest.mark.parametrize("path", ["/data/vol/root/secret", "/data/vol/up/secret", "/data/vol/up/up/secret",
                                  "/data/vol/root/../secret"])
def test_links_in_a_mount_stay_inside_it(layout: dict[str, Path], path: str) -> None:
    with pytest.raises(NotFound):
        archive.copy_out(str(layout["rootfs"]), path, mounts=mounts_of(layout))


@pytest.mark.parametrize("path", ["/data/vol/root", "/data/vol/up/", "/data/vol/up/up"])
def test_writes_through_links_land_in_the_mount(layout: dict[str, Path], path: str) -> None:
    archive.copy_in(str(layout["rootfs"]), path, tar_of("new", b"x"), mounts=mounts_of(layout))
    assert (layout["volume"] / "new").read_bytes() == b"x"
    assert sorted(os.listdir(layout["outer"])) == ["secret", "volume"]
    assert not (layout["rootfs"] / "data" / "vol" / "new").exists()


def test_read_only_mounts_refuse_and_the_rootfs_flag_does_not_apply_to_mounts(layout: dict[str, Path]) -> None:
    rootfs = str(layout["rootfs"])
    with pytest.raises(MoorError, match="^mounted volume is marked read-only$"):
        archive.copy_in(rootfs, "/data/vol/sub", tar_of("new", b"x"), mounts=mounts_of(layout, rw=False))
    assert not (layout["volume"] / "sub" / "new").exists()
    archive.copy_in(rootfs, "/data/vol/sub", tar_of("new", b"x"), read_only=True, mounts=mounts_of(layout))
    assert (layout["volume"] / "sub" / "new").read_bytes() == b"x"
    with pytest.raises(MoorError, match="container rootfs is marked read-only"):
        archive.copy_in(rootfs, "/data", tar_of("new", b"x"), read_only=True, mounts=mounts_of(layout))
