"""A build context: the client's tar extracted into a private directory, with its ignore rules applied.

The tar (plain, gzip, bzip2, xz or zstd, told by its first bytes) is read as a stream and laid out by
:func:`moor.containers.archive.extract_local` through :mod:`moor.targuard`: bounded headers, no entry
outside the directory (``..`` refused, absolute names taken relative to it), no symbolic link that
climbs out, hard links only to entries below it, no extraction through a symbolic link. The
directory is private (0700) below the daemon's work directory; :meth:`BuildContext.close` removes it.

Ignore rules: ``<Dockerfile>.dockerignore`` (BuildKit's per-Dockerfile file) when the context holds
one, else ``.dockerignore``, are applied again to what arrived (a client that did not apply them
still gets Docker's result). The Dockerfile is read first, then, as Docker's daemon does, it and the
ignore file are removed from the context when the rules exclude them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from typing import IO

from moor.build.checksum import ArrivalSums, Identity
from moor.build.ignore import IgnorePatternError, IgnoreRules, go_clean
from moor.containers.archive import extract_local
from moor.containers.rootpath import DirChain, components, walk
from moor.errors import InvalidParameter, MoorError

DEFAULT_DOCKERFILE = "Dockerfile"
IGNORE_FILE = ".dockerignore"
#: the largest Dockerfile read (Docker has no limit; this keeps a hostile one from filling memory)
MAX_DOCKERFILE_BYTES = 16 << 20


class BuildContext:
    """The extracted context of one build; ``root`` is its directory (the ``/`` of COPY sources)."""

    def __init__(self, root: str, dockerfile_name: str, dockerfile: bytes, ignore: IgnoreRules,
                 owned: bool = True, sums: dict[str, tuple[str, Identity]] | None = None) -> None:
        self.root = root
        self.dockerfile_name = dockerfile_name
        self.ignore = ignore
        #: the regular files' checksums taken as they arrived (for :class:`moor.build.checksum.ChecksumCache`)
        self.sums = sums if sums is not None else {}
        self._dockerfile = dockerfile
        self._owned = owned

    @classmethod
    def receive(cls, stream: IO[bytes], work_dir: str, dockerfile_name: str = "") -> BuildContext:
        """Extract the context tar ``stream`` below ``work_dir`` and read its Dockerfile.

        Raises :class:`InvalidParameter` for a malformed or hostile tar, a missing Dockerfile
        (``Cannot locate specified Dockerfile: X``) or a malformed ignore file; nothing is left behind.
        """
        os.makedirs(work_dir, mode=0o700, exist_ok=True)
        root = tempfile.mkdtemp(prefix="context-", dir=work_dir)
        arrival = ArrivalSums()
        try:
            extract_local(root, stream, on_file=arrival)
            name, dockerfile = _read_dockerfile(root, dockerfile_name or DEFAULT_DOCKERFILE)
            ignore = _ignore_rules(root, name)
            _apply(root, ignore)
        except BaseException:
            remove_tree(root)
            raise
        return cls(root, name, dockerfile, ignore, sums=arrival.sums)

    @classmethod
    def from_directory(cls, root: str, dockerfile_name: str = "") -> BuildContext:
        """A context that is already a directory (tests, a stage's files); it is not removed by close."""
        name, dockerfile = _read_dockerfile(root, dockerfile_name or DEFAULT_DOCKERFILE)
        return cls(root, name, dockerfile, _ignore_rules(root, name), owned=False)

    def dockerfile_text(self) -> str:
        """The Dockerfile's text (UTF-8; undecodable bytes replaced)."""
        return self._dockerfile.decode("utf-8", "replace")

    def dockerfile_bytes(self) -> bytes:
        return self._dockerfile

    def close(self) -> None:
        """Remove the extracted context (idempotent)."""
        if self._owned and self.root and os.path.isdir(self.root):
            remove_tree(self.root)

    def retire(self, trash_dir: str) -> str:
        """Move the extracted context into ``trash_dir`` (on the same file system: a rename) so that it can be
        removed later, off the build's path; its new path, or "" when there is nothing to remove. Falls back to
        removing it at once when it cannot be moved."""
        if not (self._owned and self.root and os.path.isdir(self.root)):
            return ""
        try:
            os.makedirs(trash_dir, mode=0o700, exist_ok=True)
            moved = os.path.join(trash_dir, os.path.basename(self.root))
            os.rename(self.root, moved)
        except OSError:
            self.close()
            return ""
        self._owned = False
        return moved

    def __enter__(self) -> BuildContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_in(root: str, path: str) -> tuple[int, os.stat_result] | None:
    """An ``O_PATH`` descriptor of ``path`` resolved inside ``root`` (links followed inside), or None."""
    chain = DirChain.open(root)
    try:
        name, fd, st = walk(chain, components(path), follow_last=True)
    except OSError:
        return None
    finally:
        chain.close()
    if name is None or fd is None or st is None:
        return None
    return fd, st


def _read_dockerfile(root: str, name: str) -> tuple[str, bytes]:
    """The Dockerfile's cleaned name and content; Docker falls back to ``dockerfile`` for the default name."""
    cleaned = go_clean(name).lstrip("/") or "."
    if cleaned == ".." or cleaned.startswith("../"):
        raise InvalidParameter(f"Forbidden path outside the build context: {name} ()")
    candidates = [cleaned]
    if cleaned == DEFAULT_DOCKERFILE:
        candidates.append(cleaned.lower())
    for candidate in candidates:
        found = _open_in(root, candidate)
        if found is None:
            continue
        fd, st = found
        try:
            if stat.S_ISDIR(st.st_mode):
                raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}")
            if not stat.S_ISREG(st.st_mode):
                raise InvalidParameter(f"the Dockerfile ({name}) is not a regular file")
            if st.st_size > MAX_DOCKERFILE_BYTES:
                raise InvalidParameter(f"the Dockerfile ({name}) is larger than {MAX_DOCKERFILE_BYTES} bytes")
            with open(os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC), "rb") as handle:
                data = handle.read(st.st_size + 1)[:MAX_DOCKERFILE_BYTES]
        finally:
            os.close(fd)
        return candidate, data
    raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}")


