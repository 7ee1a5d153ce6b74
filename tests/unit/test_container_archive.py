"""Copying into and out of a container root filesystem never leaves the root (no root needed).

The fake root filesystem has links that would leave it if the kernel resolved them from the host:
``/evil -> /etc``, ``/up -> ../../..``, ``/abs -> /``, ``/host -> <tmp>/outside`` (an absolute host
path), ``/rel -> ../outside`` and a chain ``/chain -> dl/sub``, ``/dl -> d``. The host's side of each
escape (``<tmp>/outside``, the real ``/etc``) must never be read or written.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import threading
import uuid
from pathlib import Path

import pytest

from moor.containers import archive
from moor.errors import InvalidParameter, MoorError, NotFound

HOST_SECRET = b"HOST SECRET, must never be read\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(HOST_SECRET)
    (outside / "shadow").write_bytes(HOST_SECRET)
    root = tmp_path / "root"
    for directory in ("etc", "tmp", "d/sub", "outside"):
        (root / directory).mkdir(parents=True)
    (root / "etc" / "shadow").write_text("container shadow\n")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (root / "outside" / "secret").write_text("container's own outside/secret\n")
    (root / "d" / "sub" / "f").write_text("in d/sub\n")
    (root / "d" / "sub" / "g").write_text("g\n")
    os.link(root / "d" / "sub" / "f", root / "d" / "hard")
    links = {"evil": "/etc", "up": "../../..", "abs": "/", "host": str(outside), "rel": "../outside",
             "dl": "d", "chain": "dl/sub", "loop": "loop", "dangling": "/nowhere/x", "etc/evil2": "../../../etc"}
    for name, target in links.items():
        os.symlink(target, root / name)
    return root


def tar_bytes(*entries: tuple[str, str, object], gz: bool = False) -> bytes:
    """A tar of (name, kind, data) entries: kind f=file, d=dir, l=symlink, h=hard link, c=char device."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000
            info.mode = 0o644
            if kind == "f":
                payload = data if isinstance(data, bytes) else str(data).encode()
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            if kind == "d":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
            elif kind == "h":
                info.type, info.linkname = tarfile.LNKTYPE, str(data)
            elif kind == "c":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            tar.addfile(info)
    data = buffer.getvalue()
    return gzip.compress(data) if gz else data


def members(stream: archive.TarStream) -> dict[str, tuple[bytes, bytes]]:
    """name -> (type, content) of a tar stream."""
    with tarfile.open(fileobj=io.BytesIO(stream.read_all())) as tar:
        return {m.name: (m.type, tar.extractfile(m).read() if m.isreg() else m.linkname.encode())  # type: ignore[union-attr]
                for m in tar.getmembers()}


def copy_in(root: Path, path: str, *entries: tuple[str, str, object], **options: object) -> None:
    archive.copy_in(str(root), path, io.BytesIO(tar_bytes(*entries)), **options)  # type: ignore[arg-type]


def host_untouched(tmp_path: Path) -> None:
    assert sorted(os.listdir(tmp_path / "outside")) == ["secret", "shadow"]
    assert (tmp_path / "outside" / "secret").read_bytes() == HOST_SECRET


# ---------------------------------------------------------------------- reading


@pytest.mark.parametrize("path", ["/evil/shadow", "/up/etc/shadow", "/abs/etc/shadow", "/up/up/up/evil/shadow",
                                  "/etc/evil2/shadow", "/d/../evil/shadow", "etc/shadow", "/../../etc/shadow"])
def test_copy_out_resolves_links_inside_the_root(root: Path, path: str) -> None:
    stream, info = archive.copy_out(str(root), path, container="box")
    assert members(stream) == {"shadow": (tarfile.REGTYPE, b"container shadow\n")}
    assert info["name"] == "shadow" and info["size"] == len("container shadow\n")


@pytest.mark.parametrize("path", ["/host/secret", "/rel/secret"])
def test_links_to_host_paths_mean_paths_in_the_root(root: Path, path: str) -> None:
    if path.startswith("/host"):
        with pytest.raises(NotFound, match=f"Could not find the file {path} in container box"):
            archive.copy_out(str(root), path, container="box")
    else:  # ../outside from the root is the root's own /outside
        stream, _ = archive.copy_out(str(root), path, container="box")
        assert members(stream)["secret"][1] == b"container's own outside/secret\n"


