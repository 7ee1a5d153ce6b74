"""Shared helpers for compose's end-to-end tests: ``moor compose`` run in a project directory against a
private moord with busybox imported, and the project's leftovers removed whatever the test did."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from e2e.containerhelpers import MOOR_CLI, import_busybox, moor
from moor.testing.daemon import DaemonProcess

#: compose files the tests share
COMPOSE_FILES = Path(__file__).resolve().parent.parent / "compose"

#: a command that stops at once on SIGTERM (sleep as PID 1 would wait for the stop timeout)
SLEEPING = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
#: the same as a compose file writes it
SLEEP = json.dumps(SLEEPING)

#: what the ``project`` fixture gives a test: the module's moord, the project directory, the project name
ProjectDir = tuple[DaemonProcess, Path, str]


def base_env() -> dict[str, str]:
    """The environment ``moor compose`` runs with in these tests: PATH and HOME only, so that the caller's
    COMPOSE_* variables never leak in."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}


def compose(daemon: DaemonProcess, project_dir: Path | str, *args: str, input: str | None = None,
            timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``moor -H <daemon> compose ARGS`` run in ``project_dir``, its output as text (env: only what is given,
    plus :func:`base_env`)."""
    return subprocess.run([*MOOR_CLI, "-H", daemon.host, "compose", *args], cwd=str(project_dir),
                          capture_output=True, text=True, input=input, timeout=timeout,
                          env={**base_env(), **(env or {})})


def compose_ok(daemon: DaemonProcess, project_dir: Path | str, *args: str, input: str | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``moor compose --progress plain ARGS``, which must succeed (stderr: the progress lines)."""
    result = compose(daemon, project_dir, "--progress", "plain", *args, input=input, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def compose_progress(daemon: DaemonProcess, project_dir: Path | str, *args: str) -> str:
    """``moor compose --progress plain ARGS``, which must succeed; its progress lines (stderr)."""
    return compose_ok(daemon, project_dir, *args).stderr


def failed(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The one error line of a failed command (its last stderr line), after checking the exit code and that
    no traceback was printed."""
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def events(stderr: str, kind: str, status: str) -> list[str]:
    """Names of the plain progress lines `` KIND NAME  STATUS``, in order."""
    found = []
    for line in stderr.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == kind and parts[2] == status:
            found.append(parts[1])
    return found


def shell(script: str) -> dict[str, list[str]]:
    """A service's ``command`` that runs ``sh -c SCRIPT`` (for :func:`services_yaml`)."""
    return {"command": ["sh", "-c", script]}


def services_yaml(services: Mapping[str, Mapping[str, Any]], **sections: Any) -> str:
    """A compose file with these services (each ``image: busybox:latest`` unless it names another) and other
    top-level ``sections`` (networks, volumes, ...), written as JSON: YAML reads it as it is."""
    return json.dumps({"services": {name: {"image": "busybox:latest", **config} for name, config in services.items()},
                       **sections}, indent=2) + "\n"


def write_project(directory: Path, compose_yaml: str, files: dict[str, str] | None = None) -> Path:
    """A project directory with ``compose.yaml`` (and any other ``files``, by relative path)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "compose.yaml").write_text(compose_yaml)
    for name, text in (files or {}).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


def state(daemon: DaemonProcess, container: str) -> str:
    """The container's ``State.Status`` (running, exited, ...)."""
    return moor(daemon, "inspect", "-f", "{{.State.Status}}", container).stdout.strip()


def free_port() -> int:
    """A TCP port of 127.0.0.1 free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unique_name(prefix: str) -> str:
    """A project name no other test uses: ``prefix``, the process ID and a clock's digits."""
    return f"{prefix}{os.getpid()}x{time.monotonic_ns() % 1000000}"


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


@pytest.fixture
def project(compose_moord: DaemonProcess, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ProjectDir]:
    """A fresh, empty project directory on the module's moord, named after the test module
    (``test_compose_up`` -> ``up<pid>x<digits>``); everything removed afterwards."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    name = unique_name(module.removeprefix("test_compose_").replace("_", ""))
    directory = tmp_path / name
    directory.mkdir()
    try:
        yield compose_moord, directory, name
    finally:
        remove_everything(compose_moord)
