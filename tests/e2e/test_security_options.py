"""--read-only, --tmpfs, --cap-add/--cap-drop, --privileged, --security-opt, --init, --device, --sysctl,
--add-host, --group-add."""

from __future__ import annotations

import pytest

from e2e.containerhelpers import moor, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def run(daemon: DaemonProcess, *args: str) -> str:
    result = moor(daemon, "run", "--rm", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_read_only_with_tmpfs(moord: DaemonProcess) -> None:
    out = run(moord, "--read-only", "--tmpfs", "/scratch:size=1m", "busybox", "sh", "-c",
              "touch /x 2>&1; touch /scratch/ok && echo wrote; grep /scratch /proc/mounts")
    lines = out.splitlines()
    assert "Read-only file system" in lines[0] and lines[1] == "wrote"
    assert "tmpfs" in lines[2] and "size=1024k" in lines[2] and "noexec" in lines[2]


def test_capabilities_and_privileged(moord: DaemonProcess) -> None:
    dropped = run(moord, "--cap-drop", "CHOWN", "busybox", "sh", "-c", "chown 1 /tmp 2>&1; echo rc=$?")
    assert "rc=1" in dropped
    added = run(moord, "--cap-add", "NET_ADMIN", "busybox", "grep", "CapEff", "/proc/self/status")
    assert int(added.split()[1], 16) & (1 << 12)
    privileged = run(moord, "--privileged", "busybox", "sh", "-c",
                     "ls /dev | wc -l; mount -o remount,rw /sys && echo rw")
    assert int(privileged.split()[0]) > 10 and "rw" in privileged


def test_no_new_privileges_init_and_groups(moord: DaemonProcess) -> None:
    nnp = run(moord, "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status")
    assert nnp.split()[1] == "1"
    init = run(moord, "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
    assert init.startswith("/sbin/docker-init -- sh")
    groups = run(moord, "--group-add", "daemon", "--group-add", "1234", "busybox", "id", "-G")
    assert set(groups.split()) >= {"0", "1", "1234"}


def test_devices_sysctls_and_hosts(moord: DaemonProcess) -> None:
    device = run(moord, "--device", "/dev/null:/dev/mynull", "busybox", "sh", "-c",
                 "ls -l /dev/mynull; echo hi > /dev/mynull && echo ok")
    assert device.startswith("c") and "ok" in device
    sysctl = run(moord, "--sysctl", "kernel.msgmax=4096", "busybox", "cat", "/proc/sys/kernel/msgmax")
    assert sysctl.strip() == "4096"
    hosts = run(moord, "--add-host", "db.local:10.1.2.3", "busybox", "grep", "db.local", "/etc/hosts")
    assert hosts.split() == ["10.1.2.3", "db.local"]


@pytest.mark.parametrize(("args", "message"), [
    (["--security-opt", "bogus"], 'invalid --security-opt 2: "bogus"'),
    (["--device", "/dev/nonexistent"], "error gathering device information"),
    (["--sysctl", "kernel.hostname=x"], "is not allowed"),
    (["--add-host", "nocolon"], "bad format for add-host"),
    (["--tmpfs", "relative"], "must be absolute"),
])
def test_bad_options_create_nothing(moord: DaemonProcess, args: list[str], message: str) -> None:
    before = moor(moord, "ps", "-aq").stdout
    result = moor(moord, "run", "--rm", *args, "busybox", "true")
    assert result.returncode == 125 and message in result.stderr, result.stderr
    assert moor(moord, "ps", "-aq").stdout == before
