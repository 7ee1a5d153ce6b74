"""Resolve a path inside a root directory as if that root were ``/``, through directory descriptors.

The walk goes component by component through ``O_PATH`` descriptors (a :class:`DirChain`),
opening each next component relative to the previous one with ``O_NOFOLLOW``. A symbolic link met
on the way is read from its own descriptor and followed *inside* the root: an absolute target
restarts at the root, ``..`` pops the chain and never climbs above its first descriptor (the
root). Nothing is resolved by the kernel from a path string, so a link swapped in between a look
and a use cannot lead outside the root.

Used by ``docker cp`` (:mod:`moor.containers.archive`) and by mount targets
(:mod:`moor.containers.mounttarget`). Functions raise ``OSError`` (``ENOENT``, ``ENOTDIR``,
``ELOOP``); callers translate.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections import deque

MAX_SYMLINKS = 40
PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC

__all__ = ["MAX_SYMLINKS", "PATH_FLAGS", "DirChain", "components", "enter", "go_clean", "read_link",
           "scoped_path", "walk"]


def go_clean(path: str) -> str:
    """``filepath.Clean``: lexical, ``..`` at the root vanishes, ``""`` is ``"."``."""
    cleaned = posixpath.normpath(path) if path else "."
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def components(path: str) -> list[str]:
    """The names of ``path`` without empty and ``.`` parts (``..`` kept)."""
    return [part for part in path.split("/") if part not in ("", ".")]


class DirChain:
    """Descriptors (``O_PATH``) of the directories from the root down to the current one.

    ``borrowed`` descriptors belong to another chain this one was copied from and are never closed here.
    """

    def __init__(self, fds: list[int], borrowed: set[int] | None = None) -> None:
        self.fds = fds
        self._borrowed = borrowed or set()

    @classmethod
    def open(cls, root: str) -> DirChain:
        return cls([os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)])

    @property
    def current(self) -> int:
        return self.fds[-1]

    def copy(self) -> DirChain:
        return DirChain(list(self.fds), self._borrowed | set(self.fds))

    def push(self, fd: int) -> None:
        self.fds.append(fd)

    def pop(self) -> None:
        """Go to the parent directory; at the root, stay there (``/..`` is ``/``)."""
        if len(self.fds) > 1:
            self._close(self.fds.pop())

    def to_root(self) -> None:
        while len(self.fds) > 1:
            self.pop()

    def _close(self, fd: int) -> None:
        if fd not in self._borrowed:
            os.close(fd)

    def close(self) -> None:
        while self.fds:
            self._close(self.fds.pop())


def read_link(fd: int) -> str:
    """The target of the symbolic link open as ``fd`` (``O_PATH | O_NOFOLLOW``)."""
    return os.readlink("", dir_fd=fd)


def walk(chain: DirChain, parts: list[str], follow_last: bool, follow: bool = True,
          ) -> tuple[str | None, int | None, os.stat_result | None]:
    """Walk ``parts`` from ``chain.current``; the chain ends at the parent of the last component.

    Returns ``(name, fd, stat)`` of the last component (``fd`` an ``O_PATH`` descriptor the caller
    closes; ``fd`` and ``stat`` None when it does not exist), or ``(None, None, None)`` when the path
    ends at ``chain.current`` itself (the root, or a link to a directory that was followed).
    Symbolic links on the way are followed inside the root (when ``follow``; else ``ELOOP``); the
    last one only when ``follow_last``. Raises ``OSError`` (``ENOENT``, ``ENOTDIR``, ``ELOOP``).
    """
    queue = deque(parts)
    links = 0
    while queue:
        name = queue.popleft()
        if name in ("", "."):
            continue
        if name == "..":
            chain.pop()
            continue
        last = not any(part not in ("", ".") for part in queue)
        try:
            fd = os.open(name, PATH_FLAGS, dir_fd=chain.current)
        except FileNotFoundError:
            if last:
                return name, None, None
            raise
        st = os.fstat(fd)
        if stat.S_ISLNK(st.st_mode) and (follow_last or not last):
            try:
                if not follow:
                    raise OSError(errno.ELOOP, "symbolic link in the path", name)
                target = read_link(fd)
            finally:
                os.close(fd)
            links += 1
            if links > MAX_SYMLINKS:
                raise OSError(errno.ELOOP, "too many levels of symbolic links", name)
            if target.startswith("/"):
                chain.to_root()
            queue.extendleft(reversed(target.split("/")))
            continue
        if last:
            return name, fd, st
        if not stat.S_ISDIR(st.st_mode):
            os.close(fd)
            raise OSError(errno.ENOTDIR, "not a directory", name)
        chain.push(fd)
    return None, None, None


def enter(chain: DirChain, parts: list[str], create: bool = False, follow: bool = True) -> None:
    """Move ``chain`` into the directory ``parts`` (every link followed inside the root when ``follow``).

    Missing directories are made (mode 0755) when ``create``; a link to a missing place is not
    (its target's own missing parents raise, as ``MkdirAll`` in Docker's chroot does). Raises ``OSError``.
    """
    for part in parts:
        pending = [part]
        for _ in range(MAX_SYMLINKS):
            name, fd, st = walk(chain, pending, follow_last=True, follow=follow)
            if name is None:
                break
            if fd is None:
                if not create:
                    raise OSError(errno.ENOENT, "no such file or directory", name)
                try:
                    os.mkdir(name, 0o755, dir_fd=chain.current)
                except FileExistsError:
                    pass
                pending = [name]
                continue
            assert st is not None
            if not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, "not a directory", name)
            chain.push(fd)
            break
        else:
            raise OSError(errno.ELOOP, "the directory keeps changing", part)


def scoped_path(root: str, abs_path: str) -> str:
    """Docker's ``FollowSymlinkInScope`` as a path inside the root: every link followed, missing parts kept."""
    chain = DirChain.open(root)
    names: list[str] = []
    queue = deque(abs_path.split("/"))
    links = 0
    try:
        while queue:
            name = queue.popleft()
            if name in ("", "."):
                continue
            if name == "..":
                if names:
                    names.pop()
                while len(chain.fds) - 1 > len(names):
                    chain.pop()
                continue
            if len(chain.fds) - 1 < len(names):  # below something missing: purely lexical
                names.append(name)
                continue
            try:
                fd = os.open(name, PATH_FLAGS, dir_fd=chain.current)
            except OSError:
                names.append(name)
                continue
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                try:
                    target = read_link(fd)
                finally:
                    os.close(fd)
                links += 1
                if links > 255:
                    raise OSError(errno.ELOOP, "too many links", abs_path)
                if target.startswith("/"):
                    names.clear()
                    chain.to_root()
                queue.extendleft(reversed(target.split("/")))
                continue
            names.append(name)
            if stat.S_ISDIR(st.st_mode):
                chain.push(fd)
            else:
                os.close(fd)
        return "/" + "/".join(names)
    finally:
        chain.close()
