"""Build contexts: the tar extracted privately, the Dockerfile read, ignore rules applied, hostile tars refused."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from moor.build.context import BuildContext
from moor.errors import InvalidParameter
from moor.targuard import ArchiveHeaderTooLarge
from moor.testing.hostiletar import Endless, MiB, cve_2024_6232_digits, header_block

DOCKERFILE = b"FROM busybox\nCOPY . /x\n"


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644,
           ) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.mtime = kind, link, mode, 1_600_000_000
    if kind == tarfile.REGTYPE:
        info.size = len(data)
    return info, data


def make_tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def simple(*extra: tuple[tarfile.TarInfo, bytes]) -> bytes:
    return make_tar(member("Dockerfile", DOCKERFILE), *extra)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def files(root: str) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            found.add(os.path.relpath(os.path.join(dirpath, name), root))
    return found


@pytest.mark.parametrize("compress", [lambda data: data, gzip.compress, bz2.compress, lzma.compress],
                         ids=["plain", "gzip", "bzip2", "xz"])
def test_every_compression_is_received(work: Path, compress: Callable[[bytes], bytes]) -> None:
    data = compress(simple(member("dir/", kind=tarfile.DIRTYPE, mode=0o750), member("dir/a", b"A", mode=0o4755)))
    with BuildContext.receive(io.BytesIO(data), str(work), "Dockerfile") as context:
        assert context.dockerfile_text() == DOCKERFILE.decode()
        assert files(context.root) == {"Dockerfile", "dir", "dir/a"}
        assert (Path(context.root) / "dir/a").read_bytes() == b"A"
        assert (Path(context.root) / "dir/a").stat().st_mode & 0o7777 == 0o4755
        assert (Path(context.root) / "dir").stat().st_mode & 0o7777 == 0o750
        assert Path(context.root).parent == work
        assert Path(context.root).stat().st_mode & 0o077 == 0
    assert list(work.iterdir()) == []


def test_a_named_dockerfile_and_the_lowercase_fallback(work: Path) -> None:
    data = make_tar(member("sub/Other.df", b"FROM a\n"), member("dockerfile", b"FROM b\n"))
    with BuildContext.receive(io.BytesIO(data), str(work), "./sub/Other.df") as context:
        assert context.dockerfile_text() == "FROM a\n"
    with BuildContext.receive(io.BytesIO(data), str(work), "") as context:
        assert context.dockerfile_text() == "FROM b\n"
        assert context.dockerfile_name == "dockerfile"


@pytest.mark.parametrize("name", ["Dockerfile", "missing", "sub"])
def test_a_missing_dockerfile_is_dockers_error(work: Path, name: str) -> None:
    data = make_tar(member("sub/", kind=tarfile.DIRTYPE), member("x", b"x"))
    with pytest.raises(InvalidParameter, match=f"^Cannot locate specified Dockerfile: {name}$"):
        BuildContext.receive(io.BytesIO(data), str(work), name)
    assert list(work.iterdir()) == []


def test_a_dockerfile_outside_the_context_is_forbidden(work: Path) -> None:
    data = make_tar(member("Dockerfile", DOCKERFILE))
    with pytest.raises(InvalidParameter, match=r"^Forbidden path outside the build context: \.\./Dockerfile \(\)$"):
        BuildContext.receive(io.BytesIO(data), str(work), "../Dockerfile")
    assert list(work.iterdir()) == []


def test_an_empty_body_has_no_dockerfile(work: Path) -> None:
    with pytest.raises(InvalidParameter, match="Cannot locate specified Dockerfile: Dockerfile"):
        BuildContext.receive(io.BytesIO(b""), str(work), "Dockerfile")


def test_the_dockerfile_symlink_resolves_inside_the_context(work: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("FROM host\n")
    data = make_tar(member("Dockerfile", kind=tarfile.SYMTYPE, link=str(secret)))
    with pytest.raises(InvalidParameter, match="Cannot locate specified Dockerfile"):
        BuildContext.receive(io.BytesIO(data), str(work), "Dockerfile")
    inside = make_tar(member("real", b"FROM inside\n"), member("Dockerfile", kind=tarfile.SYMTYPE, link="/real"))
    with BuildContext.receive(io.BytesIO(inside), str(work), "Dockerfile") as context:
        assert context.dockerfile_text() == "FROM inside\n"


def test_dockerignore_is_applied_again(work: Path) -> None:
    data = simple(member(".dockerignore", b"*.log\nDockerfile\n.dockerignore\nsecret/\n!secret/keep\n"),
                  member("a.log", b"x"), member("b.txt", b"x"), member("secret/key", b"k"),
                  member("secret/keep", b"k"))
    with BuildContext.receive(io.BytesIO(data), str(work), "Dockerfile") as context:
        assert context.dockerfile_text() == DOCKERFILE.decode()  # read before it is removed
        assert files(context.root) == {"b.txt", "secret", "secret/keep"}
        assert context.ignore.matches("a.log")


def test_the_dockerfiles_own_ignore_file_wins(work: Path) -> None:
    data = make_tar(member("app.Dockerfile", b"FROM x\n"), member("app.Dockerfile.dockerignore", b"b\n"),
                    member(".dockerignore", b"a\n"), member("a", b"a"), member("b", b"b"))
    with BuildContext.receive(io.BytesIO(data), str(work), "app.Dockerfile") as context:
        assert "a" in files(context.root)
        assert "b" not in files(context.root)


def test_a_bad_ignore_pattern_is_a_clear_error(work: Path) -> None:
    data = simple(member(".dockerignore", b"a[\n"))
    with pytest.raises(InvalidParameter, match=r"^error reading \.dockerignore: syntax error in pattern$"):
        BuildContext.receive(io.BytesIO(data), str(work), "Dockerfile")
    assert list(work.iterdir()) == []


def test_read_only_directories_are_removed_on_close(work: Path) -> None:
    data = simple(member("ro/", kind=tarfile.DIRTYPE, mode=0o555), member("ro/f", b"x", mode=0o444))
    context = BuildContext.receive(io.BytesIO(data), str(work), "Dockerfile")
    context.close()
    context.close()
    assert list(work.iterdir()) == []


def test_from_directory_is_not_removed(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_bytes(DOCKERFILE)
    context = BuildContext.from_directory(str(tmp_path))
    context.close()
    assert (tmp_path / "Dockerfile").exists()


# ---------------------------------------------------------------------- hostile contexts

HOSTILE = {
    "dotdot": [member("../escape", b"x")],
    "dotdot-deep": [member("a/../../escape", b"x")],
    "symlink-out-relative": [member("link", kind=tarfile.SYMTYPE, link="../../.."),
                             member("link/escape", b"x")],
    "write-through-absolute-symlink": [member("link", kind=tarfile.SYMTYPE, link="/tmp"),
                                       member("link/escape", b"x")],
    "hardlink-dotdot": [member("hard", kind=tarfile.LNKTYPE, link="../outside")],
    "hardlink-absolute": [member("hard", kind=tarfile.LNKTYPE, link="/etc/passwd")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tars_cannot_write_outside(work: Path, tmp_path: Path, case: str) -> None:
    (tmp_path / "outside").write_text("host")
    data = simple(*HOSTILE[case])
    with pytest.raises(InvalidParameter):
        BuildContext.receive(io.BytesIO(data), str(work), "Dockerfile")
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "work"]
    assert (tmp_path / "outside").read_text() == "host"
    assert not Path("/tmp/escape").exists()


def test_absolute_names_land_inside(work: Path) -> None:
    data = simple(member("/etc/abs", b"x"), member("./rel/./b", b"y"))
    with BuildContext.receive(io.BytesIO(data), str(work), "Dockerfile") as context:
        assert (Path(context.root) / "etc/abs").read_bytes() == b"x"
        assert (Path(context.root) / "rel/b").read_bytes() == b"y"


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_device_nodes_stay_inside(work: Path) -> None:
    device = member("dev/null-ish", kind=tarfile.CHRTYPE)
    device[0].devmajor, device[0].devminor = 1, 3
    data = simple(device, member("fifo", kind=tarfile.FIFOTYPE))
    with BuildContext.receive(io.BytesIO(data), str(work), "Dockerfile") as context:
        node = Path(context.root) / "dev/null-ish"
        assert node.is_char_device()
        assert (Path(context.root) / "fifo").is_fifo()


def test_huge_headers_are_refused_fast(work: Path) -> None:
    stream = Endless(header_block(tarfile.XHDTYPE, 64 * MiB))
    with pytest.raises(ArchiveHeaderTooLarge):
        BuildContext.receive(io.BufferedReader(stream), str(work), "Dockerfile")
    assert stream.count < 4 * MiB
    with pytest.raises(InvalidParameter, match="archive header too large"):
        BuildContext.receive(io.BytesIO(cve_2024_6232_digits()), str(work), "Dockerfile")
    assert list(work.iterdir()) == []


def test_a_truncated_tar_is_refused_and_cleaned(work: Path) -> None:
    data = simple(member("big", b"x" * 10000))[:3000]
    with pytest.raises(InvalidParameter):
        BuildContext.receive(io.BytesIO(data), str(work), "Dockerfile")
    assert list(work.iterdir()) == []


class _Generated(io.RawIOBase):
    """A tar of one ``size``-byte file, produced as it is read (never held whole)."""

    def __init__(self, size: int) -> None:
        head = make_tar(member("Dockerfile", DOCKERFILE))[:1024]  # its header and one block of data
        info = tarfile.TarInfo("big")
        info.size = size
        self.parts = [head, info.tobuf(tarfile.PAX_FORMAT)]
        self.left = size
        self.tail = bytes(-size % 512) + bytes(1024)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.parts:
            data = self.parts.pop(0)
        elif self.left:
            data = b"z" * min(self.left, len(buffer), 1 << 16)
            self.left -= len(data)
        else:
            data, self.tail = self.tail[: len(buffer)], self.tail[len(buffer):]
        if len(data) > len(buffer):
            self.parts.insert(0, data[len(buffer):])
            data = data[: len(buffer)]
        buffer[: len(data)] = data
        return len(data)


def test_the_context_is_streamed_not_buffered(work: Path) -> None:
    size = 48 * MiB
    tracemalloc.start()
    try:
        with BuildContext.receive(io.BufferedReader(_Generated(size)), str(work), "Dockerfile") as context:
            assert (Path(context.root) / "big").stat().st_size == size
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB
