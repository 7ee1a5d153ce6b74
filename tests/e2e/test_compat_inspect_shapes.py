"""Inspect documents in Docker 20.10's shapes: a container's HostConfig and Config, an imported image.

Each expectation was read off a private dockerd 20.10 (``moor.testing.dockerd.private_dockerd``) given the same
bodies; clients that send sparse bodies (compose) read these shapes back.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from dockershapes import DOCKER_HOST_CONFIG_KEYS

from e2e.containerhelpers import docker_env, moor, moord, ok  # noqa: F401 - fixture
from e2e.imagehelpers import REPO
from moor.testing.daemon import DaemonProcess, UnixHTTPConnection

pytestmark = pytest.mark.root

DOCKER_20_10 = "/usr/bin/docker"

ZERO_CONFIG = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
               "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
               "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None,
               "Labels": None}


def call(daemon: DaemonProcess, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    """One request; its status and decoded JSON answer (the text when it is none)."""
    connection = UnixHTTPConnection(daemon.host.removeprefix("unix://"), timeout=60)
    try:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        answer = connection.getresponse()
        text = answer.read()
        try:
            return answer.status, json.loads(text)
        except ValueError:
            return answer.status, text.decode(errors="replace")
    finally:
        connection.close()


@pytest.fixture
def created(moord: DaemonProcess) -> Iterator[list[str]]:
    """The IDs of the containers a test made: removed afterwards."""
    made: list[str] = []
    yield made
    if made:
        moor(moord, "rm", "-f", *made)


def create(moord: DaemonProcess, created: list[str], body: dict[str, Any]) -> dict[str, Any]:
    """Create ``body`` at API 1.41 (Docker 20.10's) and return the container's inspect document."""
    status, answer = call(moord, "POST", "/v1.41/containers/create", body)
    assert status == 201, answer
    created.append(answer["Id"])
    status, shown = call(moord, "GET", f"/v1.41/containers/{answer['Id']}/json")
    assert status == 200, shown
    return dict(shown)


def test_sparse_create_has_dockers_host_config(moord: DaemonProcess, created: list[str]) -> None:
    """Every key Docker shows; lists the body left out are null, not []; the default masked and read-only paths
    and cgroupns mode as Docker's daemon fills them; a privileged container has null paths."""
    host = create(moord, created, {"Image": "busybox", "Cmd": ["true"], "HostConfig": {}})["HostConfig"]
    assert set(host) == DOCKER_HOST_CONFIG_KEYS
    assert (host["Devices"], host["BlkioWeightDevice"], host["DeviceRequests"], host["Ulimits"]) == (
        None, None, None, None)
    assert (host["CpuCount"], host["CpuPercent"], host["IOMaximumIOps"], host["IOMaximumBandwidth"]) == (0, 0, 0, 0)
    assert "/proc/kcore" in host["MaskedPaths"] and "/sys/firmware" in host["MaskedPaths"]
    assert host["ReadonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    assert host["CgroupnsMode"] == ("private" if v2 else "host")
    bare = create(moord, created, {"Image": "busybox", "Cmd": ["true"]})["HostConfig"]
    assert set(bare) == DOCKER_HOST_CONFIG_KEYS - {"Runtime"}  # no HostConfig: Docker names no runtime
    privileged = create(moord, created, {"Image": "busybox", "HostConfig": {"Privileged": True}})["HostConfig"]
    assert (privileged["MaskedPaths"], privileged["ReadonlyPaths"]) == (None, None)
    assert privileged["SecurityOpt"] == ["label=disable"]  # Docker adds it (and so for host IPC or PID)
    limited = create(moord, created, {"Image": "busybox", "HostConfig": {"PidsLimit": -1}})["HostConfig"]
    assert limited["PidsLimit"] is None  # 0 or less: unlimited, kept as null


@pytest.mark.skipif(not os.path.exists(DOCKER_20_10), reason="no docker 20.10 CLI")
def test_docker_cli_create_keeps_the_lists_it_sends(moord: DaemonProcess, created: list[str]) -> None:
    """The docker CLI sends [] Devices and BlkioWeightDevice: Docker keeps them as sent."""
    result = subprocess.run([DOCKER_20_10, "create", "busybox", "true"], capture_output=True, text=True,
                            env=docker_env(moord), timeout=60)
    assert result.returncode == 0, result.stderr
    created.append(result.stdout.strip())
    host = call(moord, "GET", f"/v1.41/containers/{created[-1]}/json")[1]["HostConfig"]
    assert set(host) == DOCKER_HOST_CONFIG_KEYS
    assert (host["Devices"], host["BlkioWeightDevice"], host["PidsLimit"]) == ([], [], None)  # it sends 0


def test_config_leaves_unset_fields_out(moord: DaemonProcess, created: list[str]) -> None:
    """No ExposedPorts, Healthcheck, StopSignal or MacAddress when unset; Env null when the body and the image
    have none (busybox here has none); the body's Env first, then the image's variables it does not name."""
    config = create(moord, created, {"Image": "busybox", "Cmd": ["true"]})["Config"]
    for key in ("ExposedPorts", "Healthcheck", "StopSignal", "MacAddress", "StopTimeout"):
        assert key not in config, key
    assert config["Env"] is None and config["Labels"] == {}
    old = call(moord, "GET", f"/v1.20/containers/{created[-1]}/json")[1]["Config"]
    assert (old["ExposedPorts"], old["MacAddress"]) == (None, "")  # API 1.20's shape
    rootfs = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout
    status, answer = call(moord, "POST", "/v1.41/images/create?fromSrc=-&repo=shapeenv&tag=1"
                          "&changes=ENV%20PATH%3D%2Fbin%20B%3Dimage", raw=rootfs)
    assert status == 200, answer
    try:
        shown = create(moord, created, {"Image": "shapeenv:1", "Cmd": ["env"], "Env": ["A=1", "B=body"]})
        assert shown["Config"]["Env"] == ["A=1", "B=body", "PATH=/bin"]
        assert shown["Config"]["Labels"] == {}
    finally:
        moor(moord, "rm", "-f", *created)
        created.clear()
        moor(moord, "rmi", "shapeenv:1")


def test_masked_paths_and_cgroupns_mode_are_honoured(moord: DaemonProcess, created: list[str]) -> None:
    """``MaskedPaths: []`` (compose's ``systempaths=unconfined``) masks nothing; ``--cgroupns`` chooses the
    cgroup namespace."""
    script = "wc -c < /proc/timer_list"
    unmasked = create(moord, created, {"Image": "busybox", "Cmd": ["sh", "-c", script],
                                       "HostConfig": {"MaskedPaths": [], "ReadonlyPaths": []}})
    masked = create(moord, created, {"Image": "busybox", "Cmd": ["sh", "-c", script]})
    assert int(ok(moor(moord, "start", "-a", unmasked["Id"]))) > 0
    assert int(ok(moor(moord, "start", "-a", masked["Id"]))) == 0
    private = ok(moor(moord, "run", "--rm", "--cgroupns", "private", "busybox", "cat", "/proc/self/cgroup"))
    assert all(line.endswith(":/") for line in private.splitlines()), private
    host = ok(moor(moord, "run", "--rm", "--cgroupns", "host", "busybox", "cat", "/proc/self/cgroup"))
    assert not all(line.endswith(":/") for line in host.splitlines()), host


def test_import_without_changes_has_a_zero_config(moord: DaemonProcess) -> None:
    """``POST /images/create?fromSrc=-`` alone: Config and ContainerConfig are Docker's zero config, not null;
    the comment is ``Imported from -``."""
    rootfs = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout
    status, answer = call(moord, "POST", "/v1.41/images/create?fromSrc=-&repo=shapeimport&tag=1", raw=rootfs)
    assert status == 200, answer
    try:
        shown = call(moord, "GET", "/v1.41/images/shapeimport:1/json")[1]
        assert shown["Config"] == ZERO_CONFIG and shown["ContainerConfig"] == ZERO_CONFIG
        assert shown["Comment"] == "Imported from -"
    finally:
        moor(moord, "rmi", "shapeimport:1")
