"""Extract an OCI layer tar into a layer's ``diff`` directory, safely, recording its tar-split.

OCI whiteouts become overlayfs ones (``.wh.<name>`` -> character device 0/0,
``.wh..wh..opq`` -> ``trusted.overlay.opaque=y`` on the directory). Entries
keep their type, numeric owner, mode bits (setuid, setgid, sticky included),
times, hard links and ``SCHILY.xattr.*`` extended attributes.

Tar headers are read through :mod:`moor.targuard` (bounded size and parsing
cost); sparse files keep their holes, within the archive's hole budget.

Safety: every directory on an entry's way is opened with ``O_NOFOLLOW``
relative to its parent (never by path), files are created with
``O_EXCL | O_NOFOLLOW`` after removing what was there, so nothing is ever
written through a symbolic link. Names that climb out (``..``), paths through
a link the archive planted, hard links leaving the layer, ``trusted.overlay.*``
attributes and malformed or truncated archives raise
:class:`moor.errors.InvalidParameter` naming the entry. The caller removes the
half-made layer.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import tarfile
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import IO, Any, TypeVar

from moor.errors import InvalidParameter, MoorError
from moor.targuard import HoleBudget, copy_data, open_stream, write_sparse
from moor_storage_overlay.safepath import (
    DIR_FLAGS,
    NotInTree,
    entry_parts,
    open_dir,
    proc_path,
)
from moor_storage_overlay.tarsplit import DATA_DIR, RecordingReader, TarSplitWriter

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = b".wh."
WHITEOUT_META_PREFIX = b".wh..wh."
OPAQUE_WHITEOUT = b".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
XATTR_PREFIX = "SCHILY.xattr."
FORBIDDEN_XATTRS = ("trusted.overlay.", "user.overlay.")
COPY_CHUNK = 1 << 20
BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
#: A regular file is made new, never opened through what is there (a link the archive planted).
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_T = TypeVar("_T")

# errno values that mean "this archive cannot be laid out", not "the host failed"
ARCHIVE_ERRNOS = {errno.ENAMETOOLONG, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ELOOP,
                  errno.EINVAL, errno.ENOTEMPTY, errno.ENOENT, errno.EMLINK, errno.EPERM,
                  errno.ENOTSUP, errno.ERANGE, errno.E2BIG, errno.EOVERFLOW, errno.EFBIG}


class LayerExtractor:
    """Applies one tar stream to the empty ``<layer_dir>/diff`` and writes ``<layer_dir>/tar-split.gz``."""

    def __init__(self, layer_dir: str, tarsplit: TarSplitWriter) -> None:
        self.layer_dir = layer_dir
        self.tarsplit = tarsplit
        self.root_fd = os.open(os.path.join(layer_dir, "diff"), DIR_FLAGS)
        self._live: dict[bytes, int] = {}  # path in diff -> tar-split record holding its content
        self._dir_times: dict[bytes, tuple[int, int]] = {}
        self._cached: tuple[tuple[bytes, ...], int] | None = None
        self._data_fd: int | None = None
        self._holes = HoleBudget()
        self._content_bytes = 0  # st_size of the regular files made (each a new inode; hard links add none)
        self._replaced = False  # an entry replaced something: only a walk of the tree knows the usage then

    @property
    def usage(self) -> int | None:
        """The bytes the layer's regular files hold, each inode once (as :func:`disk.usage` counts them);
        None when an entry replaced another (the tree has to be walked then)."""
        return None if self._replaced else self._content_bytes

    def close(self) -> None:
        self._forget_cached_dir()
        for fd in (self.root_fd, self._data_fd):
            if fd is not None:
                os.close(fd)
        self._data_fd = None

    # ------------------------------------------------------------------ the stream

    def run(self, source: IO[bytes]) -> None:
        """Apply the whole tar read from ``source``."""
        recorder = RecordingReader(source)
        try:
            archive: Any = open_stream(recorder, "r|")  # type: ignore[arg-type]
        except tarfile.TarError as err:
            if recorder.position == 0:  # an empty stream is an empty layer, as for Docker
                return
            raise InvalidParameter(f"invalid layer tar: {err}") from None
        cursor, last = 0, None
        while True:
            try:
                member = archive.next()
            except (tarfile.TarError, ValueError, EOFError) as err:
                raise InvalidParameter(f"invalid layer tar after entry {last!r}: {err}") from None
            archive.members.clear()  # stream mode: keep memory bounded
            if member is None:
                break
            last = member.name
            self.tarsplit.raw(recorder.take(cursor, member.offset_data))
            cursor = member.offset_data
            try:
                cursor = self._apply(archive, recorder, member, cursor)
            except (tarfile.TarError, EOFError) as err:
                raise InvalidParameter(f"truncated or invalid layer tar in entry {member.name!r}: {err}") from None
            except (ValueError, OverflowError) as err:  # NUL bytes, ids or times out of range
                raise InvalidParameter(f"tar entry {member.name!r} has an invalid value: {err}") from None
            except OSError as err:
                kind = InvalidParameter if err.errno in ARCHIVE_ERRNOS else MoorError
                raise kind(f"cannot apply tar entry {member.name!r}: {err.strerror or err}") from None
        self._check_end(recorder, archive.offset, last)
        for chunk in recorder.drain(cursor):
            self.tarsplit.raw(chunk)
        self._set_dir_times()

    def _check_end(self, recorder: RecordingReader, end: int, last: str | None) -> None:
        """The archive must end at a header boundary: end of stream or zero blocks."""
        recorder.fill(end + 2 * BLOCK)
        after = f" after entry {last!r}" if last is not None else ""
        for block_start in (end, end + BLOCK):
            block = recorder.peek(block_start, block_start + BLOCK)
            if not block:
                return
            if len(block) < BLOCK:
                raise InvalidParameter(f"truncated layer tar: incomplete block at offset {block_start}{after}")
            if block != ZERO_BLOCK:
                raise InvalidParameter(f"invalid layer tar: bad header at offset {block_start}{after}")

    # ------------------------------------------------------------------ one entry

    def _apply(self, archive: tarfile.TarFile, recorder: RecordingReader, member: tarfile.TarInfo,
               cursor: int) -> int:
        """Apply ``member``; return the stream offset up to which the tar-split is written."""
        name = member.name
        parts = entry_parts(name)
        self._check_xattrs(member)
        if not parts:
            if not member.isdir():
                raise InvalidParameter(f"tar entry {name!r} names the layer root but is not a directory")
            self._set_metadata(self.root_fd, None, member)
            self._dir_times[b""] = _times(member)
            return cursor
        base = parts[-1]
        if parts[0].startswith(WHITEOUT_META_PREFIX) and parts != [OPAQUE_WHITEOUT]:
            return cursor  # AUFS bookkeeping at the root (.wh..wh.plnk/...): skipped, as Docker does
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parts, member)
            return cursor
        parent = self._parent_dir(parts, name)
        if member.isreg() and member.sparse is None:
            fd = self._replacing(parent, parts, lambda: os.open(base, NEW_FILE_FLAGS, 0o600, dir_fd=parent))
            try:
                if member.size:
                    relative = b"/".join(parts)
                    self._live[relative] = self.tarsplit.file(relative, member.size)
                    cursor = member.offset_data + member.size
                    recorder.discard(cursor)
                    # straight from the archive's stream (no file object per entry), which is at the data
                    stream: Any = archive.fileobj
                    if stream.tell() != member.offset_data:
                        raise InvalidParameter(f"invalid layer tar: entry {name!r} is not where its header says")
                    copy_data(stream, fd, member.size, COPY_CHUNK)
                    self._content_bytes += member.size
                self._set_metadata(fd, None, member)
            finally:
                os.close(fd)
        elif member.isreg():  # sparse: contents stay in the tar-split, holes stay holes (bounded by the budget)
            fd = self._replacing(parent, parts, lambda: os.open(base, NEW_FILE_FLAGS, 0o600, dir_fd=parent))
            try:
                write_sparse(archive, member, fd, self._holes)
                self._content_bytes += member.size
                self._set_metadata(fd, None, member)
            finally:
                os.close(fd)
        elif member.isdir():
            self._directory(parent, parts, member)
        elif member.issym():
            self._replacing(parent, parts, lambda: os.symlink(member.linkname, base, dir_fd=parent))
            self._set_metadata(None, (parent, base), member)
        elif member.islnk():
            self._hardlink(parent, parts, member)
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
            device = os.makedev(member.devmajor, member.devminor) if not member.isfifo() else 0
            self._replacing(parent, parts, lambda: os.mknod(base, kind | 0o600, device, dir_fd=parent))
            self._set_metadata(None, (parent, base), member)
        else:
            raise InvalidParameter(f"tar entry {name!r} has the unsupported type {member.type!r}")
        return cursor

    def _parent_dir(self, parts: list[bytes], name: str) -> int:
        """The descriptor of the entry's parent directory, made if missing; cached, not to be closed."""
        key = tuple(parts[:-1])
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        fd = open_dir(self.root_fd, parts[:-1], create=True, entry=name)
        self._forget_cached_dir()
        self._cached = (key, fd)
        return fd

    def _forget_cached_dir(self) -> None:
        if self._cached is not None:
            os.close(self._cached[1])
            self._cached = None

    def _directory(self, parent: int, parts: list[bytes], member: tarfile.TarInfo) -> None:
        base = parts[-1]
        try:
            os.mkdir(base, 0o700, dir_fd=parent)
        except FileExistsError:
            if not stat.S_ISDIR(os.stat(base, dir_fd=parent, follow_symlinks=False).st_mode):
                self._remove(parent, parts)
                os.mkdir(base, 0o700, dir_fd=parent)
        fd = os.open(base, DIR_FLAGS, dir_fd=parent)
        try:
            self._set_metadata(fd, None, member)
        finally:
            os.close(fd)
        self._dir_times[b"/".join(parts)] = _times(member)

    def _hardlink(self, parent: int, parts: list[bytes], member: tarfile.TarInfo) -> None:
        name = member.name
        target = entry_parts(member.linkname, what=f"hard link {name!r} to")
        if not target:
            raise InvalidParameter(f"hard link {name!r} points to the layer root")
        if target == parts:
            raise InvalidParameter(f"hard link {name!r} points to itself")
        try:
            target_parent = open_dir(self.root_fd, target[:-1], create=False, entry=name)
        except NotInTree:
            raise InvalidParameter(
                f"hard link {name!r} points to {member.linkname!r}, which is not in the layer") from None
        try:
            try:
                info = os.stat(target[-1], dir_fd=target_parent, follow_symlinks=False)
            except FileNotFoundError:
                raise InvalidParameter(
                    f"hard link {name!r} points to {member.linkname!r}, which is not in the layer") from None
            if stat.S_ISDIR(info.st_mode):
                raise InvalidParameter(f"hard link {name!r} points to the directory {member.linkname!r}")
            if target[: len(parts)] == parts:
                raise InvalidParameter(f"hard link {name!r} would replace its own target {member.linkname!r}")
            self._remove(parent, parts)
            os.link(target[-1], parts[-1], src_dir_fd=target_parent, dst_dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(target_parent)

    def _whiteout(self, parts: list[bytes], member: tarfile.TarInfo) -> None:
        base = parts[-1]
        if base == OPAQUE_WHITEOUT:
            fd = open_dir(self.root_fd, parts[:-1], create=True, entry=member.name)
            try:
                os.setxattr(fd, OPAQUE_XATTR, b"y")
            finally:
                os.close(fd)
            return
        if base.startswith(WHITEOUT_META_PREFIX):  # AUFS bookkeeping (.wh..wh.plnk, ...): ignored
            return
        hidden = base[len(WHITEOUT_PREFIX):]
        if hidden in (b"", b".", b".."):
            raise InvalidParameter(f"whiteout {member.name!r} names no file")
        parent = self._parent_dir(parts, member.name)
        target = parts[:-1] + [hidden]
        self._remove(parent, target)
        os.mknod(hidden, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)
        os.chown(hidden, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)

    # ------------------------------------------------------------------ replacing entries

    def _replacing(self, parent: int, parts: list[bytes], create: Callable[[], _T]) -> _T:
        """Run ``create`` (which makes ``parts`` in ``parent`` and fails if something is there already);
        when something is, remove it as :meth:`_remove` does and try once more.

        Creating first saves a lookup for every entry of a layer that adds a new path (nearly all).
        """
        try:
            return create()
        except FileExistsError:
            self._remove(parent, parts)
            return create()

    def _remove(self, parent: int, parts: list[bytes]) -> None:
        """Remove what is at ``parts`` (in ``parent``), keeping content the tar-split still needs."""
        base = parts[-1]
        try:
            info = os.stat(base, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        self._replaced = True
        relative = b"/".join(parts)
        if stat.S_ISDIR(info.st_mode):
            prefix = relative + b"/"
            for path in [p for p in self._live if p.startswith(prefix)]:
                self._displace(path)
            if self._cached is not None and self._cached[0][: len(parts)] == tuple(parts):
                self._forget_cached_dir()
            shutil.rmtree(base, dir_fd=parent)
            for path in [p for p in self._dir_times if p.startswith(prefix) or p == relative]:
                del self._dir_times[path]
        elif relative in self._live:
            self._displace(relative, parent, base)
        else:
            os.unlink(base, dir_fd=parent)

    def _displace(self, relative: bytes, parent: int | None = None, base: bytes | None = None) -> None:
        """Move the file at ``relative`` to ``tar-split.data/<record>``: a later entry replaces it."""
        number = self._live.pop(relative)
        if self._data_fd is None:
            path = os.path.join(self.layer_dir, DATA_DIR)
            os.mkdir(path, 0o700)
            self._data_fd = os.open(path, DIR_FLAGS)
        parts = relative.split(b"/")
        own = parent is None
        if own:
            parent = open_dir(self.root_fd, parts[:-1], create=False, entry=os.fsdecode(relative))
        try:
            os.rename(base or parts[-1], str(number), src_dir_fd=parent, dst_dir_fd=self._data_fd)
        finally:
            if own:
                os.close(parent)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ metadata

    def _check_xattrs(self, member: tarfile.TarInfo) -> None:
        for key in member.pax_headers:
            if key.startswith(XATTR_PREFIX) and key[len(XATTR_PREFIX):].startswith(FORBIDDEN_XATTRS):
                raise InvalidParameter(
                    f"tar entry {member.name!r} carries the reserved extended attribute {key[len(XATTR_PREFIX):]!r}"
                )

    def _set_metadata(self, fd: int | None, at: tuple[int, bytes] | None, member: tarfile.TarInfo) -> None:
        """Owner, then mode (chown clears setuid), then xattrs, then times, on ``fd`` or ``at``."""
        atime, mtime = _times(member)
        if fd is not None:
            os.fchown(fd, member.uid, member.gid)
            os.fchmod(fd, member.mode & 0o7777)
            for key, value in _xattrs(member):
                os.setxattr(fd, key, value)
            if not member.isdir():
                os.utime(fd, ns=(atime, mtime))
            return
        assert at is not None
        parent, base = at
        os.chown(base, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
        if not member.issym():
            os.chmod(base, member.mode & 0o7777, dir_fd=parent)
        for key, value in _xattrs(member):
            try:
                os.setxattr(proc_path(parent, base), key, value, follow_symlinks=False)
            except OSError as err:
                if err.errno not in (errno.EPERM, errno.ENOTSUP):
                    raise
                log.warning("tar entry %r: extended attribute %s not kept: %s", member.name, key, err.strerror)
        os.utime(base, ns=(atime, mtime), dir_fd=parent, follow_symlinks=False)

    def _set_dir_times(self) -> None:
        """Directory times last: creating their content changed them."""
        for relative, times in self._dir_times.items():
            try:
                fd = open_dir(self.root_fd, relative.split(b"/") if relative else [], create=False,
                              entry=os.fsdecode(relative))
            except (NotInTree, InvalidParameter):
                continue
            try:
                os.utime(fd, ns=times)
            finally:
                os.close(fd)


def _xattrs(member: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    return [(key[len(XATTR_PREFIX):], value.encode("utf-8", "surrogateescape"))
            for key, value in member.pax_headers.items() if key.startswith(XATTR_PREFIX)]


def _pax_ns(member: tarfile.TarInfo, key: str) -> int | None:
    value = member.pax_headers.get(key)
    if value is None:
        return None
    try:
        return int(Decimal(value) * 1_000_000_000)
    except (InvalidOperation, ValueError):
        raise InvalidParameter(f"tar entry {member.name!r} has an invalid {key} {value!r}") from None


def _times(member: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in nanoseconds; the access time defaults to the modification time."""
    mtime = _pax_ns(member, "mtime")
    if mtime is None:
        mtime = int(member.mtime) * 1_000_000_000
    atime = _pax_ns(member, "atime")
    return (mtime if atime is None else atime), mtime
