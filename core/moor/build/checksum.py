"""Content checksums of COPY and ADD sources, exactly as Docker 20.10's classic builder writes them.

The history text of a copy step names its sources by checksum: ``file:<hex>`` for one file,
``dir:<hex>`` for one directory, ``multi:<hex>`` for several sources; the same string is the copy's
part of the build cache key. Docker computes each entry's sum as TarSum v1 does for one tar entry:
sha256 over ``name<name>mode<mode>uid<uid>gid<gid>size<size>typeflag<t>linkname<l>uname<u>gname<g>
devmajor<n>devminor<n>``, then the entry's ``security.capability`` extended attribute (key, then
value), then the file's content. The modification time is not part of it: a file touched but not
changed still hits the cache.

Two flavours of header, as Docker has two kinds of source (both checked against dockerd 20.10):

* ``context`` (the build context): the header the docker CLI sent, which moor rebuilds from the
  extracted file: the permission bits only as mode (``420`` for 0644), uid and gid 0 (the CLI sends
  every file as 0:0), no user or group name; a directory's name ends in ``/``. Docker hashes the
  headers as received, so a client whose tar holds other owners or names (docker-py sends the real
  ones) gets other hashes from Docker; moor's stay the docker CLI's for any client.
* ``image`` (``COPY --from``, and ADD of a URL): Docker's header made from the file's stat: mode with
  the file type bits (``33188`` for a regular 0644 file), the real uid and gid, the user and group
  names of those ids on the daemon's host (as dockerd looks them up), a directory's name ending in ``/``.

A symbolic link is hashed as what it points to (resolved inside the root); a link that leads nowhere
hashes as its own path (Docker's backwards-compatible answer). A directory's checksum covers the
directory itself and every entry below it: ``dir:`` + sha256 of the sorted entry sums joined by
``,``. Several sources: ``multi:`` + sha256 of their checksums (with prefixes), in source order,
joined by ``,``.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
import tarfile
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal

from moor.containers.rootpath import scoped_path

Flavor = Literal["context", "image"]
CAPABILITY_XATTR = "security.capability"
_CHUNK = 1 << 20

__all__ = ["CAPABILITY_XATTR", "ArrivalSums", "ChecksumCache", "Flavor", "combine", "entry_sum", "hash_string_list"]

#: what tells that a file is still the one whose sum was taken: device, inode, size, mode, change time
Identity = tuple[int, int, int, int, int]


def hash_string_list(prefix: str, items: Sequence[str]) -> str:
    """Docker's ``hashStringSlice``: ``prefix:`` + sha256 of the items joined by ``,``."""
    return f"{prefix}:{hashlib.sha256(','.join(items).encode('utf-8', 'surrogateescape')).hexdigest()}"


def combine(checksums: Sequence[str]) -> str:
    """The checksum of a copy's sources: the one source's own, or ``multi:`` over all of them in order."""
    if len(checksums) == 1:
        return checksums[0]
    return hash_string_list("multi", checksums)


@lru_cache(maxsize=256)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return ""


@lru_cache(maxsize=256)
def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, OverflowError):
        return ""


_TYPE_FLAGS = {stat.S_IFREG: "0", stat.S_IFLNK: "2", stat.S_IFCHR: "3", stat.S_IFBLK: "4", stat.S_IFDIR: "5",
               stat.S_IFIFO: "6"}


def header_fields(name: str, st: os.stat_result, link: str, flavor: Flavor) -> list[tuple[str, str]]:
    """The TarSum v1 header fields of one entry, in order (see the module docstring); a regular file with a
    ``link`` is a hard link to it."""
    kind = stat.S_IFMT(st.st_mode)
    is_dir = kind == stat.S_IFDIR
    if is_dir and not name.endswith("/"):
        name += "/"
    mode = stat.S_IMODE(st.st_mode)
    if flavor == "image":
        mode |= kind
        uid, gid, uname, gname = st.st_uid, st.st_gid, _user_name(st.st_uid), _group_name(st.st_gid)
    else:
        uid, gid, uname, gname = 0, 0, "", ""
    hard_link = kind == stat.S_IFREG and bool(link)
    size = st.st_size if kind == stat.S_IFREG and not hard_link else 0
    major = minor = 0
    if kind in (stat.S_IFCHR, stat.S_IFBLK):
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    typeflag = "1" if hard_link else _TYPE_FLAGS.get(kind, "0")
    return [("name", name), ("mode", str(mode)), ("uid", str(uid)), ("gid", str(gid)), ("size", str(size)),
            ("typeflag", typeflag), ("linkname", link), ("uname", uname), ("gname", gname),
            ("devmajor", str(major)), ("devminor", str(minor))]


