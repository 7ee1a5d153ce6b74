"""``moor compose start|stop|restart|kill|rm|pause|unpause|wait`` on a real moord, as docker compose v2 runs them:
dependency order (reverse for stop), ``-p`` without files, the rm prompt, exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from e2e.composehelpers import (  # noqa: F401 - fixtures
    ProjectDir,
    compose,
    compose_moord,
    compose_ok,
    events,
    project,
    services_yaml,
    write_project,
)
from e2e.containerhelpers import MOOR_CLI, inspect, moor
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

CHAIN = """\
services:
  db:
    image: busybox:latest
    command: ["sleep", "1000"]
    stop_grace_period: 0s
  api:
    image: busybox:latest
    command: ["sleep", "1000"]
    stop_grace_period: 0s
    depends_on: [db]
  web:
    image: busybox:latest
    command: ["sleep", "1000"]
    stop_grace_period: 0s
    depends_on:
      api:
        condition: service_started
        restart: true
"""


def states(daemon: DaemonProcess, project: str) -> dict[str, str]:
    """Container name -> state of the project's containers."""
    out = moor(daemon, "ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
               "--format", "{{.Names}} {{.State}}").stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


def containers(stderr: str, status: str) -> list[str]:
    """Container names of ``--progress plain`` lines ``Container NAME  STATUS``, in order."""
    return events(stderr, "Container", status)


def up(project: ProjectDir, compose_yaml: str) -> None:
    """The project's directory given ``compose_yaml``, then ``moor compose up -d``."""
    daemon, directory, _name = project
    write_project(directory, compose_yaml)
    compose_ok(daemon, directory, "up", "-d")


@pytest.fixture
def chain(project: ProjectDir) -> ProjectDir:
    """The project of CHAIN, up."""
    up(project, CHAIN)
    return project


def test_stop_reverse_order_then_start_in_order(chain: ProjectDir) -> None:
    daemon, directory, name = chain
    stopped = compose_ok(daemon, directory, "stop")
    order = containers(stopped.stderr, "Stopped")
    assert order == [f"{name}-web-1", f"{name}-api-1", f"{name}-db-1"]
    assert set(states(daemon, name).values()) == {"exited"}

    started = compose_ok(daemon, directory, "start")
    assert containers(started.stderr, "Started") == [f"{name}-db-1", f"{name}-api-1", f"{name}-web-1"]
    assert set(states(daemon, name).values()) == {"running"}


def test_stop_and_start_one_service(chain: ProjectDir) -> None:
    daemon, directory, name = chain
    assert compose(daemon, directory, "stop", "db", "api").returncode == 0
    assert states(daemon, name) == {f"{name}-db-1": "exited", f"{name}-api-1": "exited", f"{name}-web-1": "running"}
    # start of a service starts what it depends on
    result = compose_ok(daemon, directory, "start", "api")
    assert containers(result.stderr, "Started") == [f"{name}-db-1", f"{name}-api-1"]


def test_commands_without_files_given_the_project_name(chain: ProjectDir,
                                                        tmp_path: Path) -> None:
    daemon, _directory, name = chain
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    stopped = compose_ok(daemon, elsewhere, "-p", name, "stop")
    # the order comes from the containers' depends_on labels
    assert containers(stopped.stderr, "Stopped") == [f"{name}-web-1", f"{name}-api-1", f"{name}-db-1"]
    started = compose_ok(daemon, elsewhere, "start", env={"COMPOSE_PROJECT_NAME": name})
    assert containers(started.stderr, "Started") == [f"{name}-db-1", f"{name}-api-1", f"{name}-web-1"]


def test_restart_takes_dependents_with_restart_true(chain: ProjectDir) -> None:
    daemon, directory, name = chain
    before = {n: inspect(daemon, n)["State"]["StartedAt"] for n in states(daemon, name)}
    result = compose_ok(daemon, directory, "restart", "-t", "1", "api")
    assert containers(result.stderr, "Restarting") == [f"{name}-api-1", f"{name}-web-1"]
    after = {n: inspect(daemon, n)["State"]["StartedAt"] for n in before}
    assert after[f"{name}-db-1"] == before[f"{name}-db-1"]
    assert after[f"{name}-api-1"] != before[f"{name}-api-1"]
    assert after[f"{name}-web-1"] != before[f"{name}-web-1"]
    result = compose(daemon, directory, "--progress", "plain", "restart", "--no-deps", "-t", "1", "api")
    assert containers(result.stderr, "Restarting") == [f"{name}-api-1"]


def test_kill_with_signal_and_nothing_left(chain: ProjectDir) -> None:
    daemon, directory, name = chain
    result = compose_ok(daemon, directory, "kill", "web")
    assert containers(result.stderr, "Killed") == [f"{name}-web-1"]
    assert inspect(daemon, f"{name}-web-1")["State"]["ExitCode"] == 137
    result = compose(daemon, directory, "kill", "-s", "SIGKILL")
    assert result.returncode == 0, result.stderr
    assert set(states(daemon, name).values()) == {"exited"}
    result = compose(daemon, directory, "kill")
    assert result.returncode == 0
    assert "No container to kill" in result.stderr


