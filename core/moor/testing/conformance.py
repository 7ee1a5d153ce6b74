"""Conformance suites: the behaviour every driver of a kind must show.

A driver package runs a suite by subclassing it in its tests and providing
the ``driver`` fixture (the facade of its kind, :mod:`moor.driverapi`, for
example from :func:`load_driver`)::

    class TestMyVolumes(VolumeDriverConformance):
        @pytest.fixture
        def driver(self, tmp_path):
            return load_driver("volume", "mine", tmp_path)
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import ipaddress
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Literal, overload

import pytest

from moor.config import parse
from moor.driverapi import LogDriver, NetworkDriver, StorageDriver, VolumeDriver
from moor.drivers import Driver, load_drivers
from moor.errors import Conflict, InvalidParameter, NotFound
from moor.testing.daemon import unmount_under
from moor.types import ContainerRef, EndpointInfo, EndpointSpec, LogMessage, NetworkSpec, PortMapping


@overload
def load_driver(kind: Literal["storage"], name: str, root: Any,
                options: dict[str, Any] | None = None) -> StorageDriver: ...
@overload
def load_driver(kind: Literal["network"], name: str, root: Any,
                options: dict[str, Any] | None = None) -> NetworkDriver: ...
@overload
def load_driver(kind: Literal["volume"], name: str, root: Any,
                options: dict[str, Any] | None = None) -> VolumeDriver: ...
@overload
def load_driver(kind: Literal["log"], name: str, root: Any, options: dict[str, Any] | None = None) -> LogDriver: ...
@overload
def load_driver(kind: str, name: str, root: Any, options: dict[str, Any] | None = None) -> Driver: ...


def load_driver(kind: str, name: str, root: Any, options: dict[str, Any] | None = None) -> Any:
    """Load the installed driver ``name`` of ``kind`` with a data root under ``root``: the facade of its kind."""
    document: dict[str, Any] = {"data_root": f"{root}/data", "exec_root": f"{root}/exec"}
    document[kind] = {"driver": name, "drivers": [name]}
    if options:
        document[kind][name] = options
    return load_drivers(parse(document)).driver(kind, name)


class VolumeDriverConformance:
    """Create, get, list, mount (counted), unmount and remove."""

    def test_create_get_list_remove(self, driver: VolumeDriver) -> None:
        info = driver.create(name="vol1", options={}, labels={"a": "b"})
        assert info.name == "vol1" and info.labels == {"a": "b"}
        assert os.path.isdir(info.mountpoint)
        again = driver.create(name="vol1", options={}, labels={})
        assert again.mountpoint == info.mountpoint
        found = driver.get(name="vol1")
        assert found is not None and found.name == "vol1"
        assert [v.name for v in driver.list()] == ["vol1"]
        assert driver.remove(name="vol1", force=False) is True
        assert driver.get(name="vol1") is None
        assert driver.list() == []

    def test_remove_missing(self, driver: VolumeDriver) -> None:
        with pytest.raises(NotFound):
            driver.remove(name="absent", force=False)
        assert driver.remove(name="absent", force=True) is False

    def test_mounted_volume_cannot_be_removed(self, driver: VolumeDriver) -> None:
        driver.create(name="busy", options={}, labels={})
        path = driver.mount(name="busy", mount_id="c1")
        assert os.path.isdir(path)
        assert driver.mount(name="busy", mount_id="c1") == path
        with pytest.raises(Conflict):
            driver.remove(name="busy", force=False)
        assert driver.unmount(name="busy", mount_id="c1") is True
        assert driver.unmount(name="busy", mount_id="c1") is False
        assert driver.remove(name="busy", force=False) is True

    def test_mount_missing_volume(self, driver: VolumeDriver) -> None:
        with pytest.raises(NotFound):
            driver.mount(name="ghost", mount_id="c1")

    def test_invalid_name(self, driver: VolumeDriver) -> None:
        with pytest.raises(InvalidParameter):
            driver.create(name="../escape", options={}, labels={})

    @pytest.mark.parametrize("name", ["..", "../escape", "a/../../b", "/abs", "nul\x00byte"])
    def test_hostile_names_create_nothing(self, driver: VolumeDriver, name: str) -> None:
        with pytest.raises(InvalidParameter):
            driver.create(name=name, options={}, labels={})
        assert driver.get(name=name) is None
        assert driver.list() == []

    def test_unknown_option_is_refused(self, driver: VolumeDriver) -> None:
        with pytest.raises(InvalidParameter, match="no-such-option"):
            driver.create(name="opts", options={"no-such-option": "1"}, labels={})
        assert driver.get(name="opts") is None

    def test_missing_volume_is_none(self, driver: VolumeDriver) -> None:
        assert driver.get(name="never-created") is None
        assert driver.unmount(name="never-created", mount_id="c1") is False


class LogDriverConformance:
    """Validate options, write messages, and read them back when the driver can."""

    def test_unknown_option_is_refused(self, driver: LogDriver) -> None:
        with pytest.raises(InvalidParameter, match="unknown log opt 'no-such-option'"):
            driver.validate(options={"no-such-option": "1"})

    def test_write_then_read(self, driver: LogDriver, tmp_path: Any) -> None:
        container = ContainerRef(id="c" * 64, name="c", log_path=str(tmp_path / "c.log"))
        writer = driver.open(container=container)
        start = time.time()
        writer.write(LogMessage(stream="stdout", line=b"hello\n", timestamp=start))
        writer.write(LogMessage(stream="stderr", line=b"oops\n", timestamp=start + 1))
        writer.close()
        if not driver.implements("read"):
            return
        messages = _messages(driver.read(container=container, since=0, until=0, tail=-1, follow=False))
        assert [(m.stream, m.line) for m in messages] == [("stdout", b"hello\n"), ("stderr", b"oops\n")]
        last = _messages(driver.read(container=container, since=0, until=0, tail=1, follow=False))
        assert [m.line for m in last] == [b"oops\n"]
        later = _messages(driver.read(container=container, since=start + 0.5, until=0, tail=-1, follow=False))
        assert [m.line for m in later] == [b"oops\n"]
        if driver.implements("remove"):
            assert driver.remove(container=container) is True
            assert not os.path.exists(container.log_path)


def _messages(found: Iterable[LogMessage | None]) -> list[LogMessage]:
    """What a read without follow gave: messages only (``None`` ticks belong to following)."""
    messages = list(found)
    assert all(m is not None for m in messages), "a read without follow yields no None ticks"
    return [m for m in messages if m is not None]


# --------------------------------------------------------------------------- storage

#: the modification time the storage suite gives tar entries unless told otherwise
TAR_MTIME = 1_600_000_000

TarEntry = tuple[tarfile.TarInfo, "bytes | None"]
TarFormat = Literal[0, 1, 2]  # tarfile.USTAR_FORMAT, GNU_FORMAT, PAX_FORMAT


def tar_entry(name: str, data: bytes | None = None, *, kind: bytes = tarfile.REGTYPE, mode: int | None = None,
              linkname: str = "", uid: int = 0, gid: int = 0, mtime: int = TAR_MTIME,
              xattrs: dict[str, str] | None = None, device: tuple[int, int] = (0, 0)) -> TarEntry:
    """One member for :func:`build_tar`: a regular file unless ``kind`` says otherwise."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode if mode is not None else (0o755 if kind == tarfile.DIRTYPE else 0o644)
    info.linkname, info.uid, info.gid, info.mtime = linkname, uid, gid, mtime
    info.devmajor, info.devminor = device
    if xattrs:
        info.pax_headers = {f"SCHILY.xattr.{key}": value for key, value in xattrs.items()}
    if kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
        data = data or b""
        info.size = len(data)
    return info, data


