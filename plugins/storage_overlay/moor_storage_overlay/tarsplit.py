"""Tar-split: the bytes of an applied tar minus its file contents, to rebuild it exactly.

While a layer is applied, :class:`RecordingReader` sees every byte of the tar
stream. Everything that is not the content of a regular file written to disk
(headers, PAX and GNU long-name blocks, padding, the end-of-archive blocks and
anything after them) is stored verbatim; each file's content is stored as a
reference (its path in the layer's ``diff`` directory and its size).
:func:`reassemble` later streams the identical tar back, reading contents from
disk, so the sha256 of the stream is the layer's diff ID again.

File format (gzip-compressed): the magic line, then records

* ``R`` + 4-byte length + raw bytes;
* ``F`` + 8-byte size + 4-byte path length + path (relative to ``diff``);
* ``E`` at the end.

Content displaced during the apply (a tar that writes the same path twice)
is kept as ``tar-split.data/<n>`` where ``n`` counts the ``F`` records.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Iterator
from typing import IO

from zlib_ng import gzip_ng

from moor.errors import MoorError
from moor_storage_overlay.safepath import DIR_FLAGS, NotInTree, open_dir

MAGIC = b"moor-tar-split/1\n"
FILE_NAME = "tar-split.gz"
DATA_DIR = "tar-split.data"
RAW_CHUNK = 1 << 20
COPY_CHUNK = 1 << 20
#: Records are gathered up to this many bytes before they are compressed (one call per batch, not per record).
WRITE_BATCH = 1 << 18
#: Reassembled tar pieces: headers and small files are gathered up to this many bytes before they go out.
OUT_BATCH = 1 << 18
#: zlib-ng's fastest level: the file is mostly tar headers, which compress well at any level.
COMPRESS_LEVEL = 1
_RAW = struct.Struct(">I")
_FILE = struct.Struct(">QI")


class RecordingReader:
    """A pass-through reader that remembers the bytes read, except the ranges it is told to drop.

    Positions are offsets in the stream. The kept bytes are contiguous:
    ``[base, position)``, minus a prefix being dropped (``discard``).
    """

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.position = 0
        self._base = 0
        self._buffer = bytearray()
        self._discard_until = 0
        self.at_eof = False

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size) if size is not None and size >= 0 else self._source.read()
        if not data:
            self.at_eof = True
            return b""
        data = bytes(data)
        start = self.position
        self.position += len(data)
        skip = min(len(data), max(0, self._discard_until - start))
        if skip:
            self._base = start + skip
        self._buffer += memoryview(data)[skip:]
        return data

    def take(self, start: int, end: int) -> bytes:
        """Return and forget the kept bytes ``[start, end)``; ``start`` must be where they begin."""
        if start != self._base or end > self._base + len(self._buffer) or end < start:
            raise MoorError(f"internal error: tar-split bytes {start}-{end} are not recorded")
        count = end - start
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        self._base = end
        return data

    def peek(self, start: int, end: int) -> bytes:
        """The kept bytes ``[start, end)`` (fewer at the end of the stream), without forgetting them."""
        return bytes(self._buffer[max(0, start - self._base): max(0, end - self._base)])

    def discard(self, end: int) -> None:
        """Forget everything before ``end`` now and as it arrives (a file's content)."""
        drop = min(len(self._buffer), max(0, end - self._base))
        del self._buffer[:drop]
        self._base = max(self._base + drop, end)
        self._discard_until = max(self._discard_until, end)

    def fill(self, end: int) -> None:
        """Read on until ``end`` bytes were read or the stream ends."""
        while self.position < end and not self.at_eof:
            self.read(end - self.position)

    def drain(self, start: int) -> Iterator[bytes]:
        """Yield the kept bytes from ``start`` and then the rest of the stream, keeping nothing."""
        yield self.take(start, self._base + len(self._buffer))
        while True:
            data = self._source.read(RAW_CHUNK)
            if not data:
                self.at_eof = True
                return
            self.position += len(data)
            self._base = self.position
            yield bytes(data)


class TarSplitWriter:
    """Writes the tar-split file of a layer as the tar goes by."""

    def __init__(self, path: str) -> None:
        self._out = gzip_ng.open(path, "wb", compresslevel=COMPRESS_LEVEL)
        self._pending = bytearray(MAGIC)
        self.files = 0

    def _flush_if_full(self) -> None:
        if len(self._pending) >= WRITE_BATCH:
            self._out.write(self._pending)
            self._pending.clear()

    def raw(self, data: bytes) -> None:
        view = memoryview(data)
        for index in range(0, len(view), RAW_CHUNK):
            piece = view[index: index + RAW_CHUNK]
            self._pending += b"R" + _RAW.pack(len(piece))
            self._pending += piece
            self._flush_if_full()

    def file(self, relative: bytes, size: int) -> int:
        """Record that ``size`` content bytes live at ``diff/<relative>``; return the record's number."""
        self._pending += b"F" + _FILE.pack(size, len(relative)) + relative
        self._flush_if_full()
        self.files += 1
        return self.files - 1

    def close(self) -> None:
        self._pending += b"E"
        self._out.write(self._pending)
        self._pending.clear()
        self._out.close()

    def abort(self) -> None:
        self._pending.clear()
        self._out.close()


def _read_exact(handle: gzip.GzipFile, count: int, what: str) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise MoorError(f"the tar-split of {what} is truncated")
    return data


class _Contents:
    """Opens the files whose contents the tar-split refers to, for :func:`reassemble`.

    Displaced contents are in ``tar-split.data/<n>`` (listed once); the others are under ``diff``,
    reached without following links, the parent directory kept open while files of the same
    directory follow one another (a layer's files come directory by directory).
    """

    def __init__(self, layer_dir: str, what: str) -> None:
        self.what = what
        self.data_dir = os.path.join(layer_dir, DATA_DIR)
        try:
            self.displaced = set(os.listdir(self.data_dir))
        except FileNotFoundError:
            self.displaced = set()
        self.root_fd = os.open(os.path.join(layer_dir, "diff"), DIR_FLAGS)
        self._parent: tuple[bytes, int] | None = None

    def open(self, relative: bytes, number: int) -> int:
        if str(number) in self.displaced:
            return os.open(os.path.join(self.data_dir, str(number)), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        folder, _, base = relative.rpartition(b"/")
        if self._parent is None or self._parent[0] != folder:
            self._forget_parent()
            try:
                fd = open_dir(self.root_fd, folder.split(b"/") if folder else [], create=False,
                              entry=os.fsdecode(relative))
            except NotInTree:
                raise MoorError(f"{self.what}: the file {os.fsdecode(relative)!r} is gone") from None
            self._parent = (folder, fd)
        return os.open(base, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._parent[1])

    def _forget_parent(self) -> None:
        if self._parent is not None:
            os.close(self._parent[1])
            self._parent = None

    def close(self) -> None:
        self._forget_parent()
        os.close(self.root_fd)


def reassemble(layer_dir: str, what: str) -> Iterator[bytes]:
    """Yield the original tar of the layer in ``layer_dir``, in pieces of about :data:`OUT_BATCH` bytes
    (headers and small files gathered, large contents as they are read)."""
    try:
        handle = gzip_ng.open(os.path.join(layer_dir, FILE_NAME), "rb")
        contents = _Contents(layer_dir, what)
    except OSError as err:
        raise MoorError(f"cannot read the tar-split of {what}: {err.strerror or err}") from None
    out = bytearray()
    with handle:
        try:
            if handle.read(len(MAGIC)) != MAGIC:
                raise MoorError(f"the tar-split of {what} is not in moor's format")
            number = 0
            while True:
                kind = handle.read(1)
                if kind == b"R":
                    (length,) = _RAW.unpack(_read_exact(handle, _RAW.size, what))
                    out += _read_exact(handle, length, what)
                elif kind == b"F":
                    size, length = _FILE.unpack(_read_exact(handle, _FILE.size, what))
                    relative = _read_exact(handle, length, what)
                    fd = contents.open(relative, number)
                    try:
                        left = size
                        while left:
                            data = os.read(fd, min(left, COPY_CHUNK))
                            if not data:
                                raise MoorError(f"{what}: the file {os.fsdecode(relative)!r} is shorter than when "
                                                "it was applied")
                            left -= len(data)
                            if len(data) >= OUT_BATCH:
                                if out:
                                    yield bytes(out)
                                    out.clear()
                                yield data
                            else:
                                out += data
                        if os.read(fd, 1):
                            raise MoorError(f"{what}: the file {os.fsdecode(relative)!r} is longer than when it "
                                            "was applied")
                    finally:
                        os.close(fd)
                    number += 1
                elif kind == b"E":
                    if out:
                        yield bytes(out)
                    return
                else:
                    raise MoorError(f"the tar-split of {what} is damaged")
                if len(out) >= OUT_BATCH:
                    yield bytes(out)
                    out.clear()
        except (OSError, EOFError) as err:
            raise MoorError(f"cannot read the tar-split of {what}: {err}") from None
        finally:
            contents.close()
