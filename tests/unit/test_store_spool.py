"""The image store's spool (commit, import, a build step's layer): hashed once as it is written, applied as it is;
any other stream, or the spool with another digest, is still verified as it is applied."""

from __future__ import annotations

import hashlib
import io
import pathlib
from typing import IO

import pytest

from moor.errors import InvalidParameter
from moor.images import store as store_module
from moor.images.store import ImageStore
from moor.testing.fakes import fake_drivers, layer_tar


class CountingReader(store_module.DigestingReader):
    """Counts every byte the store hashes."""

    hashed = 0

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        CountingReader.hashed += len(data)
        return data


@pytest.fixture
def store(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> ImageStore:
    monkeypatch.setattr(store_module, "DigestingReader", CountingReader)
    CountingReader.hashed = 0
    return ImageStore(str(tmp_path / "image"), fake_drivers(tmp_path / "drivers").storage)


LAYER = layer_tar({"etc/hello": b"hi\n", "usr/share/data": bytes(100_000)})
DIFF_ID = "sha256:" + hashlib.sha256(LAYER).hexdigest()


def test_a_spool_is_hashed_once(store: ImageStore) -> None:
    with store.spooled(io.BytesIO(LAYER)) as (spool, diff_id):
        assert diff_id == DIFF_ID
        record = store.add_layer(None, spool, diff_id)
    assert (record.diff_id, record.size) == (DIFF_ID, len(LAYER))
    assert CountingReader.hashed == len(LAYER)
    assert store.open_layer_tar(record).read() == LAYER


def test_a_spool_of_a_present_layer_is_not_read_again(store: ImageStore) -> None:
    store.add_layer(None, io.BytesIO(LAYER), DIFF_ID)
    CountingReader.hashed = 0
    with store.spooled(io.BytesIO(LAYER)) as (spool, diff_id):
        assert store.add_layer(None, spool, diff_id).diff_id == DIFF_ID
    assert CountingReader.hashed == len(LAYER)


def test_add_layer_without_digest_spools_and_hashes_once(store: ImageStore) -> None:
    assert store.add_layer(None, io.BytesIO(LAYER)).size == len(LAYER)
    assert CountingReader.hashed == len(LAYER)


def test_a_spool_given_another_digest_is_verified(store: ImageStore) -> None:
    other = "sha256:" + "0" * 64
    with store.spooled(io.BytesIO(LAYER)) as (spool, _), pytest.raises(InvalidParameter, match="digest mismatch"):
        store.add_layer(None, spool, other)
    assert store.get_layer(other) is None


def test_a_spool_read_from_is_verified(store: ImageStore) -> None:
    with store.spooled(io.BytesIO(LAYER)) as (spool, diff_id):
        spool.read(512)  # no longer the whole spool: hashed again as it goes
        with pytest.raises(InvalidParameter, match="digest mismatch"):
            store.add_layer(None, spool, diff_id)


def test_a_stream_that_is_no_spool_is_verified(store: ImageStore) -> None:
    stream: IO[bytes] = io.BytesIO(LAYER)
    store.add_layer(None, stream, DIFF_ID)
    assert CountingReader.hashed == len(LAYER)
    with pytest.raises(InvalidParameter, match="digest mismatch"):
        store.add_layer(None, io.BytesIO(LAYER), "sha256:" + "1" * 64)


def test_a_spool_larger_than_memory_goes_to_a_file(store: ImageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_SPOOL_IN_MEMORY", 4096)
    with store.spooled(io.BytesIO(LAYER)) as (spool, diff_id):
        record = store.add_layer(None, spool, diff_id)
    assert (record.diff_id, record.size) == (DIFF_ID, len(LAYER))
    assert CountingReader.hashed == len(LAYER)
    assert store.open_layer_tar(record).read() == LAYER