def test_never_reads_the_hosts_etc(root: Path) -> None:
    with open("/etc/passwd", "rb") as handle:
        host_passwd = handle.read()
    for path in ("/evil/passwd", "/abs/etc/passwd", "/up/etc/passwd", "/etc/evil2/passwd"):
        stream, _ = archive.copy_out(str(root), path)
        content = members(stream)["passwd"][1]
        assert content == (root / "etc" / "passwd").read_bytes() and content != host_passwd


def test_nothing_is_opened_by_a_host_path_but_the_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every open below the root is relative to a directory descriptor; by path only the root and /proc."""
    by_path: list[str] = []
    real_open = os.open

    def spying_open(path: object, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if dir_fd is None:
            by_path.append(os.fsdecode(path))  # type: ignore[arg-type]
        return real_open(path, flags, mode, dir_fd=dir_fd)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spying_open)
    for path in ("/evil/passwd", "/up/etc", "/abs/", "/chain/.", "/host/secret", "/evil", "/etc/evil2/passwd"):
        try:
            archive.copy_out(str(root), path)[0].read_all()
            archive.stat_path(str(root), path)
        except NotFound:
            pass
    for path in ("/evil", "/up/etc", "/abs/tmp"):
        copy_in(root, path, ("new", "f", "x"), ("e", "l", "/etc"), ("e/through", "f", "y"))
    archive.export_rootfs(str(root)).read_all()
    assert by_path and all(p == str(root) or p.startswith("/proc/self/fd/") for p in by_path), by_path


def test_copy_out_names_entries_like_docker(root: Path) -> None:
    whole = members(archive.copy_out(str(root), "/")[0])
    assert "/" in {n if n else "/" for n in whole} or "" in whole
    assert ("/etc/shadow" in whole) and ("/evil" in whole) and whole["/evil"] == (tarfile.SYMTYPE, b"/etc")
    contents = members(archive.copy_out(str(root), "/d/.")[0])
    assert set(contents) == {".", "./sub", "./sub/f", "./sub/g", "./hard"}
    followed = members(archive.copy_out(str(root), "/dl/")[0])  # a trailing slash follows the last link
    assert set(followed) == {"dl", "dl/sub", "dl/sub/f", "dl/sub/g", "dl/hard"}
    assert followed["dl/sub/f"][0] == tarfile.LNKTYPE or followed["dl/hard"][0] == tarfile.LNKTYPE
    assert members(archive.copy_out(str(root), "/dl")[0]) == {"dl": (tarfile.SYMTYPE, b"d")}
    assert members(archive.copy_out(str(root), "/dl", follow_link=True)[0])["dl/sub/g"][1] == b"g\n"
    assert set(members(archive.copy_out(str(root), "/chain/")[0])) == {"chain", "chain/f", "chain/g"}


def test_stat_path_is_dockers_path_stat(root: Path) -> None:
    os.chmod(root / "d", 0o755)
    info = archive.stat_path(str(root), "/d")
    assert info["mode"] == 2147484141 and info["name"] == "d" and info["linkTarget"] == ""
    assert info["mtime"].endswith("Z") and "T" in info["mtime"]
    assert archive.stat_path(str(root), "/chain")["linkTarget"] == "/d/sub"
    assert archive.stat_path(str(root), "/up")["linkTarget"] == "/"
    assert archive.stat_path(str(root), "/host")["linkTarget"] == str(root.parent / "outside")
    assert archive.stat_path(str(root), "/dangling")["linkTarget"] == "/nowhere/x"
    assert archive.stat_path(str(root), "/evil")["mode"] == archive.GO_MODE_SYMLINK | 0o777
    assert archive.stat_path(str(root), "/")["name"] == "/"
    assert archive.stat_path(str(root), "/d/.")["name"] == "."
    with pytest.raises(NotFound, match="Could not find the file /nope in container c1"):
        archive.stat_path(str(root), "/nope", container="c1")
    with pytest.raises(InvalidParameter, match="not a directory"):
        archive.stat_path(str(root), "/etc/shadow/x")
    with pytest.raises(InvalidParameter, match="symbolic links"):
        archive.copy_out(str(root), "/loop/x")


def test_go_file_mode_bits() -> None:
    assert archive.go_file_mode(stat.S_IFDIR | 0o755) == 2147484141
    assert archive.go_file_mode(stat.S_IFREG | 0o4755) == archive.GO_MODE_SETUID | 0o755
    assert archive.go_file_mode(stat.S_IFDIR | 0o1777) == archive.GO_MODE_DIR | archive.GO_MODE_STICKY | 0o777
    assert archive.go_file_mode(stat.S_IFCHR | 0o666) == archive.GO_MODE_DEVICE | archive.GO_MODE_CHAR_DEVICE | 0o666
    assert archive.go_file_mode(stat.S_IFIFO | 0o600) == archive.GO_MODE_NAMED_PIPE | 0o600
    assert archive.rfc3339_nano(1_600_000_000_120_000_000) == "2020-09-13T12:26:40.12Z"
    assert archive.rfc3339_nano(1_600_000_000_000_000_000) == "2020-09-13T12:26:40Z"


def test_export_lists_the_whole_tree_relative(root: Path) -> None:
    names = set(members(archive.export_rootfs(str(root))))
    assert {"etc", "etc/shadow", "evil", "d/sub/f", "up"} <= names
    assert not any(name.startswith(("/", "./")) for name in names)


def test_an_unread_stream_releases_its_descriptors(root: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    released = []
    stream, _ = archive.copy_out(str(root), "/d")
    stream.on_close.append(lambda: released.append(True))
    del stream
    assert released == [True] and len(os.listdir("/proc/self/fd")) == before


# ---------------------------------------------------------------------- writing


@pytest.mark.parametrize("path", ["/evil", "/up/etc", "/abs/etc", "/etc/evil2"])
def test_copy_in_through_links_lands_in_the_root(root: Path, tmp_path: Path, path: str) -> None:
    name = f"moor-test-{uuid.uuid4().hex}"
    copy_in(root, path, (name, "f", "x"))
    assert (root / "etc" / name).read_text() == "x"
    assert not os.path.exists(f"/etc/{name}")
    host_untouched(tmp_path)


def test_copy_in_to_a_host_path_link_stays_in_the_root(root: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        copy_in(root, "/host", ("pwned", "f", "x"))
    copy_in(root, "/rel", ("mine", "f", "x"))
    assert (root / "outside" / "mine").exists()
    host_untouched(tmp_path)


def test_entries_cannot_climb_out(root: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="outside of"):
        copy_in(root, "/tmp", ("../../outside/pwned", "f", "x"))
    with pytest.raises(InvalidParameter, match="outside of"):
        copy_in(root, "/tmp", ("a/../../pwned", "f", "x"))
    with pytest.raises(InvalidParameter, match="invalid symlink"):
        copy_in(root, "/tmp", ("rl", "l", "../../outside"))
    with pytest.raises(InvalidParameter, match="outside of"):
        copy_in(root, "/tmp", ("h", "h", "../etc/shadow"))
    # absolute names and rooted .. are confined to the extraction directory
    copy_in(root, "/tmp", ("/abs1", "f", "1"), ("/../rooted", "f", "2"), ("/etc/x", "f", "3"))
    assert (root / "tmp" / "abs1").read_text() == "1" and (root / "tmp" / "rooted").read_text() == "2"
    assert (root / "tmp" / "etc" / "x").read_text() == "3"
    host_untouched(tmp_path)


def test_links_the_archive_plants_are_followed_inside_the_root(root: Path, tmp_path: Path) -> None:
    copy_in(root, "/tmp", ("e", "l", "/etc"), ("e/planted", "f", "y"), ("deep/er/file", "f", "z"))
    assert (root / "etc" / "planted").read_text() == "y"
    assert (root / "tmp" / "deep" / "er" / "file").read_text() == "z"
    with pytest.raises(InvalidParameter, match="no such file or directory"):  # <tmp>/outside is not in the root
        copy_in(root, "/tmp", ("l", "l", str(tmp_path / "outside")), ("l/pwned", "f", "x"))
    (root / str(tmp_path / "outside").lstrip("/")).mkdir(parents=True)
    copy_in(root, "/tmp", ("l", "l", str(tmp_path / "outside")), ("l/pwned", "f", "x"))
    assert (root / str(tmp_path / "outside").lstrip("/") / "pwned").read_text() == "x"
    host_untouched(tmp_path)


def test_hard_links_stay_inside(root: Path, tmp_path: Path) -> None:
    copy_in(root, "/tmp", ("f", "f", "data"), ("h", "h", "f"), ("/h2", "h", "/f"))
    assert os.stat(root / "tmp" / "h").st_ino == os.stat(root / "tmp" / "f").st_ino
    assert os.stat(root / "tmp" / "h2").st_ino == os.stat(root / "tmp" / "f").st_ino
    copy_in(root, "/", ("evil/hl", "h", "evil/shadow"))  # through a link: inside the root
    assert os.stat(root / "etc" / "hl").st_ino == os.stat(root / "etc" / "shadow").st_ino
    with pytest.raises(InvalidParameter):
        copy_in(root, "/tmp", ("hx", "h", "host/secret"))
    host_untouched(tmp_path)


def test_copy_in_replaces_and_merges_like_docker(root: Path) -> None:
    copy_in(root, "/tmp", ("dir", "d", None), ("dir/a", "f", "1"), ("file", "f", "old"))
    copy_in(root, "/tmp", ("dir", "d", None), ("dir/b", "f", "2"), ("file", "f", "new"))
    assert sorted(os.listdir(root / "tmp" / "dir")) == ["a", "b"]
    assert (root / "tmp" / "file").read_text() == "new"
    with pytest.raises(InvalidParameter, match='cannot overwrite directory "/tmp/dir" with non-directory'):
        copy_in(root, "/tmp", ("dir", "f", "x"), no_overwrite_dir_non_dir=True)
    with pytest.raises(InvalidParameter, match='cannot overwrite non-directory "/tmp/file" with directory'):
        copy_in(root, "/tmp", ("file", "d", None), no_overwrite_dir_non_dir=True)
    copy_in(root, "/tmp", ("dir", "f", "now a file"))
    assert (root / "tmp" / "dir").read_text() == "now a file"
    copy_in(root, "/tmp", ("lnk", "l", "file"))
    copy_in(root, "/tmp", ("lnk", "f", "replaces the link, not its target"))
    assert not os.path.islink(root / "tmp" / "lnk") and (root / "tmp" / "file").read_text() == "new"


def test_copy_in_metadata(root: Path) -> None:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("ro")
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o555, 1_500_000_000
        tar.addfile(info)
        info = tarfile.TarInfo("ro/exe")
        info.mode, info.mtime, info.size = 0o750, 1_400_000_000, 2
        tar.addfile(info, io.BytesIO(b"#!"))
    data.seek(0)
    archive.copy_in(str(root), "/tmp", data)
    assert stat.S_IMODE(os.stat(root / "tmp" / "ro").st_mode) == 0o555
    assert os.stat(root / "tmp" / "ro").st_mtime == 1_500_000_000
    assert stat.S_IMODE(os.stat(root / "tmp" / "ro" / "exe").st_mode) == 0o750
    assert os.stat(root / "tmp" / "ro" / "exe").st_mtime == 1_400_000_000
    os.chmod(root / "tmp" / "ro", 0o755)


def test_copy_in_errors(root: Path) -> None:
    with pytest.raises(InvalidParameter, match="extraction point is not a directory"):
        copy_in(root, "/etc/shadow", ("x", "f", ""))
    with pytest.raises(InvalidParameter, match="extraction point is not a directory"):
        copy_in(root, "/etc/shadow/x", ("x", "f", ""))
    with pytest.raises(NotFound, match="Could not find the file /nope in container web"):
        copy_in(root, "/nope", ("x", "f", ""), container="web")
    with pytest.raises(MoorError, match="container rootfs is marked read-only"):
        copy_in(root, "/tmp", ("x", "f", ""), read_only=True)
    with pytest.raises(InvalidParameter):
        archive.copy_in(str(root), "/tmp", io.BytesIO(b"this is not a tar archive, not at all" * 20))
    with pytest.raises(InvalidParameter, match="truncated"):
        archive.copy_in(str(root), "/tmp", io.BytesIO(tar_bytes(("big", "f", "x" * 5000))[:1500]))
    with pytest.raises(InvalidParameter, match='cannot overwrite directory "/tmp"'):
        copy_in(root, "/tmp", ("./", "f", "x"))
    archive.copy_in(str(root), "/tmp", io.BytesIO(b""))  # an empty body is a no-op, as in Docker
    assert not (root / "tmp" / "x").exists()


def test_copy_in_gzip_and_symlinked_extraction_point(root: Path) -> None:
    archive.copy_in(str(root), "/chain", io.BytesIO(tar_bytes(("zipped", "f", "z"), gz=True)))
    assert (root / "d" / "sub" / "zipped").read_text() == "z"


def test_copy_uid_gid_uses_the_containers_own_passwd(root: Path) -> None:
    copy_in(root, "/tmp", ("owned", "f", "x"), copy_uid_gid=True, user="nobody")
    if os.geteuid() == 0:
        st = os.stat(root / "tmp" / "owned")
        assert (st.st_uid, st.st_gid) == (65534, 65534)
    with pytest.raises(InvalidParameter, match="unable to find user ghost"):
        copy_in(root, "/tmp", ("x", "f", "x"), copy_uid_gid=True, user="ghost")


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_device_nodes_are_made_inside(root: Path) -> None:
    copy_in(root, "/evil", ("null", "c", None))
    node = os.lstat(root / "etc" / "null")
    assert stat.S_ISCHR(node.st_mode) and os.major(node.st_rdev) == 1 and os.minor(node.st_rdev) == 3


# ---------------------------------------------------------------------- races


def test_a_link_swapped_in_after_resolution_cannot_redirect(root: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The extraction point and the source are held as descriptors: swapping them for links does nothing."""
    real_run = archive._Extractor.run

    def swap_then_run(self: archive._Extractor, stream: object) -> None:
        os.rename(root / "tmp", root / "tmp.moved")
        os.symlink(str(tmp_path / "outside"), root / "tmp")
        real_run(self, stream)  # type: ignore[arg-type]

    monkeypatch.setattr(archive._Extractor, "run", swap_then_run)
    copy_in(root, "/tmp", ("pwned", "f", "x"), ("sub/pwned", "f", "y"))
    assert (root / "tmp.moved" / "pwned").read_text() == "x"
    host_untouched(tmp_path)
    monkeypatch.undo()

    stream, _ = archive.copy_out(str(root), "/d/sub")
    os.rename(root / "d" / "sub", root / "d" / "sub.moved")
    os.symlink(str(tmp_path / "outside"), root / "d" / "sub")
    content = members(stream)
    assert content["sub/f"][1] == b"in d/sub\n" and "sub/secret" not in content


