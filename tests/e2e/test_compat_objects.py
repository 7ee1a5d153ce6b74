"""Objects as Docker 20.10 answers for them: volumes, networks, images, container settings (issue 15).

Each expectation was read off a private dockerd 20.10 (``moor.testing.dockerd.private_dockerd``) first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import docker
import pytest

from e2e.containerhelpers import moor, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture
def client(moord: DaemonProcess) -> Iterator[docker.APIClient]:
    """docker-py's low-level client at API 1.41, as Docker 20.10 serves it."""
    api = docker.APIClient(base_url=moord.host, version="1.41", timeout=60)
    try:
        yield api
    finally:
        api.close()


def ok(daemon: DaemonProcess, *args: str) -> str:
    result = moor(daemon, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_volume_prune_at_1_41_removes_named_volumes_and_answers_a_list(client: docker.APIClient) -> None:
    """Docker 20.10: every unused volume goes (not only anonymous ones); ``VolumesDeleted`` is a list, ``[]``
    when nothing went; ``label!=`` keeps the labelled ones."""
    client.create_volume("objkeep", labels={"keep": "1"})
    client.create_volume("objgo")
    report = client.prune_volumes(filters={"label!": ["keep=1"]})
    assert report == {"VolumesDeleted": ["objgo"], "SpaceReclaimed": 0}
    assert client.prune_volumes(filters={"label!": ["keep"]}) == {"VolumesDeleted": [], "SpaceReclaimed": 0}
    assert client.prune_volumes()["VolumesDeleted"] == ["objkeep"]


def test_host_config_runtime_is_runc_and_others_are_refused(moord: DaemonProcess, client: docker.APIClient) -> None:
    """``HostConfig.Runtime`` reads ``runc``; ``--runtime runc`` is accepted, any other name is Docker's error."""
    container = client.create_container("busybox", "true")["Id"]
    try:
        assert client.inspect_container(container)["HostConfig"]["Runtime"] == "runc"
        named = ok(moord, "create", "--runtime", "runc", "busybox", "true").strip()
        assert ok(moord, "inspect", "-f", "{{.HostConfig.Runtime}}", named) == "runc\n"
        ok(moord, "rm", named)
        refused = moor(moord, "create", "--runtime", "foo", "busybox", "true")
        assert refused.returncode == 1  # docker create: 1, docker run: 125
        assert refused.stderr == "Error response from daemon: Unknown runtime specified foo\n"
        refused = moor(moord, "run", "--rm", "--runtime", "foo", "busybox", "true")
        assert refused.returncode == 125 and "Unknown runtime specified foo" in refused.stderr
    finally:
        client.remove_container(container, force=True)


def test_max_file_without_max_size_is_accepted(moord: DaemonProcess) -> None:
    """Docker 20.10 creates and runs a container with ``--log-opt max-file=3`` alone; its logs read back."""
    result = moor(moord, "run", "--name", "objmaxfile", "--log-opt", "max-file=3", "busybox", "sh", "-c",
                  "echo hi; echo there")
    try:
        assert result.returncode == 0, result.stderr
        assert result.stdout == "hi\nthere\n"
        assert ok(moord, "logs", "objmaxfile") == "hi\nthere\n"
        config = json.loads(ok(moord, "inspect", "-f", "{{json .HostConfig.LogConfig}}", "objmaxfile"))
        assert config == {"Type": "json-file", "Config": {"max-file": "3"}}
    finally:
        moor(moord, "rm", "-f", "objmaxfile")


def test_create_flags_of_docker_20_10(moord: DaemonProcess, tmp_path) -> None:
    """The create/run flags moor lacked, compared with ``docker create --help`` of the 20.10 CLI, land in the
    HostConfig fields the docker CLI fills; ``--cidfile`` and ``--label-file`` act as Docker's."""
    labels = tmp_path / "labels"
    labels.write_text("# a comment\ntier=db\n\nbare\n")
    cidfile = tmp_path / "cid"
    container = ok(moord, "create", "--pid", "host", "--ipc", "host", "--uts", "host", "--cgroupns", "private",
                   "--oom-score-adj", "5", "--memory-swappiness", "10", "--cgroup-parent", "objparent",
                   "--device-cgroup-rule", "c 1:3 mr", "--label-file", str(labels), "--label", "tier=web",
                   "--cidfile", str(cidfile), "--isolation", "default", "busybox", "true").strip()
    try:
        assert cidfile.read_text() == container
        host = json.loads(ok(moord, "inspect", "-f", "{{json .HostConfig}}", container))
        assert (host["PidMode"], host["IpcMode"], host["UTSMode"], host["CgroupnsMode"]) == (
            "host", "host", "host", "private")
        assert (host["OomScoreAdj"], host["MemorySwappiness"], host["CgroupParent"]) == (5, 10, "objparent")
        assert host["DeviceCgroupRules"] == ["c 1:3 mr"] and host["Isolation"] == "default"
        assert json.loads(ok(moord, "inspect", "-f", "{{json .Config.Labels}}", container)) == {
            "tier": "web", "bare": ""}
        again = moor(moord, "create", "--cidfile", str(cidfile), "busybox", "true")
        assert again.returncode == 125 and again.stderr == (
            f"container ID file found, make sure the other container isn't running or delete {cidfile}\n")
        bad = moor(moord, "create", "--device-cgroup-rule", "c_1:3_mr", "busybox", "true")
        assert bad.returncode == 125 and bad.stderr == (
            'invalid argument "c_1:3_mr" for "--device-cgroup-rule" flag: invalid device cgroup format '
            "'c_1:3_mr'\n")
        bad = moor(moord, "create", "--device-read-bps", "foo", "busybox", "true")
        assert bad.returncode == 125
        assert bad.stderr == 'invalid argument "foo" for "--device-read-bps" flag: bad format: foo\n'
    finally:
        moor(moord, "rm", "-f", container)
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            path = os.path.join("/sys/fs/cgroup", hierarchy, "objparent")
            if os.path.isdir(path):
                os.rmdir(path)