def _ignore_rules(root: str, dockerfile: str) -> IgnoreRules:
    """``<Dockerfile>.dockerignore`` when present, else ``.dockerignore``, read inside the root."""
    for candidate in (f"{dockerfile}.dockerignore", IGNORE_FILE):
        found = _open_in(root, candidate)
        if found is None:
            continue
        fd, st = found
        try:
            if not stat.S_ISREG(st.st_mode):
                continue
            with open(os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC), "rb") as handle:
                text = handle.read(min(st.st_size, MAX_DOCKERFILE_BYTES)).decode("utf-8", "surrogateescape")
        finally:
            os.close(fd)
        try:
            return IgnoreRules.parse(text)
        except IgnorePatternError as err:
            raise InvalidParameter(f"error reading {candidate}: {err}") from None
    return IgnoreRules()


def _apply(root: str, rules: IgnoreRules) -> None:
    """Remove what ``rules`` exclude (the Dockerfile and the ignore files too, as Docker's daemon does)."""
    if not rules:
        return
    _prune(root, "", rules)


def _prune(root: str, relative: str, rules: IgnoreRules) -> None:
    directory = os.path.join(root, relative) if relative else root
    try:
        names = sorted(os.listdir(directory))
    except OSError as err:
        raise MoorError(f"reading the build context: {err.strerror}") from None
    for name in names:
        path = f"{relative}/{name}" if relative else name
        full = os.path.join(root, path)
        is_dir = stat.S_ISDIR(os.lstat(full).st_mode)
        if rules.matches_entry(path):
            if is_dir and rules.descends(path):
                _prune(root, path, rules)
                continue
            if is_dir:
                _make_removable(full)
                shutil.rmtree(full)
            else:
                os.unlink(full)
            continue
        if is_dir:
            _prune(root, path, rules)


def remove_tree(top: str) -> None:
    """Remove ``top`` and everything below it, read-only directories included (errors ignored)."""
    _make_removable(top)
    shutil.rmtree(top, ignore_errors=True)


def _make_removable(top: str) -> None:
    """Give every directory below ``top`` owner rwx (a context may hold 0555 directories)."""
    for dirpath, dirnames, _ in os.walk(top):
        for name in dirnames:
            with contextlib.suppress(OSError):
                path = os.path.join(dirpath, name)
                if not os.path.islink(path):
                    os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) | 0o700)
    with contextlib.suppress(OSError):
        os.chmod(top, stat.S_IMODE(os.lstat(top).st_mode) | 0o700)
