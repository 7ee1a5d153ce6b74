"""COPY/ADD checksums are Docker 20.10's own: every expected value below is what dockerd 20.10 wrote in
``docker history`` for the same files (``DOCKER_BUILDKIT=0 docker build`` with the docker CLI)."""

from __future__ import annotations

import grp
import io
import os
import pwd
import tarfile
from pathlib import Path

import pytest

from moor.build.checksum import ChecksumCache, combine, hash_string_list
from moor.build.context import BuildContext

A_TXT = "file:00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda"
D_DIR = "dir:998e3fe96b3f8985f18c6cfa150797ce75fda014d6b6b03badf23fdb6c32aef1"


def context_tree(root: Path) -> Path:
    """The context of the oracle build (modes matter, times do not)."""
    def write(name: str, data: str, mode: int) -> None:
        (root / name).write_text(data)
        os.chmod(root / name, mode)

    for directory, mode in (("d", 0o755), ("d/sub", 0o750), ("e1", 0o755), ("e1/e2", 0o755)):
        (root / directory).mkdir()
        os.chmod(root / directory, mode)
    write("a.txt", "hello\n", 0o644)
    write("b.txt", "bee\n", 0o644)
    write("d/x", "x\n", 0o755)
    write("d/sub/y", "y\n", 0o644)
    write("empty", "", 0o644)
    (root / "d/lnk").symlink_to("x")
    (root / "link").symlink_to("a.txt")
    (root / "dlink").symlink_to("d")
    return root


@pytest.fixture
def context(tmp_path: Path) -> ChecksumCache:
    return ChecksumCache(str(context_tree(tmp_path)), "context")


@pytest.mark.parametrize(("path", "expected"), [
    ("a.txt", A_TXT),
    ("link", A_TXT),  # a link is hashed as what it points to
    ("empty", "file:545cac804bb64dccc8334bcc23561d7663ca64e2f918b852e482f5e5c0ee5966"),
    ("d", D_DIR),
    ("dlink", D_DIR),
    ("d/sub", "dir:5b1c915478b1e27a9ea6a7cc93c018631b87f4a0b21c36062a72ce27df27ade2"),
    ("e1", "dir:3730ec76d90133669846069dcfd6f0c8851f5885124ccfc99f0060c052366f83"),
])
def test_context_checksums_are_dockers(context: ChecksumCache, path: str, expected: str) -> None:
    assert context.checksum(path) == expected


def test_several_sources_are_multi(context: ChecksumCache) -> None:
    checksums = [context.checksum("a.txt"), context.checksum("b.txt")]
    assert combine(checksums) == "multi:b3334a615c8fb7a57a67140d4201da33e2c20274e1a8264ecf35acfab80eedff"
    assert combine([A_TXT]) == A_TXT
    assert hash_string_list("dir", []) == "dir:" + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_a_touched_file_keeps_its_checksum_a_changed_one_does_not(tmp_path: Path) -> None:
    root = context_tree(tmp_path)
    before = ChecksumCache(str(root), "context").checksum("d")
    os.utime(root / "d/x", (12345, 12345))
    os.utime(root / "d", (12345, 12345))
    assert ChecksumCache(str(root), "context").checksum("d") == before
    os.chmod(root / "d/x", 0o700)
    assert ChecksumCache(str(root), "context").checksum("d") != before
    os.chmod(root / "d/x", 0o755)
    (root / "d/x").write_text("X\n")
    assert ChecksumCache(str(root), "context").checksum("d") != before


def test_hard_links_hash_as_the_docker_cli_sends_them(tmp_path: Path) -> None:
    """The second name of a file travels as a hard link (typeflag 1, no content) in the CLI's tar."""
    (tmp_path / "h").mkdir()
    os.chmod(tmp_path / "h", 0o755)
    (tmp_path / "h/h1").write_text("h\n")
    os.chmod(tmp_path / "h/h1", 0o644)
    os.link(tmp_path / "h/h1", tmp_path / "h/h2")
    assert ChecksumCache(str(tmp_path), "context").checksum("h") == (
        "dir:4ae067e2db2f77f5ee02dd60d09def01d075850e3eeec5147ee991b1916035c7")


