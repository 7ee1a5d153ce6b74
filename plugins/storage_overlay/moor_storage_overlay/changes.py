"""What a container changed, from its overlayfs upper directory (``moor diff``).

Docker's rules (``pkg/archive/changes.go`` with the overlay whiteout test):

* a whiteout (character device 0/0) is a deletion (2);
* a directory marked opaque is reported as deleted (2), as Docker does, and
  its content as added;
* anything else is a modification (0) when the path exists in a lower layer,
  an addition (1) otherwise; a directory that exists below with the same
  size, mode and modification time is not reported for itself;
* the parent directory of an addition or deletion is reported as modified
  (once), unless it is already in the list.

Unlike Docker's plain ``stat`` of each lower directory, a path counts as
present below only if the overlay would show it: whiteouts, opaque
directories and non-directories on the way in a higher layer hide it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator

from moor.types import Change
from moor_storage_overlay.export import OPAQUE_XATTR, is_whiteout
from moor_storage_overlay.safepath import DIR_FLAGS

MODIFIED, ADDED, DELETED = 0, 1, 2


class LowerStack:
    """The read-only layers under a snapshot, top first."""

    def __init__(self, layers: list[str]) -> None:
        self.layers = layers

    def lookup(self, parts: list[str]) -> os.stat_result | None:
        """The ``lstat`` of ``parts`` as the merged lower layers show it, or ``None``."""
        for layer in self.layers:
            path = layer
            hidden_below = False
            for index, part in enumerate(parts):
                path = os.path.join(path, part)
                try:
                    info = os.lstat(path)
                except (FileNotFoundError, NotADirectoryError):
                    break
                if is_whiteout(info):
                    return None
                if index == len(parts) - 1:
                    return info
                if not stat.S_ISDIR(info.st_mode):
                    return None
                if _is_opaque(path):
                    hidden_below = True
            if hidden_below:
                return None
        return None


def _is_opaque(path: str | int) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=not isinstance(path, str)) == b"y"
    except OSError as err:
        if err.errno in (errno.ENODATA, errno.ENOTSUP):
            return False
        raise


def _same_time(a: int, b: int) -> bool:
    """Docker's sameFsTime: equal, or equal seconds with one side lacking nanoseconds."""
    second = 1_000_000_000
    return a == b or (a // second == b // second and (a % second == 0 or b % second == 0))


def list_changes(upper: str, lowers: list[str]) -> list[Change]:
    """The changes the upper directory ``upper`` makes to the layers ``lowers`` (top first)."""
    stack = LowerStack(lowers)
    changes: list[Change] = []
    changed_dirs: set[str] = set()
    for parts, info, opaque, under_opaque in _walk(upper):
        path = "/" + "/".join(parts)
        is_dir = stat.S_ISDIR(info.st_mode)
        if is_whiteout(info) or (is_dir and opaque):
            kind = DELETED
        else:
            kind = ADDED
            below = None if under_opaque else stack.lookup(parts)
            if below is not None:
                if (is_dir and stat.S_ISDIR(below.st_mode) and info.st_size == below.st_size
                        and info.st_mode == below.st_mode and _same_time(info.st_mtime_ns, below.st_mtime_ns)):
                    continue
                kind = MODIFIED
        if is_dir:
            changed_dirs.add(path)
        # as Docker's: every directory holding a change is changed itself (its permissions are saved with it)
        for depth in range(1, len(parts)):
            parent = "/" + "/".join(parts[:depth])
            if parent not in changed_dirs:
                changes.append(Change(path=parent, kind=MODIFIED))
                changed_dirs.add(parent)
        changes.append(Change(path=path, kind=kind))
    return changes


def _walk(root: str) -> Iterator[tuple[list[str], os.stat_result, bool, bool]]:
    """Yield ``(parts, lstat, is_opaque_dir, under_an_opaque_dir)`` in name order, parents first.

    Directories are opened relative to their parent with ``O_NOFOLLOW``.
    """
    root_fd = os.open(root, DIR_FLAGS)
    stack: list[tuple[int, list[str], bool, Iterator[str]]] = [
        (root_fd, [], False, iter(sorted(os.listdir(root_fd), key=os.fsencode)))
    ]
    try:
        while stack:
            dir_fd, prefix, under_opaque, names = stack[-1]
            name = next(names, None)
            if name is None:
                os.close(dir_fd)
                stack.pop()
                continue
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            parts = prefix + [name]
            if not stat.S_ISDIR(info.st_mode):
                yield parts, info, False, under_opaque
                continue
            try:
                child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            except OSError as err:
                if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    continue
                raise
            opaque = _is_opaque(child)
            stack.append((child, parts, under_opaque or opaque, iter(sorted(os.listdir(child), key=os.fsencode))))
            yield parts, info, opaque, under_opaque
    finally:
        for dir_fd, _prefix, _opaque, _names in stack:
            os.close(dir_fd)
