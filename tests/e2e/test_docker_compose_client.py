"""Debian's docker-compose 1.29 (Python, docker-py) against moord, unchanged: the multi-service project of
tests/compose/dcclient (two networks, a named volume, a built image, an env_file, a healthcheck that another
service waits for, a port on 127.0.0.1, scale) through up, ps, port, exec, logs, run, top, scale, stop,
start, restart, kill, rm, build, config and down -v; the requests it makes that moord once answered unlike
Docker (a stopped container's networks, a connect before the start); and one project in the hands of both
docker-compose 1.29 and moor compose (compose v2's conventions), each listing and taking down the other's."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.composehelpers import COMPOSE_FILES, SLEEP, compose, compose_moord, remove_everything, unique_name  # noqa: F401 - fixtures
from e2e.containerhelpers import wait_for
from moor.testing.daemon import DaemonProcess

DOCKER_COMPOSE = "/usr/bin/docker-compose"

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not os.path.exists(DOCKER_COMPOSE),
                                 reason="Debian's docker-compose is not installed (make install)")]


class Project:
    """The dcclient project copied to a directory of its own, under a unique project name."""

    def __init__(self, daemon: DaemonProcess, directory: Path, name: str) -> None:
        self.daemon, self.directory, self.name = daemon, directory, name

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """``docker-compose -p NAME ARGS`` in the project directory, talking to moord (no TTY: -T for exec)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.directory),
               "DOCKER_HOST": self.daemon.host, "DOCKER_CONFIG": str(self.directory / ".docker")}
        return subprocess.run([DOCKER_COMPOSE, "-p", self.name, *args], cwd=self.directory, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args: str, timeout: float = 180) -> str:
        result = self.run(*args, timeout=timeout)
        assert result.returncode == 0, f"docker-compose {' '.join(args)}: {result.stdout}{result.stderr}"
        return result.stdout

    def containers(self, *labels: str, all: bool = True) -> list[dict[str, Any]]:
        """The project's containers as moord lists them (``labels``: more label filters)."""
        filters = json.dumps({"label": [f"com.docker.compose.project={self.name}", *labels]})
        listed: list[dict[str, Any]] = self.daemon.client().get("/containers/json", all=int(all), filters=filters)
        return listed

    def names(self, service: str = "", all: bool = True) -> list[str]:
        labels = (f"com.docker.compose.service={service}",) if service else ()
        return sorted(c["Names"][0].lstrip("/") for c in self.containers(*labels, all=all))

    def states(self) -> dict[str, str]:
        return {c["Names"][0].lstrip("/"): c["State"] for c in self.containers()}


