"""``moor compose down`` on a real moord, as docker compose v2 runs it: reverse dependency order, the project's
networks, ``-v`` (named and anonymous volumes), ``--rmi``, ``--remove-orphans``, ``-t``, and ``-p`` without files."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.composehelpers import (  # noqa: F401 - fixtures
    SLEEP,
    ProjectDir,
    compose,
    compose_moord,
    compose_progress,
    events,
    project,
    write_project,
)
from e2e.containerhelpers import moor
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

APP = f"""\
services:
  db:
    image: busybox:latest
    command: {SLEEP}
    volumes: [data:/data, /anon]
  api:
    image: busybox:latest
    command: {SLEEP}
    depends_on: [db]
    networks: [default, back]
  web:
    image: busybox:latest
    command: {SLEEP}
    depends_on: [api]
networks:
  back: {{}}
volumes:
  data: {{}}
"""


@pytest.fixture
def app(project: ProjectDir) -> ProjectDir:
    """The project's directory with APP, up."""
    daemon, directory, _name = project
    write_project(directory, APP)
    result = compose(daemon, directory, "up", "-d")
    assert result.returncode == 0, result.stderr
    return project


def names(daemon: DaemonProcess, what: str, name: str) -> list[str]:
    """Containers (``ps``), networks or volumes labelled for project ``name``."""
    label = f"label=com.docker.compose.project={name}"
    if what == "ps":
        return sorted(moor(daemon, "ps", "-a", "--filter", label, "--format", "{{.Names}}").stdout.split())
    return sorted(moor(daemon, what, "ls", "--filter", label, "--format", "{{.Name}}").stdout.split())


def volume_names(daemon: DaemonProcess) -> list[str]:
    return moor(daemon, "volume", "ls", "--format", "{{.Name}}").stdout.split()


def test_down_reverse_order_networks_and_kept_volumes(app: ProjectDir) -> None:
    daemon, directory, name = app
    err = compose_progress(daemon, directory, "down")
    assert events(err, "Container", "Removed") == [f"{name}-web-1", f"{name}-api-1", f"{name}-db-1"]
    assert sorted(events(err, "Network", "Removed")) == [f"{name}_back", f"{name}_default"]
    assert names(daemon, "ps", name) == [] and names(daemon, "network", name) == []
    # volumes stay without -v: the named one and the anonymous one
    assert f"{name}_data" in volume_names(daemon)
    assert len(volume_names(daemon)) == 2
    # a second down finds nothing
    again = compose(daemon, directory, "down")
    assert again.returncode == 0
    assert f'No resource found to remove for project "{name}"' in again.stderr


def test_down_volumes_removes_named_and_anonymous(app: ProjectDir) -> None:
    daemon, directory, name = app
    assert len(volume_names(daemon)) == 2
    err = compose_progress(daemon, directory, "down", "-v", "-t", "1")
    assert events(err, "Volume", "Removed") == [f"{name}_data"]
    assert volume_names(daemon) == []


def test_down_by_name_without_files(app: ProjectDir, tmp_path: Path) -> None:
    daemon, _directory, name = app
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    err = compose_progress(daemon, elsewhere, "-p", name, "down", "-v")
    # order from the containers' depends_on labels
    assert events(err, "Container", "Removed") == [f"{name}-web-1", f"{name}-api-1", f"{name}-db-1"]
    assert sorted(events(err, "Network", "Removed")) == [f"{name}_back", f"{name}_default"]
    assert events(err, "Volume", "Removed") == [f"{name}_data"]
    assert names(daemon, "ps", name) == [] and volume_names(daemon) == []


def test_down_orphans_and_one_off_containers(app: ProjectDir) -> None:
    daemon, directory, name = app
    # an orphan (web leaves the file) and a one-off container of db
    write_project(directory, APP.split("  web:")[0] + APP.split("depends_on: [api]\n")[1])
    labels = [f"com.docker.compose.project={name}", "com.docker.compose.service=db", "com.docker.compose.oneoff=True"]
    args = [arg for label in labels for arg in ("--label", label)]
    assert moor(daemon, "create", "--name", f"{name}-db-run-0123456789ab", *args, "busybox:latest").returncode == 0
    err = compose_progress(daemon, directory, "down")
    assert f"{name}-web-1" not in events(err, "Container", "Removed")
    assert names(daemon, "ps", name) == [f"{name}-db-run-0123456789ab", f"{name}-web-1"]
    err = compose_progress(daemon, directory, "down", "--remove-orphans")
    assert sorted(events(err, "Container", "Removed")) == [f"{name}-db-run-0123456789ab", f"{name}-web-1"]
    assert names(daemon, "ps", name) == []


def test_down_rmi(app: ProjectDir) -> None:
    daemon, directory, name = app
    # a service without image: (a built one, named PROJECT-SERVICE) and one with its own image tag
    assert moor(daemon, "tag", "busybox:latest", f"{name}-built").returncode == 0
    assert moor(daemon, "tag", "busybox:latest", f"{name}-own:v1").returncode == 0
    write_project(directory, f"""\
services:
  built:
    build: .
    command: {SLEEP}
  own:
    image: {name}-own:v1
    command: {SLEEP}
""", {"Dockerfile": "FROM busybox:latest\n"})
    compose_progress(daemon, directory, "up", "-d", "--no-build", "--remove-orphans")
    err = compose_progress(daemon, directory, "down", "--rmi", "local")
    assert events(err, "Image", "Removed") == [f"{name}-built"]
    tags = moor(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert f"{name}-built:latest" not in tags and f"{name}-own:v1" in tags
    compose_progress(daemon, directory, "up", "-d", "--pull", "never", "own")
    err = compose_progress(daemon, directory, "down", "--rmi", "all")
    assert f"{name}-own:v1" in events(err, "Image", "Removed")
    tags = moor(daemon, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert f"{name}-own:v1" not in tags and "busybox:latest" in tags


def test_down_a_service_takes_its_dependents(app: ProjectDir) -> None:
    daemon, directory, name = app
    err = compose_progress(daemon, directory, "down", "api")
    assert events(err, "Container", "Removed") == [f"{name}-web-1", f"{name}-api-1"]
    assert names(daemon, "ps", name) == [f"{name}-db-1"]
    # the default network still has db on it: left, with compose's warning; back had only api: removed
    assert f" Network {name}_default  Warning: Resource is still in use" in err
    assert events(err, "Network", "Removed") == [f"{name}_back"]
    bad = compose(daemon, directory, "down", "nope")
    assert bad.returncode == 1 and bad.stderr.strip() == "no such service: nope"
