"""COPY and ADD as Docker 20.10's classic builder does them, written as a layer tar (moor.build.copy).

The owners, modes and placements expected here are what dockerd 20.10 gave for the same Dockerfile
lines (``ls -ln`` in a RUN after each COPY); the hostile cases must be refused or stay inside.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from moor.build.copy import (
    DirectoryView,
    EmptyView,
    contains_wildcards,
    normalize_dest,
    parse_chmod,
    plan_copy,
    write_copy_layer,
)
from moor.build.instructions import AddCommand, CopyCommand
from moor.errors import InvalidParameter
from moor.testing.hostiletar import Endless, MiB, header_block

A_TXT = "file:00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda"
NOW = 1_700_000_000


@dataclass
class Entry:
    name: str
    type: bytes
    mode: int
    uid: int
    gid: int
    mtime: int
    linkname: str
    data: bytes


def tree(root: Path) -> Path:
    for directory, mode in (("d", 0o755), ("d/sub", 0o750)):
        (root / directory).mkdir()
        os.chmod(root / directory, mode)
    for name, data, mode in (("a.txt", "hello\n", 0o644), ("b.txt", "bee\n", 0o644), ("d/x", "x\n", 0o755),
                             ("d/sub/y", "y\n", 0o644)):
        (root / name).write_text(data)
        os.chmod(root / name, mode)
        os.utime(root / name, (1_600_000_000, 1_600_000_000))
    (root / "d/lnk").symlink_to("x")
    (root / "link").symlink_to("a.txt")
    (root / "dlink").symlink_to("d")
    (root / "out").symlink_to("/etc/passwd")
    return root


def image(root: Path) -> Path:
    """A small target image: /bin, /tmp (1777), /etc/passwd and /etc/group, /lnk -> /real, a file /f."""
    for directory, mode in (("bin", 0o755), ("tmp", 0o1777), ("etc", 0o755), ("real", 0o700)):
        (root / directory).mkdir()
        os.chmod(root / directory, mode)
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\ndaemon:x:1:1::/:/bin/false\nweb:x:33:33::/:/x\n")
    (root / "etc/group").write_text("root:x:0:\ndaemon:x:1:\nbin:x:2:\n")
    (root / "lnk").symlink_to("/real")
    (root / "f").write_text("file")
    return root


@pytest.fixture
def context(tmp_path: Path) -> str:
    path = tmp_path / "context"
    path.mkdir()
    return str(tree(path))


@pytest.fixture
def target(tmp_path: Path) -> DirectoryView:
    path = tmp_path / "image"
    path.mkdir()
    return DirectoryView(str(image(path)))


def copy(*sources: str, dest: str, **flags: Any) -> CopyCommand:
    return CopyCommand(sources=list(sources), dest=dest, **flags)


def add(*sources: str, dest: str, **flags: Any) -> AddCommand:
    return AddCommand(sources=list(sources), dest=dest, **flags)


def layer(command: CopyCommand, root: str, target: Any, workdir: str = "/", **options: Any) -> dict[str, Entry]:
    with plan_copy(command, root=root, workdir=workdir, target=target, **options) as plan:
        out = io.BytesIO()
        write_copy_layer(plan, target, out, now=lambda: NOW)
    entries: dict[str, Entry] = {}
    with tarfile.open(fileobj=io.BytesIO(out.getvalue()), mode="r:") as archive:
        for member in archive:
            source = archive.extractfile(member) if member.isreg() else None
            name = member.name + "/" if member.isdir() else member.name  # tarfile drops the written "/"
            entries[name] = Entry(name, member.type, member.mode, member.uid, member.gid,
                                         int(member.mtime), member.linkname, source.read() if source else b"")
    return entries


def errors(command: CopyCommand, root: str, target: Any = None, workdir: str = "/", **options: Any) -> str:
    with pytest.raises(InvalidParameter) as caught:
        layer(command, root, target if target is not None else EmptyView(), workdir, **options)
    return str(caught.value)


# ---------------------------------------------------------------------- sources and destinations

def test_one_file(context: str) -> None:
    with plan_copy(copy("a.txt", dest="/a"), root=context, workdir="/", target=None) as plan:
        assert plan.checksum == A_TXT
    entries = layer(copy("a.txt", dest="/a"), context, EmptyView())
    assert list(entries) == ["a"]
    entry = entries["a"]
    assert (entry.data, entry.mode, entry.uid, entry.gid, entry.mtime) == (b"hello\n", 0o644, 0, 0, 1_600_000_000)


def test_a_file_goes_into_an_existing_directory(context: str, target: DirectoryView) -> None:
    entries = layer(copy("a.txt", dest="/bin"), context, target)
    assert list(entries) == ["bin/", "bin/a.txt"]
    assert (entries["bin/"].mode, entries["bin/"].mtime) == (0o755, NOW)


def test_a_trailing_slash_makes_the_parents(context: str, target: DirectoryView) -> None:
    entries = layer(copy("a.txt", dest="/new/deep/"), context, target)
    assert list(entries) == ["new/", "new/deep/", "new/deep/a.txt"]
    assert all(entries[name].mode == 0o755 and entries[name].uid == 0 for name in ("new/", "new/deep/"))


def test_a_file_replaces_a_file(context: str, target: DirectoryView) -> None:
    assert list(layer(copy("a.txt", dest="/f"), context, target)) == ["f"]


def test_a_directory_copies_its_content(context: str, target: DirectoryView) -> None:
    entries = layer(copy("d", dest="/dd"), context, target)
    assert list(entries) == ["dd/", "dd/lnk", "dd/sub/", "dd/sub/y", "dd/x"]
    assert entries["dd/"].mode == 0o755  # a new destination directory, not the source's mode
    assert entries["dd/sub/"].mode == 0o750
    assert (entries["dd/lnk"].type, entries["dd/lnk"].linkname) == (tarfile.SYMTYPE, "x")
    assert entries["dd/x"].mode == 0o755


def test_an_existing_destination_directory_keeps_its_metadata(context: str, target: DirectoryView) -> None:
    entries = layer(copy("d", dest="/tmp/", chown="1:2"), context, target)
    assert (entries["tmp/"].mode, entries["tmp/"].uid, entries["tmp/"].gid) == (0o1777, 0, 0)
    assert (entries["tmp/x"].uid, entries["tmp/x"].gid) == (1, 2)


def test_a_directory_cannot_replace_a_file(context: str, target: DirectoryView) -> None:
    assert "mkdir /f: not a directory" in errors(copy("d", dest="/f"), context, target)


def test_wildcards_follow_go_filepath_match(context: str) -> None:
    entries = layer(copy("*.txt", dest="/star/"), context, EmptyView())
    assert sorted(entries) == ["star/", "star/a.txt", "star/b.txt"]
    assert list(layer(copy("d/*", dest="/w/"), context, EmptyView())) == ["w/", "w/lnk", "w/y", "w/x"]
    with plan_copy(copy("*.txt", dest="/star/"), root=context, workdir="/", target=None) as plan:
        assert plan.checksum == "multi:b3334a615c8fb7a57a67140d4201da33e2c20274e1a8264ecf35acfab80eedff"


def test_several_sources_need_a_directory_destination(context: str) -> None:
    message = ("When using COPY with more than one source file, the destination must be a directory and end "
               "with a /")
    assert errors(copy("a.txt", "b.txt", dest="/nodir"), context) == message
    assert errors(copy("*.txt", dest="/nodir"), context) == message
    assert errors(add("a.txt", "b.txt", dest="/nodir"), context) == message.replace("COPY", "ADD")


def test_dockers_messages_for_missing_sources(context: str) -> None:
    assert errors(copy("*.nomatch", dest="/x/"), context) == "COPY failed: no source files were specified"
    assert errors(copy("nothere", dest="/x"), context) == (
        "COPY failed: file not found in build context or excluded by .dockerignore: stat nothere: file does not "
        "exist")
    assert errors(copy("../x", dest="/x"), context) == (
        "COPY failed: forbidden path outside the build context: ../x ()")
    assert errors(copy("a/../../x", dest="/x"), context).startswith("COPY failed: forbidden path outside")


def test_a_loop_of_links_is_refused(tmp_path: Path) -> None:
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir/loop").symlink_to("loop")
    assert errors(copy("loop1", dest="/x"), str(tmp_path)) == (
        "COPY failed: forbidden path outside the build context: loop1 ()")
    assert list(layer(copy("dir", dest="/d"), str(tmp_path), EmptyView())) == ["d/", "d/loop"]


def test_a_link_copies_its_target_under_its_own_name(context: str) -> None:
    entries = layer(copy("link", dest="/l/"), context, EmptyView())
    assert entries["l/link"].data == b"hello\n"
    assert entries["l/link"].type == tarfile.REGTYPE
    assert list(layer(copy("dlink", dest="/dl"), context, EmptyView())) == [
        "dl/", "dl/lnk", "dl/sub/", "dl/sub/y", "dl/x"]


def test_links_out_of_the_context_resolve_inside_it(context: str) -> None:
    """``out -> /etc/passwd`` is the context's own /etc/passwd: not there, never the host's."""
    assert "file not found in build context" in errors(copy("out", dest="/x"), context)
    assert "forbidden path outside the build context" in errors(copy("/../../etc/passwd", dest="/x"), context)


def test_relative_destinations_use_workdir(context: str) -> None:
    assert list(layer(copy("a.txt", dest="rel"), context, EmptyView(), workdir="/w")) == ["w/", "w/rel"]
    assert list(layer(copy("a.txt", dest="reldir/"), context, EmptyView(), workdir="/w")) == [
        "w/", "w/reldir/", "w/reldir/a.txt"]
    assert normalize_dest("/w", ".") == "/w"
    assert normalize_dest("", "x/") == "/x/"
    assert normalize_dest("/w", "/abs/../kept") == "/abs/../kept"


def test_links_in_the_destination_resolve_inside_the_image(context: str, target: DirectoryView) -> None:
    entries = layer(copy("a.txt", dest="/lnk/"), context, target)
    assert list(entries) == ["real/", "real/a.txt"]
    assert entries["real/"].mode == 0o700


# ---------------------------------------------------------------------- owners and modes

def test_chown_ids_and_parents(context: str, target: DirectoryView) -> None:
    entries = layer(copy("a.txt", dest="/new1/new2/f", chown="1:2"), context, target)
    for name in ("new1/", "new1/new2/", "new1/new2/f"):  # a file's new parents are the owner's (Docker)
        assert (entries[name].uid, entries[name].gid) == (1, 2)
    entries = layer(copy("d", dest="/new3/new4/", chown="1:2"), context, target)
    assert (entries["new3/"].uid, entries["new3/"].gid) == (0, 0)  # a directory's parents are root's
    assert (entries["new3/new4/"].uid, entries["new3/new4/"].gid) == (1, 2)
    assert (entries["new3/new4/lnk"].uid, entries["new3/new4/sub/y"].gid) == (1, 2)


def test_chown_names_come_from_the_target_image(context: str, target: DirectoryView) -> None:
    entries = layer(copy("a.txt", dest="/named", chown="daemon"), context, target)
    assert (entries["named"].uid, entries["named"].gid) == (1, 1)  # a lone name is the group too
    entries = layer(copy("a.txt", dest="/named", chown="web:bin"), context, target)
    assert (entries["named"].uid, entries["named"].gid) == (33, 2)
    prefix = "unable to convert uid/gid chown string to host mapping: "
    assert errors(copy("a.txt", dest="/x", chown="nouser"), context, target) == (
        prefix + "can't find uid for user nouser: no such user: nouser")
    assert errors(copy("a.txt", dest="/x", chown="root:nogrp"), context, target) == (
        prefix + "can't find gid for group nogrp: no such group: nogrp")
    assert errors(copy("a.txt", dest="/x", chown="web"), context, target) == (
        prefix + "can't find gid for group web: no such group: web")
    assert errors(copy("a.txt", dest="/x", chown="a:b:c"), context, target) == "invalid chown string format: a:b:c"
    assert "open /etc/passwd" in errors(copy("a.txt", dest="/x", chown="web"), context, EmptyView())


def test_chown_drops_setuid_as_linux_does(tmp_path: Path) -> None:
    """Docker chowns each copied file; the kernel then clears setuid, and setgid when group-executable."""
    for name, mode in (("suid", 0o4755), ("sgid-x", 0o2755), ("sgid", 0o2644), ("sticky", 0o1755)):
        (tmp_path / name).write_text(name)
        os.chmod(tmp_path / name, mode)
    (tmp_path / "dir").mkdir()
    os.chmod(tmp_path / "dir", 0o2755)
    entries = layer(copy("suid", "sgid-x", "sgid", "sticky", "dir", dest="/o/"), str(tmp_path), EmptyView())
    assert [entries[f"o/{name}"].mode for name in ("suid", "sgid-x", "sgid", "sticky")] == [
        0o755, 0o755, 0o2644, 0o1755]
    entries = layer(copy("suid", dest="/kept", from_stage="s"), str(tmp_path), EmptyView(), flavor="image")
    assert entries["kept"].mode == 0o4755  # --from without --chown keeps owners, so the bits stay


def test_chmod(context: str) -> None:
    entries = layer(copy("d", dest="/m/", chmod="0700"), context, EmptyView())
    assert entries["m/x"].mode == entries["m/sub/"].mode == 0o700
    assert entries["m/"].mode == 0o755
    assert parse_chmod(None) is None
    for bad in ("9", "-1", "10000", "u+x"):
        with pytest.raises(InvalidParameter, match="invalid chmod parameter"):
            parse_chmod(bad)


@pytest.mark.skipif(os.geteuid() != 0, reason="owners need root")
def test_copy_from_a_stage_keeps_the_owners(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    (stage / "cd").mkdir(parents=True)
    (stage / "cd/x").write_text("x")
    (stage / "c").write_text("c")
    for path in (stage / "cd", stage / "cd/x", stage / "c"):
        os.chown(path, 1, 2)
    entries = layer(copy("/c", dest="/fromc", from_stage="one"), str(stage), EmptyView(), flavor="image")
    assert (entries["fromc"].uid, entries["fromc"].gid) == (1, 2)
    entries = layer(copy("/cd", dest="/fromcd", from_stage="one"), str(stage), EmptyView(), flavor="image")
    assert (entries["fromcd/"].uid, entries["fromcd/x"].uid) == (0, 1)
    entries = layer(copy("/c", dest="/c", from_stage="one", chown="5:6"), str(stage), EmptyView(), flavor="image")
    assert (entries["c"].uid, entries["c"].gid) == (5, 6)


def test_special_files_are_entries_never_opened(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "dir/fifo")
    (tmp_path / "dir/hard1").write_text("h")
    os.link(tmp_path / "dir/hard1", tmp_path / "dir/hard2")
    entries = layer(copy("dir", dest="/s"), str(tmp_path), EmptyView())
    assert entries["s/fifo"].type == tarfile.FIFOTYPE
    assert (entries["s/hard2"].type, entries["s/hard2"].linkname) == (tarfile.LNKTYPE, "s/hard1")
    entries = layer(copy("dir/hard1", "dir/hard2", dest="/two/"), str(tmp_path), EmptyView())
    assert entries["two/hard2"].type == tarfile.REGTYPE  # separate sources are separate files, as Docker


def test_heredocs_are_files() -> None:
    @dataclass
    class Doc:
        name: str
        content: str

    entries = layer(CopyCommand(sources=[], dest="/etc/", heredocs=(Doc("conf", "a=1\n"),)),  # type: ignore[arg-type]
                    "/nonexistent", EmptyView())
    assert entries["etc/conf"].data == b"a=1\n"
    assert entries["etc/conf"].mode == 0o644


def test_contains_wildcards() -> None:
    assert contains_wildcards("*.txt") and contains_wildcards("a[bc]") and contains_wildcards("a?")
    assert not contains_wildcards("a\\*b") and not contains_wildcards("plain")


# ---------------------------------------------------------------------- ADD: archives

def make_tar(*members: tuple[str, bytes, bytes, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, kind, data, link in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.uid, info.gid, info.mtime = kind, link, 7, 8, 1000
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buffer.getvalue()


def test_add_extracts_local_archives_with_their_owners(tmp_path: Path) -> None:
    data = make_tar(("inner/f", tarfile.REGTYPE, b"abc", ""), ("inner/h", tarfile.LNKTYPE, b"", "inner/f"))
    (tmp_path / "arch.tar.gz").write_bytes(gzip.compress(data))
    (tmp_path / "arch.tar").write_bytes(data)
    for name in ("arch.tar.gz", "arch.tar"):
        entries = layer(add(name, dest="/ext", chown="1:2"), str(tmp_path), EmptyView())
        assert list(entries) == ["ext/", "ext/inner/", "ext/inner/f", "ext/inner/h"]
        assert (entries["ext/inner/f"].uid, entries["ext/inner/f"].gid, entries["ext/inner/f"].data) == (7, 8, b"abc")
        assert entries["ext/inner/h"].linkname == "ext/inner/f"
        assert entries["ext/"].uid == 0
    entries = layer(copy("arch.tar", dest="/notext"), str(tmp_path), EmptyView())
    assert list(entries) == ["notext"]  # COPY never extracts


@pytest.mark.parametrize(("members", "message"), [
    ([("../evil", tarfile.REGTYPE, b"x", "")], "is outside of"),
    ([("a/../../evil", tarfile.REGTYPE, b"x", "")], "is outside of"),
    ([("l", tarfile.SYMTYPE, b"", "../../.."), ], "leads out of"),
    ([("l", tarfile.SYMTYPE, b"", "/etc"), ("l/passwd", tarfile.REGTYPE, b"x", "")], "through a symbolic link"),
    ([("h", tarfile.LNKTYPE, b"", "../../etc/passwd")], "is outside of"),
])
def test_hostile_archives_are_refused(tmp_path: Path, members: list[tuple[str, bytes, bytes, str]],
                                      message: str) -> None:
    (tmp_path / "evil.tar").write_bytes(make_tar(*members))
    assert message in errors(add("evil.tar", dest="/ext/"), str(tmp_path))


def test_archive_links_are_0777_as_a_layer_shows_them(tmp_path: Path) -> None:
    (tmp_path / "links.tar").write_bytes(make_tar(("ldir", tarfile.SYMTYPE, b"", "/real")))
    entries = layer(add("links.tar", dest="/"), str(tmp_path), EmptyView())
    assert (entries["ldir"].mode, entries["ldir"].linkname) == (0o777, "/real")


def test_absolute_archive_names_stay_below_the_destination(tmp_path: Path) -> None:
    (tmp_path / "abs.tar").write_bytes(make_tar(("/etc/passwd", tarfile.REGTYPE, b"x", "")))
    assert list(layer(add("abs.tar", dest="/ext/"), str(tmp_path), EmptyView())) == [
        "ext/", "ext/etc/", "ext/etc/passwd"]


def test_an_archive_with_a_huge_header_is_refused(tmp_path: Path) -> None:
    stream = Endless(header_block(tarfile.XHDTYPE, 64 * MiB))
    (tmp_path / "huge.tar").write_bytes(stream.read(2 * MiB))
    assert "archive header too large" in errors(add("huge.tar", dest="/ext/"), str(tmp_path))


# ---------------------------------------------------------------------- ADD: URLs

class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/missing":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b"nope")
            return
        body = make_tar(("inner", tarfile.REGTYPE, b"abc", "")) if self.path.endswith(".tar") else b"payload\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
        if self.path == "/":
            self.send_header("Content-Disposition", 'attachment; filename="named.bin"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_add_downloads_urls(server: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    entries = layer(add(f"{server}/dir/file.txt", dest="/dl/"), str(tmp_path), EmptyView(), work_dir=str(work))
    entry = entries["dl/file.txt"]
    assert (entry.data, entry.mode, entry.uid, entry.mtime) == (b"payload\n", 0o600, 0, 1445412480)
    assert list(work.iterdir()) == []  # the download is gone with the plan
    assert "dl/named.bin" in layer(add(f"{server}/", dest="/dl/"), str(tmp_path), EmptyView())
    assert list(layer(add(f"{server}/x.tar", dest="/t/"), str(tmp_path), EmptyView())) == ["t/", "t/x.tar"]


@pytest.mark.skipif(os.geteuid() != 0, reason="Docker's sums name the owner root")
def test_download_checksums_are_dockers(server: str, tmp_path: Path) -> None:
    """dockerd 20.10 wrote these (bare, without ``file:``) for the same bodies and names."""
    expected = {f"{server}/dir/file.txt": "b426b25e407f27ebf45e0570dd99969c4193917132c3c973b6c2dc5b31675a21",
                f"{server}/": "015b63d89a59b517635daff89d3ea7fd35504cf1164cf5626d12d0b50efac87b"}
    for url, checksum in expected.items():
        with plan_copy(add(url, dest="/u/"), root=str(tmp_path), workdir="/", target=None) as plan:
            assert plan.checksum == checksum


def test_add_checksum_verifies_a_download(server: str, tmp_path: Path) -> None:
    good = "sha256:" + hashlib.sha256(b"payload\n").hexdigest()
    assert "f" in layer(add(f"{server}/f", dest="/", checksum=good), str(tmp_path), EmptyView())
    bad = "sha256:" + "0" * 64
    assert errors(add(f"{server}/f", dest="/", checksum=bad), str(tmp_path)) == (
        f"digest mismatch {good}: {bad}")
    assert errors(add(f"{server}/f", dest="/", checksum="md5:x"), str(tmp_path)) == (
        "invalid checksum digest format: md5:x")
    (tmp_path / "local").write_text("x")
    assert errors(add("local", dest="/", checksum=good), str(tmp_path)) == (
        "checksum can't be specified for non-HTTP(S) sources")


def test_add_url_errors(server: str, tmp_path: Path) -> None:
    assert errors(add(f"{server}/missing", dest="/x"), str(tmp_path)) == (
        f"failed to GET {server}/missing with status 404 Not Found: nope")
    assert errors(copy(f"{server}/x", dest="/x"), str(tmp_path)) == "source can't be a URL for COPY"
    assert errors(add("http://127.0.0.1:1/x", dest="/x"), str(tmp_path)).startswith('Get "http://127.0.0.1:1/x"')
