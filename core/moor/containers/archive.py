"""Copy files out of and into a container's root filesystem as tar streams, safely (``docker cp``).

Every path is resolved inside ``root`` as if ``root`` were ``/`` (Docker's CVE-2018-15664 class of bugs
is the reason this module exists):

- The walk (:mod:`moor.containers.rootpath`) goes component by component through directory descriptors
  (``O_PATH``), opening each next component relative to the previous one with ``O_NOFOLLOW``. A symbolic
  link met on the way is read from its own descriptor and followed *inside* the root: an absolute target
  restarts at the root, ``..`` pops the chain of directory descriptors and never above its first one (the
  root). Nothing is ever resolved by the kernel from a path string, so a link the container swaps in
  between our look and our use cannot redirect a read or a write to the host.
- Files are read by reopening the very inode that was looked at (``/proc/self/fd/N`` of its ``O_PATH``
  descriptor); files are created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` relative to their parent's
  descriptor after removing what was there (``shutil.rmtree`` with ``dir_fd``, itself symlink-safe).
- Tar entry names are cleaned lexically: a name that climbs out of the extraction directory (``..``)
  is refused, absolute names are taken relative to it, hard links must name a file below it, device
  nodes are made by us with ``mknod`` inside the root. No program of the container runs on the host.

The naming rules follow Docker's daemon: a requested path is cleaned lexically first (``/a/link/..`` is
``/a``), the directory part is resolved with every link followed, the last component is not followed
(``lstat``) unless it is ``.`` or empty (``/dir/.``, ``/dir/``). Archive entries start with the base name
of the requested path (``etc/``, ``etc/passwd``); ``/`` gives ``/``-prefixed names and ``/dir/.`` gives
``./``-prefixed ones, as Docker's rebasing does.

The same machinery serves the CLI on the host side (:func:`tar_path`, :func:`extract_local`); there the
extraction follows no symbolic link at all below the destination directory.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, Protocol, cast

from moor.containers import mountroots
from moor.containers.mountroots import MountRoot
from moor.containers.rootpath import PATH_FLAGS, DirChain, components, enter, go_clean, read_link, scoped_path, walk
from moor.containers.users import resolve_user
from moor.errors import InvalidParameter, MoorError, NotFound
from moor.images.compression import open_decompressed
from moor.targuard import GuardedTarInfo, HoleBudget, copy_data, write_sparse
from moor.timefmt import rfc3339_nano

log = logging.getLogger(__name__)

CHUNK = 1 << 16
BLOCK = 512
STAT_HEADER = "X-Docker-Container-Path-Stat"
XATTR_PREFIX = "SCHILY.xattr."
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
ARCHIVED_XATTRS = ("security.capability",)  # what Docker's archiver keeps
FORBIDDEN_XATTRS = ("trusted.overlay.", "user.overlay.")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

# Go's os.FileMode bits (what Docker's X-Docker-Container-Path-Stat carries in "mode")
GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27
GO_MODE_DEVICE = 1 << 26
GO_MODE_NAMED_PIPE = 1 << 25
GO_MODE_SOCKET = 1 << 24
GO_MODE_SETUID = 1 << 23
GO_MODE_SETGID = 1 << 22
GO_MODE_CHAR_DEVICE = 1 << 21
GO_MODE_STICKY = 1 << 20


# ---------------------------------------------------------------------- path strings (Go's rules)

def go_base(path: str) -> str:
    """``filepath.Base``: the last element; ``/`` for the root, ``.`` for an empty path."""
    if not path:
        return "."
    stripped = path.rstrip("/")
    return stripped.rsplit("/", 1)[-1] if stripped else "/"


def go_dir(path: str) -> str:
    """``filepath.Dir``: everything but the last element, cleaned."""
    return go_clean(path[: path.rfind("/") + 1])


def has_trailing_separator(path: str) -> bool:
    return path.endswith("/")


def specifies_current_dir(path: str) -> bool:
    return go_base(path) == "."


def asserts_directory(path: str) -> bool:
    """Docker's ``assertsDirectory``: a trailing ``/`` or ``/.`` says the path must be a directory."""
    return has_trailing_separator(path) or specifies_current_dir(path)


