"""`moor run` and friends against a private moord with real runc, overlayfs and monitors."""

from __future__ import annotations

import json
import os
import time

import pytest

from e2e.containerhelpers import first_json, inspect, moor, moord, mounts_under  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_run_rm_prints_output_and_removes(moord: DaemonProcess) -> None:
    result = moor(moord, "run", "--rm", "--name", "once", "busybox", "sh", "-c", "echo hi; echo err >&2")
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "err\n")
    assert moor(moord, "ps", "-a", "--filter", "name=once", "-q").stdout == ""


@pytest.mark.parametrize(("command", "code"), [(["sh", "-c", "exit 3"], 3), (["nosuchcmd"], 127),
                                               (["/etc/passwd"], 126)])
def test_exit_codes(moord: DaemonProcess, command: list[str], code: int) -> None:
    result = moor(moord, "run", "--rm", "busybox", *command)
    assert result.returncode == code, result.stderr
    if code >= 126:
        assert "OCI runtime create failed" in result.stderr


def test_docker_defaults_inside(moord: DaemonProcess) -> None:
    script = ("grep CapEff /proc/self/status; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; "
              "df -k /dev/shm | tail -1; touch /sys/x 2>&1; cat /etc/hostname; grep localhost /etc/hosts | head -1")
    result = moor(moord, "run", "--rm", "-h", "boxhost", "busybox", "sh", "-c", script)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CapEff:", "00000000a80425fb"]
    assert lines[1] == "boxhost"
    assert lines[2].startswith("sh -c")
    assert lines[3].split()[1] == "65536"
    assert "Read-only file system" in lines[4]
    assert lines[5] == "boxhost"
    assert "localhost" in lines[6]


