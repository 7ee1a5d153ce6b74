"""Bad input met at run time by ``moor compose up``: a port already taken, an unhealthy dependency, one that
exits with a failure, a cycle, an unknown service, a missing external network. Each gives one clear line in
docker compose v2's words and its exit code, never a traceback; what this ``up`` started was reported, and
nothing it made is left without the project's labels (``down`` removes it all)."""

from __future__ import annotations

import pytest

from e2e.composehelpers import (  # noqa: F401 - fixtures
    SLEEPING,
    ProjectDir,
    compose,
    compose_moord,
    failed,
    free_port,
    project,
    services_yaml,
    write_project,
)
from e2e.containerhelpers import moor
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

#: a service that runs until stopped
SLEEPER = {"command": SLEEPING}
#: a service whose healthcheck fails at once
SICK = {**SLEEPER, "healthcheck": {"test": ["CMD", "false"], "interval": "200ms", "retries": 1}}


def all_labelled(daemon: DaemonProcess, name: str) -> None:
    """Every container and network of the daemon belongs to project ``name`` (the module's daemon runs one
    test at a time, and everything is removed between tests)."""
    every = set(moor(daemon, "ps", "-aq").stdout.split())
    labelled = set(moor(daemon, "ps", "-aq", "--filter", f"label=com.docker.compose.project={name}").stdout.split())
    assert every == labelled
    networks = {n for n in moor(daemon, "network", "ls", "--format", "{{.Name}}").stdout.split()
                if n not in ("bridge", "host", "none")}
    labelled_networks = set(moor(daemon, "network", "ls", "--filter", f"label=com.docker.compose.project={name}",
                                 "--format", "{{.Name}}").stdout.split())
    assert networks == labelled_networks


def nothing_made(daemon: DaemonProcess) -> None:
    assert moor(daemon, "ps", "-aq").stdout.split() == []
    assert [n for n in moor(daemon, "network", "ls", "--format", "{{.Name}}").stdout.split()
            if n not in ("bridge", "host", "none")] == []
    assert moor(daemon, "volume", "ls", "-q").stdout.split() == []


def test_port_already_taken(project: ProjectDir) -> None:
    daemon, directory, name = project
    port = free_port()
    blocker = moor(daemon, "run", "-d", "--name", f"{name}-blocker", "-p", f"127.0.0.1:{port}:80",
                   "busybox:latest", "sleep", "1000")
    assert blocker.returncode == 0, blocker.stderr
    write_project(directory, services_yaml({
        "db": SLEEPER, "web": {**SLEEPER, "depends_on": ["db"], "ports": [f"127.0.0.1:{port}:80"]}}))
    result = compose(daemon, directory, "--progress", "plain", "up", "-d")
    line = failed(result)
    assert line.startswith("Error response from daemon:") and "port is already allocated" in line
    # what was started is reported, and the failed container says why
    assert f" Container {name}-db-1  Started" in result.stderr
    assert f" Container {name}-web-1  Error" in result.stderr
    moor(daemon, "rm", "-f", f"{name}-blocker")
    all_labelled(daemon, name)
    # down takes it all away
    assert compose(daemon, directory, "down").returncode == 0
    nothing_made(daemon)


def test_unhealthy_dependency(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({
        "db": SICK, "web": {**SLEEPER, "depends_on": {"db": {"condition": "service_healthy"}}}}))
    result = compose(daemon, directory, "--progress", "plain", "up", "-d")
    assert failed(result) == f"dependency failed to start: container {name}-db-1 is unhealthy"
    assert f" Container {name}-db-1  Started" in result.stderr
    assert f"{name}-web-1" not in result.stderr  # never made
    all_labelled(daemon, name)
    assert moor(daemon, "ps", "-a", "--format", "{{.Names}}").stdout.split() == [f"{name}-db-1"]


def migrate_then_app(required: bool) -> str:
    """A project whose app waits for a migration that fails; ``required: false`` lets it go on."""
    condition = {"condition": "service_completed_successfully", **({} if required else {"required": False})}
    return services_yaml({"migrate": {"command": ["sh", "-c", "exit 3"]},
                          "app": {**SLEEPER, "depends_on": {"migrate": condition}}})


def test_dependency_exits_with_a_failure(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, migrate_then_app(required=True))
    result = compose(daemon, directory, "--progress", "plain", "up", "-d")
    assert failed(result) == 'service "migrate" didn\'t complete successfully: exit 3'
    all_labelled(daemon, name)


def test_optional_dependency_failure_is_skipped(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, migrate_then_app(required=False))
    result = compose(daemon, directory, "--progress", "plain", "up", "-d")
    assert result.returncode == 0, result.stderr
    assert "Skipped: optional dependency" in result.stderr
    assert f" Container {name}-app-1  Started" in result.stderr


def test_cycle_and_unknown_service_make_nothing(project: ProjectDir) -> None:
    daemon, directory, _name = project
    write_project(directory, """\
services:
  a:
    image: busybox:latest
    depends_on: [b]
  b:
    image: busybox:latest
    depends_on: [a]
""")
    line = failed(compose(daemon, directory, "up", "-d"))
    assert "dependency cycle detected" in line and ("a -> b -> a" in line or "b -> a -> b" in line)
    nothing_made(daemon)

    write_project(directory, "services:\n  a:\n    image: busybox:latest\n")
    assert failed(compose(daemon, directory, "up", "-d", "nope")) == "no such service: nope"
    assert failed(compose(daemon, directory, "up", "-d", "--scale", "nope=2")) == "no such service: nope"
    nothing_made(daemon)


def test_missing_external_network_and_volume(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, f"""\
services:
  a:
    image: busybox:latest
    networks: [outside]
networks:
  outside:
    external: true
    name: {name}-nowhere
""")
    line = failed(compose(daemon, directory, "up", "-d"))
    assert line == f"network {name}-nowhere declared as external, but could not be found"
    nothing_made(daemon)
    write_project(directory, f"""\
services:
  a:
    image: busybox:latest
    volumes: [gone:/gone]
volumes:
  gone:
    external: true
    name: {name}-gone
""")
    assert failed(compose(daemon, directory, "up", "-d")) == f'external volume "{name}-gone" not found'
    nothing_made(daemon)


def test_incompatible_flags(project: ProjectDir) -> None:
    daemon, directory, _name = project
    write_project(directory, "services:\n  a:\n    image: busybox:latest\n")
    assert failed(compose(daemon, directory, "up", "--force-recreate", "--no-recreate")) == \
        "--force-recreate and --no-recreate are incompatible"
    assert failed(compose(daemon, directory, "up", "-d", "--abort-on-container-exit")).startswith(
        "--detach cannot be combined with --abort-on-container-exit")
    nothing_made(daemon)


def test_wait_for_an_unhealthy_or_slow_application(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({"sick": SICK}))
    assert failed(compose(daemon, directory, "up", "--wait")) == f"container {name}-sick-1 is unhealthy"
    all_labelled(daemon, name)
    write_project(directory, services_yaml({
        "slow": {**SLEEPER, "healthcheck": {"test": ["CMD", "false"], "interval": "1h"}}}))
    assert failed(compose(daemon, directory, "up", "--wait", "--wait-timeout", "1", "--remove-orphans")) == \
        "application not healthy after 1s"
