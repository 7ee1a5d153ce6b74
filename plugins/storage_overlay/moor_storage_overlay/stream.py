"""A readable binary stream over a generator of byte chunks (bounded memory)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO


class ChunkStream(io.RawIOBase):
    """``read(n)`` pulls chunks from ``chunks`` only as the reader asks for them.

    Closing the stream closes the generator, so its ``finally`` clauses (open
    files, directory descriptors) run even when the reader stops early.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
            self._pending = memoryview(b"")
        super().close()


def chunk_stream(chunks: Iterator[bytes], buffer_size: int = 1 << 16) -> IO[bytes]:
    """Wrap ``chunks`` as a buffered binary file: ``read(n)`` returns ``n`` bytes until the end."""
    return io.BufferedReader(ChunkStream(chunks), buffer_size=buffer_size)
