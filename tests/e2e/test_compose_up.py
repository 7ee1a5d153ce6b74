"""``moor compose up`` and ``create`` on a real moord, as docker compose v2 runs them: names and labels, the
project's network and volumes, dependency order and conditions, recreates of exactly what changed, scale,
orphans, ``--wait``, anonymous volumes kept across recreates, and attached output."""

from __future__ import annotations

import json

import pytest

from e2e.composehelpers import (  # noqa: F401 - fixtures
    SLEEP,
    SLEEPING,
    ProjectDir,
    compose,
    compose_moord,
    compose_progress,
    events,
    project,
    services_yaml,
    write_project,
)
from e2e.containerhelpers import inspect, moor
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

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


def containers(daemon: DaemonProcess, name: str) -> dict[str, dict]:
    """Container name -> inspect of every container labelled for project ``name``."""
    ids = moor(daemon, "ps", "-aq", "--filter", f"label=com.docker.compose.project={name}").stdout.split()
    found = {}
    for container_id in ids:
        data = inspect(daemon, container_id)
        found[data["Name"].lstrip("/")] = data
    return found


def test_up_names_labels_network_volume_and_order(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, APP)
    err = compose_progress(daemon, directory, "up", "-d")
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


def test_up_again_recreates_exactly_what_changed(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, APP)
    compose_progress(daemon, directory, "up", "-d")
    before = {n: c["Id"] for n, c in containers(daemon, name).items()}

    err = compose_progress(daemon, directory, "up", "-d")
    assert events(err, "Container", "Running") == [f"{name}-db-1", f"{name}-web-1"]
    assert not events(err, "Container", "Recreate")
    assert {n: c["Id"] for n, c in containers(daemon, name).items()} == before

    write_project(directory, APP.replace("GREETING: hello", "GREETING: bonjour"))
    err = compose_progress(daemon, directory, "up", "-d")
    assert events(err, "Container", "Recreated") == [f"{name}-web-1"]
    after = containers(daemon, name)
    assert after[f"{name}-db-1"]["Id"] == before[f"{name}-db-1"]
    assert after[f"{name}-web-1"]["Id"] != before[f"{name}-web-1"]
    assert "GREETING=bonjour" in after[f"{name}-web-1"]["Config"]["Env"]
    assert after[f"{name}-web-1"]["State"]["Running"]
    assert after[f"{name}-web-1"]["Config"]["Labels"]["com.docker.compose.replace"] == "web-1"

    # --no-recreate leaves a changed service alone; --force-recreate recreates even what did not change
    write_project(directory, APP.replace("GREETING: hello", "GREETING: hallo"))
    err = compose_progress(daemon, directory, "up", "-d", "--no-recreate")
    assert not events(err, "Container", "Recreate")
    err = compose_progress(daemon, directory, "up", "-d", "--force-recreate", "db")
    assert sorted(events(err, "Container", "Recreated")) == [f"{name}-db-1"]
    # dependencies of a named service are not force-recreated unless asked
    assert containers(daemon, name)[f"{name}-web-1"]["Id"] == after[f"{name}-web-1"]["Id"]


def test_scale_up_and_down(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({"worker": {"command": SLEEPING, "deploy": {"replicas": 2}}}))
    compose_progress(daemon, directory, "up", "-d")
    assert sorted(containers(daemon, name)) == [f"{name}-worker-1", f"{name}-worker-2"]
    compose_progress(daemon, directory, "up", "-d", "--scale", "worker=4")
    made = containers(daemon, name)
    assert sorted(made) == [f"{name}-worker-{n}" for n in (1, 2, 3, 4)]
    assert all(c["State"]["Running"] for c in made.values())
    assert made[f"{name}-worker-4"]["Config"]["Labels"]["com.docker.compose.container-number"] == "4"
    err = compose_progress(daemon, directory, "up", "-d", "--scale", "worker=1")
    assert sorted(events(err, "Container", "Removed")) == [f"{name}-worker-{n}" for n in (2, 3, 4)]
    assert sorted(containers(daemon, name)) == [f"{name}-worker-1"]