def preserve_trailing(cleaned: str, original: str) -> str:
    """Docker's ``PreserveTrailingDotOrSeparator``."""
    if not specifies_current_dir(cleaned) and specifies_current_dir(original):
        if not has_trailing_separator(cleaned):
            cleaned += "/"
        cleaned += "."
    if not has_trailing_separator(cleaned) and has_trailing_separator(original):
        cleaned += "/"
    return cleaned


def split_path_dir_entry(path: str) -> tuple[str, str]:
    """Docker's ``SplitPathDirEntry``: (directory, base) keeping a trailing ``.`` as the base."""
    cleaned = go_clean(path)
    if specifies_current_dir(path):
        cleaned += "/."
    return go_dir(cleaned), go_base(cleaned)


def container_path(path: str) -> str:
    """The absolute, lexically cleaned form of ``path`` inside a container (trailing ``/`` or ``/.`` kept)."""
    return preserve_trailing(go_clean("/" + path), path)


# ---------------------------------------------------------------------- Go FileMode and the stat header

def go_file_mode(mode: int) -> int:
    """The ``os.FileMode`` Go reports for a ``st_mode`` (permission bits plus Go's type and special bits)."""
    result = mode & 0o777
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFDIR:
        result |= GO_MODE_DIR
    elif kind == stat.S_IFLNK:
        result |= GO_MODE_SYMLINK
    elif kind == stat.S_IFBLK:
        result |= GO_MODE_DEVICE
    elif kind == stat.S_IFCHR:
        result |= GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE
    elif kind == stat.S_IFIFO:
        result |= GO_MODE_NAMED_PIPE
    elif kind == stat.S_IFSOCK:
        result |= GO_MODE_SOCKET
    if mode & stat.S_ISUID:
        result |= GO_MODE_SETUID
    if mode & stat.S_ISGID:
        result |= GO_MODE_SETGID
    if mode & stat.S_ISVTX:
        result |= GO_MODE_STICKY
    return result


# ---------------------------------------------------------------------- descriptor walking

class _Target:
    """What a path names: an ``O_PATH`` descriptor, its stat, and the directory chain above it."""

    def __init__(self, chain: DirChain, fd: int, st: os.stat_result) -> None:
        self.chain, self.fd, self.st = chain, fd, st

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.chain.close()


def _locate(root: str, abs_path: str, follow_last: bool) -> _Target:
    """Find ``abs_path`` (already :func:`container_path`-cleaned) in ``root``; raise ``OSError``."""
    directory, _, base = abs_path.rpartition("/")
    chain = DirChain.open(root)
    try:
        enter(chain, components(directory))
        fd: int | None = None
        st: os.stat_result | None = None
        if base not in ("", "."):
            name, fd, st = walk(chain, [base], follow_last=follow_last)
            if name is not None and fd is None:
                raise OSError(errno.ENOENT, "no such file or directory", abs_path)
        if fd is None:  # the path is a directory the chain now stands in
            fd = os.open(f"/proc/self/fd/{chain.current}", os.O_PATH | os.O_CLOEXEC)
            st = os.fstat(fd)
        assert st is not None
        return _Target(chain, fd, st)
    except BaseException:
        chain.close()
        raise


def _translate(error: OSError, path: str, container: str) -> MoorError:
    if error.errno == errno.ENOENT:
        return NotFound(f"Could not find the file {path} in container {container}")
    if error.errno == errno.ENOTDIR:
        return InvalidParameter(f"lstat {container_path(path)}: not a directory")
    if error.errno == errno.ELOOP:
        return InvalidParameter(f"{path}: too many levels of symbolic links")
    if error.errno == errno.ENAMETOOLONG:  # a name no file system holds: the client's mistake, not ours
        return InvalidParameter(f"{path}: file name too long")
    return MoorError(f"{path}: {(error.strerror or str(error)).lower()}")


# ---------------------------------------------------------------------- stat

def _stat_dict(name: str, st: os.stat_result, link_target: str) -> dict[str, Any]:
    return {"name": name, "size": st.st_size, "mode": go_file_mode(st.st_mode),
            "mtime": rfc3339_nano(st.st_mtime_ns), "linkTarget": link_target}


