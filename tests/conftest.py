"""Shared fixtures: a private moord per test module, never the system's."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from moor.testing.daemon import DaemonProcess


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (runs in CI)")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    """A moord with its own data root, exec root and socket, stopped after the module."""
    with DaemonProcess() as process:
        yield process


@pytest.fixture
def docker_cli() -> str:
    path = shutil.which("docker")
    if path is None:
        pytest.fail("the docker CLI is missing: `make install` installs it")
    return path