def test_env_workdir_user_entrypoint_labels(moord: DaemonProcess, tmp_path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=yes\n")
    result = moor(moord, "run", "--rm", "-e", "A=1", "--env-file", str(env_file), "-w", "/tmp", "-u", "nobody",
                  "--entrypoint", "sh", "busybox", "-c", "echo $A $FROM_FILE; pwd; id -u; echo $HOSTNAME")
    assert result.stdout.splitlines()[:3] == ["1 yes", "/tmp", "65534"], result.stderr
    created = moor(moord, "create", "--name", "labelled", "-l", "team=core", "--stop-signal", "SIGINT",
                   "--stop-timeout", "3", "busybox", "true")
    info = first_json(moord, "container", "inspect", "labelled")
    assert info["Id"] == created.stdout.strip()
    assert info["Config"]["Labels"] == {"team": "core"}
    assert (info["Config"]["StopSignal"], info["Config"]["StopTimeout"]) == ("SIGINT", 3)
    assert info["State"]["Status"] == "created" and info["Name"] == "/labelled"
    assert moor(moord, "rm", "labelled").returncode == 0


def test_detached_lifecycle(moord: DaemonProcess) -> None:
    cid = moor(moord, "run", "-d", "--name", "sleeper", "busybox", "sh", "-c",
               "echo started; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done").stdout.strip()
    assert len(cid) == 64
    ps = moor(moord, "ps").stdout
    assert "sleeper" in ps and "Up " in ps
    assert moor(moord, "ps", "-q", "--filter", "status=running", "--filter", "name=sleep").stdout.strip() == cid[:12]
    assert moor(moord, "ps", "--no-trunc", "-q", "--filter", f"id={cid[:5]}").stdout.strip() == cid
    time.sleep(0.3)
    assert moor(moord, "logs", "sleeper").stdout == "started\n"
    info = inspect(moord, "sleeper")
    assert info["State"]["Running"] and info["State"]["Pid"] > 0
    assert os.path.exists(f"/proc/{info['State']['Pid']}")
    assert moor(moord, "stop", "-t", "5", "sleeper").stdout == "sleeper\n"
    info = inspect(moord, "sleeper")
    assert (info["State"]["Status"], info["State"]["ExitCode"]) == ("exited", 0)
    assert moor(moord, "logs", "sleeper").stdout == "started\nbye\n"
    assert moor(moord, "ps", "-a", "--filter", "exited=0", "-q").stdout.strip().startswith(cid[:12])
    # stopping a stopped container is fine, as in Docker
    assert moor(moord, "stop", "sleeper").returncode == 0
    assert moor(moord, "rm", "sleeper").returncode == 0
    assert not os.path.exists(os.path.join(moord.data_root, "containers", cid))
    assert mounts_under(moord.root) == []


def test_kill_restart_wait_rename_top(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "victim", "busybox", "sh", "-c",
         "trap 'exit 7' USR1; while true; do sleep 0.1; done")
    top = moor(moord, "top", "victim").stdout
    assert "sh -c trap" in top and top.splitlines()[0].split()[0] == "UID"
    assert moor(moord, "rename", "victim", "renamed").returncode == 0
    assert moor(moord, "restart", "-t", "0", "renamed").stdout == "renamed\n"
    assert inspect(moord, "renamed")["State"]["Running"]
    assert moor(moord, "kill", "-s", "USR1", "renamed").returncode == 0
    assert moor(moord, "wait", "renamed").stdout == "7\n"
    refused = moor(moord, "kill", "renamed")
    assert refused.returncode == 1 and "is not running" in refused.stderr
    assert moor(moord, "rm", "renamed").returncode == 0


def test_bad_input(moord: DaemonProcess) -> None:
    # --pull never: a missing image must not be pulled from docker.io (tests reach 127.0.0.0/8 only);
    # the auto-pull is tested against a local registry in test_cli_registry.py
    missing = moor(moord, "run", "--rm", "--pull", "never", "nosuchimage")
    assert missing.returncode == 125
    assert "No such image: nosuchimage" in missing.stderr and "Unable to find" not in missing.stderr
    bad_name = moor(moord, "create", "--name", "bad name!", "busybox")
    assert bad_name.returncode == 1 and "Invalid container name (bad name!)" in bad_name.stderr
    moor(moord, "create", "--name", "dup", "busybox")
    duplicate = moor(moord, "create", "--name", "dup", "busybox")
    assert duplicate.returncode == 1 and 'The container name "/dup" is already in use' in duplicate.stderr
    moor(moord, "rm", "dup")
    no_command = moor(moord, "run", "--rm", "--entrypoint", "", "busybox")
    assert no_command.returncode == 125 and "No command specified" in no_command.stderr
    bad_log = moor(moord, "run", "--rm", "--log-opt", "colour=red", "busybox", "true")
    assert bad_log.returncode == 125 and "unknown log opt 'colour' for json-file log driver" in bad_log.stderr
    moor(moord, "run", "-d", "--name", "busy", "busybox", "sleep", "300")
    refused = moor(moord, "rm", "busy")
    assert refused.returncode == 1
    assert "You cannot remove a running container" in refused.stderr and "force remove" in refused.stderr
    assert moor(moord, "rm", "-f", "busy").returncode == 0
    assert moor(moord, "ps", "-aq").stdout == ""
    assert mounts_under(moord.root) == []
    assert os.listdir(os.path.join(moord.exec_root, "containers")) == []
    assert os.listdir(os.path.join(moord.data_root, "containers")) == []


def test_image_in_use_cannot_be_removed(moord: DaemonProcess) -> None:
    moor(moord, "create", "--name", "user", "busybox")
    refused = moor(moord, "rmi", "busybox")
    assert refused.returncode == 1
    assert 'unable to remove repository reference "busybox" (must force) - container' in refused.stderr
    image_id = first_json(moord, "image", "inspect", "busybox")["Id"]
    by_id = moor(moord, "rmi", image_id[7:19])
    assert by_id.returncode == 1 and "image is being used by stopped container" in by_id.stderr
    moor(moord, "rm", "user")


def test_container_prune_and_ps_formats(moord: DaemonProcess) -> None:
    moor(moord, "run", "--name", "done1", "busybox", "true")
    moor(moord, "run", "--name", "done2", "busybox", "sh", "-c", "exit 2")
    formatted = moor(moord, "ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.splitlines()
    assert any(line.startswith("done2 Exited (2)") for line in formatted)
    assert moor(moord, "ps", "-l", "-q").stdout.strip() == moor(moord, "ps", "-aq", "-n", "1").stdout.strip()
    sized = moor(moord, "ps", "-a", "-s").stdout
    assert "SIZE" in sized.splitlines()[0] and "virtual" in sized
    out = moor(moord, "container", "prune", "-f").stdout
    assert out.startswith("Deleted Containers:") and "Total reclaimed space" in out
    assert moor(moord, "ps", "-aq").stdout == ""


def test_ulimits_and_the_cap_sys_resource_hint(moord: DaemonProcess) -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = moor(moord, "run", "--rm", "--ulimit", "nofile=512:1024", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn")
    assert lowered.stdout.split() == ["512", "1024"], lowered.stderr
    raised = moor(moord, "run", "--rm", "--ulimit", f"nofile={hard + 1000}:{hard + 1000}", "busybox", "true")
    if raised.returncode != 0:  # root without CAP_SYS_RESOURCE, as on the machines this was built on
        assert raised.returncode == 125
        assert "CAP_SYS_RESOURCE" in raised.stderr and "rlimit" in raised.stderr
    default = moor(moord, "run", "--rm", "busybox", "sh", "-c", "ulimit -Hn")
    assert default.stdout.strip() == str(hard)  # no rlimits unless asked: the daemon's own limit


def test_network_modes_none_host_and_container(moord: DaemonProcess) -> None:
    import socket

    none = moor(moord, "run", "--rm", "--net", "none", "busybox", "sh", "-c", "ls /sys/class/net")
    assert none.returncode == 0 and none.stdout.split() == ["lo"], none.stderr
    host = moor(moord, "run", "--rm", "--network", "host", "busybox", "hostname")
    assert host.stdout.strip() == socket.gethostname()
    moor(moord, "run", "-d", "--name", "netowner", "--net", "none", "busybox", "sleep", "300")
    owner_ns = os.readlink(f"/proc/{json.loads(moor(moord, 'inspect', 'netowner').stdout)[0]['State']['Pid']}/ns/net")
    shared = moor(moord, "run", "--rm", "--net", "container:netowner", "busybox", "readlink", "/proc/self/ns/net")
    assert shared.stdout.strip() == owner_ns, shared.stderr
    moor(moord, "rm", "-f", "netowner")


def test_failed_start_after_create_leaves_no_monitor(moord: DaemonProcess) -> None:
    from moor.testing.daemon import processes_under

    result = moor(moord, "run", "--rm", "--network", "nosuchnet", "busybox", "true")
    assert result.returncode == 125 and "network nosuchnet not found" in result.stderr
    moor(moord, "create", "--name", "joiner", "--network", "none", "busybox", "true")
    other = moor(moord, "run", "--rm", "--name", "bad-join", "--network", "container:joiner", "busybox", "true")
    assert other.returncode == 125 and "non running container" in other.stderr
    moor(moord, "rm", "joiner")
    state = os.path.join(moord.exec_root, "containers")
    assert [p for p in processes_under(state)] == []
    assert os.listdir(state) == []


def test_network_failure_after_the_monitor_started_aborts_it(moord: DaemonProcess) -> None:
    import secrets

    from moor.testing.daemon import processes_under

    bridge = "mt" + secrets.token_hex(4)
    subnet = f"10.203.{secrets.randbelow(250)}.0/30"
    created = moor(moord, "network", "create", "--subnet", subnet, "-o", f"com.docker.network.bridge.name={bridge}",
                   "tiny")
    assert created.returncode == 0, created.stderr
    try:
        first = moor(moord, "run", "-d", "--name", "only", "--network", "tiny", "busybox", "sleep", "300")
        assert first.returncode == 0, first.stderr
        full = moor(moord, "run", "--rm", "--network", "tiny", "busybox", "true")
        assert full.returncode == 125 and "no available IPv4 addresses" in full.stderr
        state = os.path.join(moord.exec_root, "containers")
        only = inspect(moord, "only")["Id"]
        assert os.listdir(state) == [only]
        assert all(os.readlink(f"/proc/{p}/cwd").startswith(os.path.join(state, only))
                   for p in processes_under(state) if os.readlink(f"/proc/{p}/cwd") != state)
    finally:
        moor(moord, "rm", "-f", "only")
        assert moor(moord, "network", "rm", "tiny").returncode == 0
