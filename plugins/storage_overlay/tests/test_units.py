"""Pieces of the overlay driver that need no root: keys, options, path splitting, recording, streams."""

from __future__ import annotations

import io

import pytest

from moor.drivers import Driver
from moor.errors import DriverLoadError, InvalidParameter
from moor.mountinfo import unescape
from moor.testing.conformance import build_tar, load_driver, tar_entry
from moor_storage_overlay.layout import check_key, new_short_name
from moor_storage_overlay.safepath import entry_parts
from moor_storage_overlay.stream import chunk_stream
from moor_storage_overlay.tarsplit import RecordingReader


def test_unknown_option_is_refused(tmp_path) -> None:
    with pytest.raises(DriverLoadError, match="unknown option 'size'"):
        load_driver("storage", "overlay", tmp_path, {"size": "10G"})


@pytest.mark.parametrize("key", ["", "../x", "a/b", ".hidden", "-dash", "l", "x" * 129, "sp ace", None])
def test_invalid_keys_are_refused(driver: Driver, key: str) -> None:
    for call in (lambda: driver.exists(key=key), lambda: driver.prepare(key=key, parent=None),
                 lambda: driver.apply_layer(key=key, parent=None, diff=io.BytesIO(build_tar([tar_entry("f")]))),
                 lambda: driver.mount(key=key), lambda: driver.remove(key=key)):
        with pytest.raises(InvalidParameter, match="invalid storage key"):
            call()


@pytest.mark.parametrize("key", ["a" * 64, "c0ffee", "container_1", "name.with-dots", "x" * 128])
def test_valid_keys(key: str) -> None:
    assert check_key(key) == key


def test_short_names_are_short_and_distinct() -> None:
    names = {new_short_name() for _ in range(1000)}
    assert len(names) == 1000 and {len(name) for name in names} == {26}


@pytest.mark.parametrize("name, parts", [
    ("a/b/c", [b"a", b"b", b"c"]),
    ("./a//b/", [b"a", b"b"]),
    ("/abs/olute", [b"abs", b"olute"]),
    ("a/../b", [b"b"]),
    (".", []),
    ("/", []),
])
def test_entry_parts(name: str, parts: list[bytes]) -> None:
    assert entry_parts(name) == parts


@pytest.mark.parametrize("name", ["..", "../x", "a/../../x", "/../x", "a/b/../../../x"])
def test_entry_parts_refuse_climbing_out(name: str) -> None:
    with pytest.raises(InvalidParameter, match="points outside the layer") as refused:
        entry_parts(name)
    assert repr(name) in str(refused.value)


def test_recording_reader_keeps_all_but_discarded_ranges() -> None:
    data = bytes(range(256)) * 40
    reader = RecordingReader(io.BytesIO(data))
    assert reader.read(100) == data[:100]
    assert reader.take(0, 50) == data[:50]
    reader.discard(3000)  # beyond what was read: dropped as it arrives
    while reader.read(700):
        pass
    assert reader.peek(3000, 3010) == data[3000:3010]
    assert b"".join(reader.drain(3000)) == data[3000:]


def test_chunk_stream_reads_across_chunks() -> None:
    closed = []

    def chunks():
        try:
            yield from [b"ab", b"", b"cde", b"f"]
        finally:
            closed.append(True)

    stream = chunk_stream(chunks())
    assert stream.read(4) == b"abcd"
    assert stream.read() == b"ef"
    assert stream.read(1) == b""
    stream.close()
    assert closed == [True]


def test_mountinfo_unescaping() -> None:
    assert unescape(r"/a\040b\011c\134d") == "/a b\tc\\d"
