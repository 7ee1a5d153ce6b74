"""Shared fixtures for container tests: a private moord with busybox imported."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from e2e.imagehelpers import REPO
from moor.testing.daemon import DaemonProcess


def import_busybox(daemon: DaemonProcess) -> None:
    rootfs = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout
    result = subprocess.run([sys.executable, "-m", "moor.cli", "-H", daemon.host, "import", "-c", 'CMD ["sh"]', "-",
                             "busybox:latest"], input=rootfs, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def moord(tmp_path_factory) -> Iterator[DaemonProcess]:
    with DaemonProcess() as daemon:
        import_busybox(daemon)
        yield daemon
        subprocess.run([sys.executable, "-m", "moor.cli", "-H", daemon.host, "rm", "-f",
                        *moor(daemon, "ps", "-aq").stdout.split()], capture_output=True, timeout=120)


def moor(daemon: DaemonProcess, *args: str, input: str | None = None, timeout: float = 60,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moor.cli", "-H", daemon.host, *args], capture_output=True,
                          text=True, input=input, timeout=timeout, env={**os.environ, **(env or {})})


def mounts_under(path: str) -> list[str]:
    with open("/proc/self/mounts") as handle:
        return [line.split()[1] for line in handle if line.split()[1].startswith(path)]
