"""One private moord for the whole hostile suite (with busybox imported and the API cases' targets made)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from e2e.containerhelpers import import_busybox

from hostile.invariants import Guard
from hostile.targets import make_targets
from moor.testing.daemon import DaemonProcess


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every hostile case needs the real moord: mark them root (tests/conftest.py skips them without root)."""
    skip = pytest.mark.skip(reason="needs root (runs in CI)")
    for item in items:
        if "/tests/hostile/" in str(item.fspath):
            item.add_marker(pytest.mark.root)
            if os.geteuid() != 0:  # whichever conftest's hook runs first
                item.add_marker(skip)


@pytest.fixture(scope="session")
def hostile_daemon() -> Iterator[DaemonProcess]:
    """A moord shared by every hostile case, its API targets made; stopped (and cleaned) at the end."""
    with DaemonProcess() as daemon:
        import_busybox(daemon)
        make_targets(daemon.socket)
        yield daemon


@pytest.fixture
def guard(hostile_daemon: DaemonProcess) -> Iterator[Guard]:
    """Checks, after the case, that moord still serves and logged no traceback during it."""
    watcher = Guard(hostile_daemon)
    yield watcher
    watcher.after()
