"""compress_layer: gzip through zlib-ng into a temp file, digests learnt on the way, nothing left on failure."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pathlib

import pytest

from moor.errors import MoorError
from moor.services.registry.compress import compress_layer, compressed_layer

DATA = b"".join(hashlib.sha256(str(n).encode()).hexdigest().encode() * 3 for n in range(40000))


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_gzip_with_digest_and_size(tmp_path: pathlib.Path) -> None:
    seen: list[int] = []
    layer = compress_layer(io.BytesIO(DATA), str(tmp_path), sha(DATA), progress=seen.append)
    blob = pathlib.Path(layer.path).read_bytes()
    assert gzip.decompress(blob) == DATA
    assert (layer.digest, layer.size) == (sha(blob), len(blob))
    assert (layer.diff_id, layer.uncompressed_size) == (sha(DATA), len(DATA))
    assert seen[-1] == len(DATA) and seen == sorted(seen)
    assert len(blob) < len(DATA) // 2
    os.unlink(layer.path)


def test_the_same_tar_gives_the_same_blob(tmp_path: pathlib.Path) -> None:
    with compressed_layer(io.BytesIO(DATA), str(tmp_path)) as first, \
            compressed_layer(io.BytesIO(DATA), str(tmp_path)) as second:
        assert first.digest == second.digest and first.path != second.path
    assert os.listdir(tmp_path) == []


def test_a_wrong_diff_id_leaves_nothing(tmp_path: pathlib.Path) -> None:
    with pytest.raises(MoorError, match="has changed on disk"):
        compress_layer(io.BytesIO(DATA), str(tmp_path), "sha256:" + "0" * 64)
    assert os.listdir(tmp_path) == []


def test_a_failing_stream_leaves_nothing(tmp_path: pathlib.Path) -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > 1 << 20:
                raise OSError("disk gone")
            return super().read(size)

    with pytest.raises(OSError, match="disk gone"):
        compress_layer(Broken(DATA), str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_the_file_goes_when_the_block_fails(tmp_path: pathlib.Path) -> None:
    with pytest.raises(RuntimeError), compressed_layer(io.BytesIO(DATA), str(tmp_path)):
        assert len(os.listdir(tmp_path)) == 1
        raise RuntimeError("upload failed")
    assert os.listdir(tmp_path) == []


def test_an_empty_tar_is_a_valid_gzip(tmp_path: pathlib.Path) -> None:
    with compressed_layer(io.BytesIO(b""), str(tmp_path)) as layer:
        assert gzip.decompress(pathlib.Path(layer.path).read_bytes()) == b""
        assert layer.diff_id == sha(b"")
