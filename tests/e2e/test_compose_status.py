"""``moor compose ps|ls|top|port|version`` on a real moord, printed as docker compose v2 prints them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from e2e.composehelpers import ProjectDir, compose, compose_moord, free_port, project, write_project  # noqa: F401 - fixtures
from e2e.containerhelpers import MOOR_CLI, inspect, moor
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture
def app(project: ProjectDir) -> tuple[DaemonProcess, Path, str, int]:
    """A running project: web (2 replicas, a published port each), db, and a stopped job."""
    daemon, directory, name = project
    port = free_port()
    write_project(directory, f"""\
services:
  web:
    image: busybox:latest
    command: ["sleep", "1000"]
    stop_grace_period: 0s
    scale: 2
    ports:
      - "127.0.0.1::80"
      - "127.0.0.1::53/udp"
  db:
    image: busybox:latest
    command: ["sleep", "1001"]
    stop_grace_period: 0s
    ports:
      - "127.0.0.1:{port}:5432"
  job:
    image: busybox:latest
    command: ["true"]
""")
    result = compose(daemon, directory, "up", "-d")
    assert result.returncode == 0, result.stderr
    moor(daemon, "wait", f"{name}-job-1")
    return daemon, directory, name, port


def test_ps_table(app: tuple[DaemonProcess, Path, str, int]) -> None:
    daemon, directory, name, port = app
    result = compose(daemon, directory, "ps")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert [line.split()[0] for line in lines[1:]] == [f"{name}-db-1", f"{name}-web-1", f"{name}-web-2"]
    db = lines[1]
    assert '"sleep 1001"' in db and " db " in db and "Up " in db
    assert db.endswith(f"127.0.0.1:{port}->5432/tcp")
    assert lines[0].index("SERVICE") == db.index(" db ") + 1  # columns aligned

    every = compose(daemon, directory, "ps", "-a").stdout.splitlines()
    assert [line.split()[0] for line in every[1:]] == [f"{name}-db-1", f"{name}-job-1", f"{name}-web-1",
                                                       f"{name}-web-2"]
    assert "Exited (0)" in every[2]


def test_ps_selections(app: tuple[DaemonProcess, Path, str, int]) -> None:
    daemon, directory, name, _port = app
    quiet = compose(daemon, directory, "ps", "-q", "web").stdout.split()
    assert quiet == [inspect(daemon, f"{name}-web-{n}")["Id"] for n in (1, 2)]
    assert compose(daemon, directory, "ps", "--services").stdout == "db\nweb\n"
    assert compose(daemon, directory, "ps", "-a", "--services").stdout == "db\njob\nweb\n"
    exited = compose(daemon, directory, "ps", "--status", "exited", "--format", "{{.Name}} {{.ExitCode}}")
    assert exited.stdout == f"{name}-job-1 0\n"
    filtered = compose(daemon, directory, "ps", "--filter", "status=running", "--format", "{{.Service}}")
    assert filtered.stdout.split() == ["db", "web", "web"]
    bad = compose(daemon, directory, "ps", "--filter", "name=x")
    assert (bad.returncode, bad.stderr.strip()) == (1, "unknown filter name")
    unknown = compose(daemon, directory, "ps", "nope")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "no such service: nope")


def test_ps_json_and_templates(app: tuple[DaemonProcess, Path, str, int]) -> None:
    daemon, directory, name, port = app
    result = compose(daemon, directory, "ps", "--format", "json", "db")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["Name"] == f"{name}-db-1" and row["Service"] == "db" and row["Project"] == name
    assert row["State"] == "running" and row["Image"] == "busybox:latest" and row["ExitCode"] == 0
    assert row["Publishers"] == [{"URL": "127.0.0.1", "TargetPort": 5432, "PublishedPort": port, "Protocol": "tcp"}]
    assert row["ID"] == inspect(daemon, f"{name}-db-1")["Id"][:12]
    assert f"com.docker.compose.project={name}" in row["Labels"]
    table = compose(daemon, directory, "ps", "--format", "table {{.Service}}\\t{{.State}}").stdout.splitlines()
    assert table[0].split() == ["SERVICE", "STATE"] and table[1].split() == ["db", "running"]
    full = compose(daemon, directory, "ps", "--no-trunc", "--format", "{{.ID}}", "db").stdout.strip()
    assert full == inspect(daemon, f"{name}-db-1")["Id"]


def test_ps_without_files_and_orphans(app: tuple[DaemonProcess, Path, str, int], tmp_path: Path) -> None:
    daemon, directory, name, _port = app
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = compose(daemon, elsewhere, "-p", name, "ps", "--format", "{{.Name}}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [f"{name}-db-1", f"{name}-web-1", f"{name}-web-2"]
    # db removed from the file: an orphan, hidden by --orphans=false
    (directory / "compose.yaml").write_text("services:\n  web:\n    image: busybox:latest\n    scale: 2\n")
    shown = compose(daemon, directory, "ps", "--format", "{{.Service}}").stdout.split()
    assert shown == ["db", "web", "web"]
    hidden = compose(daemon, directory, "ps", "--orphans=false", "--format", "{{.Service}}").stdout.split()
    assert hidden == ["web", "web"]


def test_ls(app: tuple[DaemonProcess, Path, str, int]) -> None:
    daemon, directory, name, _port = app
    result = compose(daemon, directory, "ls")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "CONFIG", "FILES"]
    assert lines[1].split() == [name, "running(3)", str(directory / "compose.yaml")]
    assert lines[1].index("running") == lines[0].index("STATUS")
    every = compose(daemon, directory, "ls", "-a", "--format", "json")
    assert json.loads(every.stdout) == [{"Name": name, "Status": "exited(1), running(3)",
                                         "ConfigFiles": str(directory / "compose.yaml")}]
    assert compose(daemon, directory, "ls", "-q").stdout == f"{name}\n"
    assert compose(daemon, directory, "ls", "-q", "--filter", "name=nomatch").stdout == ""
    assert compose(daemon, directory, "ls", "-q", "--filter", f"name=^{name[:4]}").stdout == f"{name}\n"
    bad = compose(daemon, directory, "ls", "--filter", "status=running")
    assert (bad.returncode, bad.stderr.strip()) == (1, "invalid filter 'status'")
    assert compose(daemon, directory, "stop").returncode == 0
    assert compose(daemon, directory, "ls", "-q").stdout == ""


def test_top(app: tuple[DaemonProcess, Path, str, int]) -> None:
    daemon, directory, _name, _port = app
    result = compose(daemon, directory, "top")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert header[:2] == ["SERVICE", "#"] and header[-1] == "CMD" and "PID" in header
    rows = [line.split() for line in lines[1:]]
    assert [(row[0], row[1]) for row in rows] == [("db", "1"), ("web", "1"), ("web", "2")]
    assert lines[1].endswith("sleep 1001")
    only = compose(daemon, directory, "top", "web").stdout.splitlines()
    assert [line.split()[0] for line in only[1:]] == ["web", "web"]


def test_port(app: tuple[DaemonProcess, Path, str, int]) -> None:
    daemon, directory, name, port = app
    assert compose(daemon, directory, "port", "db", "5432").stdout == f"127.0.0.1:{port}\n"
    bindings = {n: inspect(daemon, f"{name}-web-{n}")["NetworkSettings"]["Ports"] for n in (1, 2)}
    for number in (1, 2):
        published = bindings[number]["80/tcp"][0]["HostPort"]
        result = compose(daemon, directory, "port", "--index", str(number), "web", "80")
        assert result.stdout == f"127.0.0.1:{published}\n"
    assert compose(daemon, directory, "port", "web", "80").stdout == \
        f"127.0.0.1:{bindings[1]['80/tcp'][0]['HostPort']}\n"
    udp = compose(daemon, directory, "port", "--protocol", "udp", "web", "53").stdout
    assert udp == f"127.0.0.1:{bindings[1]['53/udp'][0]['HostPort']}\n"
    missing = compose(daemon, directory, "port", "db", "80")
    assert (missing.returncode, missing.stderr.strip()) == (1, f"no port 80/tcp for container {name}-db-1: 5432/tcp")
    stopped = compose(daemon, directory, "port", "job", "80")
    assert (stopped.returncode, stopped.stderr.strip()) == (1, 'service "job" is not running')
    index = compose(daemon, directory, "port", "--index", "3", "web", "80")
    assert (index.returncode, index.stderr.strip()) == (1, 'service "web" is not running container #3')


def test_version(tmp_path: Path) -> None:
    """No daemon and no compose file needed."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MOOR_HOST": f"unix://{tmp_path}/none.sock"}
    for args, expected in ((["version"], "Docker Compose version v2."), (["version", "--short"], "2."),
                           (["version", "--format", "json"], '{"version":"v2.')):
        result = subprocess.run([*MOOR_CLI, "compose", *args], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60, env=env)
        assert result.returncode == 0 and result.stdout.startswith(expected), result
