"""Write an overlayfs upper directory as an OCI layer tar, streamed.

Character devices 0/0 (overlay whiteouts) become empty ``.wh.<name>`` files;
a directory marked ``trusted.overlay.opaque=y`` is followed by a
``<dir>/.wh..wh..opq`` entry (as Docker's overlay2 does). Everything else keeps
its type, numeric owner, mode, modification time (whole seconds, as Docker)
and extended attributes (``trusted.overlay.*`` excepted); hard links inside
the directory stay hard links. Entries come in byte order of their names,
directories before their content, without the root; the archive ends with two
zero blocks.

The walk holds directory descriptors and opens nothing by path, so a running
container that swaps a directory for a symbolic link cannot make the export
read outside the directory.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Iterator

from moor.errors import MoorError
from moor_storage_overlay.safepath import DIR_FLAGS, proc_path

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
SKIPPED_XATTRS = ("trusted.overlay.",)
BLOCK = 512
CHUNK = 1 << 20


def is_whiteout(info: os.stat_result) -> bool:
    """Whether ``info`` describes an overlayfs whiteout (a character device 0/0)."""
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def export_directory(root: str, what: str) -> Iterator[bytes]:
    """Yield the OCI layer tar of the upper directory ``root`` chunk by chunk."""
    try:
        root_fd = os.open(root, DIR_FLAGS)
    except OSError as err:
        raise MoorError(f"cannot read {what}: {err.strerror}") from None
    try:
        yield from _Exporter(what).walk(root_fd)
    finally:
        os.close(root_fd)
    yield bytes(2 * BLOCK)


class _Exporter:
    def __init__(self, what: str) -> None:
        self.what = what
        self.seen: dict[tuple[int, int], str] = {}

    def walk(self, root_fd: int) -> Iterator[bytes]:
        stack: list[tuple[int, str, Iterator[bytes]]] = [(root_fd, "", iter(_sorted_names(root_fd)))]
        try:
            while stack:
                dir_fd, prefix, names = stack[-1]
                name = next(names, None)
                if name is None:
                    stack.pop()
                    if dir_fd != root_fd:
                        os.close(dir_fd)
                    continue
                path = prefix + os.fsdecode(name)
                try:
                    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed while we walk (a running container)
                if stat.S_ISDIR(info.st_mode):
                    try:
                        child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
                    except OSError as err:
                        if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                            continue
                        raise
                    yield from self._directory(child, path, info)
                    stack.append((child, path + "/", iter(_sorted_names(child))))
                else:
                    yield from self._entry(dir_fd, name, path, info)
        except OSError as err:
            raise MoorError(f"cannot read {self.what}: {err.strerror or err}") from None
        finally:
            for dir_fd, _prefix, _names in stack:
                if dir_fd != root_fd:
                    os.close(dir_fd)

    def _directory(self, fd: int, path: str, info: os.stat_result) -> Iterator[bytes]:
        xattrs = _xattrs(fd)
        opaque = xattrs.pop(OPAQUE_XATTR, None) == b"y"
        yield _header(path, tarfile.DIRTYPE, info, xattrs=_without_overlay(xattrs))
        if opaque:
            marker = tarfile.TarInfo(path + "/" + OPAQUE_WHITEOUT)
            _fill(marker, info)
            marker.type, marker.mode, marker.size = tarfile.REGTYPE, info.st_mode & 0o777, 0
            yield marker.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    def _entry(self, dir_fd: int, name: bytes, path: str, info: os.stat_result) -> Iterator[bytes]:
        if is_whiteout(info):
            head, _, base = path.rpartition("/")
            whiteout = tarfile.TarInfo((head + "/" if head else "") + WHITEOUT_PREFIX + base)
            _fill(whiteout, info)
            whiteout.type, whiteout.mode, whiteout.size = tarfile.REGTYPE, 0o600, 0
            yield whiteout.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            return
        if stat.S_ISSOCK(info.st_mode):
            return  # tar cannot hold sockets; Docker skips them too
        if info.st_nlink > 1:
            first = self.seen.get((info.st_dev, info.st_ino))
            if first is not None:
                yield _header(path, tarfile.LNKTYPE, info, linkname=first)
                return
            self.seen[(info.st_dev, info.st_ino)] = path
        if stat.S_ISREG(info.st_mode):
            yield from self._regular(dir_fd, name, path)
            return
        xattrs = _without_overlay(_xattrs(proc_path(dir_fd, name), follow=False))
        if stat.S_ISLNK(info.st_mode):
            yield _header(path, tarfile.SYMTYPE, info, linkname=os.fsdecode(os.readlink(name, dir_fd=dir_fd)),
                          xattrs=xattrs)
        elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            kind = tarfile.CHRTYPE if stat.S_ISCHR(info.st_mode) else tarfile.BLKTYPE
            yield _header(path, kind, info, xattrs=xattrs)
        elif stat.S_ISFIFO(info.st_mode):
            yield _header(path, tarfile.FIFOTYPE, info, xattrs=xattrs)

    def _regular(self, dir_fd: int, name: bytes, path: str) -> Iterator[bytes]:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ELOOP):
                return
            raise
        with open(fd, "rb", closefd=True) as content:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return
            yield _header(path, tarfile.REGTYPE, info, xattrs=_without_overlay(_xattrs(fd)), size=info.st_size)
            left = info.st_size
            while left:
                data = content.read(min(left, CHUNK))
                if not data:  # shrank while we read: keep the archive well formed
                    data = bytes(min(left, CHUNK))
                left -= len(data)
                yield data
            if info.st_size % BLOCK:
                yield bytes(BLOCK - info.st_size % BLOCK)


def _sorted_names(dir_fd: int) -> list[bytes]:
    return sorted(os.fsencode(name) for name in os.listdir(dir_fd))


def _xattrs(target: int | bytes, follow: bool = True) -> dict[str, bytes]:
    try:
        names = os.listxattr(target, follow_symlinks=follow)
    except OSError as err:
        if err.errno in (errno.ENOTSUP, errno.EPERM):
            return {}
        raise
    values: dict[str, bytes] = {}
    for key in sorted(names):
        try:
            values[key] = os.getxattr(target, key, follow_symlinks=follow)
        except OSError as err:
            if err.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EPERM):
                raise
    return values


def _without_overlay(xattrs: dict[str, bytes]) -> dict[str, bytes]:
    return {key: value for key, value in xattrs.items() if not key.startswith(SKIPPED_XATTRS)}


def _fill(info: tarfile.TarInfo, st: os.stat_result) -> None:
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = st.st_mtime_ns // 1_000_000_000


def _header(path: str, kind: bytes, st: os.stat_result, *, linkname: str = "",
            xattrs: dict[str, bytes] | None = None, size: int = 0) -> bytes:
    info = tarfile.TarInfo(path)
    _fill(info, st)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.linkname = linkname
    info.size = size
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    if xattrs:
        info.pax_headers = {"SCHILY.xattr." + key: value.decode("utf-8", "surrogateescape")
                            for key, value in xattrs.items()}
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