def test_rm_prompt_force_stop_and_volumes(chain: ProjectDir) -> None:
    daemon, directory, name = chain
    none = compose(daemon, directory, "rm", "-f")
    assert none.returncode == 0 and "No stopped containers" in none.stderr
    assert compose(daemon, directory, "stop", "web").returncode == 0
    refused = compose(daemon, directory, "rm", input="n\n")
    assert refused.returncode == 0
    assert refused.stdout.startswith(f"Going to remove {name}-web-1")
    assert f"{name}-web-1" in states(daemon, name)
    accepted = compose_ok(daemon, directory, "rm", input="y\n")
    assert containers(accepted.stderr, "Removed") == [f"{name}-web-1"]
    assert f"{name}-web-1" not in states(daemon, name)
    forced = compose(daemon, directory, "rm", "-f", "-s", "api")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == f"Going to remove {name}-api-1\n"
    assert list(states(daemon, name)) == [f"{name}-db-1"]


def test_rm_v_removes_anonymous_volumes(project: ProjectDir) -> None:
    daemon, directory, name = project
    up(project, services_yaml({"box": {"command": ["sleep", "1000"], "volumes": ["/data"]}}))
    volume = inspect(daemon, f"{name}-box-1")["Mounts"][0]["Name"]
    assert compose(daemon, directory, "stop", "-t", "0").returncode == 0
    assert compose(daemon, directory, "rm", "-f", "-v").returncode == 0
    assert volume not in moor(daemon, "volume", "ls", "-q").stdout.split()


def test_pause_and_unpause(chain: ProjectDir) -> None:
    daemon, directory, name = chain
    result = compose_ok(daemon, directory, "pause", "api")
    assert containers(result.stderr, "Paused") == [f"{name}-api-1"]
    assert states(daemon, name)[f"{name}-api-1"] == "paused"
    result = compose_ok(daemon, directory, "unpause")
    assert containers(result.stderr, "Unpaused") == [f"{name}-api-1"]
    assert set(states(daemon, name).values()) == {"running"}


def test_start_waits_for_a_healthy_dependency(project: ProjectDir) -> None:
    daemon, directory, name = project
    up(project, services_yaml({
        "db": {"command": ["sh", "-c", "sleep 1; touch /tmp/ready; sleep 1000"], "stop_grace_period": "0s",
               "healthcheck": {"test": ["CMD", "test", "-f", "/tmp/ready"], "interval": "1s", "retries": 30}},
        "web": {"command": ["sleep", "1000"], "stop_grace_period": "0s",
                "depends_on": {"db": {"condition": "service_healthy"}}}}))
    assert compose(daemon, directory, "stop").returncode == 0
    result = compose_ok(daemon, directory, "start", "--wait", "--wait-timeout", "60")
    lines = result.stderr.splitlines()
    healthy = lines.index(f" Container {name}-db-1  Healthy")
    assert healthy < lines.index(f" Container {name}-web-1  Starting")
    assert inspect(daemon, f"{name}-db-1")["State"]["Health"]["Status"] == "healthy"


def test_wait_exit_code_and_down_project(project: ProjectDir) -> None:
    daemon, directory, name = project
    up(project, services_yaml({"job": {"command": ["sh", "-c", "sleep 4; exit 3"]},
                               "other": {"command": ["sleep", "1000"], "stop_grace_period": "0s"}}))
    job = inspect(daemon, f"{name}-job-1")["Id"]
    result = compose(daemon, directory, "wait", "job")
    assert result.returncode == 3, result.stderr
    assert result.stdout == f'container "{job}" exited with status code 3\n'
    # Ctrl-C ends a wait at once, however long the container runs
    waiting = subprocess.Popen([*MOOR_CLI, "-H", daemon.host, "compose", "wait", "other"], cwd=directory,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(timeout=30) != 0
    finally:
        waiting.kill()
        waiting.communicate()
    assert compose(daemon, directory, "restart", "job").returncode == 0
    result = compose(daemon, directory, "wait", "--down-project", "job")
    assert result.returncode == 3, result.stderr
    assert states(daemon, name) == {}
    networks = json.loads(moor(daemon, "network", "ls", "--format", "{{json .Name}}").stdout
                          .replace("\n", ",").strip(",").join("[]"))
    assert f"{name}_default" not in networks


def test_bad_input(chain: ProjectDir, tmp_path: Path) -> None:
    daemon, directory, name = chain
    for command in (["stop", "nope"], ["start", "nope"], ["restart", "nope"], ["pause", "nope"]):
        result = compose(daemon, directory, *command)
        assert (result.returncode, result.stderr.strip()) == (1, "no such service: nope"), command
    fresh = write_project(tmp_path / f"{name}x", "services:\n  a:\n    image: busybox:latest\n")
    result = compose(daemon, fresh, "start")
    assert (result.returncode, result.stderr.strip()) == (1, 'service "a" has no container to start')
    result = compose(daemon, fresh, "wait", "a")
    assert result.returncode == 1 and f'no containers for project "{name}x"' in result.stderr
    result = compose(daemon, fresh, "wait")
    assert result.returncode != 0
