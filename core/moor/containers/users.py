"""Resolve a container's ``--user`` to numeric ids from the image's own /etc/passwd and /etc/group.

The rules follow runc's ``user.GetExecUser`` as Docker 20.10 uses it:

- ``""`` means uid 0; the gid and supplementary groups then come from uid 0's passwd entry.
- ``"name"`` or ``"uid"``: a name must exist in /etc/passwd; a number need not (uid 1000 with no
  entry runs as 1000:0). A matched entry gives the primary gid and the supplementary groups (every
  group of /etc/group that lists the user's name).
- ``"user:group"``: the group (a name that must exist in /etc/group, or any number) replaces the
  primary gid, and no supplementary groups are looked up.
- ``additional_gids`` starts with the primary gid, as Docker's spec does.

The files are read from inside the root filesystem. Symbolic links along the way are resolved as if
the root filesystem were ``/`` (an absolute link target or a ``..`` never leaves it), component by
component through directory descriptors opened with ``O_NOFOLLOW``, so a hostile image cannot make
the engine read a file of the host. A file that cannot be opened that way (missing, a loop, not a
regular file) counts as absent, as runc treats an unreadable file.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections import deque
from dataclasses import dataclass, field

from moor.errors import InvalidParameter

log = logging.getLogger(__name__)

PASSWD_PATH = "/etc/passwd"
GROUP_PATH = "/etc/group"
MAX_ID = 2**31 - 1
_MAX_SYMLINKS = 40
_MAX_FILE_SIZE = 16 * 1024 * 1024
_NUMERIC = re.compile(r"[0-9]+")


@dataclass
class ResolvedUser:
    """Numeric identity of a container process (the OCI ``process.user``)."""

    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"

    def to_oci(self) -> dict[str, object]:
        """The OCI ``process.user`` object."""
        return {"uid": self.uid, "gid": self.gid, "additionalGids": list(self.additional_gids)}


@dataclass
class _PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str


@dataclass
class _GroupEntry:
    name: str
    gid: int
    members: list[str]


def resolve_user(rootfs: str, user: str) -> ResolvedUser:
    """Resolve ``user`` (``""``, ``name``, ``uid``, ``name:group``, ``uid:gid``, ...) inside ``rootfs``.

    Raises :class:`~moor.errors.InvalidParameter` when a name is not in the container's files or an
    id is out of range, with Docker's wording.
    """
    user_arg, _, group_arg = user.partition(":")
    uid_arg = _parse_id(user_arg)
    gid_arg = _parse_id(group_arg)
    passwd = read_file_in_root(rootfs, PASSWD_PATH)
    resolved = ResolvedUser(uid=0, gid=0)
    matched_name = ""

    entry = _find_passwd_entry(passwd, user_arg, uid_arg)
    if entry is not None:
        matched_name = entry.name
        resolved.uid, resolved.gid, resolved.home = entry.uid, entry.gid, entry.home
    elif user_arg:
        if uid_arg is None:
            raise InvalidParameter(f"unable to find user {user_arg}: no matching entries in passwd file")
        resolved.uid = _check_range(uid_arg)

    supplementary: list[int] = []
    if group_arg or matched_name:
        groups = _parse_group(read_file_in_root(rootfs, GROUP_PATH))
        if group_arg:
            resolved.gid = _resolve_group(groups, group_arg, gid_arg)
        else:
            supplementary = [g.gid for g in groups if matched_name in g.members]
    resolved.additional_gids = _unique([resolved.gid, *supplementary])
    return resolved


def _parse_id(text: str) -> int | None:
    """The number ``text`` spells, or None when it is not a plain decimal number."""
    return int(text) if _NUMERIC.fullmatch(text) else None


def _check_range(value: int) -> int:
    if value > MAX_ID:
        raise InvalidParameter(f"uids and gids must be in range 0-{MAX_ID}")
    return value


def _unique(values: list[int]) -> list[int]:
    return list(dict.fromkeys(values))


def _find_passwd_entry(passwd: str | None, user_arg: str, uid_arg: int | None) -> _PasswdEntry | None:
    """First passwd entry matching the user argument (uid 0 for an empty argument)."""
    for entry in _parse_passwd(passwd):
        if not user_arg:
            if entry.uid == 0:
                return entry
        elif uid_arg is not None:
            if entry.uid == uid_arg:
                return entry
        elif entry.name == user_arg:
            return entry
    return None


def _resolve_group(groups: list[_GroupEntry], group_arg: str, gid_arg: int | None) -> int:
    for group in groups:
        if (gid_arg is not None and group.gid == gid_arg) or (gid_arg is None and group.name == group_arg):
            return group.gid
    if gid_arg is None:
        raise InvalidParameter(f"unable to find group {group_arg}: no matching entries in group file")
    return _check_range(gid_arg)


def _int_field(text: str) -> int:
    """A numeric field as runc reads it: anything unparsable counts as 0."""
    return int(text) if _NUMERIC.fullmatch(text.strip()) else 0


def _parse_passwd(text: str | None) -> list[_PasswdEntry]:
    """Entries of a passwd file (``name:password:uid:gid:gecos:home:shell``)."""
    entries = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        fields = line.split(":") + [""] * 7
        entries.append(_PasswdEntry(fields[0], _int_field(fields[2]), _int_field(fields[3]), fields[5]))
    return entries


def _parse_group(text: str | None) -> list[_GroupEntry]:
    """Entries of a group file (``name:password:gid:member,member``)."""
    entries = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        fields = line.split(":") + [""] * 4
        members = [m for m in fields[3].split(",") if m]
        entries.append(_GroupEntry(fields[0], _int_field(fields[2]), members))
    return entries


def read_file_in_root(root: str, path: str) -> str | None:
    """Text of the regular file ``path`` as seen with ``root`` as ``/``, or None when it is not there.

    Symlinks are followed but never out of ``root``; see the module docstring.
    """
    try:
        fd = open_in_root(root, path)
    except OSError as error:
        log.debug("cannot open %s in %s: %s", path, root, error)
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(_MAX_FILE_SIZE)
    return data.decode("utf-8", errors="replace")


def open_in_root(root: str, path: str) -> int:
    """Open the regular file ``path`` for reading, resolving it inside ``root``; return the fd.

    Raises ``OSError`` (``ENOENT``, ``ELOOP``, ``ENOTDIR``, ``EINVAL`` for a non-regular file).
    """
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    dirs = [root_fd]  # descriptors of the directories walked so far; dirs[0] is the root
    try:
        return _walk(dirs, deque(_components(path)))
    finally:
        for fd in dirs:
            os.close(fd)


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _walk(dirs: list[int], parts: deque[str]) -> int:
    """Follow ``parts`` from ``dirs[-1]``; keep ``dirs`` as the chain of opened directories."""
    links = 0
    while parts:
        name = parts.popleft()
        if name == "..":
            if len(dirs) > 1:
                os.close(dirs.pop())
            continue
        parent = dirs[-1]
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        mode = os.fstat(fd).st_mode
        if stat.S_ISLNK(mode):
            os.close(fd)
            links += 1
            if links > _MAX_SYMLINKS:
                raise OSError(errno.ELOOP, "too many levels of symbolic links", name)
            target = os.readlink(name, dir_fd=parent)
            if target.startswith("/"):
                while len(dirs) > 1:
                    os.close(dirs.pop())
            parts.extendleft(reversed(_components(target)))
            continue
        if parts:
            if not stat.S_ISDIR(mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, "not a directory", name)
            dirs.append(fd)
            continue
        return _reopen_regular(fd, parent, name)
    raise OSError(errno.EISDIR, "is a directory")


def _reopen_regular(path_fd: int, parent: int, name: str) -> int:
    """Turn the ``O_PATH`` descriptor of the last component into a readable one, if it is a file."""
    try:
        expected = os.fstat(path_fd)
    finally:
        os.close(path_fd)
    if not stat.S_ISREG(expected.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", name)
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
    actual = os.fstat(fd)
    if (actual.st_dev, actual.st_ino) != (expected.st_dev, expected.st_ino):
        os.close(fd)
        raise OSError(errno.EAGAIN, "file replaced while opening", name)
    return fd