def test_a_link_flipping_during_copies_never_escapes(root: Path, tmp_path: Path) -> None:
    """A thread flips /tmp/x between a directory and links to the host while copies run in a loop."""
    x = root / "tmp" / "x"
    x.mkdir()
    (x / "secret").write_text("the container's own\n")
    stop = threading.Event()
    targets = [str(tmp_path / "outside"), "../../../outside", "/../" + str(tmp_path / "outside")]

    def flip() -> None:
        index = 0
        while not stop.is_set():
            try:
                os.rename(x, root / "tmp" / "x.real")
                os.symlink(targets[index % len(targets)], x)
                index += 1
                os.unlink(x)
                os.rename(root / "tmp" / "x.real", x)
            except OSError:
                pass

    thread = threading.Thread(target=flip, daemon=True)
    thread.start()
    seen = set()
    try:
        for _ in range(300):
            try:
                stream, _ = archive.copy_out(str(root), "/tmp/x/secret")
                seen.add(members(stream)["secret"][1])
            except (NotFound, InvalidParameter):
                pass
            try:
                copy_in(root, "/tmp/x", ("pwned", "f", "x"))
            except (NotFound, InvalidParameter):
                pass
            try:
                copy_in(root, "/tmp", ("x/pwned2", "f", "x"))
            except (NotFound, InvalidParameter):
                pass
    finally:
        stop.set()
        thread.join()
    assert HOST_SECRET not in seen
    host_untouched(tmp_path)


