"""What is particular to the overlay driver: its layout, overlayfs forms, mounts, restarts and tar-split."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import threading
import tracemalloc
from collections.abc import Iterator
from typing import IO

import pytest

from moor.drivers import Driver
from moor.errors import Conflict, InvalidParameter, MoorError, NotFound, Unavailable
from moor.testing.conformance import (
    build_tar,
    load_driver,
    raw_tar,
    tar_dir,
    tar_entry,
    tar_hardlink,
    tar_symlink,
)
from moor_storage_overlay.disk import usage

pytestmark = pytest.mark.root


def home_of(driver: Driver) -> str:
    return driver.plugin.home


def apply(driver: Driver, key: str, entries: list | bytes, parent: str | None = None) -> int:
    data = entries if isinstance(entries, bytes) else build_tar(entries)
    return driver.apply_layer(key=key, parent=parent, diff=io.BytesIO(data))


def read_all(stream: IO[bytes]) -> bytes:
    try:
        return stream.read()
    finally:
        stream.close()


def mount_options(path: str) -> str:
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            if fields[4] == path:
                return fields[fields.index("-") + 3]
    raise AssertionError(f"{path} is not mounted")


def mount_count(path: str) -> int:
    with open("/proc/self/mountinfo") as handle:
        return sum(1 for line in handle if line.split()[4] == path)


# ---------------------------------------------------------------------- status


def test_status(driver: Driver) -> None:
    status = dict(driver.status())
    assert status == {"Backing Filesystem": status["Backing Filesystem"], "Supports d_type": "true",
                      "Native Overlay Diff": "true"}


def test_status_refuses_an_overlay_backing_filesystem(tmp_path) -> None:
    for name in ("lower", "upper", "work", "merged"):
        (tmp_path / name).mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={tmp_path}/lower,upperdir={tmp_path}/upper,workdir={tmp_path}/work",
                    str(tmp_path / "merged")], check=True)
    try:
        with pytest.raises(Unavailable, match="on overlayfs"):
            load_driver("storage", "overlay", tmp_path / "merged").status()
    finally:
        subprocess.run(["umount", str(tmp_path / "merged")], check=True)


# ---------------------------------------------------------------------- layout


def test_layout_is_overlay2s(driver: Driver) -> None:
    home = home_of(driver)
    apply(driver, "base", [tar_entry("f", b"f")])
    apply(driver, "child", [tar_entry("g", b"g")], parent="base")
    driver.prepare(key="container", parent="child")
    links = {}
    for key in ("base", "child", "container"):
        with open(f"{home}/{key}/link") as handle:
            links[key] = handle.read()
        assert len(links[key]) == 26 and links[key].isalnum()
        assert os.readlink(f"{home}/l/{links[key]}") == f"../{key}/diff"
    assert not os.path.exists(f"{home}/base/lower")
    with open(f"{home}/child/lower") as handle:
        assert handle.read() == f"l/{links['base']}"
    with open(f"{home}/container/lower") as handle:
        assert handle.read() == f"l/{links['child']}:l/{links['base']}"
    assert os.path.isdir(f"{home}/container/work") and not os.path.exists(f"{home}/child/work")
    assert os.path.exists(f"{home}/child/tar-split.gz")
    assert sorted(os.listdir(f"{home}/l")) == sorted(links.values())


def test_whiteouts_are_stored_in_overlayfs_form(driver: Driver) -> None:
    apply(driver, "base", [tar_entry("dir/a", b"a"), tar_entry("gone", b"g")])
    apply(driver, "child", [tar_entry(".wh.gone", uid=7, gid=8), tar_dir("dir"), tar_entry("dir/.wh..wh..opq"),
                            tar_entry(".wh..wh.plnk/123.456")], parent="base")
    diff = f"{home_of(driver)}/child/diff"
    whiteout = os.lstat(f"{diff}/gone")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0 and (whiteout.st_uid, whiteout.st_gid) == (7, 8)
    assert os.getxattr(f"{diff}/dir", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(diff)) == ["dir", "gone"]


def test_apply_layer_errors(driver: Driver) -> None:
    apply(driver, "base", [tar_entry("f")])
    with pytest.raises(Conflict):
        apply(driver, "base", [tar_entry("f")])
    with pytest.raises(NotFound):
        apply(driver, "orphan", [tar_entry("f")], parent="missing")
    driver.prepare(key="container", parent="base")
    with pytest.raises(InvalidParameter, match="snapshot"):
        apply(driver, "on-a-snapshot", [tar_entry("f")], parent="container")
    with pytest.raises(InvalidParameter, match="snapshot"):
        driver.prepare(key="on-a-snapshot", parent="container")


def test_prepare_refuses_a_chain_deeper_than_127(driver: Driver) -> None:
    apply(driver, "forged", [tar_entry("f")])
    with open(f"{home_of(driver)}/forged/lower", "w") as handle:  # as if 127 layers sat below
        handle.write(":".join(f"l/{index:026d}" for index in range(127)))
    with pytest.raises(InvalidParameter, match="max depth exceeded: 'forged' has 128 layers"):
        driver.prepare(key="too-deep", parent="forged")
    with pytest.raises(InvalidParameter, match="max depth exceeded"):
        apply(driver, "too-deep", [tar_entry("f")], parent="forged")
    assert driver.exists(key="too-deep") is False
    with open(f"{home_of(driver)}/forged/lower", "w") as handle:  # 127 layers in all: fine
        handle.write(":".join(f"l/{index:026d}" for index in range(126)))
    driver.prepare(key="deep-enough", parent="forged")


def _with_pax(name: str, pax: dict[str, str], kind: bytes = tarfile.REGTYPE) -> bytes:
    info, data = tar_entry(name, b"1" if kind == tarfile.REGTYPE else None, kind=kind)
    info.pax_headers = pax
    return build_tar([(info, data)])


MALFORMED_VALUES = {
    "nul-in-path": (lambda: _with_pax("x", {"path": "a\x00b"}), "a\\x00b"),
    "nul-in-link-target": (lambda: _with_pax("l", {"linkpath": "a\x00b"}, tarfile.SYMTYPE), "'l'"),
    "negative-uid": (lambda: _with_pax("x", {"uid": "-5"}), "'x'"),
    "huge-uid": (lambda: _with_pax("x", {"uid": str(2**40)}), "'x'"),
    "huge-mtime": (lambda: _with_pax("x", {"mtime": "1e30"}), "'x'"),
    "bad-mtime": (lambda: _with_pax("x", {"mtime": "abc"}), "'x'"),
    "unknown-xattr-namespace": (lambda: _with_pax("x", {"SCHILY.xattr.bogus": "v"}), "'x'"),
    "huge-device-number": (lambda: build_tar([tar_entry("dev", kind=tarfile.CHRTYPE, device=(2**20, 1))]), "'dev'"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_VALUES))
def test_malformed_values_are_invalid_parameters(driver: Driver, case: str) -> None:
    make, named = MALFORMED_VALUES[case]
    before = sorted(os.listdir(home_of(driver))), sorted(os.listdir(f"{home_of(driver)}/l"))
    with pytest.raises(InvalidParameter) as refused:
        apply(driver, "malformed", make())
    assert named in str(refused.value)
    assert (sorted(os.listdir(home_of(driver))), sorted(os.listdir(f"{home_of(driver)}/l"))) == before


def test_a_failing_stream_leaves_nothing(driver: Driver) -> None:
    class Failing(io.RawIOBase):
        def __init__(self) -> None:
            self.data = io.BytesIO(build_tar([tar_entry("big", b"x" * 100_000)]))

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            if self.data.tell() > 20_000:
                raise ConnectionResetError("client went away")
            return self.data.readinto(buffer)

    before = sorted(os.listdir(home_of(driver))), sorted(os.listdir(f"{home_of(driver)}/l"))
    with pytest.raises(MoorError, match="client went away|Connection reset"):
        driver.apply_layer(key="broken", parent=None, diff=Failing())
    assert (sorted(os.listdir(home_of(driver))), sorted(os.listdir(f"{home_of(driver)}/l"))) == before
    assert driver.exists(key="broken") is False


def test_replaced_directory_is_not_written_through(driver: Driver, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = build_tar([tar_dir("a"), tar_entry("a/f", b"f"), tar_symlink("a", str(outside)), tar_entry("a/g", b"g")])
    with pytest.raises(InvalidParameter, match="'a/g' goes through the symbolic link 'a'"):
        apply(driver, "swap", data)
    assert os.listdir(outside) == []
    data = build_tar([tar_dir("b"), tar_entry("b/f", b"f"), tar_entry("b", b"file now"), tar_entry("b/g", b"g")])
    with pytest.raises(InvalidParameter, match="'b' is not a directory"):
        apply(driver, "swap", data)


def test_empty_stream_is_an_empty_layer(driver: Driver) -> None:
    apply(driver, "empty", b"")
    assert os.listdir(f"{home_of(driver)}/empty/diff") == []
    assert read_all(driver.diff(key="empty")) == b""


def test_a_bad_second_end_block_is_refused(driver: Driver) -> None:
    data = raw_tar([tar_entry("a", b"1")], end=bytes(512) + b"\x01" + bytes(511))
    with pytest.raises(InvalidParameter, match="bad header at offset 1536"):
        apply(driver, "bad-end", data)


def test_usage_counts_hard_links_once(driver: Driver) -> None:
    used = apply(driver, "linked", [tar_entry("a", b"x" * 4000), tar_hardlink("b", "a"), tar_symlink("c", "a")])
    assert used == 4000 == driver.usage(key="linked")


USAGE_CASES = {
    "files, links, empty": [tar_dir("d"), tar_entry("d/a", b"x" * 5000), tar_entry("e", b""),
                            tar_hardlink("d/b", "d/a"), tar_symlink("c", "d/a"), tar_entry("f", b"y" * 7)],
    "a file written twice": [tar_entry("twice", b"first" * 100), tar_entry("twice", b"second")],
    "a directory replaced": [tar_entry("dir/inner", b"inner" * 50), tar_entry("dir", b"now a file")],
    "a hard link replaced": [tar_entry("a", b"a" * 300), tar_hardlink("b", "a"), tar_entry("a", b"new")],
    "a whiteout of its own": [tar_entry("gone", b"g" * 90), tar_entry(".wh.gone")],
}


@pytest.mark.parametrize("case", sorted(USAGE_CASES))
def test_the_usage_counted_while_applying_is_the_walks(driver: Driver, case: str) -> None:
    used = apply(driver, "counted", USAGE_CASES[case])
    assert used == usage(f"{home_of(driver)}/counted/diff") == driver.usage(key="counted")


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
def test_the_usage_of_a_sparse_file_is_its_apparent_size(driver: Driver, tmp_path) -> None:
    used = apply(driver, "gnu", _gnu_tar(tmp_path, "--format=posix"))
    assert used == usage(f"{home_of(driver)}/gnu/diff") == (3 << 20) + 20 + 2400 + 4


# ---------------------------------------------------------------------- tar-split


def test_duplicate_entries_keep_their_contents_aside(driver: Driver) -> None:
    data = build_tar([tar_entry("twice", b"first"), tar_entry("twice", b"second"),
                      tar_entry("dir/inner", b"inner"), tar_entry("dir", b"now a file")])
    apply(driver, "dup", data)
    home = home_of(driver)
    assert sorted(os.listdir(f"{home}/dup/tar-split.data")) == ["0", "2"]
    with open(f"{home}/dup/diff/twice", "rb") as handle:
        assert handle.read() == b"second"
    assert read_all(driver.diff(key="dup")) == data


def test_reassembly_in_many_directories_and_with_displaced_contents(driver: Driver) -> None:
    entries = [tar_entry(f"d{i % 7}/sub{i % 3}/f{i}", bytes([i]) * (i * 37)) for i in range(60)]
    entries += [tar_entry("d1/sub1/f1", b"again"), tar_entry("big", b"b" * (1 << 19)), tar_symlink("d9", "d1")]
    data = build_tar(entries)
    apply(driver, "many", data)
    assert read_all(driver.diff(key="many")) == data


@pytest.mark.parametrize(("change", "message"), [
    (lambda diff: os.unlink(f"{diff}/d/f"), "No such file"),
    (lambda diff: shutil.rmtree(f"{diff}/d"), "the file 'd/f' is gone"),
    (lambda diff: open(f"{diff}/d/f", "ab").write(b"more"), "the file 'd/f' is longer than when it was applied"),
    (lambda diff: open(f"{diff}/d/f", "r+b").truncate(3), "the file 'd/f' is shorter than when it was applied"),
])
def test_reassembly_of_a_changed_layer_fails_cleanly(driver: Driver, change, message: str) -> None:
    apply(driver, "changed", [tar_dir("d"), tar_entry("d/f", b"content")])
    change(f"{home_of(driver)}/changed/diff")
    with pytest.raises(MoorError, match=message):
        read_all(driver.diff(key="changed"))


def _gnu_tar(tmp_path, *options: str) -> bytes:
    source = tmp_path / "source"
    (source / "dir").mkdir(parents=True)
    (source / "dir" / "file").write_bytes(b"content\n" * 300)
    (source / "dir" / ("long-name-" * 15)).write_bytes(b"long")
    with open(source / "sparse", "wb") as handle:
        handle.seek(3 << 20)
        handle.write(b"end of a sparse file")
    os.symlink("dir/file", source / "link")
    os.link(source / "dir" / "file", source / "hard")
    os.mkfifo(source / "fifo")
    result = subprocess.run(["tar", "-C", str(source), "--sparse", "-cf", "-", *options, "."],
                            capture_output=True, check=True)
    return result.stdout


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
@pytest.mark.parametrize("options", [("--format=gnu",), ("--format=posix",),
                                     ("--format=posix", "--sparse-version=1.0")])
def test_gnu_tar_archives_are_reproduced(driver: Driver, tmp_path, options: tuple[str, ...]) -> None:
    data = _gnu_tar(tmp_path, *options)
    apply(driver, "gnu", data)
    assert hashlib.sha256(read_all(driver.diff(key="gnu"))).hexdigest() == hashlib.sha256(data).hexdigest()
    view = driver.mount(key="gnu")
    try:
        with open(f"{view}/sparse", "rb") as handle:
            content = handle.read()
        assert len(content) == (3 << 20) + 20 and content.endswith(b"end of a sparse file")
        assert os.lstat(f"{view}/hard").st_ino == os.lstat(f"{view}/dir/file").st_ino
    finally:
        driver.unmount(key="gnu")


class _LargeTar(io.RawIOBase):
    """A tar with one big file, made on the fly (never whole in memory)."""

    def __init__(self, size: int) -> None:
        info = tarfile.TarInfo("big")
        info.size = size
        self.parts: Iterator[bytes] = iter([info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")]
                                           + [b"\xab" * (1 << 20)] * (size >> 20) + [bytes(1024)])
        self.pending = b""
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self.pending:
            self.pending = next(self.parts, b"")
            self.digest.update(self.pending)
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count


def test_apply_and_diff_stream_in_bounded_memory(driver: Driver) -> None:
    source = _LargeTar(48 << 20)
    tracemalloc.start()
    try:
        driver.apply_layer(key="large", parent=None, diff=io.BufferedReader(source))
        applied_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        stream = driver.diff(key="large")
        digest = hashlib.sha256()
        while chunk := stream.read(1 << 16):
            digest.update(chunk)
        stream.close()
        diff_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == source.digest.hexdigest()
    assert applied_peak < 8 << 20 and diff_peak < 8 << 20, (applied_peak, diff_peak)


def test_diff_without_tar_split_exports_the_directory(driver: Driver) -> None:
    apply(driver, "plain", [tar_entry("a", b"a"), tar_entry(".wh.b"), tar_dir("c"), tar_entry("c/.wh..wh..opq")])
    os.unlink(f"{home_of(driver)}/plain/tar-split.gz")
    names = [m.name for m in tarfile.open(fileobj=io.BytesIO(read_all(driver.diff(key="plain"))))]
    assert names == ["a", ".wh.b", "c", "c/.wh..wh..opq"]  # in order of the names on disk


# ---------------------------------------------------------------------- mounts


def test_mounts_name_layers_by_their_short_links(driver: Driver) -> None:
    """Absolute paths while they fit in a page (mount(2) called directly), as Docker's overlay2."""
    apply(driver, "base", [tar_entry("f")])
    apply(driver, "child", [tar_entry("g")], parent="base")
    driver.prepare(key="container", parent="child")
    home = home_of(driver)
    root = driver.mount(key="container")
    view = driver.mount(key="base")
    try:
        options = mount_options(root)
        assert f"lowerdir={home}/l/" in options and f"upperdir={home}/container/diff" in options
        assert f"workdir={home}/container/work" in options
        assert f"lowerdir={home}/l/" in mount_options(view) and "upperdir" not in mount_options(view)
        assert mount_options(view).startswith("ro")
        assert root == f"{home}/container/merged"
        assert sorted(os.listdir(root)) == ["f", "g"]
    finally:
        driver.unmount(key="container")
        driver.unmount(key="base")


