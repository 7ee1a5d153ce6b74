"""diff and commit: a container's changes become a layer (deletions as whiteouts) of a new image."""

from __future__ import annotations

import os
import subprocess

import docker
import pytest

from e2e.containerhelpers import first_json, inspect, moor, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_diff_and_commit(moord: DaemonProcess) -> None:
    moor(moord, "run", "--name", "changer", "busybox", "sh", "-c",
         "mkdir /data && echo new > /data/file && rm /bin/vi && echo more >> /etc/passwd")
    changes = set(moor(moord, "diff", "changer").stdout.splitlines())
    assert {"A /data", "A /data/file", "D /bin/vi", "C /etc/passwd", "C /etc", "C /bin"} <= changes
    image_id = moor(moord, "commit", "-m", "my change", "-a", "me", "-c", "ENV COMMITTED=yes", "changer",
                    "committed:v1").stdout.strip()
    assert image_id.startswith("sha256:")
    image = first_json(moord, "image", "inspect", "committed:v1")
    base = first_json(moord, "image", "inspect", "busybox")
    assert image["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    assert len(image["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    assert (image["Comment"], image["Author"], image["Parent"]) == ("my change", "me", base["Id"])
    assert "COMMITTED=yes" in image["Config"]["Env"]
    run = moor(moord, "run", "--rm", "committed:v1", "sh", "-c",
               "cat /data/file; ls /bin/vi 2>&1; tail -1 /etc/passwd; echo $COMMITTED")
    assert run.stdout.splitlines() == ["new", "ls: /bin/vi: No such file or directory", "more", "yes"]
    history = moor(moord, "history", "committed:v1").stdout.splitlines()
    assert "my change" in history[1]
    moor(moord, "rm", "changer")


def test_commit_of_an_unchanged_container_adds_no_layer(moord: DaemonProcess) -> None:
    moor(moord, "create", "--name", "same", "busybox", "true")
    moor(moord, "commit", "same", "same:img")
    image = first_json(moord, "image", "inspect", "same:img")
    base = first_json(moord, "image", "inspect", "busybox")
    assert image["RootFS"]["Layers"] == base["RootFS"]["Layers"]
    moor(moord, "rm", "same")


def test_commit_running_container_pauses_it(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "live", "busybox", "sh", "-c", "echo x > /x; sleep 300")
    import time

    time.sleep(0.3)
    result = moor(moord, "commit", "live", "live:snap")
    assert result.returncode == 0, result.stderr
    assert inspect(moord, "live")["State"]["Running"]
    assert moor(moord, "run", "--rm", "live:snap", "cat", "/x").stdout == "x\n"
    moor(moord, "rm", "-f", "live")


def test_commit_through_docker_cli_and_docker_py(moord: DaemonProcess, docker_cli: str) -> None:
    env = {**os.environ, "DOCKER_HOST": moord.host, "DOCKER_CONFIG": moord.root}
    subprocess.run([docker_cli, "run", "--name", "dk-commit", "busybox", "sh", "-c", "echo d > /d"], env=env,
                   capture_output=True, check=True)
    out = subprocess.run([docker_cli, "commit", "dk-commit", "dk:committed"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("sha256:"), out.stderr
    diff = subprocess.run([docker_cli, "diff", "dk-commit"], env=env, capture_output=True, text=True)
    assert "A /d" in diff.stdout.splitlines()
    client = docker.DockerClient(base_url=moord.host)
    try:
        image = client.containers.get("dk-commit").commit(repository="py", tag="committed")
        assert client.containers.run(image.id, ["cat", "/d"], remove=True) == b"d\n"
    finally:
        client.close()
    moor(moord, "rm", "dk-commit")


def test_port_lists_nothing_until_networking(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "ported", "busybox", "sleep", "300")
    assert moor(moord, "port", "ported").stdout == ""
    missing = moor(moord, "port", "ported", "80")
    assert missing.returncode == 1 and "No public port '80/tcp' published for ported" in missing.stderr
    moor(moord, "rm", "-f", "ported")