def tar_dir(name: str, **attrs: Any) -> TarEntry:
    return tar_entry(name, kind=tarfile.DIRTYPE, **attrs)


def tar_symlink(name: str, target: str, **attrs: Any) -> TarEntry:
    attrs.setdefault("mode", 0o777)
    return tar_entry(name, kind=tarfile.SYMTYPE, linkname=target, **attrs)


def tar_hardlink(name: str, target: str, **attrs: Any) -> TarEntry:
    return tar_entry(name, kind=tarfile.LNKTYPE, linkname=target, **attrs)


def build_tar(entries: list[TarEntry], format: TarFormat = tarfile.PAX_FORMAT) -> bytes:
    """The bytes of a tar holding ``entries`` as Python's tarfile writes it (end blocks, 10 KiB records)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=format) as archive:
        for info, data in entries:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def raw_tar(entries: list[TarEntry], format: TarFormat = tarfile.PAX_FORMAT, end: bytes = bytes(1024)) -> bytes:
    """A tar assembled by hand: headers, contents and padding, then ``end`` (Go writes 1 KiB of zeros)."""
    out = bytearray()
    for info, data in entries:
        out += info.tobuf(format, "utf-8", "surrogateescape")
        if data:
            out += data + bytes(-len(data) % 512)
    return bytes(out + end)


def _reproduction_entries() -> list[TarEntry]:
    return [
        tar_dir("etc"),
        tar_entry("etc/hostname", b"moor\n"),
        tar_entry("etc/empty"),
        tar_entry("etc/exactly-one-block", b"b" * 512),
        tar_symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
        tar_hardlink("etc/hostname.bak", "etc/hostname"),
        tar_dir("tmp", mode=0o1777),
        tar_entry("usr/bin/su", b"\x7fELF" * 100, mode=0o4755),
        tar_entry("home/user/notes", b"n" * 1000, uid=1000, gid=1000, mode=0o600),
        tar_entry("dev/fifo", kind=tarfile.FIFOTYPE),
        tar_entry("dev/null", kind=tarfile.CHRTYPE, device=(1, 3), mode=0o666),
    ]


def _long_names() -> list[TarEntry]:
    deep = "/".join(["directory-with-a-long-name"] * 6)
    return [tar_dir(deep), tar_entry(deep + "/file-" + "x" * 120, b"long"),
            tar_symlink("link-with-long-target", "/" + "t" * 200), tar_hardlink("short", deep + "/file-" + "x" * 120)]


def _duplicates() -> list[TarEntry]:
    return [
        tar_entry("twice", b"first version"), tar_entry("twice", b"second, longer version"),
        tar_dir("was-a-dir"), tar_entry("was-a-dir/inner", b"inner content"), tar_entry("was-a-dir", b"now a file"),
        tar_entry("became-a-link", b"content"), tar_symlink("became-a-link", "twice"),
        tar_entry("whited", b"gone"), tar_entry(".wh.whited"),
    ]


#: tars whose layer ``diff`` must give back the very same bytes
REPRODUCTION_CASES: dict[str, Callable[[], bytes]] = {
    "gnu": lambda: build_tar(_reproduction_entries(), tarfile.GNU_FORMAT),
    "pax": lambda: build_tar(_reproduction_entries() + [
        tar_entry("attrs", b"x", xattrs={"user.comment": "hello", "user.binary": "\udcff\x00\x01",
                                         "trusted.moor-test": "t"}),
        tar_entry("caf\u00e9-\u00fcnicode", b"utf-8 name"),
    ], tarfile.PAX_FORMAT),
    "ustar": lambda: build_tar(_reproduction_entries(), tarfile.USTAR_FORMAT),
    "gnu-long-names": lambda: build_tar(_long_names(), tarfile.GNU_FORMAT),
    "pax-long-names": lambda: build_tar(_long_names(), tarfile.PAX_FORMAT),
    "whiteouts": lambda: build_tar([tar_dir("a"), tar_entry("a/.wh.gone"), tar_dir("b"),
                                    tar_entry("b/.wh..wh..opq"), tar_entry("b/fresh", b"f"), tar_entry(".wh.top")]),
    "empty-files-only": lambda: build_tar([tar_entry(f"empty-{n}") for n in range(20)]),
    "unpadded": lambda: raw_tar(_reproduction_entries()),
    "extra-padding": lambda: build_tar(_reproduction_entries()) + bytes(4096),
    "no-end-blocks": lambda: raw_tar([tar_entry("a", b"1"), tar_entry("b", b"22")], end=b""),
    "duplicates": lambda: build_tar(_duplicates()),
    "large-file": lambda: build_tar([tar_entry("big", bytes(range(256)) * 12289 + b"tail")]),
    "no-entries": lambda: build_tar([]),
}


def _listing(root: str) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its type and (for files) size."""
    found: dict[str, tuple[int, int]] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            found[os.path.relpath(path, root)] = (stat.S_IFMT(info.st_mode),
                                                  info.st_size if stat.S_ISREG(info.st_mode) else 0)
    return found


