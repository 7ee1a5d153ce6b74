"""Docker's init layer: the entries an image lacks, as ``docker export`` of a busybox container shows them."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from moor.containers.initlayer import layer_tar, plan


def _members(root: str | None, now: float = 1_700_000_000) -> dict[str, tarfile.TarInfo]:
    planned = plan(root)
    assert planned is not None
    with tarfile.open(fileobj=io.BytesIO(layer_tar(planned, now))) as archive:
        return {m.name: m for m in archive.getmembers()}


def test_an_empty_image_gets_every_entry() -> None:
    members = _members(None)
    assert sorted(members) == [".dockerenv", "dev", "dev/console", "dev/pts", "dev/shm", "etc", "etc/hostname",
                               "etc/hosts", "etc/mtab", "etc/resolv.conf", "proc", "sys"]
    assert members["etc/mtab"].issym() and members["etc/mtab"].linkname == "/proc/mounts"
    assert members["etc/hosts"].isfile() and members["etc/hosts"].size == 0 and members["etc/hosts"].mode == 0o755
    assert members["dev/pts"].isdir() and members[".dockerenv"].isfile()
    assert {m.mtime for m in members.values()} == {1_700_000_000}  # stamped as each container's layer is made


def test_what_the_image_has_is_left_alone(tmp_path: Path) -> None:
    for directory in ("dev", "proc", "sys", "etc"):
        (tmp_path / directory).mkdir()
    os.chmod(tmp_path / "etc", 0o750)
    (tmp_path / "etc" / "hosts").write_text("mine\n")
    os.symlink("/nowhere", tmp_path / "etc" / "mtab")  # a dangling link is there all the same
    members = _members(str(tmp_path))
    assert "etc/hosts" not in members and "etc/mtab" not in members and "proc" not in members
    assert members["etc"].mode == 0o750  # a parent the image has keeps its mode
    assert {"etc/hostname", "etc/resolv.conf", "dev/console", "dev/pts", "dev/shm", ".dockerenv"} <= set(members)


def test_nothing_through_a_link_and_nothing_when_nothing_lacks(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    os.symlink("elsewhere", tmp_path / "etc")
    assert not any(name.startswith("etc") for name in _members(str(tmp_path)))
    full = tmp_path / "full"
    for directory in ("dev/pts", "dev/shm", "proc", "sys", "etc"):
        (full / directory).mkdir(parents=True)
    for name in (".dockerenv", "etc/resolv.conf", "etc/hosts", "etc/hostname", "dev/console"):
        (full / name).write_text("")
    os.symlink("/proc/mounts", full / "etc" / "mtab")
    assert plan(str(full)) is None
