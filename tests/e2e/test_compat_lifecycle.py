"""Container lifecycle as Docker 20.10 does it (issue 15): restarts, resources, info, logs, commit, cp, rm -v.

Each expectation was checked against a private dockerd 20.10 doing the same.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import secrets
import tarfile
import time

import pytest

from e2e.containerhelpers import inspect, moor, moor_bytes, moord, ok, wait_for  # noqa: F401 - fixture
from moor.client import DaemonError
from moor.containers.limits import cgroup_v1_memory, swap_limit_supported
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_restart_of_an_rm_container_keeps_it(moord: DaemonProcess) -> None:
    ok(moor(moord, "run", "-d", "--rm", "--name", "keepme", "busybox", "sleep", "300"))
    first = inspect(moord, "keepme")["State"]["Pid"]
    ok(moor(moord, "restart", "-t", "0", "keepme"))
    again = inspect(moord, "keepme")["State"]
    assert again["Running"] and again["Pid"] != first
    ok(moor(moord, "stop", "-t", "0", "keepme"))  # a later stop removes it, as Docker's
    assert wait_for(lambda: ok(moor(moord, "ps", "-aq", "--filter", "name=keepme")) == "")


def test_oom_score_adj_is_applied(moord: DaemonProcess) -> None:
    assert ok(moor(moord, "run", "--rm", "--oom-score-adj", "500", "busybox", "cat",
                   "/proc/self/oom_score_adj")).strip() == "500"


def test_cgroup_parent_is_applied(moord: DaemonProcess) -> None:
    parent = "moortest-" + secrets.token_hex(4)
    try:
        for given in ("/" + parent, parent):
            cid = ok(moor(moord, "run", "-d", "--cgroup-parent", given, "busybox", "sleep", "300")).strip()
            try:
                text = ok(moor(moord, "exec", cid, "cat", "/proc/self/cgroup"))
                assert f"/{parent}/{cid}" in text, text
                assert inspect(moord, cid)["HostConfig"]["CgroupParent"] == given
            finally:
                moor(moord, "rm", "-f", cid)
    finally:
        for directory in glob.glob(f"/sys/fs/cgroup/{parent}") + glob.glob(f"/sys/fs/cgroup/*/{parent}"):
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def test_device_cgroup_rule_is_applied(moord: DaemonProcess) -> None:
    script = "mknod /tmp/d c 42 1 && echo x > /tmp/d"
    denied = moor(moord, "run", "--rm", "busybox", "sh", "-c", script)
    assert "Operation not permitted" in denied.stderr
    allowed = moor(moord, "run", "--rm", "--device-cgroup-rule", "c 42:* rmw", "busybox", "sh", "-c", script)
    assert "No such device or address" in allowed.stderr  # the cgroup let it through to the (absent) driver
    cid = ok(moor(moord, "run", "-d", "--device-cgroup-rule", "c 42:* rmw", "busybox", "sleep", "300")).strip()
    try:
        with open(os.path.join(moord.exec_root, "containers", cid, "bundle", "config.json")) as handle:
            devices = json.load(handle)["linux"]["resources"]["devices"]
        assert {"allow": True, "type": "c", "major": 42, "minor": -1, "access": "rmw"} in devices
    finally:
        moor(moord, "rm", "-f", cid)


def test_bad_device_cgroup_rule_refused_at_start(moord: DaemonProcess) -> None:
    client = moord.client()
    created = client.call("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["true"],
                                                              "HostConfig": {"DeviceCgroupRules": ["bogus"]}})
    try:
        with pytest.raises(DaemonError) as raised:
            client.call("POST", f"/containers/{created['Id']}/start")
        assert (raised.value.status, raised.value.message) == (400, "invalid device cgroup rule format: 'bogus'")
        assert inspect(moord, created["Id"])["State"]["Status"] == "created"
    finally:
        moor(moord, "rm", "-f", created["Id"])


def test_info_reports_swap_and_security_as_docker(moord: DaemonProcess) -> None:
    info = moord.client().get("/info")
    assert info["SwapLimit"] is swap_limit_supported()
    assert info["OomKillDisable"] is cgroup_v1_memory()
    expected = ["name=seccomp,profile=default"] + (["name=cgroupns"] if info["CgroupVersion"] == "2" else [])
    assert [o for o in info["SecurityOptions"] if not o.startswith("name=apparmor")] == expected
    assert info["OSVersion"] == _os_release_value("VERSION_ID")
    if swap_limit_supported():  # the docker CLI warns of what is missing only
        assert "No swap limit support" not in moor(moord, "info").stderr
    for key in ("MemoryLimit", "CpuCfsPeriod", "CpuCfsQuota", "CPUShares", "CPUSet", "PidsLimit", "IPv4Forwarding",
                "NCPU", "MemTotal", "KernelVersion", "OperatingSystem", "CgroupDriver", "Runtimes", "Swarm"):
        assert key in info


def test_update_memory_swap(moord: DaemonProcess) -> None:
    if not swap_limit_supported() or not cgroup_v1_memory():
        pytest.skip("no swap accounting in a cgroup v1 memory controller here")
    cid = ok(moor(moord, "run", "-d", "-m", "32m", "busybox", "sleep", "300")).strip()
    try:
        ok(moor(moord, "update", "--memory", "48m", "--memory-swap", "96m", cid))
        assert ok(moor(moord, "exec", cid, "cat", "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")).strip() \
            == str(96 * 1024 * 1024)
        stats = moord.client().get(f"/containers/{cid}/stats", stream="0")
        assert stats["memory_stats"]["limit"] == 48 * 1024 * 1024
        assert "hierarchical_memsw_limit" in stats["memory_stats"]["stats"]
    finally:
        moor(moord, "rm", "-f", cid)


def _os_release_value(key: str) -> str:
    with open("/etc/os-release") as handle:
        for line in handle:
            if line.startswith(key + "="):
                return line.split("=", 1)[1].strip().strip('"')
    return ""


def test_logs_details_show_the_picked_attributes(moord: DaemonProcess) -> None:
    ok(moor(moord, "run", "--name", "detailed", "--label", "foo=a b", "--label", "zz=1", "-e", "E1=x&y",
            "--log-opt", "labels=foo", "--log-opt", "labels-regex=^z", "--log-opt", "env=E1", "busybox", "echo", "hi"))
    ok(moor(moord, "run", "--name", "plain", "busybox", "echo", "hi"))
    try:
        assert ok(moor(moord, "logs", "--details", "detailed")) == "E1=x%26y,foo=a+b,zz=1 hi\n"
        assert ok(moor(moord, "logs", "detailed")) == "hi\n"
        assert ok(moor(moord, "logs", "--details", "plain")) == " hi\n"
        stamped = ok(moor(moord, "logs", "--details", "-t", "detailed"))
        assert stamped.endswith("Z E1=x%26y,foo=a+b,zz=1 hi\n")
        refused = moor(moord, "run", "--log-opt", "labels-regex=(", "busybox", "true")
        assert refused.returncode != 0 and "error parsing regexp" in refused.stderr
    finally:
        moor(moord, "rm", "-f", "detailed", "plain")


def test_rm_v_removes_an_anonymous_volume_inherited_through_volumes_from(moord: DaemonProcess) -> None:
    ok(moor(moord, "create", "--name", "vsrc", "-v", "/data", "busybox", "true"))
    ok(moor(moord, "create", "--name", "vuser", "--volumes-from", "vsrc", "busybox", "true"))
    ok(moor(moord, "create", "--name", "vuser2", "--volumes-from", "vsrc", "busybox", "true"))
    volume = inspect(moord, "vsrc")["Mounts"][0]["Name"]
    try:
        ok(moor(moord, "rm", "-v", "vuser"))  # still used by the others: kept
        assert volume in ok(moor(moord, "volume", "ls", "-q")).split()
        ok(moor(moord, "rm", "vsrc"))  # without -v: kept
        ok(moor(moord, "rm", "-v", "vuser2"))  # the last user, with -v: removed, as Docker's
        assert volume not in ok(moor(moord, "volume", "ls", "-q")).split()
    finally:
        moor(moord, "rm", "-f", "vsrc", "vuser", "vuser2")
        moor(moord, "volume", "rm", "-f", volume)


INIT_ENTRIES = {".dockerenv", "dev/console", "dev/pts/", "dev/shm/", "etc/hostname", "etc/hosts", "etc/mtab",
                "etc/resolv.conf", "proc/", "sys/"}


def test_init_layer_in_export_cp_and_every_container(moord: DaemonProcess) -> None:
    ok(moor(moord, "create", "--name", "fresh", "busybox", "true"))
    try:
        exported = moor_bytes(moord, "export", "fresh")
        assert exported.returncode == 0, exported.stderr
        with tarfile.open(fileobj=io.BytesIO(exported.stdout)) as archive:
            members = {m.name + ("/" if m.isdir() else ""): m for m in archive.getmembers()}
        assert set(members) >= INIT_ENTRIES
        assert members["etc/mtab"].issym() and members["etc/mtab"].linkname == "/proc/mounts"
        copied = moor_bytes(moord, "cp", "fresh:/etc/hostname", "-")  # from a container never started
        assert copied.returncode == 0, copied.stderr
        with tarfile.open(fileobj=io.BytesIO(copied.stdout)) as archive:
            assert [m.name for m in archive.getmembers()] == ["hostname"]
        ok(moor(moord, "start", "-a", "fresh"))
        assert ok(moor(moord, "diff", "fresh")) == ""  # the init layer is not the container's own
    finally:
        moor(moord, "rm", "-f", "fresh")
    assert ok(moor(moord, "run", "--rm", "busybox", "readlink", "/etc/mtab")) == "/proc/mounts\n"
    ok(moor(moord, "run", "--name", "committed", "busybox", "touch", "/made"))
    try:
        ok(moor(moord, "commit", "committed", "initcheck:1"))
        out = ok(moor(moord, "run", "--rm", "--entrypoint", "", "initcheck:1", "ls", "-a", "/"))
        assert ".dockerenv" in out.split()  # from the new container's own init layer
        layer = moor_bytes(moord, "save", "initcheck:1")
        assert layer.returncode == 0 and b"etc/mtab" not in _last_layer(layer.stdout)
    finally:
        moor(moord, "rm", "-f", "committed")
        moor(moord, "rmi", "initcheck:1")


def _last_layer(saved: bytes) -> bytes:
    """The tar of the top layer of a ``save`` archive (the commit's own)."""
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        handle = archive.extractfile(manifest[0]["Layers"][-1])
        assert handle is not None
        return handle.read()


def test_a_start_by_hand_begins_the_restart_policy_afresh(moord: DaemonProcess) -> None:
    ok(moor(moord, "run", "-d", "--name", "twice", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1"))
    try:
        def settled() -> bool:
            state = inspect(moord, "twice")
            return state["RestartCount"] == 2 and state["State"]["Status"] == "exited"
        assert wait_for(settled)
        runs = len(ok(moor(moord, "events", "--since", "0", "--until", str(int(time.time()) + 1), "--filter",
                           "container=twice", "--filter", "event=start", "--format", "x")).split())
        ok(moor(moord, "start", "twice"))  # Docker: the count starts at 0 again, so two more restarts follow
        assert wait_for(lambda: len(ok(moor(moord, "events", "--since", "0", "--until", str(int(time.time()) + 1),
                                              "--filter", "container=twice", "--filter", "event=start",
                                              "--format", "x")).split()) == runs + 3)
        assert wait_for(settled)
    finally:
        moor(moord, "rm", "-f", "twice")


def test_commit_keeps_the_containers_config_as_docker(moord: DaemonProcess) -> None:
    client = moord.client()
    created = client.call("POST", "/containers/create", params={"name": "tocommit"}, body={
        "Image": "busybox", "Cmd": ["touch", "/test"], "Hostname": "hh", "Env": ["A=1"], "WorkingDir": "/tmp"})
    try:
        client.call("POST", f"/containers/{created['Id']}/start")
        client.call("POST", f"/containers/{created['Id']}/wait")
        made = client.call("POST", "/commit", params={"container": "tocommit", "changes": 'CMD ["bash"]'}, body={})
        image = client.get(f"/images/{made['Id']}/json")
        config, original = image["Config"], image["ContainerConfig"]
        assert (config["Cmd"], config["Hostname"], config["Image"]) == (["bash"], "hh", "busybox")
        assert (original["Cmd"], original["Hostname"], original["Image"]) == (["touch", "/test"], "hh", "busybox")
        assert "Healthcheck" not in config and "StopSignal" not in config and "ExposedPorts" not in original
        client.call("DELETE", f"/images/{made['Id']}")
    finally:
        moor(moord, "rm", "-f", "tocommit")
