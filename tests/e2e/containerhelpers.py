"""Shared helpers for end-to-end tests: the moor CLI, a private moord with busybox imported, polling.

One definition of each: ``moor`` (text) and ``moor_bytes`` run the CLI against a daemon,
``run_cli`` runs it with the arguments as given, ``first_json``/``inspect``/``address`` read what
inspect prints, ``wait_for`` polls a condition.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import pytest

from e2e.imagehelpers import REPO
from moor.daemon.storagemounts import STORAGE_DIR
from moor.testing.daemon import DaemonProcess

#: The moor CLI, run as a module of the interpreter running the tests.
MOOR_CLI = [sys.executable, "-m", "moor.cli"]


def run_cli(*args: str, input: str | None = None, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``moor ARGS`` (no ``-H``: name the daemon in ``args`` or ``env``), its output as text."""
    return subprocess.run([*MOOR_CLI, *args], capture_output=True, text=True, input=input, timeout=timeout,
                          env={**os.environ, **(env or {})})


def moor(daemon: DaemonProcess, *args: str, input: str | None = None, timeout: float = 60,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``moor -H <daemon> ARGS``, its output as text."""
    return run_cli("-H", daemon.host, *args, input=input, timeout=timeout, env=env)


def moor_bytes(daemon: DaemonProcess, *args: str, input: bytes | None = None, stdin: IO[bytes] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """``moor -H <daemon> ARGS`` with binary input and output (archives, images)."""
    return subprocess.run([*MOOR_CLI, "-H", daemon.host, *args], capture_output=True, input=input, stdin=stdin,
                          timeout=timeout)


def ok(result: subprocess.CompletedProcess[Any]) -> str:
    """The output of a command that must have succeeded (its stderr is the failure message)."""
    assert result.returncode == 0, result.stderr
    return result.stdout if isinstance(result.stdout, str) else result.stdout.decode()


def first_json(daemon: DaemonProcess, *args: str) -> Any:
    """The first object a moor command prints as a JSON list (``inspect NAME``, ``network inspect NAME``)."""
    return json.loads(ok(moor(daemon, *args)))[0]


def inspect(daemon: DaemonProcess, name: str) -> dict[str, Any]:
    """``moor inspect NAME``: the object's JSON."""
    result: dict[str, Any] = first_json(daemon, "inspect", name)
    return result


def address(daemon: DaemonProcess, container: str, network: str = "bridge") -> str:
    """The container's IPv4 address on ``network``."""
    return str(inspect(daemon, container)["NetworkSettings"]["Networks"][network]["IPAddress"])


def wait_for(predicate: Callable[[], object], timeout: float = 20, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true (returns True) or ``timeout`` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    raise AssertionError(f"condition never held within {timeout}s")


def docker_env(daemon: DaemonProcess) -> dict[str, str]:
    """The environment in which the docker CLI talks to ``daemon``."""
    return {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": daemon.root}


def import_busybox(daemon: DaemonProcess) -> None:
    rootfs = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout
    result = moor_bytes(daemon, "import", "-c", 'CMD ["sh"]', "-", "busybox:latest", input=rootfs, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def moord(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with DaemonProcess() as daemon:
        import_busybox(daemon)
        yield daemon
        moor(daemon, "rm", "-f", *moor(daemon, "ps", "-aq").stdout.split(), timeout=120)


def mounts_under(path: str) -> list[str]:
    """The mount points under ``path`` but the storage root and the driver's home, which moord keeps as mounts of
    their own (:mod:`moor.daemon.storagemounts`) as long as the data root is used."""
    with open("/proc/self/mounts") as handle:
        points = [line.split()[1] for line in handle if line.split()[1].startswith(path)]
    return [point for point in points if STORAGE_DIR not in (os.path.basename(point),
                                                            os.path.basename(os.path.dirname(point)))]
