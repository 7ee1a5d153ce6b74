"""Docker's multiplexed stream read back into frames, whatever the chunks it arrives in."""

from __future__ import annotations

import struct

from moor.framing import read_frames


def frame(kind: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", kind, len(data)) + data


def test_frames_are_whole_whatever_the_chunks() -> None:
    stream = frame(1, b"out") + frame(2, b"err") + frame(0, b"stdin echo") + frame(1, b"") + frame(1, b"torn")[:6]
    for size in (1, 3, 8, 11, len(stream)):
        chunks = [stream[i:i + size] for i in range(0, len(stream), size)]
        assert list(read_frames(iter([*chunks, b""]).__next__)) == [
            (1, b"out"), (2, b"err"), (1, b"stdin echo"), (1, b"")]