@pytest.fixture(scope="module")
def project(compose_moord: DaemonProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The project, up (-d) on the module's moord; taken down, and everything removed, afterwards."""
    directory = tmp_path_factory.mktemp("dcclient") / "app"
    shutil.copytree(COMPOSE_FILES / "dcclient", directory)
    project = Project(compose_moord, directory, unique_name("dc"))
    try:
        project.ok("up", "-d")
        yield project
    finally:
        project.run("down", "-v", "-t", "1")
        remove_everything(compose_moord)
        client = compose_moord.client()
        for image in client.get("/images/json"):
            if any(tag.startswith(project.name) for tag in image.get("RepoTags") or []):
                client.call("DELETE", f"/images/{image['Id']}", {"force": "1"})


def published_port(project: Project) -> int:
    host, _, port = project.ok("port", "web", "80").strip().rpartition(":")
    assert host == "127.0.0.1"
    return int(port)


def fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        return str(response.read().decode())


def test_up_makes_what_the_file_describes(project: Project) -> None:
    name = project.name
    assert project.names() == [f"{name}_db_1", f"{name}_web_1", f"{name}_worker_1", f"{name}_worker_2"]
    assert set(project.states().values()) == {"running"}
    client = project.daemon.client()
    for network in ("back", "front"):
        labels = client.get(f"/networks/{name}_{network}")["Labels"]
        assert labels["com.docker.compose.network"] == network and labels["com.docker.compose.project"] == name
    assert client.get(f"/volumes/{name}_dbdata")["Labels"]["com.docker.compose.volume"] == "dbdata"
    ps = project.ok("ps")
    assert f"{name}_db_1" in ps and "Up (healthy)" in ps and "127.0.0.1:" in ps and "->80/tcp" in ps
    assert project.ok("ps", "--services").split() == ["db", "web", "worker"]
    assert len(project.ok("ps", "-q").split()) == 4


def test_built_image_served_on_the_published_port(project: Project) -> None:
    assert fetch(published_port(project)).strip() == "built by compose"


def test_exec_sees_env_file_environment_and_both_networks(project: Project) -> None:
    out = project.ok("exec", "-T", "web", "sh", "-c", 'echo "$GREETING/$ROLE"; wget -qO- http://db:5432/')
    assert out.splitlines() == ["hello from env_file/frontend", "stored"]
    # the worker (back only) reaches web by its network alias; web's front network is not the worker's
    out = project.ok("exec", "-T", "--index=2", "worker", "sh", "-c", "wget -qO- http://www/; hostname")
    assert out.splitlines()[0] == "built by compose"


def test_logs_prefix_every_service(project: Project) -> None:
    out = project.ok("logs", "--no-color")
    assert "db_1      | db starting" in out
    assert "worker_1  | worker up" in out and "worker_2  | worker up" in out
    assert project.ok("logs", "--no-color", "--tail=1", "db").splitlines()[-1].endswith("db starting")


def test_run_oneoff_on_the_service_networks_removed_after(project: Project) -> None:
    out = project.ok("run", "--rm", "-T", "worker", "sh", "-c", "wget -qO- http://db:5432/; ls /data || true")
    assert out.splitlines()[0] == "stored"
    assert project.containers("com.docker.compose.oneoff=True") == []
    detached = project.ok("run", "-d", "worker", "echo", "detached").strip()
    assert detached.startswith(f"{project.name}_worker_run_")
    wait_for(lambda: project.daemon.client().get(f"/containers/{detached}/json")["State"]["Status"] == "exited")
    project.daemon.client().call("DELETE", f"/containers/{detached}")


def test_top_lists_each_container_processes(project: Project) -> None:
    out = project.ok("top")
    for container in project.names():
        assert container in out
    assert "httpd -f -p 5432" in out and "/sbin/docker-init" in out


def test_scale_up_and_back_to_the_file(project: Project) -> None:
    name = project.name
    project.ok("up", "-d", "--scale", "worker=3")
    assert project.names("worker", all=False) == [f"{name}_worker_{n}" for n in (1, 2, 3)]
    out = project.ok("port", "--index=3", "worker", "80")
    assert out.strip() == ""  # not published
    project.ok("up", "-d")
    assert project.names("worker") == [f"{name}_worker_1", f"{name}_worker_2"]


def test_stop_start_restart_kill(project: Project) -> None:
    project.ok("stop", "-t", "1")
    assert set(project.states().values()) == {"exited"}
    network_id = project.daemon.client().get(f"/networks/{project.name}_back")["Id"]
    for container in project.containers():  # as Docker: a stopped container's networks still name themselves
        endpoint = container["NetworkSettings"]["Networks"][f"{project.name}_back"]
        assert endpoint["NetworkID"] == network_id and endpoint["EndpointID"] == "" and endpoint["IPAddress"] == ""
    project.ok("start")
    assert set(project.states().values()) == {"running"}
    before = {c["Id"]: c for c in project.containers("com.docker.compose.service=worker")}
    project.ok("restart", "-t", "1", "worker")
    for ident in before:
        state = project.daemon.client().get(f"/containers/{ident}/json")["State"]
        assert state["Running"] and state["StartedAt"] > project.daemon.client().get(
            f"/containers/{project.names('db')[0]}/json")["State"]["StartedAt"]
    project.ok("kill", "worker")
    wait_for(lambda: {project.states()[n] for n in project.names("worker")} == {"exited"})
    project.ok("up", "-d")
    assert set(project.states().values()) == {"running"}
    assert fetch(published_port(project)).strip() == "built by compose"


def test_pause_and_unpause(project: Project) -> None:
    project.ok("pause", "worker")
    assert {project.states()[n] for n in project.names("worker")} == {"paused"}
    assert "Paused" in project.ok("ps")
    project.ok("unpause", "worker")
    assert set(project.states().values()) == {"running"}


def test_rm_stopped_service_then_up_again(project: Project) -> None:
    out = project.run("rm", "-f", "-s", "worker")
    assert out.returncode == 0, out.stderr
    going = next(line for line in out.stdout.splitlines() if line.startswith("Going to remove "))
    assert sorted(going.removeprefix("Going to remove ").split(", ")) == [f"{project.name}_worker_{n}" for n in (1, 2)]
    assert project.names("worker") == []
    project.ok("up", "-d", "worker")
    assert len(project.names("worker", all=False)) == 2


def test_config_and_build_then_recreate(project: Project) -> None:
    assert project.ok("config", "--services").split() == ["db", "web", "worker"]
    assert project.run("config", "-q").returncode == 0
    build = project.run("build", "--build-arg", "MESSAGE=rebuilt", "web")
    assert build.returncode == 0, build.stderr
    assert f"Successfully tagged {project.name}_web:latest" in build.stdout
    old = project.containers("com.docker.compose.service=web")[0]["Id"]
    project.ok("up", "-d", "web")
    new = project.containers("com.docker.compose.service=web")[0]["Id"]
    assert new != old  # the image changed: recreated
    assert fetch(published_port(project)).strip() == "rebuilt"


def test_connect_before_start_takes_the_short_id_alias(compose_moord: DaemonProcess) -> None:
    """What compose 1.29 reads before each start (its short_id_alias_exists): on a user-defined network, a
    container connected while it is not running has its short ID among its aliases, as Docker's before 1.45."""
    client = compose_moord.client()
    name = f"dcalias{os.getpid()}"
    network = client.call("POST", "/networks/create", body={"Name": name})["Id"]
    container = client.call("POST", "/containers/create", body={"Image": "busybox:latest", "Cmd": ["true"]})["Id"]
    try:
        client.call("POST", f"/networks/{network}/connect",
                    body={"Container": container, "EndpointConfig": {"Aliases": ["asked"]}})
        networks = client.get(f"/containers/{container}/json")["NetworkSettings"]["Networks"]
        assert networks[name]["Aliases"] == ["asked", container[:12]]
        assert not networks["bridge"]["Aliases"]  # not on the default bridge
    finally:
        client.call("DELETE", f"/containers/{container}", {"force": "1"})
        client.call("DELETE", f"/networks/{network}")


def test_wait_ends_at_an_exit_a_restart_follows(compose_moord: DaemonProcess) -> None:
    """What docker-compose 1.29's ``logs -f`` asks when the output of a container it follows ends: ``POST
    /wait``, which Docker answers at that exit even when a restart brings the container back at once (its
    "NAME exited with code N" line); the wait must not last until some later stop."""
    client = compose_moord.client()
    command = ["sh", "-c", "trap 'exit 3' TERM; sleep 1000 & wait"]
    container = client.call("POST", "/containers/create", body={"Image": "busybox:latest", "Cmd": command})["Id"]
    try:
        client.call("POST", f"/containers/{container}/start")
        for condition in ("not-running", "next-exit") * 6:  # the exit and the start race: several turns
            answer = client.open("POST", f"/containers/{container}/wait", {"condition": condition})  # registered
            body: list[bytes] = []
            reader = threading.Thread(target=lambda out=body, response=answer: out.append(response.read()),
                                      daemon=True)
            reader.start()
            client.call("POST", f"/containers/{container}/restart", {"t": "10"})
            reader.join(60)
            assert not reader.is_alive(), f"wait ({condition}) still waiting after the restart"
            assert json.loads(body[0])["StatusCode"] == 3
            assert client.get(f"/containers/{container}/json")["State"]["Running"]
    finally:
        client.call("DELETE", f"/containers/{container}", {"force": "1"})


def test_down_removes_containers_networks_and_volume(project: Project) -> None:
    name = project.name
    out = project.run("down", "-v", "-t", "1")
    assert out.returncode == 0, out.stderr
    assert f"Removing network {name}_back" in out.stderr and f"Removing volume {name}_dbdata" in out.stderr
    assert project.containers() == []
    client = project.daemon.client()
    assert not [n for n in client.get("/networks") if n["Name"].startswith(name)]
    assert not [v for v in client.get("/volumes")["Volumes"] or [] if v["Name"].startswith(name)]


# ---------------------------------------------------------------------------------------------------------
# one project, two tools: compose v2's labels (moor compose) and 1.29's are the same where it matters
# (project, service, container-number, oneoff), so either lists, runs in and takes down what the other made;
# the names differ (v2: PROJECT-SERVICE-N, 1.29: PROJECT_SERVICE_N) and so do the config hashes: an `up` of
# the other tool recreates the containers under its own names.


@pytest.fixture
def fresh(compose_moord: DaemonProcess, tmp_path: Path) -> Iterator[Project]:
    """A copy of the project under a name of its own, not started; whatever either tool made removed after."""
    directory = tmp_path / "app"
    shutil.copytree(COMPOSE_FILES / "dcclient", directory)
    project = Project(compose_moord, directory, unique_name("dx"))
    try:
        yield project
    finally:
        project.run("down", "-v", "-t", "1")
        client = compose_moord.client()
        for container in project.containers():
            client.call("DELETE", f"/containers/{container['Id']}", {"force": "1", "v": "1"})
        for image in client.get("/images/json"):
            if any(tag.startswith(project.name) for tag in image.get("RepoTags") or []):
                client.call("DELETE", f"/images/{image['Id']}", {"force": "1"})


def moor_compose(project: Project, *args: str) -> str:
    result = compose(project.daemon, project.directory, "-p", project.name, *args)
    assert result.returncode == 0, f"moor compose {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def leftovers(project: Project) -> tuple[list[str], list[str], list[str]]:
    client = project.daemon.client()
    return (project.names(), [n["Name"] for n in client.get("/networks") if n["Name"].startswith(project.name)],
            [v["Name"] for v in client.get("/volumes")["Volumes"] or [] if v["Name"].startswith(project.name)])


def test_docker_compose_lists_and_takes_down_what_moor_compose_started(fresh: Project) -> None:
    name = fresh.name
    moor_compose(fresh, "up", "-d")
    ps = fresh.ok("ps")
    for container in (f"{name}-db-1", f"{name}-web-1", f"{name}-worker-1", f"{name}-worker-2"):
        assert container in ps
    assert set(fresh.states().values()) == {"running"}
    assert fresh.ok("exec", "-T", "--index=2", "worker", "wget", "-qO-", "http://db:5432/").strip() == "stored"
    assert fresh.ok("logs", "--no-color", "db").splitlines()[-1].endswith("db starting")
    fresh.ok("stop", "-t", "1")
    assert set(fresh.states().values()) == {"exited"}
    out = fresh.run("down", "-v", "-t", "1")
    assert out.returncode == 0, out.stderr
    assert f"Removing {name}-web-1" in out.stderr and f"Removing volume {name}_dbdata" in out.stderr
    assert leftovers(fresh) == ([], [], [])


def test_moor_compose_lists_and_takes_down_what_docker_compose_started(fresh: Project) -> None:
    name = fresh.name
    fresh.ok("up", "-d")
    ps = moor_compose(fresh, "ps", "--format", "{{.Name}} {{.Service}} {{.State}}")
    assert sorted(ps.splitlines()) == [f"{name}_db_1 db running", f"{name}_web_1 web running",
                                       f"{name}_worker_1 worker running", f"{name}_worker_2 worker running"]
    assert f"{name} " in moor_compose(fresh, "ls") and "running(4)" in moor_compose(fresh, "ls")
    assert moor_compose(fresh, "exec", "-T", "web", "cat", "/www/index.html").strip() == "built by compose"
    moor_compose(fresh, "stop", "-t", "1")
    assert set(fresh.states().values()) == {"exited"}
    moor_compose(fresh, "down", "-v", "-t", "1")
    assert leftovers(fresh) == ([], [], [])


# ---------------------------------------------------------------------------------------------------------
# attached up and the errors of up, as docker-compose prints them over Docker's answers

@pytest.fixture
def small(compose_moord: DaemonProcess, tmp_path: Path) -> Iterator[Project]:
    """An empty project directory under a name of its own (the test writes docker-compose.yml); taken down."""
    project = Project(compose_moord, tmp_path, unique_name("ds"))
    try:
        yield project
    finally:
        project.run("down", "-v", "-t", "1")
        for container in project.containers():
            compose_moord.client().call("DELETE", f"/containers/{container['Id']}", {"force": "1", "v": "1"})


def test_attached_up_aborts_on_exit_with_its_code(small: Project) -> None:
    (small.directory / "docker-compose.yml").write_text(f"""\
services:
  a:
    image: busybox:latest
    command: ["sh", "-c", "echo a says hi; sleep 1; echo a done; exit 3"]
  b:
    image: busybox:latest
    command: {SLEEP}
""")
    out = small.run("up", "--no-color", "--abort-on-container-exit", "--exit-code-from", "a")
    assert out.returncode == 3, out.stderr
    assert "a_1  | a says hi" in out.stdout and "a_1  | a done" in out.stdout
    assert f"{small.name}_a_1 exited with code 3" in out.stdout and "Aborting on container exit..." in out.stdout
    assert set(small.states().values()) == {"exited"}  # b stopped too


def test_up_errors_as_docker_compose_prints_them(small: Project) -> None:
    """An unhealthy dependency, a dependency that failed, a port already taken: docker-compose's own lines
    over moord's answers, exit code 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (small.directory / "docker-compose.yml").write_text(f"""\
services:
  db:
    image: busybox:latest
    command: {SLEEP}
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1
  app:
    image: busybox:latest
    command: ["true"]
    depends_on:
      db:
        condition: service_healthy
  once:
    image: busybox:latest
    command: ["sh", "-c", "exit 2"]
  after:
    image: busybox:latest
    command: ["true"]
    depends_on:
      once:
        condition: service_completed_successfully
  web:
    image: busybox:latest
    command: {SLEEP}
    ports: ["127.0.0.1:{port}:80"]
""")
        out = small.run("up", "-d")
    assert out.returncode == 1
    ids = {c["Names"][0].lstrip("/"): c["Id"][:12] for c in small.containers()}
    assert f'ERROR: for app  Container "{ids[small.name + "_db_1"]}" is unhealthy.' in out.stderr
    assert f'ERROR: for after  Container "{ids[small.name + "_once_1"]}" exited with code 2.' in out.stderr
    assert f"listen tcp4 127.0.0.1:{port}: bind: address already in use" in out.stderr
    assert "Encountered errors while bringing up the project." in out.stderr