def _view(root: str) -> dict[str, tuple[Any, ...]]:
    """What a root filesystem shows: per path its type, mode, owner and content, target or device."""
    found: dict[str, tuple[Any, ...]] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            detail: Any = None
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    detail = handle.read()
            elif stat.S_ISLNK(info.st_mode):
                detail = os.readlink(path)
            elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                detail = info.st_rdev
            found[os.path.relpath(path, root)] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode),
                                                  info.st_uid, info.st_gid, detail)
    return found


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _hostile_cases() -> dict[str, Callable[[str, str], tuple[bytes, str | None]]]:
    """name -> builder(outside_dir, marker) giving (tar bytes, the entry the error must name)."""
    far = "../" * 16
    return {
        "dotdot": lambda out, m: (build_tar([tar_entry(f"../{m}", b"x")]), f"../{m}"),
        "dotdot-far": lambda out, m: (build_tar([tar_entry(far + m, b"x")]), far + m),
        "dotdot-inside": lambda out, m: (build_tar([tar_dir("a"), tar_entry(f"a/../../{m}", b"x")]), f"a/../../{m}"),
        "symlink-write-through": lambda out, m: (
            build_tar([tar_symlink("link", out), tar_entry(f"link/{m}", b"x")]), f"link/{m}"),
        "symlink-overwrite-through": lambda out, m: (
            build_tar([tar_symlink("link", out), tar_entry("link/sentinel", b"overwritten")]), "link/sentinel"),
        "symlink-dotdot-chain": lambda out, m: (
            build_tar([tar_symlink("up", far.rstrip("/")), tar_entry(f"up{out}/{m}", b"x")]), f"up{out}/{m}"),
        "symlink-to-dot-loop": lambda out, m: (
            build_tar([tar_dir("a"), tar_symlink("a/b", ".."), tar_entry(f"a/b/b/{m}", b"x")]), f"a/b/b/{m}"),
        "symlink-then-directory": lambda out, m: (
            build_tar([tar_symlink("d", out), tar_dir(f"d/{m}")]), f"d/{m}"),
        "hardlink-etc-passwd": lambda out, m: (build_tar([tar_hardlink("stolen", "/etc/passwd")]), "stolen"),
        "hardlink-dotdot": lambda out, m: (build_tar([tar_hardlink("stolen", "../x")]), "stolen"),
        "hardlink-through-symlink": lambda out, m: (
            build_tar([tar_symlink("etc", "/etc"), tar_hardlink("stolen", "etc/passwd")]), "stolen"),
        "whiteout-dotdot": lambda out, m: (build_tar([tar_entry(f"../.wh.{m}")]), f"../.wh.{m}"),
        "whiteout-through-symlink": lambda out, m: (
            build_tar([tar_symlink("s", out), tar_entry("s/.wh.sentinel")]), "s/.wh.sentinel"),
        "opaque-through-symlink": lambda out, m: (
            build_tar([tar_symlink("s", out), tar_entry("s/.wh..wh..opq")]), "s/.wh..wh..opq"),
        "overlay-opaque-xattr": lambda out, m: (
            build_tar([tar_dir("d", xattrs={"trusted.overlay.opaque": "y"})]), "d"),
        "overlay-redirect-xattr": lambda out, m: (
            build_tar([tar_entry("f", b"x", xattrs={"trusted.overlay.redirect": "/etc"})]), "f"),
        "truncated-content": lambda out, m: (build_tar([tar_entry("big", b"z" * 5000)])[:1536], "big"),
        "truncated-header": lambda out, m: (
            build_tar([tar_entry("first", b"1"), tar_entry("second", b"2")])[:1124], "first"),
        "garbage": lambda out, m: (bytes(range(256)) * 16, None),
        "garbage-after-entry": lambda out, m: (
            raw_tar([tar_entry("first", b"1")], end=bytes(range(256)) * 4), "first"),
    }


HOSTILE_CASES = _hostile_cases()

