"""API versions against a real moord: docker CLI 28 (at 1.44 and pinned to 1.41), docker CLI 20.10, docker-py,
and the shapes per ``/vX.Y/`` prefix. Each expectation was read off a private dockerd 20.10 (old versions) or
Docker's API history (1.42-1.44) first."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile
from typing import Any

import docker
import pytest

from e2e.containerhelpers import docker_env, moor, moord, ok, wait_for  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess, UnixHTTPConnection

pytestmark = pytest.mark.root

DOCKER_28 = "/usr/local/bin/docker"
DOCKER_20 = "/usr/bin/docker"


def call(daemon: DaemonProcess, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
    connection = UnixHTTPConnection(daemon.host.removeprefix("unix://"), timeout=60)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        connection.request(method, path, body=data, headers=headers)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def cli(binary: str, daemon: DaemonProcess, *args: str, version: str = "") -> subprocess.CompletedProcess[str]:
    if not os.path.exists(binary):
        pytest.skip(f"{binary} is not installed")
    env = docker_env(daemon)
    env.pop("DOCKER_API_VERSION", None)
    if version:
        env["DOCKER_API_VERSION"] = version
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=120)


def test_version_advertises_1_44_and_min_1_12(moord: DaemonProcess) -> None:
    status, headers, body = call(moord, "GET", "/version")
    answer = json.loads(body)
    assert (status, answer["ApiVersion"], answer["MinAPIVersion"]) == (200, "1.44", "1.12")
    assert headers["api-version"] == "1.44"
    status, headers, body = call(moord, "GET", "/v1.41/version")
    assert status == 200 and headers["api-version"] == "1.44"  # Docker: the header is always the daemon's max


def test_out_of_range_versions(moord: DaemonProcess) -> None:
    status, _, body = call(moord, "GET", "/v1.99/version")
    assert (status, json.loads(body)) == (
        400, {"message": "client version 1.99 is too new. Maximum supported API version is 1.44"})
    status, headers, body = call(moord, "GET", "/v1.11/version")
    assert (status, headers["content-type"]) == (400, "text/plain; charset=utf-8")
    assert body == (b"client version 1.11 is too old. Minimum supported API version is 1.12, please upgrade your "
                    b"client to a newer version\n")


def test_errors_are_plain_text_before_1_24(moord: DaemonProcess) -> None:
    status, headers, body = call(moord, "GET", "/v1.23/containers/nope/json")
    assert (status, headers["content-type"], body) == (404, "text/plain; charset=utf-8", b"No such container: nope\n")
    status, headers, body = call(moord, "GET", "/v1.24/containers/nope/json")
    assert (status, headers["content-type"]) == (404, "application/json")
    assert json.loads(body) == {"message": "No such container: nope"}


def test_docker_cli_28_at_1_44_and_pinned_to_1_41(moord: DaemonProcess) -> None:
    for version in ("", "1.41"):
        result = cli(DOCKER_28, moord, "version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}",
                     version=version)
        assert result.returncode == 0, result.stderr
        server, client = result.stdout.split()
        assert (server, client) == ("1.44", version or "1.44")
        name = f"apiv{version.replace('.', '') or 'new'}"
        result = cli(DOCKER_28, moord, "run", "--name", name, "busybox", "echo", "hi", version=version)
        assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
        result = cli(DOCKER_28, moord, "ps", "-a", "--filter", f"name={name}", "--format", "{{.Names}} {{.Status}}",
                     version=version)
        assert result.returncode == 0 and result.stdout.startswith(f"{name} Exited (0)"), result.stderr
        result = cli(DOCKER_28, moord, "logs", name, version=version)
        assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
        result = cli(DOCKER_28, moord, "images", "--format", "{{.Repository}}:{{.Tag}}", version=version)
        assert result.returncode == 0 and "busybox:latest" in result.stdout.split(), result.stderr
        result = cli(DOCKER_28, moord, "inspect", "-f", "{{.Name}}", name, version=version)
        assert (result.returncode, result.stdout) == (0, f"/{name}\n"), result.stderr
        result = cli(DOCKER_28, moord, "rm", name, version=version)
        assert result.returncode == 0, result.stderr


def test_docker_cli_20_10(moord: DaemonProcess) -> None:
    result = cli(DOCKER_20, moord, "version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}")
    assert (result.returncode, result.stdout) == (0, "1.44 1.41\n"), result.stderr
    result = cli(DOCKER_20, moord, "run", "--rm", "busybox", "echo", "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
    result = cli(DOCKER_20, moord, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert result.returncode == 0 and "busybox:latest" in result.stdout.split(), result.stderr


def test_docker_py_auto_and_1_41(moord: DaemonProcess) -> None:
    for version in ("auto", "1.41"):
        client = docker.DockerClient(base_url=moord.host, version=version, timeout=60)
        try:
            assert client.containers.run("busybox", ["echo", "hi"], remove=True) == b"hi\n"
            assert any("busybox:latest" in image.tags for image in client.images.list())
        finally:
            client.close()


def test_image_shapes_by_version(moord: DaemonProcess) -> None:
    ok(moor(moord, "tag", "busybox", "apiv:untag"))
    image_id = json.loads(call(moord, "GET", "/images/busybox/json")[2])["Id"]
    try:
        for version, virtual in (("1.44", False), ("1.43", True), ("1.41", True)):
            image = json.loads(call(moord, "GET", f"/v{version}/images/busybox/json")[2])
            assert ("VirtualSize" in image) is virtual and "ContainerConfig" in image  # Container*: until 1.45
            rows = json.loads(call(moord, "GET", f"/v{version}/images/json")[2])
            assert all(("VirtualSize" in row) is virtual for row in rows)
            df = json.loads(call(moord, "GET", f"/v{version}/system/df")[2])
            assert all(("VirtualSize" in row) is virtual for row in df["Images"])
            assert ("BuilderSize" in df) is (version == "1.41")
        assert "VirtualSize" not in json.loads(call(moord, "GET", "/images/busybox/json")[2])  # unversioned: newest
    finally:
        moor(moord, "rmi", "apiv:untag")
    assert image_id


def test_untagged_images_by_version(moord: DaemonProcess) -> None:
    container = ok(moor(moord, "create", "busybox", "true")).strip()
    image = ok(moor(moord, "commit", container)).strip()
    try:
        rows = {row["Id"]: row for row in json.loads(call(moord, "GET", "/v1.44/images/json")[2])}
        assert (rows[image]["RepoTags"], rows[image]["RepoDigests"]) == ([], [])
        rows = {row["Id"]: row for row in json.loads(call(moord, "GET", "/v1.42/images/json")[2])}
        assert (rows[image]["RepoTags"], rows[image]["RepoDigests"]) == (["<none>:<none>"], ["<none>@<none>"])
    finally:
        moor(moord, "rm", container)
        moor(moord, "rmi", image)


def test_container_shapes_by_version(moord: DaemonProcess) -> None:
    container = ok(moor(moord, "create", "-v", "/data", "busybox", "true")).strip()
    try:
        new = json.loads(call(moord, "GET", f"/v1.44/containers/{container}/json")[2])
        assert "KernelMemory" not in new["HostConfig"] and "Networks" in new["NetworkSettings"]
        assert json.loads(call(moord, "GET", f"/v1.41/containers/{container}/json")[2])["HostConfig"][
            "KernelMemory"] == 0
        v120 = json.loads(call(moord, "GET", f"/v1.20/containers/{container}/json")[2])
        assert "Networks" not in v120["NetworkSettings"] and v120["Config"]["VolumeDriver"] == ""
        v119 = json.loads(call(moord, "GET", f"/v1.19/containers/{container}/json")[2])
        assert "Mounts" not in v119 and list(v119["Volumes"]) == ["/data"] and v119["VolumesRW"] == {"/data": True}
        assert v119["Config"]["Memory"] == 0 and v119["Config"]["Cpuset"] == ""
    finally:
        moor(moord, "rm", "-v", container)


def test_create_gates(moord: DaemonProcess) -> None:
    ok(moor(moord, "network", "create", "apivn1"))
    ok(moor(moord, "network", "create", "apivn2"))
    body = {"Image": "busybox", "Cmd": ["true"],
            "NetworkingConfig": {"EndpointsConfig": {"apivn2": {}, "apivn1": {}}}}
    try:
        status, _, answer = call(moord, "POST", "/v1.41/containers/create", body)
        assert (status, json.loads(answer)) == (
            400, {"message": "Container cannot be connected to network endpoints: apivn1, apivn2"})
        status, _, answer = call(moord, "POST", "/v1.44/containers/create", body)
        assert status == 201, answer
        moor(moord, "rm", json.loads(answer)["Id"])
    finally:
        moor(moord, "network", "rm", "apivn1", "apivn2")


def test_start_with_a_body_is_refused_from_1_24(moord: DaemonProcess) -> None:
    container = ok(moor(moord, "create", "busybox", "true")).strip()
    try:
        status, _, answer = call(moord, "POST", f"/v1.24/containers/{container}/start", {"Privileged": False})
        assert (status, json.loads(answer)["message"]) == (400, "starting container with non-empty request body "
                                                                "was deprecated since API v1.22 and removed in v1.24")
        assert call(moord, "POST", f"/v1.44/containers/{container}/start")[0] == 204
    finally:
        moor(moord, "rm", "-f", container)


def test_logs_content_type_by_version(moord: DaemonProcess) -> None:
    container = ok(moor(moord, "run", "-d", "busybox", "echo", "hi")).strip()
    try:
        ok(moor(moord, "wait", container))
        _, headers, _ = call(moord, "GET", f"/v1.44/containers/{container}/logs?stdout=1")
        assert headers["content-type"] == "application/vnd.docker.multiplexed-stream"
        _, headers, _ = call(moord, "GET", f"/v1.41/containers/{container}/logs?stdout=1")
        assert headers["content-type"] == "application/vnd.docker.raw-stream"
    finally:
        moor(moord, "rm", "-f", container)


def test_legacy_copy_before_1_24(moord: DaemonProcess) -> None:
    container = ok(moor(moord, "run", "-d", "busybox", "sleep", "60")).strip()
    try:
        status, headers, body = call(moord, "POST", f"/v1.23/containers/{container}/copy",
                                     {"Resource": "/etc/hostname"})
        assert (status, headers["content-type"]) == (200, "application/x-tar")
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            assert tar.getnames() == ["hostname"]
        status, _, body = call(moord, "POST", f"/v1.23/containers/{container}/copy", {"Resource": "/etc"})
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            assert status == 200 and {"hostname", "hosts", "passwd"} <= set(tar.getnames())
            assert not any(name.startswith("etc") for name in tar.getnames())
        status, _, body = call(moord, "POST", f"/v1.23/containers/{container}/copy", {"Resource": ""})
        assert (status, body) == (400, b"Path cannot be empty\n")
        status, _, body = call(moord, "POST", f"/v1.23/containers/{container}/copy", {"Resource": "/nope"})
        assert status == 404 and body.startswith(b"Could not find the file /nope in container")
        status, _, body = call(moord, "POST", "/v1.23/containers/nope/copy", {"Resource": "/etc"})
        assert (status, body) == (404, b"No such container: nope\n")
        assert call(moord, "POST", f"/v1.24/containers/{container}/copy", {"Resource": "/etc"})[:3:2] == (404, b"")
        assert call(moord, "POST", f"/containers/{container}/copy", {"Resource": "/etc"})[:3:2] == (404, b"")
    finally:
        moor(moord, "rm", "-f", container)


def test_stop_signal_from_1_42(moord: DaemonProcess) -> None:
    script = "trap 'exit 3' USR1; while true; do sleep 0.1; done"
    container = ok(moor(moord, "run", "-d", "busybox", "sh", "-c", script)).strip()
    try:
        status, _, body = call(moord, "POST", f"/v1.44/containers/{container}/stop?signal=FOO")
        assert (status, json.loads(body)) == (400, {"message": "Invalid signal: FOO"})
        assert call(moord, "POST", f"/v1.44/containers/{container}/stop?signal=USR1&t=60")[0] == 204
        assert ok(moor(moord, "inspect", "-f", "{{.State.ExitCode}}", container)) == "3\n"
        ok(moor(moord, "start", container))
        assert call(moord, "POST", f"/v1.41/containers/{container}/stop?signal=USR1&t=1")[0] == 204
        assert ok(moor(moord, "inspect", "-f", "{{.State.ExitCode}}", container)) == "137\n"  # TERM, then KILL
    finally:
        moor(moord, "rm", "-f", container)


def test_create_mountpoint_from_1_42(moord: DaemonProcess, tmp_path: Any) -> None:
    source = str(tmp_path / "made" / "here")
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Mounts": [
        {"Type": "bind", "Source": source, "Target": "/x", "BindOptions": {"CreateMountpoint": True}}]}}
    status, _, answer = call(moord, "POST", "/v1.41/containers/create", body)
    assert (status, json.loads(answer)) == (
        400, {"message": f'invalid mount config for type "bind": bind source path does not exist: {source}'})
    status, _, answer = call(moord, "POST", "/v1.42/containers/create", body)
    assert status == 201, answer
    container = json.loads(answer)["Id"]
    try:
        assert not os.path.exists(source)  # made when the container starts, as Docker does
        assert call(moord, "POST", f"/containers/{container}/start")[0] == 204
        assert os.path.isdir(source)
    finally:
        moor(moord, "rm", "-f", container)


def test_stats_and_info_of_old_versions(moord: DaemonProcess) -> None:
    container = ok(moor(moord, "run", "-d", "busybox", "sleep", "60")).strip()
    try:
        old = json.loads(call(moord, "GET", f"/v1.20/containers/{container}/stats?stream=0")[2])
        assert "networks" not in old and "id" not in old and set(old["network"]) >= {"rx_bytes", "tx_bytes"}
        new = json.loads(call(moord, "GET", f"/v1.21/containers/{container}/stats?stream=0")[2])
        assert "network" not in new and new["id"] == container
    finally:
        moor(moord, "rm", "-f", container)
    assert json.loads(call(moord, "GET", "/v1.24/info")[2])["ExecutionDriver"] == "<not supported>"
    assert "ExecutionDriver" not in json.loads(call(moord, "GET", "/v1.25/info")[2])


def test_an_unknown_wait_condition_is_refused_from_1_42(moord: DaemonProcess) -> None:
    container = ok(moor(moord, "create", "busybox", "true")).strip()
    try:
        status, _, body = call(moord, "POST", f"/v1.44/containers/{container}/wait?condition=bogus")
        assert (status, json.loads(body)) == (400, {"message": 'invalid condition: "bogus"'})
    finally:
        moor(moord, "rm", "-f", container)


def test_dns_names_from_1_44(moord: DaemonProcess) -> None:
    ok(moor(moord, "network", "create", "apivdns"))
    container = ok(moor(moord, "run", "-d", "--name", "apivweb", "--network", "apivdns", "--network-alias", "db",
                        "busybox", "sleep", "60")).strip()
    try:
        new = json.loads(call(moord, "GET", f"/v1.44/containers/{container}/json")[2])
        assert new["NetworkSettings"]["Networks"]["apivdns"]["DNSNames"] == ["apivweb", "db", container[:12]]
        old = json.loads(call(moord, "GET", f"/v1.41/containers/{container}/json")[2])
        assert "DNSNames" not in old["NetworkSettings"]["Networks"]["apivdns"]
    finally:
        moor(moord, "rm", "-f", container)
        moor(moord, "network", "rm", "apivdns")


def test_disk_usage_type_from_1_42(moord: DaemonProcess) -> None:
    df = json.loads(call(moord, "GET", "/v1.44/system/df?type=image")[2])
    assert df["Images"] and df["LayersSize"] > 0 and (df["Containers"], df["Volumes"], df["BuildCache"]) == (
        None, None, None)
    status, _, body = call(moord, "GET", "/v1.44/system/df?type=bogus")
    assert (status, json.loads(body)) == (400, {"message": "unknown object type: bogus"})
    assert json.loads(call(moord, "GET", "/v1.41/system/df?type=image")[2])["Volumes"] is not None


def test_health_start_interval_from_1_44(moord: DaemonProcess) -> None:
    health = {"Test": ["CMD", "true"], "Interval": 3600 * 10**9, "StartPeriod": 600 * 10**9,
              "StartInterval": 10**9}
    body = {"Image": "busybox", "Cmd": ["sleep", "120"], "Healthcheck": health}
    status, _, answer = call(moord, "POST", "/v1.43/containers/create", body)
    old = json.loads(answer)["Id"]
    status, _, answer = call(moord, "POST", "/v1.44/containers/create", body)
    assert status == 201, answer
    new = json.loads(answer)["Id"]
    try:
        assert "StartInterval" not in json.loads(call(moord, "GET", f"/containers/{old}/json")[2])["Config"][
            "Healthcheck"]
        assert call(moord, "POST", f"/containers/{new}/start")[0] == 204
        wait_for(lambda: json.loads(call(moord, "GET", f"/containers/{new}/json")[2])["State"]["Health"][
            "Status"] == "healthy", timeout=60)  # probed each second in the start period, not each hour
        status, _, answer = call(moord, "POST", "/v1.44/containers/create",
                                 {**body, "Healthcheck": {**health, "StartInterval": 10}})
        assert (status, json.loads(answer)) == (
            400, {"message": "StartInterval in Healthcheck cannot be less than 1ms"})
    finally:
        moor(moord, "rm", "-f", old, new)


def test_images_filter_parameter_below_1_41(moord: DaemonProcess) -> None:
    assert json.loads(call(moord, "GET", "/v1.40/images/json?filter=nomatch")[2]) == []
    assert json.loads(call(moord, "GET", "/v1.40/images/json?filter=busy*")[2])
    assert json.loads(call(moord, "GET", "/v1.41/images/json?filter=nomatch")[2])  # ignored, as Docker 20.10


def test_old_clients_create_and_kill(moord: DaemonProcess) -> None:
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": True}}
    status, _, answer = call(moord, "POST", "/v1.24/containers/create", body)
    assert status == 201, answer
    container = json.loads(answer)["Id"]
    try:
        host_config = json.loads(call(moord, "GET", f"/containers/{container}/json")[2])["HostConfig"]
        assert (host_config["AutoRemove"], host_config["IpcMode"]) == (False, "shareable")
        assert call(moord, "POST", f"/v1.19/containers/{container}/kill")[0] == 204  # not running: fine below 1.20
        status, _, answer = call(moord, "POST", f"/v1.20/containers/{container}/kill")
        assert status == 409 and answer.startswith(b"Cannot kill container: ")  # plain text below 1.24
        status, _, answer = call(moord, "POST", "/v1.19/containers/nope/kill")
        assert status == 404
    finally:
        moor(moord, "rm", "-f", container)


def test_annotations_from_1_43_reach_the_runtime(moord: DaemonProcess) -> None:
    result = cli(DOCKER_28, moord, "run", "-d", "--annotation", "com.example.moor=yes", "busybox", "sleep", "60")
    assert result.returncode == 0, result.stderr
    container = result.stdout.strip()
    try:
        bundle = os.path.join(moord.exec_root, "containers", container, "bundle", "config.json")
        with open(bundle) as handle:
            assert json.load(handle)["annotations"] == {"com.example.moor": "yes"}
        body = {"Image": "busybox", "HostConfig": {"Annotations": {"a": "b"}}}
        status, _, answer = call(moord, "POST", "/v1.42/containers/create", body)
        assert status == 201, answer
        old = json.loads(answer)["Id"]
        assert "Annotations" not in json.loads(call(moord, "GET", f"/containers/{old}/json")[2])["HostConfig"]
        moor(moord, "rm", old)
    finally:
        moor(moord, "rm", "-f", container)


def test_info_security_options_and_update_by_version(moord: DaemonProcess) -> None:
    new = json.loads(call(moord, "GET", "/v1.25/info")[2])["SecurityOptions"]
    old = json.loads(call(moord, "GET", "/v1.24/info")[2])["SecurityOptions"]
    assert old == [option.split(",")[0].removeprefix("name=") for option in new]
    container = ok(moor(moord, "create", "busybox", "true")).strip()
    try:
        assert call(moord, "POST", f"/v1.39/containers/{container}/update", {"PidsLimit": 50})[0] == 200
        host_config = json.loads(call(moord, "GET", f"/containers/{container}/json")[2])["HostConfig"]
        assert host_config["PidsLimit"] is None  # not read before API 1.40
        assert call(moord, "POST", f"/v1.40/containers/{container}/update", {"PidsLimit": 50})[0] == 200
        assert json.loads(call(moord, "GET", f"/containers/{container}/json")[2])["HostConfig"]["PidsLimit"] == 50
    finally:
        moor(moord, "rm", "-f", container)


def test_container_wide_mac_address_is_deprecated_at_1_44(moord: DaemonProcess) -> None:
    body = {"Image": "busybox", "Cmd": ["true"], "MacAddress": "02:42:ac:11:00:09"}
    status, _, answer = call(moord, "POST", "/v1.44/containers/create", body)
    assert status == 201, answer
    created = json.loads(answer)
    try:
        assert created["Warnings"] == ["The container-wide MacAddress field is now deprecated. It should be "
                                       "specified in EndpointsConfig instead."]
        status, _, answer = call(moord, "POST", "/v1.41/containers/create", body)
        assert status == 201 and json.loads(answer)["Warnings"] == []
        moor(moord, "rm", json.loads(answer)["Id"])
    finally:
        moor(moord, "rm", created["Id"])


def _ws_output(daemon: DaemonProcess, version: str, container: str, query: str, opcode: int = 0x2) -> bytes:
    """What a WebSocket attach at API ``version`` receives while the container runs (frames' payloads, each
    frame of ``opcode`` but the close)."""
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(30)
    sock.connect(daemon.host.removeprefix("unix://"))
    try:
        sock.sendall(f"GET /v{version}/containers/{container}/attach/ws?{query} HTTP/1.1\r\nHost: localhost\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        ok(moor(daemon, "start", container))
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    payloads = b""
    while data:
        frame_opcode, size, at = data[0] & 0x0F, data[1] & 0x7F, 2
        if size == 126:
            size, at = int.from_bytes(data[2:4], "big"), 4
        assert frame_opcode in (opcode, 0x8)
        payloads += data[at:at + size] if frame_opcode != 0x8 else b""
        data = data[at + size:]
    return payloads


def test_websocket_attach_streams_chosen_from_1_42(moord: DaemonProcess) -> None:
    def output(version: str, query: str, opcode: int = 0x2) -> bytes:
        # a moment before the output: the attach joins just after its handshake, and must not miss it
        container = ok(moor(moord, "create", "busybox", "sh", "-c", "sleep 1; echo hi")).strip()
        try:
            return _ws_output(moord, version, container, query, opcode)
        finally:
            moor(moord, "rm", "-f", container)

    assert output("1.41", "stream=1") == b"hi\n"  # every stream, as Docker 20.10
    assert output("1.44", "stream=1") == b""  # none asked for
    assert output("1.44", "stream=1&stdout=1") == b"hi\n"
    assert output("1.27", "stream=1", opcode=0x1) == b"hi\n"  # text frames
