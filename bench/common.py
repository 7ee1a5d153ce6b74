"""Helpers shared by the benchmarks: a private moord, and a dockerd when asked for."""

from __future__ import annotations

import contextlib
from typing import Iterator

from moor.testing.daemon import DaemonProcess


@contextlib.contextmanager
def private_daemon(config_text: str = "") -> Iterator[DaemonProcess]:
    with DaemonProcess(config_text=config_text) as daemon:
        yield daemon
