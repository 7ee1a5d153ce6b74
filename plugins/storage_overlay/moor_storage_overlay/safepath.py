"""Path handling that never leaves a directory and never follows a symbolic link.

Tar entry names are split into components lexically (:func:`entry_parts`) and
the directories on the way are opened one by one with ``O_NOFOLLOW`` relative
to the previous one (:func:`open_dir`), so a symbolic link planted by an
archive can never redirect a write, whatever it points to.
"""

from __future__ import annotations

import errno
import os
import stat

from moor.errors import InvalidParameter

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def entry_parts(name: str, what: str = "tar entry") -> list[bytes]:
    """Split the archive path ``name`` into clean components, confined to the root.

    A leading ``/`` is dropped (as Docker does: the entry lands inside the
    layer); ``.`` and empty components vanish; ``..`` removes the component
    before it. A ``..`` that would climb above the root is refused with
    :class:`InvalidParameter` naming ``name``. An empty list means the root.
    """
    parts: list[bytes] = []
    for component in os.fsencode(name).split(b"/"):
        if component in (b"", b"."):
            continue
        if component == b"..":
            if not parts:
                raise InvalidParameter(f"{what} {name!r} points outside the layer")
            parts.pop()
            continue
        parts.append(component)
    return parts


def display(parts: list[bytes]) -> str:
    """The printable form of a component list, for messages."""
    return os.fsdecode(b"/".join(parts)) or "."


def proc_path(dir_fd: int, name: bytes) -> bytes:
    """A path naming ``name`` inside the open directory ``dir_fd`` (for calls without ``dir_fd``).

    The ``/proc/self/fd`` magic link resolves to the directory itself; use it only
    with ``follow_symlinks=False`` so that ``name`` itself is never followed.
    """
    return b"/proc/self/fd/%d/%s" % (dir_fd, name)


class NotInTree(Exception):
    """A directory on the way does not exist (and was not to be created)."""


def open_dir(root_fd: int, parts: list[bytes], create: bool, entry: str, mode: int = 0o755) -> int:
    """Open the directory ``parts`` below ``root_fd`` without following any symbolic link.

    Missing directories are made with ``mode`` when ``create`` is true, else
    :class:`NotInTree` is raised. A symbolic link or a non-directory on the way
    is refused with :class:`InvalidParameter` naming ``entry``. The caller
    closes the returned descriptor.
    """
    fd = os.dup(root_fd)
    try:
        for index, part in enumerate(parts):
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise NotInTree(display(parts[: index + 1])) from None
                os.mkdir(part, mode, dir_fd=fd)
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                if err.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                where = display(parts[: index + 1])
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    raise InvalidParameter(
                        f"tar entry {entry!r} goes through the symbolic link {where!r}"
                    ) from None
                raise InvalidParameter(f"tar entry {entry!r}: {where!r} is not a directory") from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd
