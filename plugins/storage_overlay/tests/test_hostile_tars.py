"""Layer apply (load, import, pull) refuses huge and quadratic tar headers fast, keeps sparse holes (issue 12)."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from moor.drivers import Driver
from moor.errors import InvalidParameter
from moor.targuard import ArchiveHeaderTooLarge
from moor.testing.deadline import answer_within
from moor.testing.hostiletar import Endless, MiB, cve_2024_6232_digits, header_block, pax_member, record, sparse_tar

pytestmark = pytest.mark.root


def _left(driver: Driver, key: str) -> bool:
    return driver.exists(key=key)


def test_a_64_mib_pax_header_is_refused_from_its_header_block(driver: Driver) -> None:
    stream = Endless(header_block(b"x", 64 * MiB))
    with pytest.raises(ArchiveHeaderTooLarge, match="archive header too large"):
        answer_within(60, lambda: driver.apply_layer(key="big", parent=None, diff=io.BufferedReader(stream)))
    assert stream.count < 4 * MiB
    assert not _left(driver, "big")


def test_cve_2024_6232_digits_are_refused_fast(driver: Driver) -> None:
    data = cve_2024_6232_digits()
    with pytest.raises(ArchiveHeaderTooLarge, match="digit runs"):
        answer_within(60, lambda: driver.apply_layer(key="cve", parent=None, diff=io.BytesIO(data)))
    assert not _left(driver, "cve")


def test_a_sane_big_header_applies_and_diffs_back_identically(driver: Driver) -> None:
    data = pax_member(record("SCHILY.xattr.user.big", b"v" * 4000) + record("path", b"dir/" * 500 + b"f"))
    driver.apply_layer(key="sane", parent=None, diff=io.BytesIO(data))
    with driver.diff(key="sane") as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_sparse_holes_stay_holes_and_the_layer_diffs_back_identically(driver: Driver) -> None:
    realsize = 256 * MiB
    data = sparse_tar(realsize, [(4096, b"head"), (realsize - 4, b"tail")])
    driver.apply_layer(key="sparse", parent=None, diff=io.BytesIO(data))
    written = os.path.join(driver.plugin.home, "sparse", "diff", "sparse")
    info = os.stat(written)
    assert info.st_size == realsize and info.st_blocks * 512 < MiB  # not 256 MiB of written zeros
    with open(written, "rb") as handle:
        handle.seek(realsize - 6)
        assert handle.read() == bytes(2) + b"tail"
    with driver.diff(key="sparse") as stream:
        assert stream.read() == data


def test_a_sparse_bomb_is_refused(driver: Driver) -> None:
    data = sparse_tar(1 << 40, [(0, b"x"), ((1 << 40) - 1, b"y")])
    with pytest.raises(InvalidParameter, match="decompression bomb"):
        answer_within(60, lambda: driver.apply_layer(key="bomb", parent=None, diff=io.BytesIO(data)))
    assert not _left(driver, "bomb")
