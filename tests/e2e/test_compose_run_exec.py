"""``moor compose run`` and ``exec`` on a real moord, as docker compose v2: the one-off container's name and
labels, its overrides, dependencies up and healthy first, --rm, -d, stdin and a TTY (through a pty), exit
codes; exec into a service's container, --index, -d, its exit code, and the errors in compose's words."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from e2e.composehelpers import (  # noqa: F401 - fixtures
    SLEEP,
    ProjectDir,
    base_env,
    compose,
    compose_moord,
    failed,
    project,
    services_yaml,
    shell,
    write_project,
)
from e2e.containerhelpers import MOOR_CLI, inspect, moor
from moor.client import Client
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

APP = f"""\
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1; touch /tmp/ready; sleep 1000 & wait"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      start_interval: 200ms
      start_period: 10s
  web:
    image: busybox:latest
    command: {SLEEP}
    restart: always
    environment:
      GREETING: hello
    ports:
      - "127.0.0.1::80"
    depends_on:
      db:
        condition: service_healthy
"""


def names(daemon: DaemonProcess, project_name: str, oneoff: str | None = None) -> list[str]:
    """The project's container names (``oneoff`` "True"/"False" narrows)."""
    args = ["ps", "-a", "--format", "{{.Names}}", "--filter", f"label=com.docker.compose.project={project_name}"]
    if oneoff is not None:
        args += ["--filter", f"label=com.docker.compose.oneoff={oneoff}"]
    return sorted(moor(daemon, *args).stdout.split())


def in_pty(daemon: DaemonProcess, directory: Path, *args: str, timeout: float = 60) -> tuple[int, str]:
    """``moor compose ARGS`` with stdin, stdout and stderr on a pty of ours; its exit code and output."""
    master, slave = pty.openpty()
    process = subprocess.Popen([*MOOR_CLI, "-H", daemon.host, "compose", *args], cwd=str(directory), stdin=slave,
                               stdout=slave, stderr=slave, env=base_env(), start_new_session=True)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer has closed the pty
                    break
                if not data:
                    break
                output += data
            elif process.poll() is not None:
                break
        code = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return code, output.decode(errors="replace")


# ----------------------------------------------------------------------------------------------- run


@pytest.mark.parametrize(("script", "stdin", "code", "output"), [
    ("echo hello; exit 5", "", 5, "hello\n"),
    ("cat; test -t 0 || echo no tty", "line one\nline two\n", 0, "line one\nline two\nno tty\n"),  # no TTY
], ids=["exit-code", "stdin"])
def test_run_rm_output_stdin_exit_code_and_nothing_left(project: ProjectDir, script: str, stdin: str, code: int,
                                                        output: str) -> None:
    daemon, directory, name = project
    write_project(directory, APP)
    result = compose(daemon, directory, "run", "--rm", "--no-deps", "web", "sh", "-c", script, input=stdin)
    assert result.returncode == code, result.stderr
    assert result.stdout == output
    assert names(daemon, name) == []