# ---------------------------------------------------------------------- the host side (CLI)


def test_extract_local_follows_no_links_and_renames(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "planted").symlink_to(tmp_path / "outside")
    (tmp_path / "outside").mkdir()
    with pytest.raises(InvalidParameter, match="symbolic link"):
        archive.extract_local(str(dest), io.BytesIO(tar_bytes(("planted/x", "f", "x"))))
    with pytest.raises(InvalidParameter, match="symbolic link"):
        archive.extract_local(str(dest), io.BytesIO(tar_bytes(("l", "l", "/"), ("l/etc/x", "f", "x"))))
    assert os.listdir(tmp_path / "outside") == []
    archive.extract_local(str(dest), io.BytesIO(tar_bytes(("etc", "d", None), ("etc/passwd", "f", "p"))),
                          rename=("etc", "renamed"))
    assert (dest / "renamed" / "passwd").read_text() == "p"
    archive.extract_local(str(dest), io.BytesIO(tar_bytes(("/", "d", None), ("/bin/sh", "f", "s"))),
                          rename=("/", "rootcopy"))
    assert (dest / "rootcopy" / "bin" / "sh").read_text() == "s"


def test_tar_path_round_trip(root: Path, tmp_path: Path) -> None:
    stream = archive.tar_path(str(root / "d"), "copied")
    out = tmp_path / "out"
    out.mkdir()
    archive.extract_local(str(out), io.BytesIO(stream.read_all()))
    assert (out / "copied" / "sub" / "f").read_text() == "in d/sub\n"
    assert os.stat(out / "copied" / "hard").st_ino == os.stat(out / "copied" / "sub" / "f").st_ino


