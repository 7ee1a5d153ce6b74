"""A layer the storage driver refuses half-way leaves the image store as it was (no ``.pending`` marker,
no content): the load that brought it answers 400 and nothing else changes. Runs on the fake drivers."""

from __future__ import annotations

import hashlib
import io
import os
import pathlib

import pytest

from moor.errors import InvalidParameter
from moor.images.store import ImageStore
from moor.testing.fakes import fake_drivers, fake_of, layer_tar


def test_refused_layer_leaves_no_marker(tmp_path: pathlib.Path) -> None:
    drivers = fake_drivers(tmp_path / "drivers")
    store = ImageStore(str(tmp_path / "image"), drivers.storage)
    layer = layer_tar({"etc/hello": b"hi\n"})
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    fake_of(drivers, "storage").fail_next("apply_layer", InvalidParameter("refused: path escapes the layer"))
    with pytest.raises(InvalidParameter):
        store.add_layer(None, io.BytesIO(layer), diff_id)
    assert os.listdir(tmp_path / "image" / "layers") == []
    assert store.add_layer(None, io.BytesIO(layer), diff_id).diff_id == diff_id  # and it loads on a retry