def test_run_waits_for_healthy_dependency_and_names_the_one_off(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, APP)
    result = compose(daemon, directory, "--progress", "plain", "run", "-T", "web", "echo", "ran", input="")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran\n"
    # the dependency came up and was healthy before the one-off ran
    assert f" Container {name}-db-1  Healthy" in result.stderr.splitlines()
    db = inspect(daemon, f"{name}-db-1")
    assert db["State"]["Health"]["Status"] == "healthy"
    oneoffs = names(daemon, name, oneoff="True")
    assert len(oneoffs) == 1 and re.fullmatch(rf"{name}-web-run-[0-9a-f]{{12}}", oneoffs[0]), oneoffs
    assert names(daemon, name, oneoff="False") == [f"{name}-db-1"]  # no web-1: run makes only the one-off
    one = inspect(daemon, oneoffs[0])
    labels = one["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == name
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.oneoff"] == "True"
    assert re.fullmatch(r"[0-9a-f]{64}", labels["com.docker.compose.slug"])
    assert labels["com.docker.compose.slug"][:12] == oneoffs[0][-12:]
    assert "com.docker.compose.container-number" not in labels
    assert one["HostConfig"]["RestartPolicy"]["Name"] in ("", "no")  # a one-off never restarts
    assert not one["HostConfig"].get("PortBindings")  # nor publishes the service's ports
    assert "GREETING=hello" in one["Config"]["Env"]
    assert one["Config"]["Cmd"] == ["echo", "ran"]


def test_run_no_deps_starts_nothing_else(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, APP)
    result = compose(daemon, directory, "run", "--rm", "-T", "--no-deps", "web", "true", input="")
    assert result.returncode == 0, result.stderr
    assert names(daemon, name) == []


def test_run_overrides(project: ProjectDir, tmp_path: Path) -> None:
    daemon, directory, name = project
    write_project(directory, APP, {".env": "FROM_DOTENV=dotenv-value\n"})
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "note").write_text("from the host\n")
    script = "echo $GREETING $X $FROM_DOTENV; id -u; pwd; cat /mnt/note; echo args $0 $1"
    result = compose(daemon, directory, "run", "--no-deps", "-T", "--name", f"{name}-custom", "-e", "X=ex",
                     "-e", "FROM_DOTENV", "-u", "1234", "-w", "/tmp", "-l", "extra=yes", "-v", f"{shared}:/mnt:ro",
                     "--entrypoint", f"sh -c '{script}'", "web", "first", "second", input="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["hello ex dotenv-value", "1234", "/tmp", "from the host",
                                          "args first second"]
    one = inspect(daemon, f"{name}-custom")
    assert one["Config"]["Labels"]["extra"] == "yes"
    assert one["Config"]["Labels"]["com.docker.compose.oneoff"] == "True"


def test_run_publishes_only_what_is_asked(project: ProjectDir) -> None:
    daemon, directory, _ = project
    write_project(directory, APP)
    detached = compose(daemon, directory, "run", "-d", "--no-deps", "-P", "web")
    assert detached.returncode == 0, detached.stderr
    container_id = detached.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", container_id), detached.stdout
    one = inspect(daemon, container_id)
    assert one["State"]["Running"]
    assert one["HostConfig"]["PortBindings"]["80/tcp"][0]["HostIp"] == "127.0.0.1"
    other = compose(daemon, directory, "run", "-d", "--no-deps", "-p", "127.0.0.1::81", "web")
    assert other.returncode == 0, other.stderr
    bindings = inspect(daemon, other.stdout.strip())["HostConfig"]["PortBindings"]
    assert list(bindings) == ["81/tcp"]
    both = compose(daemon, directory, "run", "-P", "-p", "81", "web", "true")
    assert both.returncode == 1
    assert "--service-ports and --publish are incompatible" in both.stderr


def test_run_in_a_terminal_gets_a_tty(project: ProjectDir) -> None:
    daemon, directory, _ = project
    write_project(directory, APP)
    code, output = in_pty(daemon, directory, "--progress", "quiet", "run", "--rm", "--no-deps", "web", "sh", "-c",
                          "tty; exit 3")
    assert code == 3, output
    assert "/dev/pts/" in output
    code, output = in_pty(daemon, directory, "--progress", "quiet", "run", "--rm", "--no-deps", "-T", "web", "sh",
                          "-c", "tty || true")
    assert code == 0, output
    assert "not a tty" in output


def test_run_failed_dependency_and_unknown_service(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({
        "init": shell("exit 3"), "app": {"depends_on": {"init": {"condition": "service_completed_successfully"}}}}))
    result = compose(daemon, directory, "run", "--rm", "-T", "app", "echo", "never", input="")
    assert failed(result) == 'service "init" didn\'t complete successfully: exit 3'
    assert "never" not in result.stdout
    assert names(daemon, name, oneoff="True") == []
    assert failed(compose(daemon, directory, "run", "nope")).endswith("no such service: nope")


def test_run_of_a_command_that_cannot_start(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, APP)
    removed = compose(daemon, directory, "run", "--rm", "--no-deps", "-T", "web", "no-such-program", input="")
    assert removed.returncode == 1
    last = removed.stderr.strip().splitlines()[-1]
    assert last.startswith("Error response from daemon: ") and "no-such-program" in last, removed.stderr
    assert names(daemon, name) == []  # --rm: nothing left
    kept = compose(daemon, directory, "run", "--no-deps", "-T", "web", "no-such-program", input="")
    assert kept.returncode == 1
    oneoffs = names(daemon, name, oneoff="True")
    assert len(oneoffs) == 1  # as docker start: the container that failed to start stays
    assert inspect(daemon, oneoffs[0])["State"]["Status"] in ("created", "exited")


