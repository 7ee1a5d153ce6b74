"""``moor compose up`` and ``create`` on a real moord, as docker compose v2 runs them: names and labels, the
project's network and volumes, dependency order and conditions, recreates of exactly what changed, scale,
orphans, ``--wait``, anonymous volumes kept across recreates, and attached output."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.composehelpers import compose, compose_moord, remove_everything, write_project  # noqa: F401 - fixture
from e2e.containerhelpers import inspect, moor
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

#: a command that stops at once on SIGTERM (sleep as PID 1 would wait for the stop timeout)
SLEEP = """["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]"""

APP = f"""\
services:
  db:
    image: busybox:latest
    command: {SLEEP}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      start_interval: 200ms
      start_period: 5s
    volumes:
      - data:/data
  web:
    image: busybox:latest
    command: {SLEEP}
    environment:
      GREETING: hello
    depends_on:
      db:
        condition: service_healthy
volumes:
  data:
"""


@pytest.fixture
def project(compose_moord: DaemonProcess, tmp_path: Path) -> Iterator[tuple[DaemonProcess, Path, str]]:
    """A fresh project directory (unique name) on the module's moord; everything removed afterwards."""
    name = f"up{os.getpid()}x{time.monotonic_ns() % 1000000}"
    directory = tmp_path / name
    directory.mkdir()
    try:
        yield compose_moord, directory, name
    finally:
        remove_everything(compose_moord)


def run(daemon: DaemonProcess, directory: Path, *args: str) -> str:
    """``moor compose --progress plain ARGS``, which must succeed; its stderr (the progress lines)."""
    result = compose(daemon, directory, "--progress", "plain", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stderr


def events(stderr: str, kind: str, status: str) -> list[str]:
    """Names of the plain progress lines `` KIND NAME  STATUS``, in order."""
    found = []
    for line in stderr.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == kind and parts[2] == status:
            found.append(parts[1])
    return found


def containers(daemon: DaemonProcess, name: str) -> dict[str, dict]:
    """Container name -> inspect of every container labelled for project ``name``."""
    ids = moor(daemon, "ps", "-aq", "--filter", f"label=com.docker.compose.project={name}").stdout.split()
    found = {}
    for container_id in ids:
        data = inspect(daemon, container_id)
        found[data["Name"].lstrip("/")] = data
    return found


def test_up_names_labels_network_volume_and_order(project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    write_project(directory, APP)
    err = run(daemon, directory, "up", "-d")
    assert events(err, "Network", "Created") == [f"{name}_default"]
    assert events(err, "Volume", "Created") == [f"{name}_data"]
    started = events(err, "Container", "Started")
    assert started == [f"{name}-db-1", f"{name}-web-1"]
    # web was created only once db was healthy
    lines = err.splitlines()
    assert lines.index(f" Container {name}-db-1  Healthy") < lines.index(f" Container {name}-web-1  Creating")

    made = containers(daemon, name)
    assert sorted(made) == [f"{name}-db-1", f"{name}-web-1"]
    web = made[f"{name}-web-1"]
    labels = web["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == name
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert len(labels["com.docker.compose.config-hash"]) == 64
    assert labels["com.docker.compose.project.working_dir"] == str(directory)
    assert labels["com.docker.compose.depends_on"] == "db:service_healthy:false"
    assert labels["com.docker.compose.image"].startswith("sha256:")
    assert web["State"]["Running"] and "GREETING=hello" in web["Config"]["Env"]
    assert f"{name}_default" in web["NetworkSettings"]["Networks"]
    assert "web" in web["NetworkSettings"]["Networks"][f"{name}_default"]["Aliases"]

    network = json.loads(moor(daemon, "network", "inspect", f"{name}_default").stdout)[0]
    assert network["Labels"]["com.docker.compose.project"] == name
    assert network["Labels"]["com.docker.compose.network"] == "default"
    volume = json.loads(moor(daemon, "volume", "inspect", f"{name}_data").stdout)[0]
    assert volume["Labels"]["com.docker.compose.volume"] == "data"
    assert volume["Labels"]["com.docker.compose.project"] == name
    db_mounts = made[f"{name}-db-1"]["Mounts"]
    assert [m["Name"] for m in db_mounts if m["Destination"] == "/data"] == [f"{name}_data"]


def test_up_again_recreates_exactly_what_changed(project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    write_project(directory, APP)
    run(daemon, directory, "up", "-d")
    before = {n: c["Id"] for n, c in containers(daemon, name).items()}

    err = run(daemon, directory, "up", "-d")
    assert events(err, "Container", "Running") == [f"{name}-db-1", f"{name}-web-1"]
    assert not events(err, "Container", "Recreate")
    assert {n: c["Id"] for n, c in containers(daemon, name).items()} == before

    write_project(directory, APP.replace("GREETING: hello", "GREETING: bonjour"))
    err = run(daemon, directory, "up", "-d")
    assert events(err, "Container", "Recreated") == [f"{name}-web-1"]
    after = containers(daemon, name)
    assert after[f"{name}-db-1"]["Id"] == before[f"{name}-db-1"]
    assert after[f"{name}-web-1"]["Id"] != before[f"{name}-web-1"]
    assert "GREETING=bonjour" in after[f"{name}-web-1"]["Config"]["Env"]
    assert after[f"{name}-web-1"]["State"]["Running"]
    assert after[f"{name}-web-1"]["Config"]["Labels"]["com.docker.compose.replace"] == "web-1"

    # --no-recreate leaves a changed service alone; --force-recreate recreates even what did not change
    write_project(directory, APP.replace("GREETING: hello", "GREETING: hallo"))
    err = run(daemon, directory, "up", "-d", "--no-recreate")
    assert not events(err, "Container", "Recreate")
    err = run(daemon, directory, "up", "-d", "--force-recreate", "db")
    assert sorted(events(err, "Container", "Recreated")) == [f"{name}-db-1"]
    # dependencies of a named service are not force-recreated unless asked
    assert containers(daemon, name)[f"{name}-web-1"]["Id"] == after[f"{name}-web-1"]["Id"]


def test_scale_up_and_down(project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    write_project(directory, f"services:\n  worker:\n    image: busybox:latest\n    command: {SLEEP}\n"
                             "    deploy:\n      replicas: 2\n")
    run(daemon, directory, "up", "-d")
    assert sorted(containers(daemon, name)) == [f"{name}-worker-1", f"{name}-worker-2"]
    run(daemon, directory, "up", "-d", "--scale", "worker=4")
    made = containers(daemon, name)
    assert sorted(made) == [f"{name}-worker-{n}" for n in (1, 2, 3, 4)]
    assert all(c["State"]["Running"] for c in made.values())
    assert made[f"{name}-worker-4"]["Config"]["Labels"]["com.docker.compose.container-number"] == "4"
    err = run(daemon, directory, "up", "-d", "--scale", "worker=1")
    assert sorted(events(err, "Container", "Removed")) == [f"{name}-worker-{n}" for n in (2, 3, 4)]
    assert sorted(containers(daemon, name)) == [f"{name}-worker-1"]


def test_no_deps_orphans_and_create(project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    three = f"""\
services:
  a:
    image: busybox:latest
    command: {SLEEP}
  b:
    image: busybox:latest
    command: {SLEEP}
    depends_on: [a]
  c:
    image: busybox:latest
    command: {SLEEP}
"""
    write_project(directory, three)
    # create: containers made, none started
    err = run(daemon, directory, "create", "b")
    assert sorted(events(err, "Container", "Created")) == [f"{name}-a-1", f"{name}-b-1"]
    assert not events(err, "Container", "Started")
    assert {n: c["State"]["Status"] for n, c in containers(daemon, name).items()} == {
        f"{name}-a-1": "created", f"{name}-b-1": "created"}
    # --no-deps starts b alone
    err = run(daemon, directory, "up", "-d", "--no-deps", "b")
    assert events(err, "Container", "Started") == [f"{name}-b-1"]
    assert containers(daemon, name)[f"{name}-a-1"]["State"]["Status"] == "created"
    run(daemon, directory, "up", "-d")
    # c leaves the file: an orphan, warned about, then removed with --remove-orphans
    write_project(directory, three.split("  c:")[0])
    err = run(daemon, directory, "up", "-d")
    assert f"Found orphan containers ([{name}-c-1])" in err
    assert f"{name}-c-1" in containers(daemon, name)
    err = run(daemon, directory, "up", "-d", "--remove-orphans")
    assert events(err, "Container", "Removed") == [f"{name}-c-1"]
    assert sorted(containers(daemon, name)) == [f"{name}-a-1", f"{name}-b-1"]


def test_completed_successfully_and_wait(project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    write_project(directory, """\
services:
  init:
    image: busybox:latest
    command: ["sh", "-c", "echo ready > /shared/flag"]
    volumes: [shared:/shared]
  app:
    image: busybox:latest
    command: ["sh", "-c", "test -f /shared/flag && exec sh -c \\"trap 'exit 0' TERM; sleep 1000 & wait\\""]
    volumes: [shared:/shared]
    depends_on:
      init:
        condition: service_completed_successfully
    healthcheck:
      test: ["CMD", "test", "-f", "/shared/flag"]
      interval: 1s
      start_interval: 200ms
      start_period: 5s
volumes:
  shared:
""")
    err = run(daemon, directory, "up", "--wait", "--wait-timeout", "60")
    assert f" Container {name}-init-1  Exited" in err
    assert f" Container {name}-app-1  Healthy" in err
    made = containers(daemon, name)
    assert made[f"{name}-init-1"]["State"]["ExitCode"] == 0
    assert made[f"{name}-app-1"]["State"]["Running"]
    assert made[f"{name}-app-1"]["State"]["Health"]["Status"] == "healthy"


def test_recreate_keeps_anonymous_volumes_unless_renewed(project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    text = f"services:\n  box:\n    image: busybox:latest\n    command: {SLEEP}\n    volumes: [/cache]\n"
    write_project(directory, text)
    run(daemon, directory, "up", "-d")
    box = f"{name}-box-1"
    assert moor(daemon, "exec", box, "sh", "-c", "echo kept > /cache/file").returncode == 0
    first = [m["Name"] for m in inspect(daemon, box)["Mounts"] if m["Destination"] == "/cache"]
    run(daemon, directory, "up", "-d", "--force-recreate")
    assert [m["Name"] for m in inspect(daemon, box)["Mounts"] if m["Destination"] == "/cache"] == first
    assert moor(daemon, "exec", box, "cat", "/cache/file").stdout.strip() == "kept"
    run(daemon, directory, "up", "-d", "--force-recreate", "-V")
    assert [m["Name"] for m in inspect(daemon, box)["Mounts"] if m["Destination"] == "/cache"] != first
    assert moor(daemon, "exec", box, "cat", "/cache/file").returncode != 0


def test_dependency_recreated_restarts_dependents_with_restart_true(
        project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    text = f"""\
services:
  api:
    image: busybox:latest
    command: {SLEEP}
    labels: {{version: "1"}}
  web:
    image: busybox:latest
    command: {SLEEP}
    depends_on:
      api: {{condition: service_started, restart: true}}
  other:
    image: busybox:latest
    command: {SLEEP}
    depends_on: [api]
"""
    write_project(directory, text)
    run(daemon, directory, "up", "-d")
    before = {n: c["State"]["StartedAt"] for n, c in containers(daemon, name).items()}
    write_project(directory, text.replace('version: "1"', 'version: "2"'))
    err = run(daemon, directory, "up", "-d")
    assert events(err, "Container", "Recreated") == [f"{name}-api-1"]
    assert events(err, "Container", "Stopped") == [f"{name}-web-1"]
    after = {n: c["State"] for n, c in containers(daemon, name).items()}
    assert after[f"{name}-web-1"]["Running"] and after[f"{name}-web-1"]["StartedAt"] != before[f"{name}-web-1"]
    assert after[f"{name}-other-1"]["StartedAt"] == before[f"{name}-other-1"]


def test_parallel_bound_and_external_network(project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    outside = f"{name}-outside"
    assert moor(daemon, "network", "create", outside).returncode == 0
    services = "".join(f"  s{i}:\n    image: busybox:latest\n    command: {SLEEP}\n    networks: [ext]\n"
                       for i in range(4))
    write_project(directory, f"services:\n{services}networks:\n  ext:\n    external: true\n    name: {outside}\n")
    err = run(daemon, directory, "--parallel", "1", "up", "-d")
    assert not events(err, "Network", "Created")
    made = containers(daemon, name)
    assert len(made) == 4
    assert all(list(c["NetworkSettings"]["Networks"]) == [outside] for c in made.values())


def test_attached_up_prints_output_and_exit_code_from(project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    write_project(directory, """\
services:
  talker:
    image: busybox:latest
    command: ["sh", "-c", "echo hello from talker; exit 3"]
""")
    result = compose(daemon, directory, "--progress", "plain", "up", "--exit-code-from", "talker")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "talker-1  | hello from talker" in result.stdout
    assert f"Container {name}-talker-1  Started" in result.stderr


def test_changed_network_is_made_again_with_its_services(project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    text = f"""\
services:
  a:
    image: busybox:latest
    command: {SLEEP}
    networks: [back]
  b:
    image: busybox:latest
    command: {SLEEP}
networks:
  back:
    labels: {{v: "1"}}
"""
    write_project(directory, text)
    run(daemon, directory, "up", "-d")
    before = {n: c["Id"] for n, c in containers(daemon, name).items()}
    write_project(directory, text.replace('v: "1"', 'v: "2"'))
    err = run(daemon, directory, "up", "-d")
    assert events(err, "Network", "Removed") == [f"{name}_back"] == events(err, "Network", "Created")
    assert events(err, "Container", "Recreated") == [f"{name}-a-1"]
    network = json.loads(moor(daemon, "network", "inspect", f"{name}_back").stdout)[0]
    assert network["Labels"]["v"] == "2"
    after = containers(daemon, name)
    assert after[f"{name}-b-1"]["Id"] == before[f"{name}-b-1"]
    assert after[f"{name}-a-1"]["State"]["Running"]
    assert list(after[f"{name}-a-1"]["NetworkSettings"]["Networks"]) == [f"{name}_back"]


def test_dry_run_reports_everything_and_changes_nothing(project: tuple[DaemonProcess, Path, str]) -> None:
    daemon, directory, name = project
    write_project(directory, APP)
    err = run(daemon, directory, "--dry-run", "up", "-d")
    assert f" DRY-RUN MODE - Container {name}-web-1  Started" in err
    assert f" DRY-RUN MODE - Container {name}-db-1  Healthy" in err
    assert f" DRY-RUN MODE - Volume {name}_data  Created" in err
    assert containers(daemon, name) == {}
    assert moor(daemon, "volume", "ls", "-q").stdout.split() == []
    assert f"{name}_default" not in moor(daemon, "network", "ls").stdout
    run(daemon, directory, "up", "-d")
    err = run(daemon, directory, "--dry-run", "down", "-v")
    assert f" DRY-RUN MODE - Container {name}-db-1  Removed" in err
    assert f" DRY-RUN MODE - Volume {name}_data  Removed" in err
    assert sorted(containers(daemon, name)) == [f"{name}-db-1", f"{name}-web-1"]
    assert moor(daemon, "volume", "ls", "-q").stdout.split() == [f"{name}_data"]