def entry_sum(name: str, st: os.stat_result, flavor: Flavor, *, link: str = "", fd: int | None = None,
              capability: bytes | None = None) -> str:
    """The hex TarSum v1 sum of one entry: its header fields, its capability xattr, then the content
    read from ``fd`` (an open descriptor of the regular file; read from its start, left open)."""
    digest = hashlib.sha256()
    for key, value in header_fields(name, st, link, flavor):
        digest.update(key.encode() + value.encode("utf-8", "surrogateescape"))
    if capability is not None:
        digest.update(CAPABILITY_XATTR.encode() + capability)
    if fd is not None and stat.S_ISREG(st.st_mode) and st.st_size > 0 and not link:
        offset = 0
        while True:
            data = os.pread(fd, _CHUNK, offset)
            if not data:
                break
            digest.update(data)
            offset += len(data)
    return digest.hexdigest()


def _identity(st: os.stat_result) -> Identity:
    return st.st_dev, st.st_ino, st.st_size, st.st_mode, st.st_ctime_ns


class ArrivalSums:
    """Context sums of regular files taken while the context is extracted (as Docker sums a context as it
    arrives), so that a COPY does not read them again: an ``on_file`` hook of
    :func:`moor.containers.archive.extract_local`.

    ``sums`` maps a relative path to its sum and the :data:`Identity` of the file it was taken from;
    :class:`ChecksumCache` uses one only while the file is still that one, unchanged, with one name. Files
    with extended attributes in the archive are left to :class:`ChecksumCache`.
    """

    def __init__(self) -> None:
        self.sums: dict[str, tuple[str, Identity]] = {}

    def __call__(self, parts: list[str], member: tarfile.TarInfo) -> _ArrivingFile | None:
        if any(key.startswith("SCHILY.xattr.") for key in member.pax_headers):
            return None
        return _ArrivingFile(self.sums, "/".join(parts), member.mode & 0o7777, member.size)


class _ArrivingFile:
    """One file's sum as its data goes by: the header it will have (checked when it is written), then the data."""

    def __init__(self, sums: dict[str, tuple[str, Identity]], name: str, mode: int, size: int) -> None:
        self._sums, self._name, self._mode, self._size = sums, name, mode, size
        self._digest = hashlib.sha256()
        expected = os.stat_result((stat.S_IFREG | mode, 0, 0, 1, 0, 0, size, 0, 0, 0))
        for key, value in header_fields(name, expected, "", "context"):
            self._digest.update(key.encode() + value.encode("utf-8", "surrogateescape"))
        sums.pop(name, None)  # a later entry of the same name replaces the earlier one

    def update(self, data: bytes) -> None:
        self._digest.update(data)

    def finish(self, st: os.stat_result) -> None:
        if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == self._mode and st.st_size == self._size:
            self._sums[self._name] = (self._digest.hexdigest(), _identity(st))


def _capability(fd: int) -> bytes | None:
    try:
        return os.getxattr(fd, CAPABILITY_XATTR)
    except OSError:
        return None


