"""Helpers for image tests: an in-process engine, a root filesystem walker, fixture paths."""

from __future__ import annotations

import contextlib
import os
import pathlib
import stat
import subprocess
from collections.abc import Iterator

from moor.config import parse
from moor.daemon.engine import Engine
from moor.testing.daemon import unmount_under

FIXTURES = pathlib.Path("/work/shared/fixtures/images")
if not FIXTURES.exists():
    FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "images"
REPO = pathlib.Path(__file__).resolve().parents[2]

#: Paths `docker export` shows that are the engine's own mount points, not layer content.
ENGINE_PATHS = {"/.dockerenv", "/dev/console", "/dev/pts", "/dev/shm", "/etc/hostname", "/etc/hosts",
                "/etc/resolv.conf", "/etc/mtab", "/proc", "/sys", "/dev"}


@contextlib.contextmanager
def engine_at(root: pathlib.Path) -> Iterator[Engine]:
    config = parse({"data_root": str(root / "data"), "exec_root": str(root / "exec")})
    engine = Engine(config)
    try:
        yield engine
    finally:
        engine.close()
        unmount_under(str(root))


def describe_tree(top: str) -> dict[str, tuple[str, str, str, int, str]]:
    """path -> (type, mode, owner, size, link) as expected-rootfs.tsv writes them."""
    entries = []
    for directory, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            entries.append(("/" + os.path.relpath(path, top), os.lstat(path), path))
    rows: dict[str, tuple[str, str, str, int, str]] = {}
    first_path_of_inode: dict[tuple[int, int], str] = {}
    for relative, info, path in sorted(entries, key=lambda entry: entry[0]):
        mode = f"{stat.S_IMODE(info.st_mode):04o}"
        owner = f"{info.st_uid}:{info.st_gid}"
        if stat.S_ISLNK(info.st_mode):
            rows[relative] = ("l", "0777", owner, 0, os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            rows[relative] = ("d", mode, owner, 0, "")
        elif stat.S_ISCHR(info.st_mode):
            rows[relative] = ("c", mode, owner, 0, "")
        else:
            key = (info.st_dev, info.st_ino)
            if info.st_nlink > 1 and key in first_path_of_inode:
                rows[relative] = ("h", mode, owner, 0, first_path_of_inode[key].lstrip("/"))
            else:
                first_path_of_inode.setdefault(key, relative)
                rows[relative] = ("f", mode, owner, info.st_size, "")
    return rows


def expected_tree() -> dict[str, tuple[str, str, str, int, str]]:
    rows = {}
    lines = (FIXTURES / "expected-rootfs.tsv").read_text().splitlines()[1:]
    for line in lines:
        path, kind, mode, owner, size, link = (line.split("\t") + [""])[:6]
        rows[path] = (kind, mode, owner, int(size), link)
    return rows


def busybox_rootfs_tar(path: pathlib.Path) -> pathlib.Path:
    with open(path, "wb") as out:
        subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], stdout=out, check=True)
    return path
