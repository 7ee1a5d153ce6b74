"""Tars from clients are read with bounded headers, linear header parsing and sparse holes kept (issue 12).

Each crafted archive goes through every reader of client tars that runs without root: the load spool,
``PUT .../archive`` (copy_in) and the bare guard; the layer apply (load, import) is tested with the overlay
driver in plugins/storage_overlay/tests/test_hostile_tars.py.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from moor.containers.archive import copy_in
from moor.errors import InvalidParameter
from moor.images.archive_spool import spool_archive
from moor.targuard import MAX_HEADER_BYTES, ArchiveHeaderTooLarge, open_stream
from moor.testing.deadline import answer_within
from moor.testing.hostiletar import (
    Endless,
    MiB,
    cve_2024_6232_digits,
    header_block,
    pax_member,
    record,
    sparse_tar,
)


def read_members(stream: io.RawIOBase | io.BytesIO) -> list[str]:
    with open_stream(stream, "r|") as archive:  # type: ignore[arg-type]
        return [member.name for member in archive]


def readers(tmp_path: Path) -> dict[str, Callable[[Any], object]]:
    """Every reader of client tars that runs without root, each into its own fresh directory."""
    counter = iter(range(1000))

    def fresh() -> str:
        path = tmp_path / f"out{next(counter)}"
        path.mkdir()
        return str(path)

    return {
        "guard": read_members,
        "load": lambda stream: spool_archive(stream, fresh()),
        "put-archive": lambda stream: copy_in(fresh(), "/", stream),
    }


READERS = ["guard", "load", "put-archive"]


@pytest.mark.parametrize("reader", READERS)
def test_a_64_mib_pax_header_is_refused_from_its_header_block(tmp_path: Path, reader: str) -> None:
    stream = Endless(header_block(tarfile.XHDTYPE, 64 * MiB))
    with pytest.raises(ArchiveHeaderTooLarge, match="archive header too large"):
        answer_within(60, lambda: readers(tmp_path)[reader](io.BufferedReader(stream)))
    assert stream.count < 4 * MiB


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XGLTYPE])
def test_oversized_gnu_names_and_global_headers_are_refused(kind: bytes) -> None:
    stream = Endless(header_block(kind, MAX_HEADER_BYTES + 1, name="././@LongLink"), filler=b"a")
    with pytest.raises(ArchiveHeaderTooLarge):
        answer_within(60, lambda: read_members(io.BufferedReader(stream)))
    assert stream.count < 4 * MiB


@pytest.mark.parametrize("reader", READERS)
def test_cve_2024_6232_digits_are_refused_fast(tmp_path: Path, reader: str) -> None:
    """1 MiB of digits in a PAX value: Python 3.11.7's tarfile spends CPU-minutes on it."""
    data = cve_2024_6232_digits()
    with pytest.raises(ArchiveHeaderTooLarge, match="digit runs"):
        answer_within(60, lambda: readers(tmp_path)[reader](io.BytesIO(data)))


def test_malformed_records_that_would_cost_quadratic_time_are_refused() -> None:
    """Records whose length sends tarfile's keyword regex over the whole rest of the header each time."""
    data = pax_member(b"4 1 " * (MiB // 8) + b"=\n")
    with pytest.raises(InvalidParameter, match="malformed PAX header record"):
        answer_within(60, lambda: read_members(io.BytesIO(data)))


@pytest.mark.parametrize("records", [b"12 path=abc", b"x path=abc\n", b"3 =\n", b"9 pathabc\n",
                                     b"99 path=abc\n", b"0 p=\n"])
def test_malformed_pax_records_are_refused(records: bytes) -> None:
    with pytest.raises(InvalidParameter, match="malformed PAX header record"):
        read_members(io.BytesIO(pax_member(records)))


def test_big_but_sane_headers_still_read(tmp_path: Path) -> None:
    name = "d/" * 2000 + "file"
    xattr = record("SCHILY.xattr.user.big", b"v" * (600 << 10))
    data = pax_member(record("path", name.encode()) + record("mtime", b"1700000000.123456789") + xattr)
    assert answer_within(60, lambda: read_members(io.BytesIO(data))) == [name]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("g/" * 3000 + "long")
        archive.addfile(info, io.BytesIO())
    assert read_members(io.BytesIO(buffer.getvalue())) == ["g/" * 3000 + "long"]


def test_too_many_global_keys_are_refused() -> None:
    records = b"".join(record(f"key{index}", b"v") for index in range(100))
    with pytest.raises(ArchiveHeaderTooLarge, match="global"):
        read_members(io.BytesIO(pax_member(records, kind=tarfile.XGLTYPE)))


def test_a_chain_of_headers_for_one_entry_is_capped() -> None:
    chain = b"".join(header_block(tarfile.GNUTYPE_LONGNAME, 512 << 10, name="././@LongLink") + b"n" * (512 << 10)
                     for _ in range(12))
    stream = Endless(chain, filler=b"\0")
    with pytest.raises(ArchiveHeaderTooLarge, match="headers of one entry"):
        answer_within(60, lambda: read_members(io.BufferedReader(stream)))


# ---------------------------------------------------------------------- sparse entries


@pytest.mark.parametrize("reader", ["load", "put-archive"])
def test_sparse_holes_stay_holes(tmp_path: Path, reader: str) -> None:
    realsize = 256 * MiB
    data = sparse_tar(realsize, [(4096, b"head"), (realsize - 4, b"tail")])
    out = tmp_path / "out0"
    readers(tmp_path)[reader](io.BytesIO(data))
    written = out / "sparse"
    assert written.stat().st_size == realsize
    assert written.stat().st_blocks * 512 < MiB  # not 256 MiB of written zeros
    with open(written, "rb") as handle:
        handle.seek(4090)
        assert handle.read(10) == bytes(6) + b"head"
        handle.seek(realsize - 6)
        assert handle.read() == bytes(2) + b"tail"


@pytest.mark.parametrize("reader", ["load", "put-archive"])
def test_a_sparse_bomb_is_refused(tmp_path: Path, reader: str) -> None:
    data = sparse_tar(1 << 40, [(0, b"x"), ((1 << 40) - 1, b"y")])
    with pytest.raises(InvalidParameter, match="decompression bomb"):
        answer_within(60, lambda: readers(tmp_path)[reader](io.BytesIO(data)))


@pytest.mark.parametrize("segments", [[(100, b"abcd"), (50, b"ef")], [(0, b"x" * 10)]], ids=["backwards", "past-end"])
def test_a_bad_sparse_map_is_refused(tmp_path: Path, segments: list[tuple[int, bytes]]) -> None:
    with pytest.raises(InvalidParameter, match="invalid sparse map"):
        spool_archive(io.BytesIO(sparse_tar(8, segments)), str(tmp_path))