_CRASH_CHILD = """
import sys
from moor.testing.conformance import load_driver
driver = load_driver("storage", sys.argv[1], sys.argv[2])
driver.apply_layer(key=sys.argv[3], parent=None, diff=sys.stdin.buffer)
"""


class StorageDriverConformance:
    """Layers from tars and their mounted views, snapshots, diffs, changes, usage, removal,
    restarts and hostile archives.

    Provide the ``driver`` fixture, loaded with ``load_driver("storage", <name>, tmp_path)``;
    the suite loads it again the same way to simulate a restart (override ``reload_driver``
    otherwise). ``max_depth`` is the deepest layer chain the driver mounts (``None`` skips
    that test). The tests need root (mounts, device nodes, ownership).
    """

    pytestmark = pytest.mark.root
    max_depth: int | None = 127

    @pytest.fixture(autouse=True)
    def _unmount_everything(self, tmp_path: Any) -> Any:
        yield
        unmount_under(str(tmp_path))

    @pytest.fixture
    def reload_driver(self, driver: StorageDriver, tmp_path: Any) -> Callable[[], StorageDriver]:
        """A new instance of the driver over the same data, as after a daemon restart."""
        return lambda: load_driver("storage", driver.name, tmp_path)

    @pytest.fixture
    def data_root(self, tmp_path: Any) -> str:
        return str(tmp_path / "data")

    @staticmethod
    def apply(driver: StorageDriver, key: str, entries: list[TarEntry] | bytes, parent: str | None = None) -> int:
        data = entries if isinstance(entries, bytes) else build_tar(entries)
        return driver.apply_layer(key=key, parent=parent, diff=io.BytesIO(data))

    # ------------------------------------------------------------------ layers and views

    def test_status(self, driver: StorageDriver) -> None:
        status = driver.status()
        assert status and all(isinstance(label, str) and isinstance(value, str) for label, value in status)

    def test_layers_stack_in_the_mounted_view(self, driver: StorageDriver) -> None:
        self.apply(driver, "base", [tar_dir("etc"), tar_entry("etc/hostname", b"base\n"),
                                    tar_entry("etc/os", b"moor\n"),
                                    tar_entry("bin/sh", b"#!sh", mode=0o755)])
        self.apply(driver, "top", [tar_dir("etc"), tar_entry("etc/hostname", b"top\n"), tar_entry("new", b"n")],
                   parent="base")
        view = driver.mount(key="top")
        try:
            assert _read(f"{view}/etc/hostname") == b"top\n"
            assert _read(f"{view}/etc/os") == b"moor\n"
            assert _read(f"{view}/bin/sh") == b"#!sh" and os.access(f"{view}/bin/sh", os.X_OK)
            assert _read(f"{view}/new") == b"n"
            with pytest.raises(OSError):
                open(f"{view}/written", "wb").close()
            base_view = driver.mount(key="base")
            try:
                assert _read(f"{base_view}/etc/hostname") == b"base\n"
                assert not os.path.exists(f"{base_view}/new")
            finally:
                driver.unmount(key="base")
        finally:
            driver.unmount(key="top")

    def test_whiteouts_and_opaque_directories_hide_lower_content(self, driver: StorageDriver) -> None:
        self.apply(driver, "base", [tar_entry("a/x", b"x"), tar_entry("a/y", b"y"), tar_entry("b/z", b"z"),
                                    tar_entry("c/1", b"1"), tar_entry("c/2", b"2"), tar_entry("d/keep", b"k")])
        self.apply(driver, "child", [tar_dir("a"), tar_entry("a/.wh.x"), tar_entry(".wh.b"), tar_dir("c"),
                                     tar_entry("c/.wh..wh..opq"), tar_entry("c/3", b"3")], parent="base")
        view = driver.mount(key="child")
        try:
            assert sorted(os.listdir(view)) == ["a", "c", "d"]
            assert os.listdir(f"{view}/a") == ["y"]
            assert os.listdir(f"{view}/c") == ["3"]
            assert _read(f"{view}/d/keep") == b"k"
        finally:
            driver.unmount(key="child")

    def test_metadata_is_preserved(self, driver: StorageDriver, tmp_path: Any) -> None:
        self.apply(driver, "meta", [
            tar_dir("bin", mtime=1_500_000_000),
            tar_entry("bin/su", b"su", mode=0o4755),
            tar_entry("bin/wall", b"wall", mode=0o2755, gid=5),
            tar_dir("tmp", mode=0o1777),
            tar_entry("home-file", b"mine", uid=1000, gid=1000, mode=0o640, mtime=1_234_567_890),
            tar_entry("data/a", b"shared"), tar_hardlink("data/b", "data/a"),
            tar_symlink("abs-link", "/etc/passwd"), tar_symlink("up-link", "../../../.."),
            tar_symlink("dangling", f"{tmp_path}/never-made"),
            tar_entry("attrs", b"x", xattrs={"user.comment": "hello"}),
            tar_entry("fifo", kind=tarfile.FIFOTYPE),
            tar_entry("null", kind=tarfile.CHRTYPE, device=(1, 3), mode=0o666),
        ])
        view = driver.mount(key="meta")
        try:
            assert stat.S_IMODE(os.lstat(f"{view}/bin/su").st_mode) == 0o4755
            wall = os.lstat(f"{view}/bin/wall")
            assert stat.S_IMODE(wall.st_mode) == 0o2755 and wall.st_gid == 5
            assert stat.S_IMODE(os.lstat(f"{view}/tmp").st_mode) == 0o1777
            mine = os.lstat(f"{view}/home-file")
            assert (mine.st_uid, mine.st_gid, stat.S_IMODE(mine.st_mode)) == (1000, 1000, 0o640)
            assert mine.st_mtime == 1_234_567_890
            assert os.lstat(f"{view}/bin").st_mtime == 1_500_000_000
            a, b = os.lstat(f"{view}/data/a"), os.lstat(f"{view}/data/b")
            assert a.st_ino == b.st_ino and a.st_nlink == 2
            assert os.readlink(f"{view}/abs-link") == "/etc/passwd"
            assert os.readlink(f"{view}/up-link") == "../../../.."
            assert os.readlink(f"{view}/dangling") == f"{tmp_path}/never-made"
            assert not os.path.lexists(f"{tmp_path}/never-made")
            assert os.getxattr(f"{view}/attrs", "user.comment") == b"hello"
            assert stat.S_ISFIFO(os.lstat(f"{view}/fifo").st_mode)
            null = os.lstat(f"{view}/null")
            assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
        finally:
            driver.unmount(key="meta")

    def test_absolute_names_are_confined(self, driver: StorageDriver) -> None:
        marker = f"moor-absolute-{uuid.uuid4().hex}"
        self.apply(driver, "absolute", [tar_entry(f"/{marker}", b"inside"), tar_entry(f"/{marker}-dir/f", b"f")])
        assert not os.path.lexists(f"/{marker}") and not os.path.lexists(f"/{marker}-dir")
        view = driver.mount(key="absolute")
        try:
            assert _read(f"{view}/{marker}") == b"inside"
            assert _read(f"{view}/{marker}-dir/f") == b"f"
        finally:
            driver.unmount(key="absolute")

    def test_exists_and_usage(self, driver: StorageDriver) -> None:
        assert driver.exists(key="sized") is False
        used = self.apply(driver, "sized", [tar_entry("one", b"1" * 1000), tar_entry("two", b"2" * 2000)])
        assert used >= 3000
        assert driver.exists(key="sized") is True
        assert driver.usage(key="sized") >= 3000
        with pytest.raises(NotFound):
            driver.usage(key="absent")
        driver.prepare(key="sized-container", parent="sized")
        assert driver.exists(key="sized-container") is True
        assert driver.usage(key="sized-container") < 3000
        root = driver.mount(key="sized-container")
        try:
            with open(f"{root}/written", "wb") as handle:
                handle.write(b"w" * 5000)
        finally:
            driver.unmount(key="sized-container")
        assert driver.usage(key="sized-container") >= 5000

    @pytest.mark.parametrize("case", sorted(REPRODUCTION_CASES))
    def test_layer_diff_reproduces_the_applied_tar(self, driver: StorageDriver, case: str) -> None:
        data = REPRODUCTION_CASES[case]()
        self.apply(driver, "layer", data)
        stream = driver.diff(key="layer")
        try:
            pieces = [stream.read(1000)]
            while True:
                piece = stream.read(4096)
                if not piece:
                    break
                pieces.append(piece)
        finally:
            stream.close()
        again = driver.diff(key="layer")
        try:
            whole = again.read()
        finally:
            again.close()
        expected = hashlib.sha256(data).hexdigest()
        assert hashlib.sha256(b"".join(pieces)).hexdigest() == expected
        assert hashlib.sha256(whole).hexdigest() == expected

    # ------------------------------------------------------------------ snapshots

    def test_snapshot_changes_and_diff(self, driver: StorageDriver) -> None:
        self.apply(driver, "base", [
            tar_dir("etc"), tar_entry("etc/hostname", b"base"), tar_entry("etc/motd", b"hi"),
            tar_entry("var/lib/old/a", b"a"), tar_entry("var/lib/old/b", b"b"), tar_entry("usr/bin/tool", b"t"),
        ])
        driver.prepare(key="snap", parent="base")
        root = driver.mount(key="snap")
        try:
            with open(f"{root}/etc/hostname", "wb") as handle:
                handle.write(b"changed")
            os.unlink(f"{root}/etc/motd")
            for name in os.listdir(f"{root}/var/lib/old"):
                os.unlink(f"{root}/var/lib/old/{name}")
            os.rmdir(f"{root}/var/lib/old")
            os.mkdir(f"{root}/var/lib/old")
            with open(f"{root}/var/lib/old/fresh", "wb") as handle:
                handle.write(b"fresh")
            os.mkdir(f"{root}/home")
            with open(f"{root}/home/user", "wb") as handle:
                handle.write(b"user")
            os.link(f"{root}/home/user", f"{root}/home/user-link")
            expected_view = _view(root)
        finally:
            driver.unmount(key="snap")
        changes = {(change.path, change.kind) for change in driver.changes(key="snap")}
        for wanted in [("/etc", 0), ("/etc/hostname", 0), ("/etc/motd", 2), ("/home", 1), ("/home/user", 1),
                       ("/var/lib/old/fresh", 1)]:
            assert wanted in changes, (wanted, sorted(changes))
        assert not any(path.startswith("/usr") for path, _kind in changes)
        stream = driver.diff(key="snap")
        try:
            data = stream.read()
        finally:
            stream.close()
        members = {m.name.rstrip("/"): m for m in tarfile.open(fileobj=io.BytesIO(data))}
        assert "etc/.wh.motd" in members and members["etc/.wh.motd"].size == 0
        assert "var/lib/old/.wh..wh..opq" in members
        assert not any(name.startswith("usr") for name in members)
        links = [m for m in members.values() if m.islnk()]
        assert [(m.name, m.linkname) for m in links] in ([("home/user-link", "home/user")],
                                                         [("home/user", "home/user-link")])
        self.apply(driver, "committed", data, parent="base")
        view = driver.mount(key="committed")
        try:
            assert _view(view) == expected_view
        finally:
            driver.unmount(key="committed")

    def test_snapshot_without_parent(self, driver: StorageDriver) -> None:
        driver.prepare(key="scratch", parent=None)
        root = driver.mount(key="scratch")
        try:
            with open(f"{root}/file", "wb") as handle:
                handle.write(b"from scratch")
        finally:
            driver.unmount(key="scratch")
        assert [(c.path, c.kind) for c in driver.changes(key="scratch")] == [("/file", 1)]
        stream = driver.diff(key="scratch")
        try:
            names = [m.name for m in tarfile.open(fileobj=io.BytesIO(stream.read()))]
        finally:
            stream.close()
        assert names == ["file"]

    def test_prepare_mount_and_read_errors(self, driver: StorageDriver) -> None:
        with pytest.raises(NotFound):
            driver.prepare(key="orphan", parent="no-such-layer")
        driver.prepare(key="once", parent=None)
        with pytest.raises(Conflict):
            driver.prepare(key="once", parent=None)
        for operation in ("mount", "diff", "changes", "usage"):
            with pytest.raises(NotFound):
                getattr(driver, operation)(key="no-such-key")
        with pytest.raises(InvalidParameter):
            driver.prepare(key="../escape", parent=None)

    def test_mount_is_reference_counted(self, driver: StorageDriver) -> None:
        self.apply(driver, "base", [tar_entry("f", b"f")])
        driver.prepare(key="counted", parent="base")
        first = driver.mount(key="counted")
        assert driver.mount(key="counted") == first
        assert os.path.ismount(first)
        assert driver.unmount(key="counted") is False
        assert os.path.ismount(first) and _read(f"{first}/f") == b"f"
        assert driver.unmount(key="counted") is True
        assert not os.path.ismount(first)
        assert driver.unmount(key="counted") is False

    def test_remove(self, driver: StorageDriver) -> None:
        self.apply(driver, "base", [tar_entry("f", b"f")])
        self.apply(driver, "child", [tar_entry("g", b"g")], parent="base")
        driver.prepare(key="container", parent="child")
        with pytest.raises(Conflict):
            driver.remove(key="base")
        with pytest.raises(Conflict):
            driver.remove(key="child")
        root = driver.mount(key="container")
        driver.mount(key="container")
        assert driver.remove(key="container") is True
        assert not os.path.ismount(root)
        assert driver.exists(key="container") is False
        assert driver.remove(key="child") is True
        assert driver.remove(key="base") is True
        assert driver.remove(key="base") is False
        assert driver.exists(key="base") is False

    def test_interrupted_apply_is_cleared_at_restart(self, driver: StorageDriver,
                                                     reload_driver: Callable[[], StorageDriver], tmp_path: Any,
                                                     data_root: str) -> None:
        self.apply(driver, "kept", [tar_entry("kept", b"kept")])
        before = _listing(data_root)
        header = tarfile.TarInfo("interrupted-big")
        header.size = 64 << 20
        child = subprocess.Popen([sys.executable, "-c", _CRASH_CHILD, driver.name, str(tmp_path), "interrupted"],
                                 stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert child.stdin is not None
            try:
                # the pipe holds 64 KiB: once this returns, the child is deep inside the file
                child.stdin.write(header.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + bytes(8 << 20))
                child.stdin.flush()
            except BrokenPipeError:
                pass
            assert child.poll() is None, (child.stderr.read() if child.stderr else b"").decode()
        finally:
            child.kill()
            child.communicate()
        restarted = reload_driver()
        assert restarted.exists(key="interrupted") is False
        assert restarted.exists(key="kept") is True
        assert _listing(data_root) == before
        self.apply(restarted, "interrupted", [tar_entry("small", b"s")])
        assert restarted.exists(key="interrupted") is True

    def test_deep_chain(self, driver: StorageDriver) -> None:
        if self.max_depth is None:
            pytest.skip("the driver sets no depth limit")
        parent = None
        for index in range(self.max_depth):
            key = f"deep{index:03d}"
            self.apply(driver, key, [tar_entry(f"layer-{index}"), tar_entry("top", str(index).encode())], parent)
            parent = key
        assert parent is not None
        driver.prepare(key="deep-container", parent=parent)
        root = driver.mount(key="deep-container")
        try:
            assert os.path.exists(f"{root}/layer-0") and os.path.exists(f"{root}/layer-{self.max_depth - 1}")
            assert _read(f"{root}/top") == str(self.max_depth - 1).encode()
            with open(f"{root}/written", "wb") as handle:
                handle.write(b"w")
        finally:
            driver.unmount(key="deep-container")
        view = driver.mount(key=parent)
        try:
            assert os.path.exists(f"{view}/layer-0") and not os.path.exists(f"{view}/written")
        finally:
            driver.unmount(key=parent)
        with pytest.raises(InvalidParameter, match=r"(?i)depth"):
            self.apply(driver, "one-too-many", [tar_entry("x")], parent)
        assert driver.exists(key="one-too-many") is False

    # ------------------------------------------------------------------ hostile archives

    @pytest.mark.parametrize("case", sorted(HOSTILE_CASES))
    def test_hostile_archive_is_refused(self, driver: StorageDriver, tmp_path: Any, case: str) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "sentinel").write_bytes(b"keep")
        marker = f"escape-{uuid.uuid4().hex}"
        data, entry = HOSTILE_CASES[case](str(outside), marker)
        before = _listing(str(tmp_path))
        passwd_links = os.lstat("/etc/passwd").st_nlink
        with pytest.raises(InvalidParameter) as refused:
            driver.apply_layer(key="hostile", parent=None, diff=io.BytesIO(data))
        if entry is not None:
            assert entry in str(refused.value)
        assert driver.exists(key="hostile") is False
        assert _listing(str(tmp_path)) == before
        assert (outside / "sentinel").read_bytes() == b"keep"
        assert os.listxattr(str(outside)) == [] or "trusted.overlay.opaque" not in os.listxattr(str(outside))
        assert not os.path.lexists(f"/{marker}") and not os.path.lexists(f"/tmp/{marker}")
        assert os.lstat("/etc/passwd").st_nlink == passwd_links
        self.apply(driver, "hostile", [tar_entry("fine", b"ok")])
        assert driver.exists(key="hostile") is True