# ----------------------------------------------------------------------------------------------- exec


def up_web(daemon: DaemonProcess, directory: Path, *args: str) -> None:
    write_project(directory, APP)
    result = compose(daemon, directory, "up", "-d", *args)
    assert result.returncode == 0, result.stderr


def test_exec_output_flags_and_exit_code(project: ProjectDir) -> None:
    daemon, directory, name = project
    up_web(daemon, directory)
    result = compose(daemon, directory, "exec", "-T", "-e", "X=ex", "-u", "1234", "-w", "/tmp", "web", "sh", "-c",
                     "echo $X $GREETING; id -u; pwd; hostname; exit 6")
    assert result.returncode == 6, result.stderr
    hostname = inspect(daemon, f"{name}-web-1")["Config"]["Hostname"]
    assert result.stdout.splitlines() == ["ex hello", "1234", "/tmp", hostname]
    (directory / ".env").write_text("FROM_DOTENV=dotenv-value\n")
    resolved = compose(daemon, directory, "exec", "-T", "-e", "FROM_DOTENV", "-e", "UNSET_HERE", "web", "sh", "-c",
                       "echo $FROM_DOTENV ${UNSET_HERE-unset}")
    assert resolved.stdout == "dotenv-value unset\n", resolved.stderr
    piped = compose(daemon, directory, "exec", "-T", "web", "cat", input="through stdin\n")
    assert piped.returncode == 0 and piped.stdout == "through stdin\n"
    # no terminal on stdout: no TTY even without -T
    plain = compose(daemon, directory, "exec", "web", "sh", "-c", "test -t 1 || echo no tty", input="")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == "no tty\n"


def test_exec_detached_and_privileged(project: ProjectDir) -> None:
    daemon, directory, name = project
    up_web(daemon, directory)
    detached = compose(daemon, directory, "exec", "-d", "web", "touch", "/tmp/marker")
    assert detached.returncode == 0 and detached.stdout == ""
    deadline = time.monotonic() + 20
    while compose(daemon, directory, "exec", "-T", "web", "test", "-f", "/tmp/marker").returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    # --privileged reaches the engine (moord records it; it does not yet widen an exec's capabilities)
    privileged = compose(daemon, directory, "exec", "-d", "--privileged", "web", "sleep", "30")
    assert privileged.returncode == 0, privileged.stderr
    client = Client(daemon.host)
    exec_ids = client.get(f"/containers/{name}-web-1/json")["ExecIDs"] or []
    configs = [client.get(f"/exec/{exec_id}/json")["ProcessConfig"] for exec_id in exec_ids]
    assert {"entrypoint": "sleep", "privileged": True} in [
        {"entrypoint": item["entrypoint"], "privileged": item["privileged"]} for item in configs]


def test_exec_index_and_not_running(project: ProjectDir) -> None:
    daemon, directory, name = project
    up_web(daemon, directory, "--scale", "web=2")
    second = inspect(daemon, f"{name}-web-2")["Config"]["Hostname"]
    first = inspect(daemon, f"{name}-web-1")["Config"]["Hostname"]
    assert compose(daemon, directory, "exec", "-T", "--index", "2", "web", "hostname").stdout.strip() == second
    assert compose(daemon, directory, "exec", "-T", "web", "hostname").stdout.strip() == first
    missing = compose(daemon, directory, "exec", "-T", "--index", "3", "web", "true")
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'service "web" is not running container #3'
    stopped = compose(daemon, directory, "exec", "-T", "nope", "true")
    assert stopped.returncode == 1
    assert stopped.stderr.strip() == 'service "nope" is not running'


def test_exec_in_a_terminal_gets_a_tty(project: ProjectDir) -> None:
    daemon, directory, _ = project
    up_web(daemon, directory)
    code, output = in_pty(daemon, directory, "exec", "web", "sh", "-c", "tty; exit 2")
    assert code == 2, output
    assert "/dev/pts/" in output

