"""Fixtures for the overlay driver's tests: a driver under tmp_path, every mount undone."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from moor.drivers import Driver
from moor.testing.conformance import load_driver
from moor.testing.daemon import unmount_under


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (runs in CI)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def driver(tmp_path) -> Iterator[Driver]:
    """The overlay driver with its data under tmp_path; mounts left by a failing test are undone."""
    try:
        yield load_driver("storage", "overlay", tmp_path)
    finally:
        unmount_under(str(tmp_path))
