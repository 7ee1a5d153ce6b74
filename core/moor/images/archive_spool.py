"""Spool an image archive (``docker load`` input) from a stream into a work directory.

The outer tar is untrusted. Only regular files and directories are written,
with fixed modes (0644, 0755); every entry name is checked before anything is
created. Absolute names, ``..`` components, hard links, device nodes, FIFOs
and symlinks are refused with :class:`InvalidParameter` naming the entry, with
one exception: ``docker save`` (and skopeo) store a layer shared by several
v1 layer directories as a symlink ``<dir>/layer.tar -> ../<other>/layer.tar``.
Such a symlink is accepted when its relative target stays inside the archive;
after the whole stream is read it becomes a hard link (or a copy) of the
target file. No symlink is ever created on disk.

Headers are read through :mod:`moor.targuard` (bounded size and parsing
cost); a sparse entry keeps its holes, within the archive's hole budget.

A tar that ends without its end-of-archive block, or whose data is cut short,
is refused as truncated, so a cut stream never looks like a complete archive.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import tarfile
from typing import IO, Any

from moor.errors import InvalidParameter
from moor.images.compression import open_decompressed
from moor.targuard import GuardedTarInfo, HoleBudget, write_sparse

_CHUNK = 1 << 20
_PATH_ERRORS = {errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTEMPTY}


def _bad(message: str) -> InvalidParameter:
    return InvalidParameter(f"invalid archive: {message}")


class NotATarArchive(InvalidParameter):
    """Data that does not start as a tar: Docker 20.10's words for it, which ``docker load`` streams."""

    def __init__(self, reason: str) -> None:
        go_reason = "unexpected EOF" if "truncated" in reason else "archive/tar: invalid tar header"
        super().__init__(f"Error processing tar file(exit status 1): {go_reason}")


class _CheckedTarInfo(GuardedTarInfo):
    """A TarInfo that records why the member sequence ended.

    ``tarfile`` silently stops at a truncated or garbled header once past the
    first member; recording the reason lets the caller tell a proper
    end-of-archive block from a cut stream.
    """

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:  # type: ignore[override]
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.HeaderError as error:
            tarfile_.moor_end = error  # type: ignore[attr-defined]
            raise


def _relative_name(name: str) -> str:
    """The entry's path relative to the work dir ("" for the root), refusing escapes."""
    if name.startswith("/"):
        raise _bad(f"entry {name!r} has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _bad(f"entry {name!r} has a '..' component")
    return "/".join(parts)


def _kind(member: tarfile.TarInfo) -> str:
    if member.ischr():
        return "character device"
    if member.isblk():
        return "block device"
    if member.isfifo():
        return "FIFO"
    return f"entry of type {member.type!r}"


class _Spooler:
    """Writes the members of one archive into ``workdir``."""

    def __init__(self, workdir: str) -> None:
        self.workdir = os.path.abspath(workdir)
        self.links: dict[str, tuple[str, str, str]] = {}  # rel -> (entry name, link target, target rel)
        self.holes = HoleBudget()

    def _path(self, rel: str) -> str:
        return os.path.join(self.workdir, rel)

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        rel = _relative_name(member.name)
        try:
            if member.isdir():
                self.links.pop(rel, None)
                if rel:
                    os.makedirs(self._path(rel), mode=0o755, exist_ok=True)
            elif member.isreg():
                self.links.pop(rel, None)
                self._write_file(tar, member, rel)
            elif member.issym():
                self._plan_link(member, rel)
            elif member.islnk():
                raise _bad(f"entry {member.name!r} is a hard link (to {member.linkname!r}): not allowed")
            else:
                raise _bad(f"entry {member.name!r} is a {_kind(member)}: only files and directories are allowed")
        except OSError as error:
            if error.errno not in _PATH_ERRORS:
                raise
            raise _bad(f"entry {member.name!r} cannot be written: {error.strerror}") from error

    def _write_file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, rel: str) -> None:
        if not rel:
            raise _bad(f"entry {member.name!r} is a file without a name")
        path = self._path(rel)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        if os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)  # a later entry replaces an earlier one; never write through a hard link
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "wb") as target:
            if member.sparse is not None:  # holes stay holes, within the archive's hole budget
                write_sparse(tar, member, fd, self.holes)
                return
            source = tar.extractfile(member)
            assert source is not None
            shutil.copyfileobj(source, target, _CHUNK)

    def _plan_link(self, member: tarfile.TarInfo, rel: str) -> None:
        name, link = member.name, member.linkname
        if posixpath.basename(rel) != "layer.tar":
            raise _bad(f"entry {name!r} is a symlink (to {link!r}): only <dir>/layer.tar links are allowed")
        if link.startswith("/"):
            raise _bad(f"entry {name!r} is a symlink to an absolute path {link!r}")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), link))
        if target == ".." or target.startswith("../") or target in (".", ""):
            raise _bad(f"entry {name!r} is a symlink to {link!r}, outside the archive")
        self.links[rel] = (name, link, target)

    def resolve_links(self) -> None:
        """Turn the accepted layer.tar symlinks into hard links (or copies) of their targets."""
        pending = dict(self.links)
        while pending:
            progress = False
            for rel, (name, link, target) in list(pending.items()):
                if target in pending:
                    continue  # a link to a link: resolve the target first
                self._materialize(rel, name, link, target)
                del pending[rel]
                progress = True
            if not progress:
                name, link, _ = next(iter(pending.values()))
                raise _bad(f"entry {name!r} is a symlink loop through {link!r}")

    def _materialize(self, rel: str, name: str, link: str, target: str) -> None:
        source, path = self._path(target), self._path(rel)
        if not os.path.isfile(source) or os.path.islink(source):
            raise _bad(f"entry {name!r} is a symlink to {link!r}, which is not a file in the archive")
        try:
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            if os.path.lexists(path):
                os.unlink(path)
            try:
                os.link(source, path)
            except OSError:
                shutil.copyfile(source, path)
        except OSError as error:
            if error.errno not in _PATH_ERRORS:
                raise
            raise _bad(f"entry {name!r} cannot be written: {error.strerror}") from error


