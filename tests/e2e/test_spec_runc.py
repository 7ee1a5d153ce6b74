"""The generated config.json runs under the real runc, with Docker's defaults visible inside.

Each test runs a busybox container with ``runc run`` (no terminal, stdio captured) in its own runc
state root and deletes it afterwards; no rlimits are set (root here lacks CAP_SYS_RESOURCE).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from moor.containers.model import ProcessSpec, RuntimeSpecInput
from moor.containers.spec import ALL_CAPABILITIES, available_capabilities, build_spec

pytestmark = pytest.mark.root

RUNC = "/usr/sbin/runc"
REPO = Path(__file__).resolve().parents[2]
DOCKER_DEFAULT_CAPEFF = "00000000a80425fb"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox root filesystem from scripts/busybox-rootfs."""
    if not os.access(RUNC, os.X_OK):
        pytest.fail(f"runc is missing at {RUNC}")
    root = tmp_path_factory.mktemp("busybox") / "rootfs"
    root.mkdir()
    tar = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=tar, check=True)
    return root


@pytest.fixture
def run(rootfs: Path, tmp_path: Path) -> Iterator[Any]:
    """Run a container from keyword arguments for RuntimeSpecInput (plus args/user/env/cwd); delete it after."""
    state_root = tmp_path / "runc-root"
    created: list[str] = []

    def runner(args: list[str], user: str = "", env: list[str] | None = None, cwd: str = "/", **kwargs: Any) -> Result:
        container_id = f"moor-spec-test-{uuid.uuid4().hex[:12]}"
        kwargs.setdefault("network_mode", "none")
        spec = RuntimeSpecInput(
            id=container_id,
            rootfs=str(rootfs),
            hostname=kwargs.pop("hostname", "spectest"),
            domainname="",
            process=ProcessSpec(args=args, env=env or [], user=user, cwd=cwd),
            **kwargs,
        )
        bundle = tmp_path / container_id
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(build_spec(spec), indent=1))
        created.append(container_id)
        completed = subprocess.run(
            [RUNC, "--root", str(state_root), "run", "--bundle", str(bundle), container_id],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)

    yield runner
    for container_id in created:
        subprocess.run([RUNC, "--root", str(state_root), "delete", "-f", container_id], capture_output=True)
    listed = subprocess.run([RUNC, "--root", str(state_root), "list", "-q"], capture_output=True, text=True)
    assert listed.stdout.strip() == "", f"containers left behind: {listed.stdout}"
    for container_id in created:
        leftovers = [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{container_id}")]
        assert not leftovers, f"cgroups left behind: {leftovers}"
    shutil.rmtree(state_root, ignore_errors=True)


def status_field(output: str, name: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith(name + ":")]
    return line.split()[1]


def test_default_container(run: Any) -> None:
    result = run(["sh", "-c", "cat /proc/self/status | grep CapEff; id; hostname; ls /dev; cat /proc/1/cmdline"])
    assert result.returncode == 0, result.stderr
    assert status_field(result.stdout, "CapEff") == DOCKER_DEFAULT_CAPEFF
    assert "uid=0(root) gid=0(root)" in result.stdout
    lines = result.stdout.splitlines()
    assert "spectest" in lines
    for device in ("shm", "mqueue", "pts", "null", "zero", "full", "random", "urandom", "tty", "ptmx"):
        assert device in lines, f"/dev/{device} missing: {lines}"
    assert "cat\0/proc/1/cmdline\0" in result.stdout  # a pid namespace: pid 1 is ours (sh execs the last command)


def test_user_nobody(run: Any) -> None:
    result = run(["sh", "-c", "id; grep -E '^Cap(Eff|Bnd)' /proc/self/status"], user="nobody")
    assert result.returncode == 0, result.stderr
    assert "uid=65534(nobody) gid=65534(nogroup)" in result.stdout
    assert status_field(result.stdout, "CapEff") == "0000000000000000"
    assert status_field(result.stdout, "CapBnd") == DOCKER_DEFAULT_CAPEFF


def test_numeric_user_and_group(run: Any) -> None:
    result = run(["id"], user="1234:5")
    assert result.returncode == 0, result.stderr
    assert "uid=1234 gid=5(tty)" in result.stdout


def test_exit_code_passes_through(run: Any) -> None:
    assert run(["sh", "-c", "exit 3"]).returncode == 3


def test_environment_and_workdir(run: Any) -> None:
    result = run(["sh", "-c", "env; pwd"], env=["FOO=bar"], cwd="/tmp")
    assert result.returncode == 0, result.stderr
    env = set(result.stdout.splitlines())
    assert result.stdout.splitlines()[-1] == "/tmp"
    assert {"FOO=bar", "HOSTNAME=spectest", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"} <= env


def test_cap_drop_and_add(run: Any) -> None:
    result = run(["grep", "CapEff", "/proc/self/status"], cap_drop=["ALL"], cap_add=["NET_BIND_SERVICE"])
    assert result.returncode == 0, result.stderr
    assert status_field(result.stdout, "CapEff") == f"{1 << 10:016x}"


def test_masked_and_readonly_paths(run: Any) -> None:
    masked = [path for path in ("/proc/keys", "/proc/timer_list", "/proc/kcore") if os.path.exists(path)]
    assert masked, "no maskable /proc file on this host"
    script = f"wc -c < {masked[0]}; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname && echo WROTE"
    result = run(["sh", "-c", script])
    assert result.stdout.split() == ["0", "0"], result.stderr
    assert "Read-only file system" in result.stderr


def test_read_only_root_with_etc_files_mounts_and_sysctls(run: Any, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.1.2.3 spectest\n")
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "data.txt").write_text("volume data\n")
    result = run(
        [
            "sh",
            "-c",
            "cat /etc/hosts; cat /data/data.txt; touch /data/new && echo VOLUME-RW; "
            "touch /rootfile || echo ROOT-RO; touch /scratch/x && echo TMPFS-RW; "
            "df -k /dev/shm | tail -1; sysctl -n kernel.shmmax",
        ],
        read_only=True,
        etc_files={"/etc/hosts": str(hosts)},
        mounts=[
            {"destination": "/data", "type": "bind", "source": str(volume), "options": ["rbind", "rprivate"]},
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]},
        ],
        shm_size=8 * 1024 * 1024,
        sysctls={"kernel.shmmax": "12345"},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "10.1.2.3 spectest" in out and "volume data" in out
    assert "VOLUME-RW" in out and "ROOT-RO" in out and "TMPFS-RW" in out
    assert " 8192 " in out  # /dev/shm is 8 MiB
    assert out.splitlines()[-1] == "12345"
    assert (volume / "new").exists()


def test_privileged(run: Any) -> None:
    script = "grep CapEff /proc/self/status; ls /dev | wc -l; grep ' /sys ' /proc/mounts"
    result = run(["sh", "-c", script], privileged=True)
    assert result.returncode == 0, result.stderr
    expected = sum(1 << bit for bit, cap in enumerate(ALL_CAPABILITIES) if cap in available_capabilities())
    assert int(status_field(result.stdout, "CapEff"), 16) == expected
    assert int(result.stdout.splitlines()[1]) > 20  # the host's devices
    assert "sysfs /sys sysfs rw," in result.stdout


def test_host_namespaces(run: Any) -> None:
    result = run(["sh", "-c", "hostname; ls /dev/shm >/dev/null && echo SHM; cat /proc/1/comm"],
                 network_mode="host", uts_mode="host", pid_mode="host", ipc_mode="host")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == os.uname().nodename
    assert "SHM" in lines
    host_init = Path("/proc/1/comm").read_text().strip()
    assert lines[-1] == host_init