def test_docker_path_rules() -> None:
    assert archive.container_path("etc/") == "/etc/"
    assert archive.container_path(".") == "/."
    assert archive.container_path("/a/b/../c/.") == "/a/c/."
    assert archive.container_path("/../../x") == "/x"
    assert archive.split_path_dir_entry("/etc/.") == ("/etc", ".")
    assert archive.split_path_dir_entry("/") == ("/", "/")
    assert archive.split_path_dir_entry("/a/b/") == ("/a", "b")
    assert archive.rebase_name("/bin/sh", "/", "out") == "out/bin/sh"
    assert archive.rebase_name("./a", ".", "new") == "new/a"
    assert archive.rebase_name("etc/passwd", "etc", "x") == "x/passwd"
    assert archive.rebase_name("etcetera", "etc", "x") == "etcetera"


def test_cli_copy_rules() -> None:
    from moor.cli.cp import CopyError, CopyInfo, prepare_archive_copy, split_cp_arg

    assert split_cp_arg("web:/etc") == ("web", "/etc")
    assert split_cp_arg("/abs:path") == ("", "/abs:path")
    assert split_cp_arg("./file:name") == ("", "./file:name")
    assert split_cp_arg("plain") == ("", "plain")
    directory = CopyInfo("/dst", True, True)
    assert prepare_archive_copy(CopyInfo("/src/a"), directory) == ("/dst", None)
    assert prepare_archive_copy(CopyInfo("/src/a"), CopyInfo("/dst/new")) == ("/dst", "new")
    assert prepare_archive_copy(CopyInfo("/src/a", True, True), CopyInfo("/dst/new")) == ("/dst", "new")
    assert prepare_archive_copy(CopyInfo("/src/a"), CopyInfo("/dst/file", True)) == ("/dst", "file")
    with pytest.raises(CopyError, match="cannot copy directory"):
        prepare_archive_copy(CopyInfo("/src/a", True, True), CopyInfo("/dst/file", True))
    with pytest.raises(CopyError, match="no such directory"):
        prepare_archive_copy(CopyInfo("/src/a"), CopyInfo("/dst/new/"))
