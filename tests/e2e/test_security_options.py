"""--read-only, --tmpfs, --cap-add/--cap-drop, --privileged, --security-opt (seccomp too), --init, --device,
--sysctl, --add-host, --group-add, masked paths."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from e2e.containerhelpers import docker_env, moor, moord  # noqa: F401 - fixture
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


def test_a_privileged_exec_gets_every_capability(moord: DaemonProcess) -> None:
    name = "privileged-exec"
    assert moor(moord, "run", "-d", "--name", name, "busybox", "sleep", "60").returncode == 0
    try:
        plain = moor(moord, "exec", name, "grep", "CapEff", "/proc/self/status").stdout
        privileged = moor(moord, "exec", "--privileged", name, "grep", "CapEff", "/proc/self/status").stdout
        assert not int(plain.split()[1], 16) & (1 << 21)  # CAP_SYS_ADMIN: not among Docker's defaults
        assert int(privileged.split()[1], 16) & (1 << 21)
    finally:
        moor(moord, "rm", "-f", name)


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
    (["--security-opt", "bogus"], 'Invalid --security-opt: "bogus"'),
    (["--security-opt", "foo=bar"], 'invalid --security-opt 2: "foo=bar"'),
    (["--security-opt", "seccomp=/nonexistent.json"], "opening seccomp profile (/nonexistent.json) failed"),
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


# --------------------------------------------------------------------------- seccomp

#: A static probe: each call's errno (0: it worked) on one line of its own.
PROBE_SOURCE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long rc) { printf("%s %d\n", name, rc < 0 ? errno : 0); }

int main(void) {
    char params[120];
    char attr[128];
    memset(params, 0, sizeof params);
    memset(attr, 0, sizeof attr);
    ((unsigned int *)attr)[1] = sizeof attr; /* perf_event_attr.size */
    report("keyctl", syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -2 /* process keyring */, 1 /* create */));
    report("add_key", syscall(SYS_add_key, "user", "moor-probe", "x", 1, -2 /* process keyring */));
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, params));
    report("userfaultfd", syscall(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */));
    report("perf_event_open", syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
    report("socket_alg", socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0));
    report("socket_vsock", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
    report("unshare_user", unshare(CLONE_NEWUSER));
    return 0;
}
"""
EPERM = 1


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the probe, compiled static for busybox."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is missing: cannot build the static syscall probe (apt-get install gcc libc6-dev)")
    directory = tmp_path_factory.mktemp("probe")
    (directory / "probe.c").write_text(PROBE_SOURCE)
    built = subprocess.run(["gcc", "-static", "-O1", "-o", str(directory / "probe"), str(directory / "probe.c")],
                           capture_output=True, text=True, timeout=120)
    if built.returncode and "cannot find -lc" in built.stderr:
        pytest.skip("gcc cannot link statically (install libc6-dev)")
    assert built.returncode == 0, built.stderr
    return directory


def probe_results(daemon: DaemonProcess, directory: Path, *args: str) -> dict[str, int]:
    out = run(daemon, "-v", f"{directory}:/probe:ro", *args, "busybox", "/probe/probe")
    return {name: int(errno) for name, errno in (line.split() for line in out.splitlines())}


def test_default_profile_refuses_the_dangerous_calls(moord: DaemonProcess, probe: Path) -> None:
    confined = probe_results(moord, probe)
    assert confined == dict.fromkeys(confined, EPERM) and len(confined) == 8, confined
    unconfined = probe_results(moord, probe, "--security-opt", "seccomp=unconfined")
    assert unconfined["keyctl"] == 0 and unconfined["unshare_user"] == 0, unconfined


def test_unshare_needs_unconfined_privileged_or_cap_sys_admin(moord: DaemonProcess) -> None:
    refused = moor(moord, "run", "--rm", "busybox", "unshare", "-U", "true")
    assert refused.returncode != 0 and "Operation not permitted" in refused.stderr, refused.stderr
    for args in (["--security-opt", "seccomp=unconfined"], ["--privileged"], ["--cap-add", "SYS_ADMIN"]):
        run(moord, *args, "busybox", "unshare", "-U", "true")
    status = run(moord, "busybox", "grep", "^Seccomp:", "/proc/self/status")
    assert status.split()[1] == "2"
    assert run(moord, "--privileged", "busybox", "grep", "^Seccomp:", "/proc/self/status").split()[1] == "0"


def test_a_profile_file_is_sent_and_applied(moord: DaemonProcess, tmp_path: Path) -> None:
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}, indent=2))
    out = run(moord, "--security-opt", f"seccomp={profile}", "busybox", "sh", "-c",
              "mkdir /made 2>&1; touch /file && echo touched")
    assert "Permission denied" in out and "touched" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_SOMETIMES"}')
    before = moor(moord, "ps", "-aq").stdout
    result = moor(moord, "run", "--rm", "--security-opt", f"seccomp={bad}", "busybox", "true")
    assert result.returncode == 125 and "invalid seccomp profile: unknown action" in result.stderr, result.stderr
    assert moor(moord, "ps", "-aq").stdout == before


def test_apparmor_is_refused_on_a_host_without_it(moord: DaemonProcess) -> None:
    if Path("/sys/module/apparmor/parameters/enabled").exists():
        pytest.skip("this host has AppArmor")
    result = moor(moord, "run", "--rm", "--security-opt", "apparmor=docker-default", "busybox", "true")
    assert result.returncode == 125 and "AppArmor is not enabled on this host" in result.stderr, result.stderr
    run(moord, "--security-opt", "apparmor=unconfined", "busybox", "true")


def test_info_lists_the_security_options(moord: DaemonProcess) -> None:
    info = json.loads(moor(moord, "info", "--format", "{{json .}}").stdout)
    assert "name=seccomp,profile=default" in info["SecurityOptions"]
    if shutil.which("docker"):
        out = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60,
                             env=docker_env(moord)).stdout
        assert " Security Options:\n  seccomp\n   Profile: default\n" in out, out


def test_current_dockers_masked_paths(moord: DaemonProcess) -> None:
    out = run(moord, "busybox", "sh", "-c", "wc -c < /proc/interrupts; cat /proc/self/mountinfo")
    assert out.split()[0] == "0"
    assert " /proc/interrupts " in out
