"""Layer decompression: every kind round-trips, corrupt and truncated data are one-line 400s, stream errors pass."""

from __future__ import annotations

import bz2
import gc
import gzip
import io
import lzma
import os
import pathlib
import random
import threading

import pytest
import zstandard

from moor.errors import InvalidParameter
from moor.images import compression
from moor.images.compression import detect_compression, open_decompressed

DATA = random.Random(7).randbytes(300_000) + b"text " * 200_000  # past every decoder's buffer sizes


def _read_all(packed: bytes, chunk: int = 1 << 16) -> bytes:
    with open_decompressed(io.BytesIO(packed), "layer x") as stream:
        parts = []
        while part := stream.read(chunk):
            parts.append(part)
    return b"".join(parts)


PACKERS = {
    "gzip": lambda data: gzip.compress(data, 6),
    "zstd": lambda data: zstandard.ZstdCompressor(level=3, write_checksum=True).compress(data),
    "xz": lzma.compress,
    "bzip2": bz2.compress,
    "none": lambda data: data,
}


@pytest.mark.parametrize("kind", sorted(PACKERS))
def test_round_trip(kind: str) -> None:
    packed = PACKERS[kind](DATA)
    assert detect_compression(packed[: compression.MAGIC_LEN]) == kind
    assert _read_all(packed) == DATA
    assert _read_all(packed, 7)[:1000] == DATA[:1000]


def test_gzip_members_and_zstd_frames_are_concatenated() -> None:
    half = len(DATA) // 2
    assert _read_all(gzip.compress(DATA[:half]) + gzip.compress(DATA[half:])) == DATA
    packer = zstandard.ZstdCompressor()
    assert _read_all(packer.compress(DATA[:half]) + packer.compress(DATA[half:])) == DATA