class ChecksumCache:
    """Checksums of the entries of one root directory (a context or a stage's root filesystem).

    Sums are kept per resolved relative path, so a file copied by several steps is read once.
    Regular files are opened with ``O_NOFOLLOW`` below descriptors of their directories; nothing
    that is not a regular file is ever opened for reading (a FIFO or a device in a context is hashed
    from its header alone).
    """

    def __init__(self, root: str, flavor: Flavor, arrived: Mapping[str, tuple[str, Identity]] | None = None) -> None:
        self.root = root
        self.flavor: Flavor = flavor
        self._arrived = arrived or {}  # sums taken as the context arrived (ArrivalSums.sums)
        self._sums: dict[str, str] = {}
        self._first_links: dict[tuple[int, int], str] | None = None

    def resolve(self, path: str) -> str:
        """``path`` with every symbolic link resolved inside the root, relative, without a leading ``/``."""
        return scoped_path(self.root, "/" + path).lstrip("/")

    def entry(self, path: str) -> str:
        """Docker's ``Hash(path)``: the sum of what ``path`` resolves to, or the path itself when nothing."""
        resolved = self.resolve(path)
        if resolved in self._sums:
            return self._sums[resolved]
        full = os.path.join(self.root, resolved) if resolved else self.root
        try:
            st = os.lstat(full)
        except OSError:
            return resolved if self.flavor == "image" else path
        if not resolved:
            return path  # the root itself has no entry of its own
        self._sums[resolved] = value = self._hash(full, resolved, st)
        return value

    def _first_link(self, st: os.stat_result) -> str | None:
        """The path the docker CLI sends first for this inode (its walk order), when it has several names.

        The later names travel as hard links (``typeflag 1``, no content) and are hashed as such; the
        context is walked once, only when a file with several names is met.
        """
        if self._first_links is None:
            self._first_links = {}
            self._scan_links("")
        return self._first_links.get((st.st_dev, st.st_ino))

    def _scan_links(self, relative: str) -> None:
        assert self._first_links is not None
        directory = os.path.join(self.root, relative) if relative else self.root
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        for name in names:
            path = f"{relative}/{name}" if relative else name
            try:
                st = os.lstat(os.path.join(self.root, path))
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                self._scan_links(path)
            elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                self._first_links.setdefault((st.st_dev, st.st_ino), path)

    def _hash(self, full: str, name: str, st: os.stat_result) -> str:
        if self.flavor == "context" and stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            first = self._first_link(st)
            if first is not None and first != name:
                return entry_sum(name, st, self.flavor, link=first)  # typeflag 1, no content
        if stat.S_ISLNK(st.st_mode):
            return entry_sum(name, st, self.flavor, link=os.readlink(full))
        if not stat.S_ISREG(st.st_mode):
            return entry_sum(name, st, self.flavor)
        arrived = self._arrived.get(name)
        if arrived is not None and st.st_nlink == 1 and arrived[1] == _identity(st):
            return arrived[0]
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                raise OSError(f"{name} changed while it was read")
            return entry_sum(name, opened, self.flavor, fd=fd, capability=_capability(fd))
        finally:
            os.close(fd)

    def file_checksum(self, path: str) -> str:
        """``file:<hex>`` of the file ``path``."""
        return "file:" + self.entry(path)

    def dir_checksum(self, path: str) -> str:
        """``dir:<hex>`` of the directory ``path``: the directory and everything below it (links not followed)."""
        resolved = self.resolve(path)
        sums: list[str] = []
        if resolved:
            sums.append(self.entry(resolved))
        self._walk_sums(resolved, sums)
        return hash_string_list("dir", sorted(sums))

    def _walk_sums(self, top: str, sums: list[str]) -> None:
        """The sums of everything below the resolved directory ``top`` (links listed, not entered).

        A path the walk finds has no link in its directories, so only a link itself is resolved again.
        """
        pending = [top]
        while pending:
            relative_dir = pending.pop()
            directory = os.path.join(self.root, relative_dir) if relative_dir else self.root
            try:
                with os.scandir(directory) as listing:
                    found = list(listing)
            except OSError:
                continue  # a directory that cannot be listed: as os.walk, nothing below it
            for item in found:
                relative = f"{relative_dir}/{item.name}" if relative_dir else item.name
                try:
                    st = item.stat(follow_symlinks=False)
                    if stat.S_ISLNK(st.st_mode):
                        sums.append(self.entry(relative))  # hashed as what it points to, inside the root
                        continue
                    if relative not in self._sums:
                        self._sums[relative] = self._hash(os.path.join(self.root, relative), relative, st)
                    sums.append(self._sums[relative])
                except OSError:
                    continue  # Docker skips what it cannot hash
                if stat.S_ISDIR(st.st_mode):
                    pending.append(relative)

    def checksum(self, path: str) -> str:
        """``dir:`` or ``file:`` checksum of ``path`` (resolved inside the root)."""
        resolved = self.resolve(path)
        full = os.path.join(self.root, resolved) if resolved else self.root
        if os.path.isdir(full) and not os.path.islink(full):
            return self.dir_checksum(resolved)
        return self.file_checksum(path)