def test_no_deps_orphans_and_create(project: ProjectDir) -> None:
    daemon, directory, name = project
    three = {"a": {"command": SLEEPING}, "b": {"command": SLEEPING, "depends_on": ["a"]}, "c": {"command": SLEEPING}}
    write_project(directory, services_yaml(three))
    # create: containers made, none started
    err = compose_progress(daemon, directory, "create", "b")
    assert sorted(events(err, "Container", "Created")) == [f"{name}-a-1", f"{name}-b-1"]
    assert not events(err, "Container", "Started")
    assert {n: c["State"]["Status"] for n, c in containers(daemon, name).items()} == {
        f"{name}-a-1": "created", f"{name}-b-1": "created"}
    # --no-deps starts b alone
    err = compose_progress(daemon, directory, "up", "-d", "--no-deps", "b")
    assert events(err, "Container", "Started") == [f"{name}-b-1"]
    assert containers(daemon, name)[f"{name}-a-1"]["State"]["Status"] == "created"
    compose_progress(daemon, directory, "up", "-d")
    # c leaves the file: an orphan, warned about, then removed with --remove-orphans
    write_project(directory, services_yaml({key: three[key] for key in ("a", "b")}))
    err = compose_progress(daemon, directory, "up", "-d")
    assert f"Found orphan containers ([{name}-c-1])" in err
    assert f"{name}-c-1" in containers(daemon, name)
    err = compose_progress(daemon, directory, "up", "-d", "--remove-orphans")
    assert events(err, "Container", "Removed") == [f"{name}-c-1"]
    assert sorted(containers(daemon, name)) == [f"{name}-a-1", f"{name}-b-1"]


def test_completed_successfully_and_wait(project: ProjectDir) -> None:
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
    err = compose_progress(daemon, directory, "up", "--wait", "--wait-timeout", "60")
    assert f" Container {name}-init-1  Exited" in err
    assert f" Container {name}-app-1  Healthy" in err
    made = containers(daemon, name)
    assert made[f"{name}-init-1"]["State"]["ExitCode"] == 0
    assert made[f"{name}-app-1"]["State"]["Running"]
    assert made[f"{name}-app-1"]["State"]["Health"]["Status"] == "healthy"


def test_recreate_keeps_anonymous_volumes_unless_renewed(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({"box": {"command": SLEEPING, "volumes": ["/cache"]}}))
    compose_progress(daemon, directory, "up", "-d")
    box = f"{name}-box-1"
    assert moor(daemon, "exec", box, "sh", "-c", "echo kept > /cache/file").returncode == 0
    first = [m["Name"] for m in inspect(daemon, box)["Mounts"] if m["Destination"] == "/cache"]
    compose_progress(daemon, directory, "up", "-d", "--force-recreate")
    assert [m["Name"] for m in inspect(daemon, box)["Mounts"] if m["Destination"] == "/cache"] == first
    assert moor(daemon, "exec", box, "cat", "/cache/file").stdout.strip() == "kept"
    compose_progress(daemon, directory, "up", "-d", "--force-recreate", "-V")
    assert [m["Name"] for m in inspect(daemon, box)["Mounts"] if m["Destination"] == "/cache"] != first
    assert moor(daemon, "exec", box, "cat", "/cache/file").returncode != 0


def test_dependency_recreated_restarts_dependents_with_restart_true(
        project: ProjectDir) -> None:
    daemon, directory, name = project
    def version(number: str) -> str:
        return services_yaml({
            "api": {"command": SLEEPING, "labels": {"version": number}},
            "web": {"command": SLEEPING, "depends_on": {"api": {"condition": "service_started", "restart": True}}},
            "other": {"command": SLEEPING, "depends_on": ["api"]}})

    write_project(directory, version("1"))
    compose_progress(daemon, directory, "up", "-d")
    before = {n: c["State"]["StartedAt"] for n, c in containers(daemon, name).items()}
    write_project(directory, version("2"))
    err = compose_progress(daemon, directory, "up", "-d")
    assert events(err, "Container", "Recreated") == [f"{name}-api-1"]
    assert events(err, "Container", "Stopped") == [f"{name}-web-1"]
    after = {n: c["State"] for n, c in containers(daemon, name).items()}
    assert after[f"{name}-web-1"]["Running"] and after[f"{name}-web-1"]["StartedAt"] != before[f"{name}-web-1"]
    assert after[f"{name}-other-1"]["StartedAt"] == before[f"{name}-other-1"]