# --------------------------------------------------------------------------- network


def namespace_addresses(netns_path: str) -> dict[str, list[str]]:
    """The IPv4 addresses (``a.b.c.d/len``) of each interface in the network namespace at ``netns_path``."""
    listing = subprocess.run(["nsenter", f"--net={netns_path}", "ip", "-o", "-4", "addr", "show"],
                             capture_output=True, text=True, check=True).stdout
    found: dict[str, list[str]] = {}
    for line in listing.splitlines():
        fields = line.split()
        found.setdefault(fields[1], []).append(fields[3])
    return found


def ping_from(netns_path: str, address: str) -> bool:
    """Whether one ping from the namespace at ``netns_path`` to ``address`` is answered within a second."""
    result = subprocess.run(["nsenter", f"--net={netns_path}", "ping", "-c", "1", "-W", "1", address],
                            capture_output=True, check=False)
    return result.returncode == 0


class NetworkDriverConformance:
    """Create, connect (addresses, interfaces, reachability), disconnect, remove and restarts.

    Provide the fixtures ``driver`` (loaded with ``load_driver("network", <name>, tmp_path)``),
    ``network`` (a :class:`moor.types.NetworkSpec` with a ``subnet`` of at least /28 that
    nothing else on the host uses, and whatever options make it unique, such as its bridge
    name) and ``namespaces`` (at least two paths of empty network namespaces, removed by the
    fixture afterwards). The suite loads the driver again the same way to simulate a restart
    (override ``reload_driver`` otherwise). Set ``reachable = False`` for a driver whose
    endpoints cannot ping each other. The published-port tests are skipped for a driver without
    ``moor_network_publish``. The tests need root.
    """

    pytestmark = pytest.mark.root
    reachable = True

    @pytest.fixture
    def reload_driver(self, driver: NetworkDriver, tmp_path: Any) -> Callable[[], NetworkDriver]:
        """A new instance of the driver over the same data, as after a daemon restart."""
        return lambda: load_driver("network", driver.name, tmp_path)

    @pytest.fixture(autouse=True)
    def _clean_up(self, driver: NetworkDriver, network: NetworkSpec) -> Any:
        """Disconnect what a test left connected and remove its network, even when it failed."""
        self.connected: list[EndpointSpec] = []
        yield
        for endpoint in self.connected:
            try:
                driver.disconnect(network=network, endpoint=endpoint, netns_path=None)
            except Exception:  # noqa: BLE001  (best effort: the test's own failure is what matters)
                pass
        try:
            driver.remove(network=network)
        except Exception:  # noqa: BLE001  (best effort, as above)
            pass

    def connect(self, driver: NetworkDriver, network: NetworkSpec, netns_path: str, name: str,
                address: str = "", mac: str = "") -> EndpointInfo:
        endpoint = EndpointSpec(id=f"ep-{name}-{uuid.uuid4().hex[:8]}", container_id=f"c-{name}",
                                ipv4_address=address, mac_address=mac)
        self.connected.append(endpoint)
        info = driver.connect(network=network, endpoint=endpoint, netns_path=netns_path)
        assert isinstance(info, EndpointInfo)
        return info

    def endpoint(self, name: str) -> EndpointSpec:
        return next(e for e in self.connected if e.container_id == f"c-{name}")

    def test_create_connect_disconnect_remove(self, driver: NetworkDriver, network: NetworkSpec,
                                              namespaces: list[str]) -> None:
        subnet = ipaddress.IPv4Network(network.subnet)
        facts = driver.create(network=network)
        assert isinstance(facts, dict) and all(isinstance(v, str) for v in facts.values())
        first = self.connect(driver, network, namespaces[0], "one")
        second = self.connect(driver, network, namespaces[1], "two")
        for info, path in ((first, namespaces[0]), (second, namespaces[1])):
            assert ipaddress.IPv4Address(info.ipv4_address) in subnet
            assert info.prefix_len == subnet.prefixlen
            assert info.interface and info.mac_address
            assert f"{info.ipv4_address}/{info.prefix_len}" in namespace_addresses(path).get(info.interface, [])
        assert first.ipv4_address != second.ipv4_address
        assert driver.disconnect(network=network, endpoint=self.endpoint("one"), netns_path=namespaces[0]) is True
        assert driver.disconnect(network=network, endpoint=self.endpoint("one"), netns_path=namespaces[0]) is False
        assert first.interface not in namespace_addresses(namespaces[0])
        assert driver.disconnect(network=network, endpoint=self.endpoint("two"), netns_path=namespaces[1]) is True
        assert driver.remove(network=network) is True
        assert driver.remove(network=network) is False

    def test_endpoints_reach_each_other(self, driver: NetworkDriver, network: NetworkSpec,
                                        namespaces: list[str]) -> None:
        if not self.reachable:
            pytest.skip("the driver's endpoints do not reach each other")
        if shutil.which("ping") is None:
            pytest.skip("ping is not installed (Debian package iputils-ping)")
        driver.create(network=network)
        first = self.connect(driver, network, namespaces[0], "one")
        second = self.connect(driver, network, namespaces[1], "two")
        assert ping_from(namespaces[0], second.ipv4_address)
        assert ping_from(namespaces[1], first.ipv4_address)
        if first.gateway:
            assert ping_from(namespaces[0], first.gateway)

    def test_requested_address(self, driver: NetworkDriver, network: NetworkSpec, namespaces: list[str]) -> None:
        wanted = str(ipaddress.IPv4Network(network.subnet).network_address + 10)
        driver.create(network=network)
        assert self.connect(driver, network, namespaces[0], "one", address=wanted).ipv4_address == wanted
        with pytest.raises(Conflict):
            self.connect(driver, network, namespaces[1], "two", address=wanted)
        assert self.connect(driver, network, namespaces[1], "three").ipv4_address != wanted

    def test_ip_range_and_requested_mac(self, driver: NetworkDriver, network: NetworkSpec,
                                        namespaces: list[str]) -> None:
        """Picked addresses come from ``ip_range``; a requested address may lie outside it; a MAC is applied."""
        subnet = ipaddress.IPv4Network(network.subnet)
        block = list(subnet.subnets(prefixlen_diff=1))[1]
        ranged = dataclasses.replace(network, ip_range=str(block))
        driver.create(network=ranged)
        first = self.connect(driver, ranged, namespaces[0], "one", mac="02:42:0a:c8:ff:01")
        assert ipaddress.IPv4Address(first.ipv4_address) in block
        assert first.mac_address == "02:42:0a:c8:ff:01"
        link = subprocess.run(["nsenter", f"--net={namespaces[0]}", "ip", "-o", "link", "show", first.interface],
                              capture_output=True, text=True, check=True).stdout
        assert "link/ether 02:42:0a:c8:ff:01 " in link
        outside = str(subnet.network_address + 2)
        assert self.connect(driver, ranged, namespaces[1], "two", address=outside).ipv4_address == outside

    def test_disconnect_releases_the_address(self, driver: NetworkDriver, network: NetworkSpec,
                                             namespaces: list[str]) -> None:
        driver.create(network=network)
        first = self.connect(driver, network, namespaces[0], "one")
        assert driver.disconnect(network=network, endpoint=self.endpoint("one"), netns_path=namespaces[0]) is True
        again = self.connect(driver, network, namespaces[1], "two", address=first.ipv4_address)
        assert again.ipv4_address == first.ipv4_address

    def test_remove_with_active_endpoints_is_refused(self, driver: NetworkDriver, network: NetworkSpec,
                                                     namespaces: list[str]) -> None:
        driver.create(network=network)
        self.connect(driver, network, namespaces[0], "one")
        with pytest.raises(Conflict, match="has active endpoints"):
            driver.remove(network=network)
        assert driver.disconnect(network=network, endpoint=self.endpoint("one"), netns_path=None) is True
        assert driver.remove(network=network) is True

    def test_publish_and_unpublish(self, driver: NetworkDriver, reload_driver: Callable[[], NetworkDriver],
                                   network: NetworkSpec, namespaces: list[str]) -> None:
        """The optional port hooks: publish replaces, unpublish removes once, both survive a restart."""
        if not driver.implements("publish"):
            pytest.skip(f"the {driver.name} driver publishes no ports in the kernel")
        ports = [PortMapping(protocol="tcp", container_port=80, host_port=18080),
                 PortMapping(protocol="udp", container_port=53, host_port=15353, host_ip="127.0.0.1")]
        driver.create(network=network)
        self.connect(driver, network, namespaces[0], "one")
        one = self.endpoint("one")
        with pytest.raises(NotFound):
            driver.publish(network=network, endpoint=EndpointSpec(id="no-such-endpoint", container_id="c-x"),
                           ports=ports)
        assert driver.unpublish(network=network, endpoint=one) is False
        published = driver.publish(network=network, endpoint=one, ports=ports)
        assert published is (not network.internal)
        assert driver.publish(network=network, endpoint=one, ports=ports[:1]) is published  # replaces
        restarted = reload_driver()
        assert restarted.unpublish(network=network, endpoint=one) is published
        assert restarted.unpublish(network=network, endpoint=one) is False
        assert restarted.publish(network=network, endpoint=one, ports=ports) is published
        assert restarted.disconnect(network=network, endpoint=one, netns_path=None) is True  # takes the ports along
        assert restarted.unpublish(network=network, endpoint=one) is False
        assert restarted.remove(network=network) is True

    def test_restart_keeps_networks_and_addresses(self, driver: NetworkDriver,
                                                  reload_driver: Callable[[], NetworkDriver], network: NetworkSpec,
                                                  namespaces: list[str]) -> None:
        driver.create(network=network)
        first = self.connect(driver, network, namespaces[0], "one")
        restarted = reload_driver()
        assert restarted.create(network=network) == driver.create(network=network)
        with pytest.raises(Conflict):
            self.connect(restarted, network, namespaces[1], "two", address=first.ipv4_address)
        picked = self.connect(restarted, network, namespaces[1], "three")
        assert picked.ipv4_address != first.ipv4_address  # the allocations came back with the restart
        assert restarted.disconnect(network=network, endpoint=self.endpoint("three"), netns_path=None) is True
        with pytest.raises(Conflict, match="has active endpoints"):
            restarted.remove(network=network)
        assert restarted.disconnect(network=network, endpoint=self.endpoint("one"), netns_path=None) is True
        assert restarted.remove(network=network) is True