#: tarfile's header errors (raised by TarInfo.frombuf; not in its public interface, nor in typeshed)
_END_OF_ARCHIVE: type[Exception] = tarfile.EOFHeaderError  # type: ignore[attr-defined]
_TRUNCATED: tuple[type[Exception], ...] = (tarfile.EmptyHeaderError,  # type: ignore[attr-defined]
                                           tarfile.TruncatedHeaderError)  # type: ignore[attr-defined]


def _check_end(tar: Any, last: str | None) -> None:
    """Refuse a member sequence that did not end with an end-of-archive block."""
    end = getattr(tar, "moor_end", None)
    if isinstance(end, _END_OF_ARCHIVE):
        return
    where = f"after entry {last!r}" if last else "at the start"
    if end is None or isinstance(end, _TRUNCATED):
        raise _bad(f"truncated tar stream {where}")
    raise _bad(f"corrupt tar header {where} ({end})")


def spool_archive(stream: IO[bytes], workdir: str) -> None:
    """Extract a docker-save archive or OCI layout tar from ``stream`` into ``workdir``.

    ``stream`` may be non-seekable; the archive may be plain, gzip, xz, bzip2 (or
    zstd with the ``zstandard`` module) compressed, detected by magic bytes.
    ``workdir`` is an empty directory the caller made and will delete.

    Raises InvalidParameter for a hostile entry (naming it), a truncated stream
    ("...truncated..."), no data ("...not a tar archive..."), data that is not a tar
    (:class:`NotATarArchive`, Docker's ``Error processing tar file...``), or a
    decompression bomb. Nothing is ever written outside ``workdir``.
    """
    data = open_decompressed(stream, "invalid archive", close_raw=False)
    spooler = _Spooler(workdir)
    last: str | None = None
    try:
        try:
            tar = tarfile.open(fileobj=data, mode="r|", tarinfo=_CheckedTarInfo, bufsize=_CHUNK)
        except tarfile.ReadError as error:
            if "empty file" in str(error):
                raise _bad(f"not a tar archive ({error})") from error
            raise NotATarArchive(str(error)) from error
        with tar:
            current: str | None = None
            try:
                for member in tar:
                    current = member.name
                    spooler.add(tar, member)
                    last, current = current, None
            except tarfile.ReadError as error:
                if current is not None:
                    where = f"in entry {current!r}"
                else:
                    where = f"after entry {last!r}" if last else "at the start"
                if "unexpected end" in str(error) or "truncated" in str(error):
                    raise _bad(f"truncated tar stream {where} ({error})") from error
                raise _bad(f"corrupt tar stream {where} ({error})") from error
            _check_end(tar, last)
        spooler.resolve_links()
    finally:
        data.close()
