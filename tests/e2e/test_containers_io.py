"""Logs, exec and attach through moor, and the real docker CLI and docker-py against moord."""

from __future__ import annotations

import os
import subprocess
import time

import docker
import pytest

from e2e.containerhelpers import docker_env, inspect, moor, moord, wait_for  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_logs_follow_tail_timestamps(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "talker", "busybox", "sh", "-c",
         "for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done; echo oops >&2")
    follow = moor(moord, "logs", "-f", "talker", timeout=30)
    assert follow.stdout == "".join(f"line{i}\n" for i in range(1, 6)) and follow.stderr == "oops\n"
    assert moor(moord, "logs", "--tail", "2", "talker").stdout == "line5\n"
    stamped = moor(moord, "logs", "-t", "talker").stdout.splitlines()[0]
    assert stamped.endswith("Z line1") and stamped[4] == "-"
    assert moor(moord, "logs", "--since", "2099-01-01T00:00:00Z", "talker").stdout == ""
    moor(moord, "rm", "talker")


def test_log_rotation_is_followed_without_losing_lines(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "rotor", "--log-opt", "max-size=2k", "--log-opt", "max-file=5", "busybox",
         "sh", "-c", "sleep 0.5; i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); "
                     "[ $((i % 20)) = 0 ] && sleep 0.1; done")
    follow = moor(moord, "logs", "-f", "rotor", timeout=60)
    assert follow.stdout.splitlines() == [f"line-{i}" for i in range(300)]
    log_path = inspect(moord, "rotor")["LogPath"]
    assert os.path.exists(log_path + ".1") and os.path.getsize(log_path) <= 2048
    moor(moord, "rm", "rotor")


def test_none_log_driver_cannot_be_read(moord: DaemonProcess) -> None:
    moor(moord, "run", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hi")
    result = moor(moord, "logs", "quiet")
    assert result.returncode == 1
    assert "configured logging driver does not support reading" in result.stderr
    moor(moord, "rm", "quiet")


def test_exec(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "host1", "busybox", "sleep", "300")
    result = moor(moord, "exec", "-e", "X=42", "-w", "/tmp", "-u", "nobody", "host1", "sh", "-c",
                  "echo $X; pwd; id -u; echo err >&2; exit 4")
    assert (result.returncode, result.stdout, result.stderr) == (4, "42\n/tmp\n65534\n", "err\n")
    assert moor(moord, "exec", "-d", "host1", "sh", "-c", "echo detached > /tmp/mark").returncode == 0
    # a detached exec finishes on its own time
    wait_for(lambda: moor(moord, "exec", "host1", "cat", "/tmp/mark").stdout == "detached\n")
    piped = moor(moord, "exec", "-i", "host1", "sh", "-c", "tr a-z A-Z", input="shout\n")
    assert piped.stdout == "SHOUT\n"
    missing = moor(moord, "exec", "host1", "nosuch")
    assert missing.returncode == 127
    assert "OCI runtime exec failed" in missing.stderr and "executable file not found" in missing.stderr
    moor(moord, "rm", "-f", "host1")


def test_attach_to_interactive_container(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "-i", "--name", "cat1", "busybox", "sh", "-c", "read x; echo got $x; exit 3")
    result = moor(moord, "attach", "cat1", input="hello\n", timeout=30)
    assert (result.returncode, result.stdout) == (3, "got hello\n")
    again = moor(moord, "start", "-a", "-i", "cat1", input="again\n", timeout=30)
    assert (again.returncode, again.stdout) == (3, "got again\n")
    moor(moord, "rm", "-f", "cat1")


def test_run_interactive_stdin(moord: DaemonProcess) -> None:
    result = moor(moord, "run", "--rm", "-i", "busybox", "sh", "-c", "read x; echo got $x", input="value\n")
    assert (result.returncode, result.stdout) == (0, "got value\n")


def test_events(moord: DaemonProcess) -> None:
    since = str(time.time() - 0.5)
    moor(moord, "run", "--rm", "--name", "evented", "busybox", "true")
    until = str(time.time() + 0.5)
    out = moor(moord, "events", "--since", since, "--until", until, "--filter", "container=evented",
               "--format", "{{.Action}}").stdout.split()
    assert out[:2] == ["create", "attach"] and "start" in out and "die" in out and out[-1] == "destroy"


def test_docker_cli_end_to_end(moord: DaemonProcess, docker_cli: str) -> None:
    def docker_cmd(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([docker_cli, *args], capture_output=True, text=True, env=docker_env(moord),
                              timeout=timeout)

    hi = docker_cmd("run", "--rm", "busybox", "echo", "hi")
    assert (hi.returncode, hi.stdout) == (0, "hi\n"), hi.stderr
    cid = docker_cmd("run", "-d", "--name", "dk", "busybox", "sh", "-c", "echo a; sleep 1; echo b; sleep 300")
    assert cid.returncode == 0, cid.stderr
    assert "dk" in docker_cmd("ps").stdout
    assert docker_cmd("exec", "dk", "echo", "from-exec").stdout == "from-exec\n"
    follower = subprocess.Popen([docker_cli, "logs", "-f", "dk"], stdout=subprocess.PIPE, text=True,
                                env=docker_env(moord))
    time.sleep(2)
    assert docker_cmd("stop", "-t", "1", "dk").stdout == "dk\n"
    out, _ = follower.communicate(timeout=30)
    assert out == "a\nb\n"
    assert docker_cmd("rm", "-f", "dk").returncode == 0
    code = docker_cmd("run", "--rm", "busybox", "sh", "-c", "exit 9")
    assert code.returncode == 9


def test_docker_py(moord: DaemonProcess) -> None:
    client = docker.DockerClient(base_url=moord.host)
    try:
        assert client.containers.run("busybox", ["echo", "py"], remove=True) == b"py\n"
        container = client.containers.run("busybox", ["sh", "-c", "echo one; sleep 0.5; echo two"], detach=True)
        assert b"".join(container.logs(stream=True, follow=True)) == b"one\ntwo\n"
        assert container.wait()["StatusCode"] == 0
        container.remove()
        runner = client.containers.run("busybox", ["sleep", "300"], detach=True)
        exit_code, output = runner.exec_run(["sh", "-c", "echo exec-run; exit 2"])
        assert (exit_code, output) == (2, b"exec-run\n")
        runner.remove(force=True)
    finally:
        client.close()