def test_a_chain_too_long_for_absolute_paths_mounts_with_relative_ones(driver: Driver) -> None:
    home = home_of(driver)
    parent = None
    layers = 4096 // (len(home) + len("/l/:") + 26) + 1  # absolute paths pass a page, relative ones do not
    assert layers * len("l/:" + 26 * "x") < 4000
    for index in range(layers):
        apply(driver, f"layer{index}", [tar_entry(f"f{index}")], parent=parent)
        parent = f"layer{index}"
    driver.prepare(key="container", parent=parent)
    root = driver.mount(key="container")
    try:
        options = mount_options(root)
        assert "lowerdir=l/" in options and "upperdir=container/diff" in options and "workdir=container/work" in options
        assert len(os.listdir(root)) == int(parent.removeprefix("layer")) + 1
    finally:
        driver.unmount(key="container")


def test_mounts_survive_a_restart(driver: Driver, tmp_path) -> None:
    apply(driver, "base", [tar_entry("f", b"f")])
    driver.prepare(key="container", parent="base")
    root = driver.mount(key="container")
    restarted = load_driver("storage", "overlay", tmp_path)
    assert restarted.mount(key="container") == root
    assert mount_count(root) == 1
    assert restarted.unmount(key="container") is True
    assert mount_count(root) == 0
    assert restarted.unmount(key="container") is False