def test_parallel_bound_and_external_network(project: ProjectDir) -> None:
    daemon, directory, name = project
    outside = f"{name}-outside"
    assert moor(daemon, "network", "create", outside).returncode == 0
    write_project(directory, services_yaml({f"s{i}": {"command": SLEEPING, "networks": ["ext"]} for i in range(4)},
                                           networks={"ext": {"external": True, "name": outside}}))
    err = compose_progress(daemon, directory, "--parallel", "1", "up", "-d")
    assert not events(err, "Network", "Created")
    made = containers(daemon, name)
    assert len(made) == 4
    assert all(list(c["NetworkSettings"]["Networks"]) == [outside] for c in made.values())


def test_attached_up_prints_output_and_exit_code_from(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({"talker": {"command": ["sh", "-c", "echo hello from talker; exit 3"]}}))
    result = compose(daemon, directory, "--progress", "plain", "up", "--exit-code-from", "talker")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "talker-1  | hello from talker" in result.stdout
    assert f"Container {name}-talker-1  Started" in result.stderr


def test_changed_network_is_made_again_with_its_services(project: ProjectDir) -> None:
    daemon, directory, name = project
    def labelled(value: str) -> str:
        return services_yaml({"a": {"command": SLEEPING, "networks": ["back"]}, "b": {"command": SLEEPING}},
                             networks={"back": {"labels": {"v": value}}})

    write_project(directory, labelled("1"))
    compose_progress(daemon, directory, "up", "-d")
    before = {n: c["Id"] for n, c in containers(daemon, name).items()}
    write_project(directory, labelled("2"))
    err = compose_progress(daemon, directory, "up", "-d")
    assert events(err, "Network", "Removed") == [f"{name}_back"] == events(err, "Network", "Created")
    assert events(err, "Container", "Recreated") == [f"{name}-a-1"]
    network = json.loads(moor(daemon, "network", "inspect", f"{name}_back").stdout)[0]
    assert network["Labels"]["v"] == "2"
    after = containers(daemon, name)
    assert after[f"{name}-b-1"]["Id"] == before[f"{name}-b-1"]
    assert after[f"{name}-a-1"]["State"]["Running"]
    assert list(after[f"{name}-a-1"]["NetworkSettings"]["Networks"]) == [f"{name}_back"]


def test_dry_run_reports_everything_and_changes_nothing(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, APP)
    err = compose_progress(daemon, directory, "--dry-run", "up", "-d")
    assert f" DRY-RUN MODE - Container {name}-web-1  Started" in err
    assert f" DRY-RUN MODE - Container {name}-db-1  Healthy" in err
    assert f" DRY-RUN MODE - Volume {name}_data  Created" in err
    assert containers(daemon, name) == {}
    assert moor(daemon, "volume", "ls", "-q").stdout.split() == []
    assert f"{name}_default" not in moor(daemon, "network", "ls").stdout
    compose_progress(daemon, directory, "up", "-d")
    err = compose_progress(daemon, directory, "--dry-run", "down", "-v")
    assert f" DRY-RUN MODE - Container {name}-db-1  Removed" in err
    assert f" DRY-RUN MODE - Volume {name}_data  Removed" in err
    assert sorted(containers(daemon, name)) == [f"{name}-db-1", f"{name}-web-1"]
    assert moor(daemon, "volume", "ls", "-q").stdout.split() == [f"{name}_data"]
