"""``POST /containers/{id}/copy`` (API < 1.24): the tar of a path as Docker 20.10 still serves it.

It is ``GET .../archive``'s tar, rebased: a file comes as its base name (as the archive already has it), a
directory as its contents at the top of the tar (``hostname``, not ``etc/hostname``).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator

_DIRECTORY = 1 << 31  # Go's os.ModeDir in the stat's mode


class _ChunkReader(io.RawIOBase):
    """A file over an iterable of byte chunks (what tarfile's stream mode reads)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._left:
            try:
                self._left = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


def is_directory(stat: dict[str, object]) -> bool:
    mode = stat.get("mode")
    return isinstance(mode, int) and bool(mode & _DIRECTORY)


def rebased(chunks: Iterable[bytes], directory: str) -> Iterator[bytes]:
    """The entries of the tar ``chunks`` under ``directory/`` moved to the top (the directory's own entry
    dropped); ``directory`` empty: the tar unchanged."""
    if not directory:
        yield from chunks
        return
    out = io.BytesIO()
    prefix = directory.rstrip("/") + "/"
    with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks)), mode="r|") as source, \
            tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as target:
        for member in source:
            if not member.name.startswith(prefix):
                continue
            member.name = member.name[len(prefix):]
            target.addfile(member, source.extractfile(member) if member.isreg() else None)
            if out.tell():
                yield out.getvalue()
                out.seek(0)
                out.truncate()
    if out.tell():
        yield out.getvalue()