def test_an_image_layer_left_mounted_by_a_killed_moord_is_unmounted_at_start(driver: Driver, tmp_path) -> None:
    apply(driver, "base", [tar_entry("f", b"f")])
    apply(driver, "top", [tar_entry("g", b"g")], parent="base")
    driver.prepare(key="container", parent="top")
    layer_root = driver.mount(key="top")  # a build reading the image, when moord was killed
    container_root = driver.mount(key="container")
    try:
        load_driver("storage", "overlay", tmp_path)
        assert mount_count(layer_root) == 0
        assert mount_count(container_root) == 1  # a container may still run on its snapshot
    finally:
        for path in (layer_root, container_root):
            while mount_count(path):
                subprocess.run(["umount", path], check=True)


def test_unmount_of_what_is_not_mounted(driver: Driver) -> None:
    driver.prepare(key="container", parent=None)
    assert driver.unmount(key="container") is False
    assert driver.unmount(key="never-made") is False


def test_concurrent_mounts_share_one_mount(driver: Driver) -> None:
    apply(driver, "base", [tar_entry("f", b"f")])
    driver.prepare(key="container", parent="base")
    paths: list[str] = []
    threads = [threading.Thread(target=lambda: paths.append(driver.mount(key="container"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(paths)) == 1 and mount_count(paths[0]) == 1
    results = [driver.unmount(key="container") for _ in range(8)]
    assert results == [False] * 7 + [True] and mount_count(paths[0]) == 0


def test_mount_failure_names_the_reason(driver: Driver) -> None:
    apply(driver, "base", [tar_entry("f")])
    driver.prepare(key="container", parent="base")
    os.rename(f"{home_of(driver)}/base/diff", f"{home_of(driver)}/base/moved-away")  # the lower vanishes
    missing_link = r"cannot mount overlay on .*container/merged: mount: .+ \(missing: l/\w+ \(-> ../base/diff\)\)"
    with pytest.raises(MoorError, match=missing_link):
        driver.mount(key="container")
    assert driver.unmount(key="container") is False


def test_leftovers_are_removed_at_start(driver: Driver, tmp_path) -> None:
    home = home_of(driver)
    apply(driver, "kept", [tar_entry("f", b"f")])
    os.makedirs(f"{home}/.tmp-half-made-abc/diff/usr/bin")
    with open(f"{home}/.tmp-half-made-abc/diff/usr/bin/partial", "wb") as handle:
        handle.write(b"par")
    os.mknod(f"{home}/.tmp-half-made-abc/diff/whiteout", stat.S_IFCHR, 0)
    os.symlink("../half-made/diff", f"{home}/l/AAAAAAAAAAAAAAAAAAAAAAAAAA")
    os.makedirs(f"{home}/.tmp-rm-gone-123/merged")
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", f"{home}/.tmp-rm-gone-123/merged"], check=True)
    with open(f"{home}/kept/link") as handle:
        kept_link = handle.read()
    os.unlink(f"{home}/l/{kept_link}")
    load_driver("storage", "overlay", tmp_path)
    assert sorted(os.listdir(home)) == [".empty", "kept", "l"]
    assert os.listdir(f"{home}/l") == [kept_link]
    assert mount_count(f"{home}/.tmp-rm-gone-123/merged") == 0


def test_remove_copes_with_mounts_and_whiteouts(driver: Driver) -> None:
    apply(driver, "base", [tar_entry("dir/f", b"f"), tar_entry("g", b"g")])
    driver.prepare(key="container", parent="base")
    root = driver.mount(key="container")
    os.unlink(f"{root}/g")
    shutil.rmtree(f"{root}/dir")
    os.mkdir(f"{root}/dir")
    assert driver.remove(key="container") is True
    assert driver.plugin.wait_for_removals(30)
    assert sorted(os.listdir(home_of(driver))) == [".empty", "base", "l"]
    assert len(os.listdir(f"{home_of(driver)}/l")) == 1


def test_removals_share_a_read_of_the_mount_table(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    """rm of many containers reads the mount table (a thousand lines with a thousand containers) once, not twice
    per container; a key mounted after the read is unmounted all the same, and nothing under it is deleted; a
    read older than TABLE_TTL (a second) is not used."""
    from moor_storage_overlay import driver as driver_module

    reads: list[str] = []
    real = driver_module.mounts_under
    monkeypatch.setattr(driver_module, "mounts_under", lambda root: (reads.append(root), real(root))[1])
    monkeypatch.setattr(driver_module, "TABLE_TTL", 3600.0)  # no clock in the test: a read serves until told
    apply(driver, "base", [tar_entry("kept", b"k")])
    for key in ("c1", "c2", "c3", "late"):
        driver.prepare(key=key, parent="base")
    root = driver.mount(key="c1")
    with open(f"{root}/new", "w") as handle:
        handle.write("n")
    for key in ("c1", "c2"):
        assert driver.remove(key=key) is True
    assert len(reads) == 1 and mount_count(root) == 0
    late = driver.mount(key="late")  # after the table was read: its own mount is found all the same
    assert driver.remove(key="late") is True and mount_count(late) == 0 and len(reads) == 1
    monkeypatch.setattr(driver_module, "TABLE_TTL", 0.0)
    assert driver.remove(key="c3") is True and len(reads) == 2
    assert not os.path.exists(late) and driver.exists(key="late") is False
    assert driver.plugin.wait_for_removals(30)
    assert read_all(driver.diff(key="base")) and sorted(os.listdir(home_of(driver))) == [".empty", "base", "l"]


def test_a_container_layer_is_gone_before_its_files_are(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its removal renames it out of the tree and hands the delete to a thread of its own (rm and run --rm do not
    wait for a dozen rmdir); an image layer's files are deleted before its removal returns."""
    from moor_storage_overlay import reaper

    held, real = threading.Event(), reaper.shutil.rmtree
    monkeypatch.setattr(reaper.shutil, "rmtree", lambda path, **kwargs: (held.wait(30), real(path, **kwargs)))
    apply(driver, "base", [tar_entry("f", b"f")])
    driver.prepare(key="gone", parent="base")
    assert driver.remove(key="gone") is True and driver.exists(key="gone") is False
    assert [name for name in os.listdir(home_of(driver)) if name.startswith(".tmp-rm-gone-")]
    assert driver.plugin.wait_for_removals(0.01) is False
    held.set()
    assert driver.plugin.wait_for_removals(30)
    assert sorted(os.listdir(home_of(driver))) == [".empty", "base", "l"]
    apply(driver, "image", [tar_entry("g", b"g")], parent="base")
    assert driver.remove(key="image") is True
    assert sorted(os.listdir(home_of(driver))) == [".empty", "base", "l"]


# ---------------------------------------------------------------------- snapshot diff and changes


def test_snapshot_diff_details(driver: Driver) -> None:
    apply(driver, "base", [tar_entry("a", b"a"), tar_entry("b", b"b"), tar_entry("keep", b"k")])
    driver.prepare(key="container", parent="base")
    root = driver.mount(key="container")
    try:
        os.unlink(f"{root}/a")
        os.unlink(f"{root}/b")  # the kernel may hard-link whiteouts together: they stay whiteouts
        with open(f"{root}/attrs", "wb") as handle:
            handle.write(b"x")
        os.setxattr(f"{root}/attrs", "user.note", b"kept")
        os.chown(f"{root}/keep", 1000, 1000)
        os.symlink("/etc/passwd", f"{root}/link")
    finally:
        driver.unmount(key="container")
    members = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(read_all(driver.diff(key="container"))))}
    assert sorted(members) == [".wh.a", ".wh.b", "attrs", "keep", "link"]
    assert all(members[name].isreg() and members[name].size == 0 for name in (".wh.a", ".wh.b"))
    assert members["attrs"].pax_headers == {"SCHILY.xattr.user.note": "kept"}
    assert (members["keep"].uid, members["keep"].gid) == (1000, 1000)
    assert members["link"].issym() and members["link"].linkname == "/etc/passwd"
    assert not any("trusted.overlay" in key for m in members.values() for key in m.pax_headers)


def test_changes_follow_docker(driver: Driver) -> None:
    apply(driver, "base", [tar_dir("etc", mtime=1_000), tar_entry("etc/passwd", b"p"), tar_dir("etc/apt", mtime=1_000),
                           tar_entry("etc/apt/sources", b"s"), tar_entry("var/log/old", b"o")])
    driver.prepare(key="container", parent="base")
    root = driver.mount(key="container")
    try:
        with open(f"{root}/etc/passwd", "ab") as handle:
            handle.write(b"more")
        shutil.rmtree(f"{root}/etc/apt")
        os.mkdir(f"{root}/etc/apt")
        with open(f"{root}/etc/apt/new", "wb") as handle:
            handle.write(b"n")
        os.unlink(f"{root}/var/log/old")
    finally:
        driver.unmount(key="container")
    assert [(c.path, c.kind) for c in driver.changes(key="container")] == [
        ("/etc", 0), ("/etc/apt", 2), ("/etc/apt/new", 1), ("/etc/passwd", 0),
        ("/var", 0), ("/var/log", 0), ("/var/log/old", 2),  # every directory above a change (Docker 20.10)
    ]


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every fsync, directory fsync and syncfs the driver makes from now on."""
    from moor_storage_overlay import driver as driver_module

    seen: list[str] = []
    real_fsync, real_syncfs, real_fsync_dir = os.fsync, driver_module.syncfs, driver_module.fsync_dir
    monkeypatch.setattr(os, "fsync", lambda fd: (seen.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(driver_module, "syncfs", lambda path: (seen.append("syncfs"), real_syncfs(path))[1])
    monkeypatch.setattr(driver_module, "fsync_dir", lambda path: (seen.append("fsync_dir"), real_fsync_dir(path))[1])
    return seen


def test_an_image_layer_is_synced_before_it_is_published(driver: Driver, syncs: list[str]) -> None:
    driver.apply_layer(key="base", parent=None, diff=io.BytesIO(build_tar([tar_entry("f")])), durable=True)
    assert "syncfs" in syncs and syncs.count("fsync_dir") == 2


def test_a_containers_layers_are_not_synced(driver: Driver, syncs: list[str]) -> None:
    """Its init layer (durable=False) and its writable snapshot: Docker's overlay2 does not sync those either."""
    apply(driver, "base", [tar_entry("f")])
    syncs.clear()
    driver.apply_layer(key="c-init", parent="base", diff=io.BytesIO(build_tar([tar_entry("etc/hosts")])),
                       durable=False)
    driver.prepare(key="c", parent="c-init")
    assert syncs == []
    root = driver.mount(key="c")
    try:
        assert sorted(os.listdir(root)) == ["etc", "f"]
    finally:
        driver.unmount(key="c")
    assert driver.remove(key="c") is True and driver.remove(key="c-init") is True
    assert syncs == []
    assert driver.remove(key="base") is True and "fsync_dir" in syncs  # an image's layer: its removal is synced
