"""Removing many snapshots (issue 17: `rm` of 1000 containers): who uses a layer is read from every key's
``lower`` once, not once per removal; a new key makes it read again, and a used layer stays refused."""

from __future__ import annotations

import io

import pytest

from moor.drivers import Driver
from moor.errors import Conflict
from moor.testing.conformance import build_tar, tar_entry
from moor_storage_overlay.layout import Layout

pytestmark = pytest.mark.root


def test_many_removals_read_the_chains_once(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    driver.apply_layer(key="base", parent=None, diff=io.BytesIO(build_tar([tar_entry("f", b"x")])))
    for number in range(30):
        driver.prepare(key=f"c{number}", parent="base")
    reads: list[str] = []
    original = Layout.lower

    def counted(self: Layout, key: str) -> list[str]:
        reads.append(key)
        return original(self, key)
    monkeypatch.setattr(Layout, "lower", counted)
    with pytest.raises(Conflict, match="in use by c0, c1"):
        driver.remove(key="base")
    for number in range(30):
        assert driver.remove(key=f"c{number}") is True
    assert len(reads) <= 31 + 30  # every key's chain once, then each removed key's own
    driver.prepare(key="late", parent="base")  # a new key: the users are read again
    with pytest.raises(Conflict, match="in use by late"):
        driver.remove(key="base")
    assert driver.remove(key="late") is True
    assert driver.remove(key="base") is True