def stat_path(root: str, path: str, *, container: str = "", mounts: Sequence[MountRoot] = ()) -> dict[str, Any]:
    """Docker's ``ContainerPathStat`` of ``path`` (last component not followed) inside ``root``.

    ``linkTarget`` is the fully resolved path inside the root when ``path`` is a symbolic link.
    A path below one of ``mounts`` is looked up in that mount's source (:mod:`moor.containers.mountroots`).
    Raises :class:`NotFound` (``Could not find the file {path} in container {container}``).
    """
    target, info = _locate_and_stat(root, path, False, container, mounts)
    target.close()
    return info


def _locate_and_stat(root: str, path: str, follow_last: bool, container: str,
                     mounts: Sequence[MountRoot]) -> tuple[_Target, dict[str, Any]]:
    """The open target of ``path`` (in its mount's source when below one) and Docker's stat of it.

    The caller closes the target; on an error it is closed here and Docker's error raised.
    """
    abs_path = container_path(path)
    walk_root, inner, mount = mountroots.split(root, abs_path, mounts)
    try:
        target = _locate(walk_root, inner, follow_last=follow_last)
    except OSError as err:
        raise _translate(err, path, container) from None
    try:
        link_target = ""
        if stat.S_ISLNK(target.st.st_mode):
            link_target = mountroots.display(mount, scoped_path(walk_root, inner))
        return target, _stat_dict(go_base(abs_path), target.st, link_target)
    except OSError as err:
        target.close()
        raise _translate(err, path, container) from None
    except BaseException:
        target.close()
        raise


# ---------------------------------------------------------------------- writing tar streams

def _join(prefix: str, name: str) -> str:
    return name if not prefix else prefix.rstrip("/") + "/" + name


class TarStream:
    """An iterable of tar bytes over an open tree; closing it (or exhausting it) releases the descriptors.

    ``on_close`` callbacks run once, also when the stream is dropped without being read.
    """

    def __init__(self, produce: Callable[[], Iterator[bytes]], resources: list[Any]) -> None:
        self._produce = produce
        self._resources = resources
        self._closed = False
        self.on_close: list[Callable[[], None]] = []

    def __iter__(self) -> Iterator[bytes]:
        try:
            buffer = bytearray()
            for piece in self._produce():
                buffer += piece
                if len(buffer) >= CHUNK:
                    yield bytes(buffer)
                    buffer.clear()
            buffer += bytes(2 * BLOCK)  # end of archive
            yield bytes(buffer)
        finally:
            self.close()

    def read_all(self) -> bytes:
        return b"".join(self)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for resource in self._resources:
            resource.close()
        for callback in self.on_close:
            try:
                callback()
            except Exception:  # a release hook failing must not hide the stream's own outcome
                log.exception("releasing a tar stream failed")

    def __del__(self) -> None:
        self.close()


