"""`moor cp` / `moor export` and the archive API against a private moord (real runc and overlayfs).

The escape tests plant links inside real containers that would lead to the host if the engine let the
kernel resolve them from the host (``/escape -> /``, links to an absolute host directory), including a
container that flips such a link while copies run. The host directory must never be read or written.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pty
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from e2e.containerhelpers import docker_env, moor, moor_bytes, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess, UnixHTTPConnection

pytestmark = pytest.mark.root

HOST_SECRET = "HOST SECRET\n"


def tar_of(*files: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tar_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isreg() else b"") for m in tar.getmembers()}  # type: ignore[union-attr]


def run_detached(daemon: DaemonProcess, name: str, script: str, *options: str) -> str:
    result = moor(daemon, "run", "-d", "--name", name, *options, "busybox", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    for _ in range(100):
        if moor(daemon, "exec", name, "test", "-e", "/tmp/ready").returncode == 0:
            break
        time.sleep(0.05)
    return result.stdout.strip()


def cat(daemon: DaemonProcess, name: str, path: str) -> str:
    """The content of ``path`` in the running container ``name`` (through exec, independent of cp)."""
    result = moor(daemon, "exec", name, "cat", path)
    return result.stdout if result.returncode == 0 else f"exit {result.returncode}: {result.stderr}"


def remove(daemon: DaemonProcess, *names: str) -> None:
    moor(daemon, "rm", "-f", *names)


@pytest.fixture
def host_dir(tmp_path: Path) -> Iterator[Path]:
    """A host directory the containers name by its absolute path; it must stay as it is."""
    directory = tmp_path / "host-only"
    directory.mkdir()
    (directory / "secret").write_text(HOST_SECRET)
    yield directory
    assert sorted(os.listdir(directory)) == ["secret"]
    assert (directory / "secret").read_text() == HOST_SECRET


# ---------------------------------------------------------------------- moor cp out


def test_cp_out_of_running_and_stopped_containers(moord: DaemonProcess, tmp_path: Path) -> None:
    run_detached(moord, "cpout", "mkdir -p /data/sub && echo hello > /data/hello && echo deep > /data/sub/deep "
                                  "&& ln -s hello /data/link && touch /tmp/ready && sleep 300")
    try:
        for state in ("running", "stopped"):
            out = tmp_path / state
            out.mkdir()
            assert moor(moord, "cp", "cpout:/data/hello", str(out)).returncode == 0
            assert (out / "hello").read_text() == "hello\n"
            assert moor(moord, "cp", "cpout:/data/hello", str(out / "renamed")).returncode == 0
            assert (out / "renamed").read_text() == "hello\n"
            assert moor(moord, "cp", "cpout:/data", str(out / "copy")).returncode == 0  # a new name: renamed
            assert (out / "copy" / "sub" / "deep").read_text() == "deep\n"
            assert os.readlink(out / "copy" / "link") == "hello"
            assert moor(moord, "cp", "cpout:/data", str(out / "copy")).returncode == 0  # existing dir: inside it
            assert (out / "copy" / "data" / "hello").read_text() == "hello\n"
            (out / "contents").mkdir()
            assert moor(moord, "cp", "cpout:/data/.", str(out / "contents")).returncode == 0
            assert sorted(os.listdir(out / "contents")) == ["hello", "link", "sub"]
            assert moor(moord, "cp", "cpout:/data/link", str(out / "l")).returncode == 0
            assert os.readlink(out / "l") == "hello"
            assert moor(moord, "cp", "-L", "cpout:/data/link", str(out / "followed")).returncode == 0
            assert (out / "followed").read_text() == "hello\n"
            streamed = moor_bytes(moord, "cp", "cpout:/data", "-")
            assert streamed.returncode == 0, streamed.stderr
            assert tar_members(streamed.stdout)["data/sub/deep"] == b"deep\n"
            if state == "running":
                assert moor(moord, "stop", "-t", "1", "cpout").returncode == 0
        created = moor(moord, "create", "--name", "cpcreated", "busybox", "true")
        assert created.returncode == 0, created.stderr
        assert moor(moord, "cp", "cpcreated:/etc/passwd", str(tmp_path / "passwd")).returncode == 0
        assert (tmp_path / "passwd").read_text().startswith("root:")
    finally:
        remove(moord, "cpout", "cpcreated")


def test_cp_errors_read_like_dockers(moord: DaemonProcess, tmp_path: Path) -> None:
    run_detached(moord, "cperr", "touch /tmp/ready; sleep 300")
    moor(moord, "create", "--name", "cpro", "--read-only", "busybox", "true")
    try:
        missing = moor(moord, "cp", "cperr:/nope", str(tmp_path))
        assert (missing.returncode, missing.stderr) == (1, "Error: No such container:path: cperr:/nope\n")
        nobody = moor(moord, "cp", "ghost:/etc", str(tmp_path))
        assert (nobody.returncode, nobody.stderr) == (1, "Error: No such container:path: ghost:/etc\n")
        both = moor(moord, "cp", "cperr:/a", "cperr:/b")
        assert (both.returncode, both.stderr) == (1, "copying between containers is not supported\n")
        neither = moor(moord, "cp", str(tmp_path), str(tmp_path / "x"))
        assert (neither.returncode, neither.stderr) == (1, "must specify at least one container source\n")
        no_dir = moor(moord, "cp", "cperr:/etc", str(tmp_path / "none" / "x"))
        assert no_dir.stderr == f'invalid output path: directory "{tmp_path}/none" does not exist\n'
        no_src = moor(moord, "cp", str(tmp_path / "absent"), "cperr:/tmp")
        assert (no_src.returncode, no_src.stderr) == (1, f"lstat {tmp_path}/absent: no such file or directory\n")
        (tmp_path / "f").write_text("x")
        no_parent = moor(moord, "cp", str(tmp_path / "f"), "cperr:/nonexistent/x")
        assert no_parent.stderr == "Error: No such container:path: cperr:/nonexistent\n"
        read_only = moor(moord, "cp", str(tmp_path / "f"), "cpro:/tmp")
        assert (read_only.returncode, read_only.stderr) == (
            1, "Error response from daemon: container rootfs is marked read-only\n")
        dir_to_file = moor(moord, "cp", str(tmp_path), "cperr:/etc/passwd")
        assert (dir_to_file.returncode, dir_to_file.stderr) == (1, "cannot copy directory\n")
        stdin_to_file = moor_bytes(moord, "cp", "-", "cperr:/etc/passwd", input=tar_of(("x", b"x")))
        assert stdin_to_file.stderr == b'destination "cperr:/etc/passwd" must be a directory\n'
    finally:
        remove(moord, "cperr", "cpro")


# ---------------------------------------------------------------------- moor cp in


def test_cp_into_containers(moord: DaemonProcess, tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "inner").mkdir(parents=True)
    (source / "top.txt").write_text("top\n")
    (source / "inner" / "deep.txt").write_text("deep\n")
    os.symlink("top.txt", source / "link")
    run_detached(moord, "cpin", "mkdir /tmp/dest; touch /tmp/ready; sleep 300", "-u", "nobody")
    try:
        assert moor(moord, "cp", str(source / "top.txt"), "cpin:/tmp/dest").returncode == 0
        assert cat(moord, "cpin", "/tmp/dest/top.txt") == "top\n"
        assert moor(moord, "cp", str(source / "top.txt"), "cpin:/tmp/dest/renamed.txt").returncode == 0
        assert cat(moord, "cpin", "/tmp/dest/renamed.txt") == "top\n"
        assert moor(moord, "cp", str(source), "cpin:/tmp/dest").returncode == 0
        assert cat(moord, "cpin", "/tmp/dest/src/inner/deep.txt") == "deep\n"
        assert moor(moord, "cp", str(source), "cpin:/tmp/dest/newdir").returncode == 0
        assert cat(moord, "cpin", "/tmp/dest/newdir/inner/deep.txt") == "deep\n"
        assert moor(moord, "cp", f"{source}/.", "cpin:/tmp").returncode == 0
        assert cat(moord, "cpin", "/tmp/top.txt") == "top\n"
        assert moor(moord, "exec", "cpin", "readlink", "/tmp/dest/src/link").stdout == "top.txt\n"
        assert moor(moord, "cp", "-L", str(source / "link"), "cpin:/tmp/dest/followed").returncode == 0
        assert cat(moord, "cpin", "/tmp/dest/followed") == "top\n"
        piped = moor_bytes(moord, "cp", "-", "cpin:/tmp/dest", input=tar_of(("from-stdin", b"piped\n")))
        assert piped.returncode == 0, piped.stderr
        assert cat(moord, "cpin", "/tmp/dest/from-stdin") == "piped\n"
        owner = moor(moord, "exec", "cpin", "stat", "-c", "%u:%g", "/tmp/dest/top.txt").stdout.strip()
        assert owner == f"{os.getuid()}:{os.getgid()}"  # the archive's owner, as Docker keeps it
        assert moor(moord, "cp", "-a", str(source / "top.txt"), "cpin:/tmp/dest/archived.txt").returncode == 0
        owner = moor(moord, "exec", "cpin", "stat", "-c", "%u:%g", "/tmp/dest/archived.txt").stdout.strip()
        assert owner == "65534:65534"  # -a: the container's user, from the container's own /etc/passwd
        assert moor(moord, "stop", "-t", "1", "cpin").returncode == 0
        assert moor(moord, "cp", str(source / "top.txt"), "cpin:/tmp/dest/while-stopped").returncode == 0
        assert moor(moord, "start", "cpin").returncode == 0
        assert cat(moord, "cpin", "/tmp/dest/while-stopped") == "top\n"
    finally:
        remove(moord, "cpin")


# ---------------------------------------------------------------------- escapes (CVE-2018-15664 class)


def test_links_in_the_container_never_reach_the_host(moord: DaemonProcess, tmp_path: Path, host_dir: Path) -> None:
    marker = f"moor-cp-{uuid.uuid4().hex}"
    run_detached(moord, "cve", f"echo container-shadow > /etc/shadow; ln -s / /escape; ln -s {host_dir} /hostlink; "
                               "ln -s ../../../../../.. /tmp/up; touch /tmp/ready; sleep 300")
    try:
        out = tmp_path / "out"
        out.mkdir()
        for path in ("/escape/etc/shadow", "/tmp/up/etc/shadow", "/escape/escape/tmp/up/etc/shadow"):
            result = moor(moord, "cp", f"cve:{path}", str(out / "shadow"))
            assert result.returncode == 0, result.stderr
            assert (out / "shadow").read_text() == "container-shadow\n"
        hostlink = moor(moord, "cp", "cve:/hostlink/secret", str(out))
        assert hostlink.stderr == "Error: No such container:path: cve:/hostlink/secret\n"
        (tmp_path / marker).write_text("pushed\n")
        assert moor(moord, "cp", str(tmp_path / marker), "cve:/escape/tmp").returncode == 0
        assert cat(moord, "cve", f"/tmp/{marker}") == "pushed\n"
        assert not os.path.exists(f"/tmp/{marker}")
        assert moor(moord, "cp", str(tmp_path / marker), "cve:/tmp/up/etc").returncode == 0
        assert cat(moord, "cve", f"/etc/{marker}") == "pushed\n"
        assert not os.path.exists(f"/etc/{marker}")
        assert moor(moord, "cp", str(tmp_path / marker), "cve:/hostlink").returncode == 1
        piped = moor_bytes(moord, "cp", "-", "cve:/", input=tar_of((f"escape/tmp/{marker}-2", b"x"),
                                                                   (f"hostlink/{marker}", b"x")))
        assert piped.returncode == 1  # hostlink/ leads nowhere inside the container
        assert not os.path.exists(f"/tmp/{marker}-2")
    finally:
        remove(moord, "cve")


def test_a_container_flipping_links_during_copies(moord: DaemonProcess, tmp_path: Path, host_dir: Path) -> None:
    """The container swaps /tmp/x between a directory and a link to the host directory, in a loop."""
    script = (f"mkdir -p /tmp/x; echo mine > /tmp/x/secret; touch /tmp/ready; "
              f"while true; do mv /tmp/x /tmp/x.real; ln -s {host_dir} /tmp/x; rm /tmp/x; mv /tmp/x.real /tmp/x; done")
    run_detached(moord, "flipper", script)
    try:
        (tmp_path / "pushed").write_text("pushed\n")
        out = tmp_path / "out"
        out.mkdir()
        outcomes = set()
        for index in range(40):
            result = moor(moord, "cp", "flipper:/tmp/x/secret", str(out / f"s{index}"))
            if result.returncode == 0:
                outcomes.add((out / f"s{index}").read_text())
            moor(moord, "cp", str(tmp_path / "pushed"), "flipper:/tmp/x")
        assert HOST_SECRET not in outcomes and outcomes <= {"mine\n"}
    finally:
        remove(moord, "flipper")


# ---------------------------------------------------------------------- export


def test_export_then_import_runs_the_same_files(moord: DaemonProcess, tmp_path: Path) -> None:
    run_detached(moord, "exporter", "echo exported-content > /marker; touch /tmp/ready; sleep 300")
    try:
        target = tmp_path / "rootfs.tar"
        assert moor(moord, "export", "-o", str(target), "exporter").returncode == 0
        names = tar_members(target.read_bytes())
        assert names["marker"] == b"exported-content\n" and "bin/busybox" in names
        streamed = moor_bytes(moord, "export", "exporter")
        assert streamed.returncode == 0 and tar_members(streamed.stdout)["marker"] == b"exported-content\n"
        imported = moor(moord, "import", str(target), "exported:latest")
        assert imported.returncode == 0, imported.stderr
        again = moor(moord, "run", "--rm", "exported:latest", "cat", "/marker")
        assert (again.returncode, again.stdout) == (0, "exported-content\n"), again.stderr
        missing = moor(moord, "export", "-o", str(tmp_path / "x.tar"), "ghost")
        assert (missing.returncode, missing.stderr) == (1, "Error response from daemon: No such container: ghost\n")
        assert not os.path.exists(tmp_path / "x.tar")
    finally:
        remove(moord, "exporter")
        moor(moord, "rmi", "exported:latest")


def test_export_refuses_a_terminal(moord: DaemonProcess) -> None:
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "moor.cli", "-H", moord.host, "export", "whatever"],
                                stdout=terminal, stderr=subprocess.PIPE, timeout=30)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 1
    assert result.stderr == b"cowardly refusing to save to a terminal. Use the -o flag or redirect\n"


# ---------------------------------------------------------------------- the API itself


def test_archive_api_headers_statuses_and_events(moord: DaemonProcess) -> None:
    run_detached(moord, "apicp", "mkdir -p /d; chmod 755 /d; touch /tmp/ready; sleep 300")
    moor(moord, "create", "--name", "apiro", "--read-only", "busybox", "true")
    since = time.time() - 1
    try:
        def request(method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
            connection = UnixHTTPConnection(moord.socket, timeout=30)
            try:
                connection.request(method, f"/v1.41{path}", body=body,
                                   headers={"Content-Type": "application/x-tar"} if body is not None else {})
                response = connection.getresponse()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            finally:
                connection.close()

        status, headers, _ = request("HEAD", "/containers/apicp/archive?path=/d")
        stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
        assert status == 200 and stat["name"] == "d" and stat["mode"] == 2147484141 and stat["linkTarget"] == ""
        status, headers, body = request("GET", "/containers/apicp/archive?path=/etc/passwd")
        assert status == 200 and headers["content-type"] == "application/x-tar"
        assert tar_members(body)["passwd"].startswith(b"root:")
        status, _, body = request("GET", "/containers/apicp/archive?path=/nope")
        assert (status, json.loads(body)) == (404, {"message": "Could not find the file /nope in container apicp"})
        status, _, body = request("PUT", "/containers/apicp/archive?path=/etc/passwd", tar_of(("x", b"")))
        assert (status, json.loads(body)) == (400, {"message": "extraction point is not a directory"})
        status, _, body = request("PUT", "/containers/apiro/archive?path=/tmp", tar_of(("x", b"")))
        assert (status, json.loads(body)) == (500, {"message": "container rootfs is marked read-only"})
        status, _, body = request("PUT", "/containers/apicp/archive?path=/d", tar_of(("../../x", b"")))
        assert status == 400 and "outside of" in json.loads(body)["message"]
        status, _, _ = request("PUT", "/containers/apicp/archive?path=/d", tar_of(("ok", b"fine")))
        assert status == 200
        status, _, body = request("GET", "/containers/apicp/archive")
        assert status == 400
        status, headers, body = request("GET", "/containers/apicp/export")
        assert status == 200 and headers["content-type"] == "application/x-tar" and tar_members(body)["d/ok"] == b"fine"
        until = time.time() + 1
        events = moor(moord, "events", "--since", str(since), "--until", str(until), "--filter",
                      "container=apicp", "--format", "{{.Action}}").stdout.split()
        assert events.count("archive-path") == 1 and events.count("extract-to-dir") == 1
        assert events.count("export") == 1
    finally:
        remove(moord, "apicp", "apiro")


def test_mounts_are_released(moord: DaemonProcess, tmp_path: Path) -> None:
    """Copies of a stopped container leave its root filesystem unmounted, even when the client hangs up."""
    moor(moord, "create", "--name", "unmounted", "busybox", "true")
    try:
        cid = moor(moord, "inspect", "--format", "{{.Id}}", "unmounted").stdout.strip()

        def mounted() -> bool:
            with open("/proc/self/mounts") as handle:
                return any(cid in line and moord.root in line for line in handle)

        assert not mounted()
        big = tmp_path / "big"
        big.write_bytes(os.urandom(1 << 20) * 16)  # more than the socket buffers: the export blocks mid-way
        assert moor(moord, "cp", str(big), "unmounted:/big").returncode == 0
        assert moor(moord, "cp", "unmounted:/big", str(tmp_path / "big.back")).returncode == 0
        assert (tmp_path / "big.back").read_bytes() == big.read_bytes()
        assert moor(moord, "cp", "unmounted:/bin", str(tmp_path / "bin")).returncode == 0
        assert moor(moord, "cp", str(tmp_path / "bin"), "unmounted:/tmp").returncode == 0
        assert moor_bytes(moord, "export", "unmounted").returncode == 0
        connection = UnixHTTPConnection(moord.socket, timeout=30)
        connection.request("GET", "/v1.41/containers/unmounted/export")
        response = connection.getresponse()
        response.read(1000)
        assert mounted()  # held while the stream is open
        connection.close()  # hang up mid-stream
        for _ in range(100):
            if not mounted():
                break
            time.sleep(0.05)
        assert not mounted()
    finally:
        remove(moord, "unmounted")


# ---------------------------------------------------------------------- real Docker clients


def test_docker_cli_cp_both_ways(moord: DaemonProcess, docker_cli: str, tmp_path: Path) -> None:
    def docker_cmd(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([docker_cli, *args], capture_output=True, env=docker_env(moord), timeout=60,
                              input=input)

    run_detached(moord, "dockercp",
                 "mkdir -p /data/sub; echo from-container > /data/sub/f; touch /tmp/ready; sleep 300")
    try:
        result = docker_cmd("cp", "dockercp:/data", str(tmp_path / "data"))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "data" / "sub" / "f").read_text() == "from-container\n"
        (tmp_path / "up.txt").write_text("from-host\n")
        result = docker_cmd("cp", str(tmp_path / "up.txt"), "dockercp:/data/sub/")
        assert result.returncode == 0, result.stderr
        assert cat(moord, "dockercp", "/data/sub/up.txt") == "from-host\n"
        streamed = docker_cmd("cp", "dockercp:/data/sub/f", "-")
        assert tar_members(streamed.stdout) == {"f": b"from-container\n"}
        piped = docker_cmd("cp", "-", "dockercp:/tmp", input=tar_of(("piped", b"p\n")))
        assert piped.returncode == 0, piped.stderr
        assert cat(moord, "dockercp", "/tmp/piped") == "p\n"
        exported = docker_cmd("export", "dockercp")
        assert tar_members(exported.stdout)["data/sub/f"] == b"from-container\n"
    finally:
        remove(moord, "dockercp")


def test_docker_py_put_and_get_archive(moord: DaemonProcess) -> None:
    client = docker.DockerClient(base_url=moord.host)
    try:
        container = client.containers.run("busybox", ["sleep", "300"], detach=True, name="dockerpy-cp")
        assert container.put_archive("/tmp", tar_of(("py.txt", b"from docker-py\n"))) is True
        chunks, stat = container.get_archive("/tmp/py.txt")
        assert stat["name"] == "py.txt" and stat["size"] == len(b"from docker-py\n")
        assert tar_members(b"".join(chunks)) == {"py.txt": b"from docker-py\n"}
        with pytest.raises(docker.errors.NotFound):
            container.get_archive("/nope")
        chunks, stat = client.api.get_archive(container.id, "/tmp")
        assert stat["name"] == "tmp" and stat["mode"] & (1 << 31) and "tmp/py.txt" in tar_members(b"".join(chunks))
        exported = b"".join(container.export())
        assert "tmp/py.txt" in tar_members(exported)
        container.remove(force=True)
    finally:
        client.close()