@pytest.mark.parametrize("kind", ["gzip", "zstd", "xz", "bzip2"])
def test_truncated_data_is_refused(kind: str) -> None:
    packed = PACKERS[kind](DATA)
    with pytest.raises(InvalidParameter, match=r"^layer x: (truncated|corrupt) compressed data"):
        _read_all(packed[: len(packed) * 2 // 3])


def _zstd_frames() -> bytes:
    """Two frames (with and without checksum, one with its size), a skippable frame between them."""
    first = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(DATA[:200_000])
    skippable = (0x184D2A53).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"hello"
    packer = zstandard.ZstdCompressor(level=1, write_content_size=False)
    with io.BytesIO() as out:
        with packer.stream_writer(out, closefd=False) as writer:
            writer.write(DATA[200_000:])
        second = out.getvalue()
    return first + skippable + second


def test_zstd_frames_skippable_frames_and_checksums() -> None:
    assert _read_all(_zstd_frames()) == DATA


def test_zstd_cut_anywhere_but_between_frames_is_refused() -> None:
    packed = _zstd_frames()
    boundaries = {0}
    skippable = packed.index((0x184D2A53).to_bytes(4, "little"))
    boundaries |= {skippable, skippable + 13, len(packed)}
    for cut in sorted({*range(4, 40), *range(skippable - 8, skippable + 20), *range(len(packed) - 40, len(packed)),
                       *range(1000, len(packed), 9973)}):
        if cut in boundaries:
            continue
        with pytest.raises(InvalidParameter, match=r"^layer x: (truncated|corrupt) compressed data"):
            _read_all(packed[:cut])
    assert _read_all(packed[:skippable]) == DATA[:200_000]  # whole frames: a shorter, valid stream


@pytest.mark.parametrize("kind", ["gzip", "zstd", "xz", "bzip2"])
def test_corrupt_data_is_refused(kind: str) -> None:
    packed = bytearray(PACKERS[kind](DATA))
    for offset in range(len(packed) // 3, len(packed) // 3 + 64):
        packed[offset] ^= 0x5A
    with pytest.raises(InvalidParameter, match=r"^layer x: (corrupt|truncated) compressed data"):
        _read_all(bytes(packed))


def test_gzip_checksum_mismatch_is_refused() -> None:
    packed = bytearray(gzip.compress(DATA))
    packed[-8] ^= 0xFF  # the CRC32 of the trailer
    with pytest.raises(InvalidParameter, match=r"^layer x: corrupt compressed data \(CRC check failed"):
        _read_all(bytes(packed))


class _Failing(io.RawIOBase):
    """A source that fails like a dropped connection after some bytes."""

    def __init__(self, data: bytes, after: int) -> None:
        self.data, self.after, self.position = data, after, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self.position >= self.after:
            raise ConnectionResetError(104, "Connection reset by peer")
        size = min(len(buffer), self.after - self.position)
        buffer[:size] = self.data[self.position:self.position + size]
        self.position += size
        return size


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_errors_of_the_source_pass_unchanged(kind: str) -> None:
    packed = PACKERS[kind](DATA)
    source = io.BufferedReader(_Failing(packed, len(packed) // 2))
    with open_decompressed(source, "layer x") as stream, pytest.raises(ConnectionResetError):
        while stream.read(1 << 16):
            pass


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_bomb_guard(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setattr(compression, "BOMB_RATIO", 10)
    monkeypatch.setattr(compression, "BOMB_MIN_BYTES", 1 << 20)
    with pytest.raises(InvalidParameter, match="refusing a decompression bomb"):
        _read_all(PACKERS[kind](bytes(8 << 20)))
    assert _read_all(PACKERS[kind](os.urandom(2 << 20))) != b""  # over the floor, under the ratio


def test_closing_closes_the_source_only_when_asked() -> None:
    for close_raw in (False, True):
        raw = io.BytesIO(gzip.compress(DATA))
        open_decompressed(raw, "layer x", close_raw=close_raw).close()
        assert raw.closed is close_raw


# --- decompressing ahead, in a thread -------------------------------------------------------------

def _ahead_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "decompress-ahead"]


@pytest.mark.parametrize("kind", ["gzip", "zstd", "xz", "bzip2", "none"])
def test_ahead_round_trip(kind: str) -> None:
    packed = PACKERS[kind](DATA)
    for size in (1, 10_240, 1 << 20, 3 << 20):
        with open_decompressed(io.BytesIO(packed), "layer x", ahead=True) as stream:
            parts = []
            while part := stream.read(size):
                parts.append(part)
                if size == 1 and len(parts) > 1000:
                    parts.append(stream.read())  # the rest at once
            assert b"".join(parts) == DATA
    with open_decompressed(io.BytesIO(packed), "layer x", ahead=True) as stream:
        buffer = bytearray(70_000)
        count = stream.readinto(buffer)  # type: ignore[attr-defined]
        assert count > 0 and bytes(buffer[:count]) == DATA[:count]
    assert not _ahead_threads()


def test_ahead_raises_errors_where_they_are_and_after() -> None:
    packed = bytearray(PACKERS["gzip"](DATA))
    for offset in range(len(packed) // 2, len(packed) // 2 + 64):
        packed[offset] ^= 0x5A
    with open_decompressed(io.BytesIO(bytes(packed)), "layer x", ahead=True) as stream:
        head = stream.read(100_000)
        assert head == DATA[:100_000]
        with pytest.raises(InvalidParameter, match=r"^layer x: corrupt compressed data"):
            while stream.read(1 << 16):
                pass
        with pytest.raises(InvalidParameter, match=r"^layer x: corrupt compressed data"):
            stream.read(1)
    assert not _ahead_threads()


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_ahead_passes_errors_of_the_source(kind: str) -> None:
    packed = PACKERS[kind](DATA)
    source = io.BufferedReader(_Failing(packed, len(packed) // 2))
    with open_decompressed(source, "layer x", ahead=True) as stream, pytest.raises(ConnectionResetError):
        while stream.read(1 << 16):
            pass


def test_ahead_keeps_the_bomb_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "BOMB_RATIO", 10)
    monkeypatch.setattr(compression, "BOMB_MIN_BYTES", 1 << 20)
    with open_decompressed(io.BytesIO(PACKERS["gzip"](bytes(8 << 20))), "layer x", ahead=True) as stream, \
            pytest.raises(InvalidParameter, match="refusing a decompression bomb"):
        while stream.read(1 << 16):
            pass


def test_ahead_stops_its_thread_when_closed_early() -> None:
    big = PACKERS["gzip"](DATA * 20)  # far more than the pieces it may hold
    raw = io.BytesIO(big)
    stream = open_decompressed(raw, "layer x", close_raw=True, ahead=True)
    assert stream.read(10) == DATA[:10]
    assert _ahead_threads()
    stream.close()
    assert not _ahead_threads() and raw.closed


def test_open_layer_reads_ahead(tmp_path: pathlib.Path) -> None:
    data = DATA * 10  # more than the pieces it may hold: the thread waits for the reader
    (tmp_path / "layer.gz").write_bytes(PACKERS["gzip"](data))
    with compression.open_layer(str(tmp_path / "layer.gz")) as stream:
        assert stream.read(10) == data[:10]
        assert _ahead_threads()
        assert stream.read() == data[10:]
    assert not _ahead_threads()


def test_ahead_stream_dropped_without_close_stops_its_thread() -> None:
    raw = io.BytesIO(PACKERS["gzip"](DATA * 20))
    stream = open_decompressed(raw, "layer x", close_raw=True, ahead=True)
    assert stream.read(10) == DATA[:10]
    del stream
    gc.collect()
    assert not _ahead_threads() and raw.closed