class _TarWriter:
    """Turns open ``O_PATH`` descriptors into tar entries (PAX, Docker's choices of what to keep)."""

    def __init__(self) -> None:
        self._links: dict[tuple[int, int], str] = {}

    def tree(self, fd: int, st: os.stat_result, name: str, include_top: bool = True,
             mounts: dict[tuple[str, ...], MountRoot] | None = None) -> Iterator[bytes]:
        """The entry ``name`` for ``fd`` and, for a directory, everything below it, depth first, sorted.

        ``mounts`` (keyed by components relative to ``fd``) replace what the tree has at their places
        with their host sources, as they are mounted over it in the container.
        """
        if include_top:
            yield from self.entry(fd, st, name)
        if not stat.S_ISDIR(st.st_mode):
            return
        mounts = mounts or {}
        stack: list[tuple[int, Iterator[str], str, tuple[str, ...]]] = []
        try:
            top = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            stack.append((top, _listing(top, (), mounts), name, ()))
            while stack:
                dir_fd, names, prefix, rel = stack[-1]
                child = next(names, None)
                if child is None:
                    os.close(dir_fd)
                    stack.pop()
                    continue
                child_rel = (*rel, child)
                try:
                    if child_rel in mounts:  # the host source an administrator (or a volume) gave
                        child_fd = os.open(mounts[child_rel].source, os.O_PATH | os.O_CLOEXEC)
                    else:
                        child_fd = os.open(child, PATH_FLAGS, dir_fd=dir_fd)
                except FileNotFoundError:  # removed while we walked
                    continue
                try:
                    child_st = os.fstat(child_fd)
                    arcname = _join(prefix, child)
                    yield from self.entry(child_fd, child_st, arcname)
                    if stat.S_ISDIR(child_st.st_mode):
                        sub = os.open(f"/proc/self/fd/{child_fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                        stack.append((sub, _listing(sub, child_rel, mounts), arcname, child_rel))
                finally:
                    os.close(child_fd)
        finally:
            for dir_fd, _, _, _ in stack:
                os.close(dir_fd)

    def entry(self, fd: int, st: os.stat_result, name: str) -> Iterator[bytes]:
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.mtime = st.st_mtime_ns // 1_000_000_000
        mode = st.st_mode
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1:
                if key in self._links:
                    info.type, info.linkname = tarfile.LNKTYPE, self._links[key]
                    yield _header(info)
                    return
                self._links[key] = name
            yield from self._file(fd, info, st.st_size)
            return
        if stat.S_ISDIR(mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(mode):
            info.type, info.linkname = tarfile.SYMTYPE, read_link(fd)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
        else:
            log.debug("archive: skipping %r since it is a socket", name)
            return
        yield _header(info)

    def _file(self, fd: int, info: tarfile.TarInfo, size: int) -> Iterator[bytes]:
        info.type, info.size = tarfile.REGTYPE, size
        data_fd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            headers = dict(info.pax_headers)
            for attribute in ARCHIVED_XATTRS:
                try:
                    value = os.getxattr(data_fd, attribute)
                except OSError:
                    continue
                headers[XATTR_PREFIX + attribute] = value.decode("utf-8", "surrogateescape")
            info.pax_headers = headers
            yield _header(info)
            left = size
            while left > 0:
                data = os.read(data_fd, min(CHUNK, left))
                if not data:  # the file shrank while we read it: keep the promised size
                    data = bytes(min(CHUNK, left))
                left -= len(data)
                yield data
            if size % BLOCK:
                yield bytes(BLOCK - size % BLOCK)
        finally:
            os.close(data_fd)


def _listing(dir_fd: int, rel: tuple[str, ...], mounts: dict[tuple[str, ...], MountRoot]) -> Iterator[str]:
    """The sorted names in a directory, with the mount points below it that its layer does not have yet."""
    names = set(os.listdir(dir_fd))
    names.update(key[-1] for key in mounts if len(key) == len(rel) + 1 and key[:-1] == rel)
    return iter(sorted(names))


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def copy_out(root: str, path: str, follow_link: bool = False, *, container: str = "",
             mounts: Sequence[MountRoot] = ()) -> tuple[TarStream, dict[str, Any]]:
    """A tar stream of ``path`` inside ``root`` and Docker's stat of it.

    The last component is archived as it is (a link stays a link) unless ``follow_link``; the stream's
    entries start with the base name of ``path`` as Docker names them. The path is looked up now
    (errors are raised here, :class:`NotFound` for a missing path); the tree is read while the stream
    is iterated. Close the stream (or exhaust it) to release its descriptors. A path below one of
    ``mounts`` is read from that mount's source, and mounts below the archived directory are archived
    at their destinations (:mod:`moor.containers.mountroots`).
    """
    target, info = _locate_and_stat(root, path, follow_link, container, mounts)
    abs_path = container_path(path)
    name = go_base(abs_path)  # Docker's rebasing: the requested base name first, "/" for the root
    inside = mountroots.below(abs_path, mounts) if stat.S_ISDIR(target.st.st_mode) else {}
    writer = _TarWriter()
    return TarStream(lambda: writer.tree(target.fd, target.st, name, mounts=inside), [target]), info


def export_rootfs(root: str) -> TarStream:
    """The whole tree below ``root`` as Docker's ``export`` writes it (``bin/``, ``bin/sh``, ...)."""
    target = _locate(root, "/", follow_last=False)
    writer = _TarWriter()
    return TarStream(lambda: writer.tree(target.fd, target.st, "", include_top=False), [target])


def tar_path(path: str, arcname: str) -> TarStream:
    """A tar stream of the host path ``path`` (last component not followed) with ``arcname`` first.

    For the CLI: directories above ``path`` are the caller's business (they are resolved normally).
    """
    parent, base = split_path_dir_entry(path)
    chain = DirChain.open(parent)
    try:
        if base in (".", "/"):
            fd = os.open(f"/proc/self/fd/{chain.current}", os.O_PATH | os.O_CLOEXEC)
        else:
            fd = os.open(base, PATH_FLAGS, dir_fd=chain.current)
        target = _Target(chain, fd, os.fstat(fd))
    except BaseException:
        chain.close()
        raise
    writer = _TarWriter()
    return TarStream(lambda: writer.tree(target.fd, target.st, arcname), [target])


# ---------------------------------------------------------------------- extracting

def rebase_name(name: str, old: str, new: str) -> str:
    """Docker's archive rebasing of one entry name: the leading ``old`` becomes ``new``."""
    if old == "/":
        old = ""
    if not old:
        return new + name if name.startswith("/") else f"{new}/{name}"
    if name == old or name.startswith(old + "/"):
        return new + name[len(old):]
    return name


def _entry_parts(name: str, where: str) -> list[str]:
    """Clean components of a tar entry name, relative to the extraction directory.

    ``..`` that would climb above it is refused; a rooted name (``/x``) is taken relative to it, and
    ``..`` at its top vanishes there, as ``filepath.Clean`` does for Docker.
    """
    rooted = name.startswith("/")
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            elif not rooted:
                raise InvalidParameter(f"invalid tar entry {name!r}: it points outside of {where!r}")
            continue
        parts.append(part)
    return parts


def link_stays_inside(directory: list[str], target: str) -> bool:
    """Docker's check of a relative symlink in an archive: joined to its directory, it stays inside."""
    if target.startswith("/"):
        return True  # Docker joins it below the extraction directory; we resolve it inside the root
    depth = len(directory)
    for part in target.split("/"):
        if part in ("", "."):
            continue
        depth += -1 if part == ".." else 1
        if depth < 0:
            return False
    return True


def _times(member: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in nanoseconds; the access time is never before the modification time."""
    mtime = int(float(member.pax_headers.get("mtime", member.mtime)) * 1_000_000_000)
    try:
        atime = int(float(member.pax_headers["atime"]) * 1_000_000_000)
    except (KeyError, ValueError):
        atime = mtime
    return max(atime, mtime), mtime


def _xattrs(member: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    return [(key[len(XATTR_PREFIX):], value.encode("utf-8", "surrogateescape"))
            for key, value in member.pax_headers.items()
            if key.startswith(XATTR_PREFIX) and not key[len(XATTR_PREFIX):].startswith(FORBIDDEN_XATTRS)]


class FileSink(Protocol):
    """What sees a regular file's data as it is extracted (see :data:`FileHook`)."""

    def update(self, data: bytes) -> None: ...

    def finish(self, st: os.stat_result) -> None:
        """The file is written (data, mode, times): its ``fstat``."""


#: called for each regular file about to be extracted, with its clean components and its entry; a sink for its
#: data, or None
FileHook = Callable[[list[str], tarfile.TarInfo], "FileSink | None"]


class _Tee:
    """A member's data as read, shown to a sink on the way."""

    def __init__(self, source: IO[bytes], sink: FileSink) -> None:
        self._source, self._sink = source, sink

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._sink.update(data)
        return data


def _read_up_to(stream: IO[bytes], size: int) -> bytes:
    """``size`` bytes of ``stream`` (fewer only at its end), over short reads."""
    parts, left = [], size
    while left > 0:
        data = stream.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


class _PeekedStream:
    """A stream with its first bytes read ahead (to tell an empty body from an archive)."""

    def __init__(self, stream: IO[bytes], head: bytes) -> None:
        self._stream, self._head = stream, head

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._stream.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._stream.read(size)


class _Extractor:
    """Lays a tar stream out below the directory ``base.current``; see the module docstring."""

    def __init__(self, base: DirChain, where: str, follow: bool, no_overwrite_dir_non_dir: bool,
                 preserve_owner: bool, owner: tuple[int, int] | None,
                 rename: tuple[str, str] | None = None, on_file: FileHook | None = None) -> None:
        self.base = base
        self.on_file = on_file
        self.where = go_clean(where)
        self.follow = follow
        self.no_overwrite_dir_non_dir = no_overwrite_dir_non_dir
        self.preserve_owner = preserve_owner
        self.owner = owner
        self.rename = rename
        self.privileged = os.geteuid() == 0
        self._dirs: list[tuple[list[str], int, tuple[int, int]]] = []
        self._holes = HoleBudget()
        # the directory the last entry went into, kept open for the next entries there (only when no link is
        # followed: then what a path names depends on its own components alone)
        self._parent: tuple[tuple[str, ...], DirChain] | None = None

    def run(self, stream: IO[bytes]) -> None:
        head = _read_up_to(stream, BLOCK)
        if not head:  # an empty body extracts nothing, as Docker's Untar
            return
        try:
            # compressed bodies go through the image code's decoders: its bomb guard, its truncation errors
            plain = open_decompressed(cast(IO[bytes], _PeekedStream(stream, head)), "the archive")
            archive = tarfile.open(fileobj=plain, mode="r|",
                                   encoding="utf-8", errors="surrogateescape", tarinfo=GuardedTarInfo)
        except (tarfile.TarError, EOFError, OSError) as err:
            raise InvalidParameter(f"the archive is not a valid tar stream: {err}") from None
        try:
            with archive:
                for member in archive:
                    self._member(archive, member)
        except (tarfile.TarError, EOFError, ValueError) as err:
            raise InvalidParameter(f"the archive is truncated or corrupt: {err}") from None
        finally:
            self._forget_parent()
            self._finish_dirs()

    def _forget_parent(self) -> None:
        if self._parent is not None:
            self._parent[1].close()
            self._parent = None

    def _parent_chain(self, parts: list[str]) -> tuple[DirChain, bool]:
        """The chain into the directory of the entry ``parts`` (made when missing) and whether the caller
        closes it."""
        directory = tuple(parts[:-1])
        if self._parent is not None:
            kept, chain = self._parent
            if kept == directory:
                return chain, False
            if kept[:len(parts)] == tuple(parts):  # the entry may replace that directory or one above it
                self._forget_parent()
        chain = self.base.copy()
        try:
            enter(chain, parts[:-1], create=True, follow=self.follow)
        except BaseException:
            chain.close()
            raise
        if self.follow:
            return chain, True
        self._forget_parent()
        self._parent = (directory, chain)
        return chain, False

    def _shown(self, parts: list[str]) -> str:
        return posixpath.join(self.where, *parts)

    def _name(self, name: str) -> str:
        return rebase_name(name, *self.rename) if self.rename else name

    def _member(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _entry_parts(self._name(member.name), self.where)
        if not parts:
            if member.isdir():
                return  # the extraction directory itself keeps its own metadata
            raise InvalidParameter(f'cannot overwrite directory "{self.where}" with non-directory "{self.where}"')
        owned = False
        try:
            chain, owned = self._parent_chain(parts)
            try:
                self._place(archive, member, chain, parts)
            finally:
                if owned:
                    chain.close()
        except OSError as err:
            self._forget_parent()
            raise self._error(member, err) from None

    def _error(self, member: tarfile.TarInfo, err: OSError) -> MoorError:
        message = f"extracting {member.name!r}: {(err.strerror or str(err)).lower()}"
        if err.errno == errno.ELOOP and not self.follow:
            message = f"extracting {member.name!r}: refusing to extract through a symbolic link"
        if err.errno in (errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT):
            return MoorError(message)
        return InvalidParameter(message)

    def _place(self, archive: tarfile.TarFile, member: tarfile.TarInfo, chain: DirChain, parts: list[str]) -> None:
        parent, base = chain.current, parts[-1]
        created: int | None = None  # a regular file is first made as new: the common case, one call
        existing: os.stat_result | None = None
        if member.isreg():
            with contextlib.suppress(FileExistsError):
                created = os.open(base, _NEW_FILE, 0o600, dir_fd=parent)
        if created is None:
            try:
                existing = os.stat(base, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                existing = None
        if existing is not None:
            is_dir = stat.S_ISDIR(existing.st_mode)
            shown = self._shown(parts)
            if self.no_overwrite_dir_non_dir and is_dir and not member.isdir():
                raise InvalidParameter(f'cannot overwrite directory "{shown}" with non-directory "{self.where}"')
            if self.no_overwrite_dir_non_dir and not is_dir and member.isdir():
                raise InvalidParameter(f'cannot overwrite non-directory "{shown}" with directory "{self.where}"')
            if not (is_dir and member.isdir()):
                if is_dir:
                    shutil.rmtree(base, dir_fd=parent)
                else:
                    os.unlink(base, dir_fd=parent)
        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(base, 0o700, dir_fd=parent)
            fd = os.open(base, _DIR_FLAGS, dir_fd=parent)
            try:
                self._chown_fd(fd, member)
                for key, value in _xattrs(member):
                    self._setxattr(fd, key, value)
            finally:
                os.close(fd)
            self._dirs.append((parts, member.mode & 0o7777, _times(member)))
        elif member.isreg():
            fd = created if created is not None else os.open(base, _NEW_FILE, 0o600, dir_fd=parent)
            try:
                if member.sparse is not None:  # holes stay holes, within the archive's hole budget
                    write_sparse(archive, member, fd, self._holes)
                    sink = None
                else:
                    source = archive.extractfile(member)
                    assert source is not None
                    sink = self.on_file(parts, member) if self.on_file is not None else None
                    copy_data(source if sink is None else cast(IO[bytes], _Tee(source, sink)), fd, member.size)
                self._chown_fd(fd, member)
                os.fchmod(fd, member.mode & 0o7777)
                for key, value in _xattrs(member):
                    self._setxattr(fd, key, value)
                atime, mtime = _times(member)
                os.utime(fd, ns=(atime, mtime))
                if sink is not None:
                    sink.finish(os.fstat(fd))
            finally:
                os.close(fd)
        elif member.issym():
            if not link_stays_inside(parts[:-1], member.linkname):
                raise InvalidParameter(f'invalid symlink "{self._shown(parts)}" -> "{member.linkname}"')
            os.symlink(member.linkname, base, dir_fd=parent)
            self._chown_at(parent, base, member)
            os.utime(base, ns=_times(member), dir_fd=parent, follow_symlinks=False)
        elif member.islnk():
            self._hardlink(member, parent, base)
        elif member.ischr() or member.isblk() or member.isfifo():
            if member.isfifo():
                os.mkfifo(base, 0o600, dir_fd=parent)
            else:
                kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
                os.mknod(base, 0o600 | kind, os.makedev(member.devmajor, member.devminor), dir_fd=parent)
            self._chown_at(parent, base, member)
            node = os.open(base, PATH_FLAGS, dir_fd=parent)
            try:
                if not stat.S_ISLNK(os.fstat(node).st_mode):
                    os.chmod(f"/proc/self/fd/{node}", member.mode & 0o7777)
            finally:
                os.close(node)
            os.utime(base, ns=_times(member), dir_fd=parent, follow_symlinks=False)
        else:
            raise InvalidParameter(f"tar entry {member.name!r} has an unsupported type {member.type!r}")

    def _hardlink(self, member: tarfile.TarInfo, parent: int, base: str) -> None:
        target = _entry_parts(self._name(member.linkname), self.where)
        if not target:
            raise InvalidParameter(f"invalid hard link {member.name!r} -> {member.linkname!r}")
        chain = self.base.copy()
        try:
            enter(chain, target[:-1], follow=self.follow)
            os.link(target[-1], base, src_dir_fd=chain.current, dst_dir_fd=parent, follow_symlinks=False)
        finally:
            chain.close()

    def _ids(self, member: tarfile.TarInfo) -> tuple[int, int] | None:
        if self.owner is not None:
            return self.owner
        return (member.uid, member.gid) if self.preserve_owner else None

    def _chown_fd(self, fd: int, member: tarfile.TarInfo) -> None:
        ids = self._ids(member)
        if ids is None:
            return
        try:
            os.fchown(fd, *ids)
        except OSError as err:
            self._chown_failed(err)

    def _chown_at(self, parent: int, base: str, member: tarfile.TarInfo) -> None:
        ids = self._ids(member)
        if ids is None:
            return
        try:
            os.chown(base, *ids, dir_fd=parent, follow_symlinks=False)
        except OSError as err:
            self._chown_failed(err)

    def _chown_failed(self, err: OSError) -> None:
        """Without privileges (the CLI as a user), owners that cannot be set are left as they are."""
        if self.privileged or err.errno not in (errno.EPERM, errno.EINVAL):
            raise err

    def _setxattr(self, fd: int, key: str, value: bytes) -> None:
        try:
            os.setxattr(fd, key, value)
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EACCES):
                raise
            log.debug("extended attribute %s not kept: %s", key, err.strerror)

    def _finish_dirs(self) -> None:
        """Directory modes and times last: creating their content changed the times (and 0555 blocks it)."""
        for parts, mode, times in reversed(self._dirs):
            chain = self.base.copy()
            try:
                enter(chain, parts[:-1], follow=self.follow)
                fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=chain.current)
            except OSError:
                chain.close()
                continue
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=times)
            finally:
                os.close(fd)
                chain.close()


def copy_in(root: str, path: str, stream: IO[bytes], no_overwrite_dir_non_dir: bool = False,
            copy_uid_gid: bool = False, *, user: str = "", read_only: bool = False, container: str = "",
            mounts: Sequence[MountRoot] = ()) -> None:
    """Extract the tar ``stream`` into the directory ``path`` of ``root`` (Docker's ``PUT .../archive``).

    ``path`` is resolved with every link followed inside the root (the last one too, so a link to a
    directory works). Entries keep their numeric owner from the archive; with ``copy_uid_gid`` and a
    container ``user``, everything is owned by that user as resolved from the container's own
    ``/etc/passwd`` and ``/etc/group``. Raises :class:`NotFound` for a missing path,
    :class:`InvalidParameter` (``extraction point is not a directory``) for a non-directory,
    :class:`MoorError` (500, as Docker 20.10) when ``read_only``, and :class:`InvalidParameter` for a
    malformed archive or an entry that would leave the extraction directory. A path below one of
    ``mounts`` is extracted into that mount's source (:class:`MoorError` when it is read-only;
    ``read_only``, the root filesystem's flag, does not apply there).
    """
    abs_path = container_path(path)
    walk_root, inner, mount = mountroots.split(root, abs_path, mounts)
    try:
        chain = DirChain.open(walk_root)
    except OSError as err:
        raise _translate(err, path, container) from None
    try:
        try:
            name, fd, st = walk(chain, components(inner), follow_last=True)
            if name is not None:
                if fd is None:
                    raise OSError(errno.ENOENT, "no such file or directory", path)
                assert st is not None
                if not stat.S_ISDIR(st.st_mode):
                    os.close(fd)
                    raise InvalidParameter("extraction point is not a directory")
                chain.push(fd)
        except OSError as err:
            if err.errno == errno.ENOTDIR:
                raise InvalidParameter("extraction point is not a directory") from None
            raise _translate(err, path, container) from None
        if mount is not None and not mount.rw:
            raise MoorError("mounted volume is marked read-only")
        if read_only and mount is None:
            raise MoorError("container rootfs is marked read-only")
        owner = None
        if copy_uid_gid and user:
            resolved = resolve_user(root, user)
            owner = (resolved.uid, resolved.gid)
        _Extractor(chain, abs_path, follow=True, no_overwrite_dir_non_dir=no_overwrite_dir_non_dir,
                   preserve_owner=True, owner=owner).run(stream)
    finally:
        chain.close()


def extract_local(directory: str, stream: IO[bytes], rename: tuple[str, str] | None = None,
                  preserve_owner: bool = False, on_file: FileHook | None = None) -> None:
    """Extract ``stream`` into the host directory ``directory`` (the CLI's side of ``cp``).

    Nothing lands outside ``directory``, and no symbolic link below it is ever followed (an entry
    whose parent is a link is refused). ``rename`` rebases entry names (Docker's ``RebaseArchiveEntries``);
    existing directories are never replaced by non-directories or the other way round. ``on_file`` sees
    each regular file's data as it is written (the build context's checksums).
    """
    chain = DirChain([os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)])
    try:
        _Extractor(chain, directory, follow=False, no_overwrite_dir_non_dir=True,
                   preserve_owner=preserve_owner, owner=None, rename=rename, on_file=on_file).run(stream)
    finally:
        chain.close()
