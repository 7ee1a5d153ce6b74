"""Shared helpers for compose's end-to-end tests: ``moor compose`` run in a project directory against a
private moord with busybox imported, and the project's leftovers removed whatever the test did."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.containerhelpers import MOOR_CLI, import_busybox, moor
from moor.testing.daemon import DaemonProcess

#: compose files the tests share
COMPOSE_FILES = Path(__file__).resolve().parent.parent / "compose"


def compose(daemon: DaemonProcess, project_dir: Path | str, *args: str, input: str | None = None,
            timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``moor -H <daemon> compose ARGS`` run in ``project_dir``, its output as text (env: only what is given,
    plus PATH and HOME, so that the caller's COMPOSE_* variables never leak in)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run([*MOOR_CLI, "-H", daemon.host, "compose", *args], cwd=str(project_dir),
                          capture_output=True, text=True, input=input, timeout=timeout, env={**base, **(env or {})})


def write_project(directory: Path, compose_yaml: str, files: dict[str, str] | None = None) -> Path:
    """A project directory with ``compose.yaml`` (and any other ``files``, by relative path)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "compose.yaml").write_text(compose_yaml)
    for name, text in (files or {}).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


def remove_everything(daemon: DaemonProcess) -> None:
    """Every container, user network and volume of the daemon removed (between tests of a module)."""
    containers = moor(daemon, "ps", "-aq").stdout.split()
    if containers:
        moor(daemon, "rm", "-f", *containers, timeout=120)
    networks = [name for name in moor(daemon, "network", "ls", "--format", "{{.Name}}").stdout.split()
                if name not in ("bridge", "host", "none")]
    if networks:
        moor(daemon, "network", "rm", *networks)
    volumes = moor(daemon, "volume", "ls", "-q").stdout.split()
    if volumes:
        moor(daemon, "volume", "rm", "-f", *volumes)


@pytest.fixture(scope="module")
def compose_moord() -> Iterator[DaemonProcess]:
    """A private moord with busybox:latest, shared by a module; everything removed after it."""
    with DaemonProcess() as daemon:
        import_busybox(daemon)
        try:
            yield daemon
        finally:
            remove_everything(daemon)