def test_links_never_lead_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("hello\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "abs").symlink_to(str(outside))
    (root / "rel").symlink_to("../outside")
    cache = ChecksumCache(str(root), "context")
    # resolved inside the root: nothing there, so Docker's answer is the path itself
    assert cache.checksum("abs") == "file:abs"
    assert cache.checksum("rel") == "file:rel"


def test_a_fifo_is_hashed_without_being_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    value = ChecksumCache(str(tmp_path), "context").checksum("fifo")
    assert value.startswith("file:") and len(value) == 69


@pytest.mark.skipif(os.geteuid() != 0, reason="owners 0 and 1:2 need root")
def test_image_checksums_are_dockers(tmp_path: Path) -> None:
    """``COPY --from``: Docker's header from the file's stat (type bits, owners, the host's names)."""
    (tmp_path / "a").write_text("hello\n")
    os.chmod(tmp_path / "a", 0o644)
    os.chown(tmp_path / "a", 0, 0)
    cache = ChecksumCache(str(tmp_path), "image")
    assert cache.checksum("/a") == "file:9637d9f84c753a79af1340d1810bf5c2327fbec785f58fb49c9bd96e85659566"
    if pwd.getpwuid(1).pw_name != "daemon" or grp.getgrgid(2).gr_name != "bin":
        pytest.skip("this host names uid 1 and gid 2 otherwise than Debian")
    (tmp_path / "c").write_text("hello\n")
    os.chmod(tmp_path / "c", 0o644)
    os.chown(tmp_path / "c", 1, 2)
    cd = tmp_path / "cd"
    (cd / "sub").mkdir(parents=True)
    (cd / "x").write_text("x\n")
    (cd / "sub/y").write_text("y\n")
    (cd / "lnk").symlink_to("x")
    for path, mode in ((cd, 0o755), (cd / "sub", 0o750), (cd / "x", 0o755), (cd / "sub/y", 0o644)):
        os.chmod(path, mode)
    for path in (cd, cd / "sub", cd / "x", cd / "sub/y", cd / "lnk"):
        os.lchown(path, 1, 2)
    cache = ChecksumCache(str(tmp_path), "image")
    assert cache.checksum("c") == "file:47254a64fc4a7f3bf126548c57d9c53550ce7f94187ee42f5227465416492acd"
    assert cache.checksum("cd") == "dir:a7bfed9a22d9458f624d0ee0b9656d0a3866fb437261e2918dfe5af959d5a6a4"


def _context_tar(root: Path) -> bytes:
    """``root`` as the docker CLI sends it (owners 0:0, whole-second times), plus entries a client may add."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(root.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(root)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = int(info.mtime)
            if info.isreg():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
        again = tarfile.TarInfo("b.txt")  # a later entry of the same name wins
        again.size, again.mode = 6, 0o600
        tar.addfile(again, io.BytesIO(b"again\n"))
        marked = tarfile.TarInfo("marked")  # extended attributes: summed from the file, not on arrival
        marked.size, marked.mode = 2, 0o644
        marked.pax_headers = {"SCHILY.xattr.user.note": "x"}
        tar.addfile(marked, io.BytesIO(b"m\n"))
    return out.getvalue()


def test_sums_taken_as_the_context_arrives_are_the_ones_read_later(tmp_path: Path) -> None:
    (tmp_path / "source").mkdir()
    source = context_tree(tmp_path / "source")
    (source / "Dockerfile").write_text("FROM scratch\n")
    (source / "s").write_text("setuid\n")
    os.chmod(source / "s", 0o4755)
    (source / "h1").write_text("h\n")
    os.link(source / "h1", source / "h2")
    (source / "ignored").write_text("i\n")
    (source / ".dockerignore").write_text("ignored\n")
    with BuildContext.receive(io.BytesIO(_context_tar(source)), str(tmp_path / "work")) as context:
        assert {"a.txt", "d/x", "d/sub/y", "empty", "s", "b.txt"} <= set(context.sums)
        assert "marked" not in context.sums
        arrived = ChecksumCache(context.root, "context", context.sums)
        fresh = ChecksumCache(context.root, "context")
        assert arrived.checksum("a.txt") == A_TXT and arrived.checksum("d") == D_DIR  # Docker's own
        for path in ("a.txt", "b.txt", "d", "d/sub", "e1", "empty", "s", "h1", "h2", "marked", "link", "."):
            assert arrived.checksum(path) == fresh.checksum(path), path
        context.sums["a.txt"] = ("0" * 64, context.sums["a.txt"][1])  # a sum taken on arrival is used as is
        assert ChecksumCache(context.root, "context", context.sums).checksum("a.txt") == "file:" + "0" * 64
        os.chmod(os.path.join(context.root, "d/x"), 0o700)  # changed since it arrived: summed again
        assert ChecksumCache(context.root, "context", context.sums).checksum("d") == \
            ChecksumCache(context.root, "context").checksum("d") != D_DIR
