"""``POST /build`` through a real moord from every client: the API's parameters (docker-py's APIClient), the
docker CLI's classic builder (``DOCKER_BUILDKIT=0 docker build``), docker-py's ``images.build``, ``moor build``
(context directory with ``.dockerignore``, ``-f -``, ``-q``, ``--iidfile``, ``--secret``, a failed RUN's exit
code) and ``moor builder prune``; a client that leaves mid-build cancels it and nothing is left behind."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import docker
import pytest

from e2e.buildhelpers import api, build, context_tar, error, image_id, text
from e2e.containerhelpers import MOOR_CLI, docker_env, first_json, moor, moord, mounts_under, ok, wait_for  # noqa: F401
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

DOCKERFILE = """\
FROM busybox AS base
ARG GREETING=hello
LABEL stage=base
RUN echo "$GREETING" > /greeting

FROM base AS final
COPY . /ctx/
RUN echo $(ls -a /ctx | sort)
"""


def write_context(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def build_leftovers(daemon: DaemonProcess) -> list[str]:
    """What a build may leave: containers, context directories, mounts under the data root."""
    containers = ok(moor(daemon, "ps", "-aq", "--no-trunc")).split()
    tmp = os.path.join(daemon.data_root, "build", "tmp")
    contexts = os.listdir(tmp) if os.path.isdir(tmp) else []
    return containers + contexts + [m for m in mounts_under(daemon.data_root) if "/build/" in m]


# --------------------------------------------------------------------------- the API


def test_api_parameters_reach_the_build(moord: DaemonProcess) -> None:
    messages = build(moord, {"Dockerfile": DOCKERFILE, "a.txt": "a"}, tag="api:one", nocache=True,
                     buildargs={"GREETING": "bonjour", "UNUSED": "x"}, labels={"from": "api"}, target="base",
                     extra_hosts={"buildhost": "127.0.0.9"}, network_mode="none", forcerm=True)
    assert error(messages) is None, text(messages)
    output = text(messages)
    assert "Step 1/5 : FROM busybox AS base" in output and "COPY" not in output  # the target's stage, then
    assert "Step 5/5 : LABEL from=api\n" in output  # a LABEL step per --label, as Docker
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in output
    image = first_json(moord, "image", "inspect", "api:one")
    assert image["Id"] == image_id(messages)
    assert image["Config"]["Labels"] == {"stage": "base", "from": "api"}
    assert image["RepoTags"] == ["api:one"]


def test_quiet_answers_only_the_image_id(moord: DaemonProcess) -> None:
    messages = build(moord, {"Dockerfile": "FROM busybox\nLABEL quiet=1\n"}, quiet=True)
    assert len(messages) == 1 and messages[0]["stream"].startswith("sha256:")
    assert first_json(moord, "image", "inspect", messages[0]["stream"].strip())["Config"]["Labels"] == {"quiet": "1"}


@pytest.mark.parametrize(("params", "message"), [
    ({"buildargs": "[1]"}, "error reading build args: json: cannot unmarshal array into Go value of type "
                           "map[string]*string"),
    ({"version": "2"}, "buildkit is not enabled on daemon"),
    ({"squash": "1"}, "squash is only supported with experimental mode"),
    ({"t": "UPPER"}, "invalid reference format: repository name must be lowercase"),
])
def test_bad_parameters_are_dockers_400s(moord: DaemonProcess, params: dict[str, str], message: str) -> None:
    client = api(moord)
    try:
        response = client.post(client._url("/build"), params=params, data=context_tar({"Dockerfile": "FROM busybox\n"}),
                               headers={"Content-Type": "application/x-tar"})
        assert (response.status_code, response.json()["message"]) == (400, message)
    finally:
        client.close()


def test_a_failing_run_ends_the_stream_with_its_error_and_leaves_nothing(moord: DaemonProcess) -> None:
    before = build_leftovers(moord)
    messages = build(moord, {"Dockerfile": "FROM busybox\nRUN exit 3\n"}, forcerm=True)
    assert error(messages) == "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    assert build_leftovers(moord) == before


def test_a_client_that_leaves_mid_build_cancels_it(moord: DaemonProcess) -> None:
    before = build_leftovers(moord)
    body = context_tar({"Dockerfile": "FROM busybox\nRUN echo started && sleep 300\n"}).getvalue()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(120)
    sock.connect(moord.socket)
    sock.sendall(f"POST /v1.41/build?nocache=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    seen = b""
    while b"started" not in seen:
        chunk = sock.recv(65536)
        assert chunk, seen
        seen += chunk
    assert len(build_leftovers(moord)) > len(before)  # the RUN's container is there
    sock.close()
    try:
        wait_for(lambda: build_leftovers(moord) == before, timeout=60)
    except AssertionError:
        raise AssertionError(f"left behind: {set(build_leftovers(moord)) - set(before)}") from None
    assert not [line for line in ok(moor(moord, "ps", "-a")).splitlines()[1:] if "sleep 300" in line]


# --------------------------------------------------------------------------- real clients


def test_docker_cli_classic_builder(moord: DaemonProcess, docker_cli: str, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "a.txt": "a", "skip.log": "x",
                                               ".dockerignore": "*.log\n"})
    env = {**docker_env(moord), "DOCKER_BUILDKIT": "0"}
    result = subprocess.run([docker_cli, "build", "-t", "dockercli:v1", "--build-arg", "GREETING=hey",
                             "--label", "by=docker", str(context)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Sending build context to Docker daemon")
    assert "\n. .. .dockerignore Dockerfile a.txt\n" in result.stdout  # skip.log stayed out
    assert "Successfully tagged dockercli:v1\n" in result.stdout
    image = first_json(moord, "image", "inspect", "dockercli:v1")
    assert image["Config"]["Labels"] == {"stage": "base", "by": "docker"}
    (context / "Dockerfile").write_text("FROM busybox\nRUN exit 7\n")
    failed = subprocess.run([docker_cli, "build", str(context)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert failed.returncode == 7
    assert "The command '/bin/sh -c exit 7' returned a non-zero code: 7" in failed.stderr


def test_docker_py_builds(moord: DaemonProcess, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY a.txt /\nCMD [\"cat\", \"/a.txt\"]\n",
                                               "a.txt": "from docker-py\n"})
    low = docker.APIClient(base_url=moord.host, version="1.41", timeout=300)
    try:
        messages = list(low.build(path=str(context), tag="dockerpy:low", rm=True, decode=True))
    finally:
        low.close()
    assert error(messages) is None, text(messages)
    assert "Successfully tagged dockerpy:low\n" in text(messages)
    client = docker.DockerClient(base_url=moord.host, version="1.41", timeout=300)
    try:
        image, logs = client.images.build(path=str(context), tag="dockerpy:high", rm=True)
        assert "dockerpy:high" in image.tags
        assert any("Successfully built" in str(entry.get("stream", "")) for entry in logs)
        with pytest.raises(docker.errors.BuildError, match="returned a non-zero code: 4"):
            client.images.build(fileobj=context_tar({"Dockerfile": "FROM busybox\nRUN exit 4\n"}),
                                custom_context=True)
    finally:
        client.close()


# --------------------------------------------------------------------------- moor build


def test_moor_build_cli(moord: DaemonProcess, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "a.txt": "a", "sub/skip.log": "x",
                                               ".dockerignore": "**/*.log\n"})
    iidfile = tmp_path / "iid"
    result = moor(moord, "build", "--iidfile", str(iidfile), "-t", "moorcli:v1", "--build-arg", "GREETING",
                  str(context), env={"GREETING": "from env"}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Sending build context to Docker daemon")
    assert "\n. .. .dockerignore Dockerfile a.txt sub\n" in result.stdout  # sub/skip.log stayed out
    assert result.stdout.endswith("Successfully tagged moorcli:v1\n")
    assert iidfile.read_text() == first_json(moord, "image", "inspect", "moorcli:v1")["Id"]
    quiet = moor(moord, "build", "-q", "-f", "-", str(context), input="FROM busybox\nLABEL stdin=yes\n",
                 timeout=300)
    assert quiet.returncode == 0 and quiet.stdout.startswith("sha256:") and quiet.stdout.count("\n") == 1
    labels = first_json(moord, "image", "inspect", quiet.stdout.strip())["Config"]["Labels"]
    assert labels == {"stdin": "yes"}
    (context / "Dockerfile").write_text("FROM busybox\nRUN exit 5\n")
    failed = moor(moord, "build", str(context), timeout=300)
    assert failed.returncode == 5
    assert failed.stderr == "The command '/bin/sh -c exit 5' returned a non-zero code: 5\n"


def test_moor_build_secret(moord: DaemonProcess, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok && echo\n"})
    secret = tmp_path / "tok"
    secret.write_text("the-secret-value")
    result = moor(moord, "build", "--no-cache", "--secret", f"id=tok,src={secret}", str(context), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the-secret-value\n" in result.stdout


def test_moor_builder_prune(moord: DaemonProcess) -> None:
    result = moor(moord, "builder", "prune", "-f")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("Total reclaimed space: ")
    asked = moor(moord, "builder", "prune", "-a", input="n\n")
    assert asked.stdout == ("WARNING! This will remove all build cache. Are you sure you want to continue? [y/N] "
                            "Total reclaimed space: 0B\n")


def test_run_steps_get_the_extra_hosts_network_and_limits_asked_for(moord: DaemonProcess) -> None:
    dockerfile = ("FROM busybox\nRUN grep buildhost /etc/hosts && echo nets: $(ls /sys/class/net) "
                  "&& echo shm: $(df -k /dev/shm | tail -1 | awk '{print $2}')\n")
    messages = build(moord, {"Dockerfile": dockerfile}, nocache=True, extra_hosts={"buildhost": "127.0.0.9"},
                     network_mode="none", shmsize=8 << 20)
    assert error(messages) is None, text(messages)
    output = text(messages)
    assert "127.0.0.9\tbuildhost\n" in output
    assert "nets: lo\n" in output
    assert "shm: 8192\n" in output


def test_moor_build_of_a_tar_on_stdin_with_a_target(moord: DaemonProcess, tmp_path: Path) -> None:
    tar = context_tar({"Dockerfile": "FROM busybox AS one\nLABEL which=one\nFROM busybox AS two\nLABEL which=two\n"})
    result = subprocess.run([*MOOR_CLI, "-H", moord.host, "build", "-q", "--target", "one", "-"],
                            input=tar.getvalue(), capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    labels = first_json(moord, "image", "inspect", result.stdout.decode().strip())["Config"]["Labels"]
    assert labels == {"which": "one"}


def test_moor_build_ulimit_reaches_the_run(moord: DaemonProcess, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo nofile=$(ulimit -n)\n"})
    result = moor(moord, "build", "--no-cache", "--ulimit", "nofile=256:256", str(context), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nofile=256\n" in result.stdout


def test_copy_over_an_absolute_symlink_stays_inside_the_image(moord: DaemonProcess, tmp_path: Path) -> None:
    """busybox's /bin/sh is a link to /bin/busybox: COPY onto it writes the image's file, never the host's."""
    import hashlib

    with open("/bin/busybox", "rb") as handle:
        host_before = hashlib.sha256(handle.read()).hexdigest()
    context = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY a.txt /bin/sh\n",
                                               "a.txt": "not a shell\n"})
    result = moor(moord, "build", "-q", str(context), timeout=300)
    assert result.returncode == 0, result.stderr
    with open("/bin/busybox", "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == host_before
