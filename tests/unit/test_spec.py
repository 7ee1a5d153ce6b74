"""The OCI spec generator: Docker 20.10's defaults, the knobs that change them, user resolution."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from moor.containers import spec as specmod
from moor.containers.model import ProcessSpec, RuntimeSpecInput
from moor.containers.spec import (
    DEFAULT_CAPABILITIES,
    DEFAULT_PATH_ENV,
    build_spec,
    capabilities,
    default_env,
    merge_command,
)
from moor.containers.users import read_file_in_root, resolve_user
from moor.errors import InvalidParameter

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
alice:x:1000:1000:Alice:/home/alice:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """\
root:x:0:
wheel:x:10:root,alice
alice:x:1000:
audio:x:29:alice
nogroup:x:65534:
"""
REAL_HOST_DEVICES = specmod.host_devices
REAL_AVAILABLE_CAPABILITIES = specmod.available_capabilities


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    return root


@pytest.fixture(autouse=True)
def host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A predictable host: cgroup v1, every sysctl present, a full bounding set, no /dev walk."""
    monkeypatch.setattr(specmod, "cgroup_v2", lambda: False)
    monkeypatch.setattr(specmod, "sysctl_exists", lambda name: True)
    monkeypatch.setattr(specmod, "available_capabilities", lambda: list(specmod.ALL_CAPABILITIES))
    monkeypatch.setattr(specmod, "host_devices", lambda root="/dev": [{"path": "/dev/sda", "type": "b"}])


def make(rootfs: Path, **kwargs: Any) -> RuntimeSpecInput:
    process = ProcessSpec(
        args=kwargs.pop("args", ["sh"]),
        env=kwargs.pop("env", []),
        user=kwargs.pop("user", ""),
        tty=kwargs.pop("tty", False),
        cwd=kwargs.pop("cwd", "/"),
        console_size=kwargs.pop("console_size", None),
    )
    domainname = kwargs.pop("domainname", "")
    return RuntimeSpecInput(
        id="c1", rootfs=str(rootfs), hostname="box", domainname=domainname, process=process, **kwargs
    )


def destinations(config: dict[str, Any]) -> list[str]:
    return [mount["destination"] for mount in config["mounts"]]


def mount_at(config: dict[str, Any], destination: str) -> dict[str, Any]:
    (found,) = [mount for mount in config["mounts"] if mount["destination"] == destination]
    return found


def namespace_types(config: dict[str, Any]) -> list[str]:
    return [ns["type"] for ns in config["linux"]["namespaces"]]


# --------------------------------------------------------------------------- the whole spec


def test_annotations_go_into_the_spec(rootfs: Path) -> None:
    """``HostConfig.Annotations`` (API 1.43, ``docker run --annotation``) are the runtime's annotations."""
    spec = make(rootfs)
    spec.annotations = {"com.example/a": "b"}
    assert build_spec(spec)["annotations"] == {"com.example/a": "b"}


def test_default_spec_shape(rootfs: Path) -> None:
    config = build_spec(make(rootfs, args=["echo", "hi"]))
    assert config["ociVersion"] == "1.0.2-dev"
    assert "annotations" not in config
    assert config["root"] == {"path": str(rootfs), "readonly": False}
    assert config["hostname"] == "box"
    assert "domainname" not in config
    process = config["process"]
    assert process["terminal"] is False
    assert "consoleSize" not in process
    assert process["args"] == ["echo", "hi"]
    assert process["cwd"] == "/"
    assert process["user"] == {"uid": 0, "gid": 0, "additionalGids": [0, 10]}
    assert process["env"] == [f"PATH={DEFAULT_PATH_ENV}", "HOSTNAME=box"]
    assert process["noNewPrivileges"] is False
    assert process["oomScoreAdj"] == 0
    assert "rlimits" not in process
    assert "seccomp" not in config["linux"]
    assert "apparmorProfile" not in process
    assert "cgroupsPath" not in config["linux"]


def test_domainname_cgroups_path_and_console(rootfs: Path) -> None:
    spec = make(rootfs, tty=True, console_size=(24, 80), domainname="example.org", cgroups_path="/moor/c1")
    config = build_spec(spec)
    assert config["domainname"] == "example.org"
    assert config["linux"]["cgroupsPath"] == "/moor/c1"
    assert config["process"]["terminal"] is True
    assert config["process"]["consoleSize"] == {"height": 24, "width": 80}
    assert "TERM=xterm" in config["process"]["env"]


def test_relative_cwd_refused_and_empty_args_refused(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter, match="needs to be an absolute path"):
        build_spec(make(rootfs, cwd="srv"))
    with pytest.raises(InvalidParameter, match="No command specified"):
        build_spec(make(rootfs, args=[]))
    assert build_spec(make(rootfs, cwd=""))["process"]["cwd"] == "/"


# --------------------------------------------------------------------------- capabilities


def test_default_capabilities_for_root(rootfs: Path) -> None:
    caps = build_spec(make(rootfs))["process"]["capabilities"]
    assert caps["bounding"] == list(DEFAULT_CAPABILITIES)
    assert caps["effective"] == caps["permitted"] == caps["bounding"]
    assert "inheritable" not in caps and "ambient" not in caps
    assert len(DEFAULT_CAPABILITIES) == 14


def test_non_root_user_gets_only_the_bounding_set(rootfs: Path) -> None:
    caps = build_spec(make(rootfs, user="alice"))["process"]["capabilities"]
    assert caps == {"bounding": list(DEFAULT_CAPABILITIES)}


def test_cap_add_and_drop_accept_both_spellings() -> None:
    caps = capabilities(["NET_ADMIN", "cap_sys_ptrace"], ["CAP_MKNOD", "kill"], False)
    assert "CAP_NET_ADMIN" in caps and "CAP_SYS_PTRACE" in caps
    assert "CAP_MKNOD" not in caps and "CAP_KILL" not in caps
    kept = [cap for cap in DEFAULT_CAPABILITIES if cap not in ("CAP_MKNOD", "CAP_KILL")]
    assert caps == kept + ["CAP_NET_ADMIN", "CAP_SYS_PTRACE"]


def test_cap_add_of_a_default_is_not_duplicated() -> None:
    assert capabilities(["CHOWN"], [], False) == list(DEFAULT_CAPABILITIES)


def test_cap_drop_all_keeps_only_added() -> None:
    assert capabilities(["NET_BIND_SERVICE"], ["ALL"], False) == ["CAP_NET_BIND_SERVICE"]
    assert capabilities([], ["all"], False) == []


def test_cap_add_all_minus_dropped() -> None:
    caps = capabilities(["ALL"], ["SYS_ADMIN"], False)
    assert "CAP_SYS_ADMIN" not in caps
    assert len(caps) == len(specmod.ALL_CAPABILITIES) - 1


def test_unknown_capability_is_refused() -> None:
    with pytest.raises(InvalidParameter) as error:
        capabilities(["FOO"], [], False)
    assert str(error.value) == 'unknown capability: "CAP_FOO"'
    with pytest.raises(InvalidParameter, match='unknown capability: "CAP_BAR"'):
        capabilities([], ["cap_bar"], False)


def test_privileged_gets_the_engines_bounding_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapBnd:\t000001fffeffffff\n")  # no CAP_SYS_RESOURCE (bit 24)
    monkeypatch.setattr(specmod, "available_capabilities", lambda: REAL_AVAILABLE_CAPABILITIES(str(status)))
    caps = capabilities([], [], True)
    assert "CAP_SYS_RESOURCE" not in caps
    assert "CAP_SYS_ADMIN" in caps and "CAP_CHECKPOINT_RESTORE" in caps
    assert len(caps) == 40


# --------------------------------------------------------------------------- privileged, masked paths, devices


def test_masked_and_readonly_paths_defaults(rootfs: Path) -> None:
    linux = build_spec(make(rootfs))["linux"]
    assert linux["maskedPaths"][:12] == [
        "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
        "/sys/devices/virtual/powercap", "/sys/firmware",
    ]  # fmt: skip
    assert linux["readonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def test_thermal_throttle_masked_per_cpu(tmp_path: Path) -> None:
    """runc takes no globs: each possible CPU's thermal_throttle directory that exists is listed."""
    (tmp_path / "possible").write_text("0-2,5\n")
    for cpu in (0, 2, 5):
        (tmp_path / f"cpu{cpu}" / "thermal_throttle").mkdir(parents=True)
    masked = specmod.default_masked_paths(str(tmp_path))
    assert masked[:-3] == list(specmod.DEFAULT_MASKED_PATHS)
    assert masked[-3:] == [f"{tmp_path}/cpu{cpu}/thermal_throttle" for cpu in (0, 2, 5)]
    assert specmod.default_masked_paths(str(tmp_path / "absent")) == list(specmod.DEFAULT_MASKED_PATHS)


def test_explicit_masked_and_readonly_paths(rootfs: Path) -> None:
    linux = build_spec(make(rootfs, masked_paths=["/proc/kcore"], readonly_paths=[]))["linux"]
    assert linux["maskedPaths"] == ["/proc/kcore"]
    assert linux["readonlyPaths"] == []


def test_default_device_rules(rootfs: Path) -> None:
    linux = build_spec(make(rootfs))["linux"]
    rules = linux["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    allowed = {(r.get("type"), r.get("major"), r.get("minor"), r["access"]) for r in rules if r["allow"]}
    for device in [(1, 3), (1, 5), (1, 7), (5, 0), (1, 8), (1, 9), (5, 2), (10, 200), (136, None)]:
        assert ("c", *device, "rwm") in allowed
    assert ("c", None, None, "m") in allowed and ("b", None, None, "m") in allowed
    assert linux["devices"] == []


def test_resources_merge_and_extra_device_rules(rootfs: Path) -> None:
    extra = {"allow": True, "type": "c", "major": 4, "minor": 64, "access": "rw"}
    spec = make(rootfs, resources={"memory": {"limit": 1 << 20}, "devices": [extra]})
    resources = build_spec(spec)["linux"]["resources"]
    assert resources["memory"] == {"limit": 1 << 20}
    assert resources["devices"][-1] == extra
    assert resources["devices"][0] == {"allow": False, "access": "rwm"}


def test_privileged(rootfs: Path) -> None:
    config = build_spec(make(rootfs, privileged=True, resources={"devices": [{"allow": False, "access": "rwm"}]}))
    linux = config["linux"]
    assert linux["maskedPaths"] == [] and linux["readonlyPaths"] == []
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert linux["devices"] == [{"path": "/dev/sda", "type": "b"}]
    assert "ro" not in mount_at(config, "/sys")["options"]
    assert "ro" not in mount_at(config, "/sys/fs/cgroup")["options"]
    assert config["process"]["capabilities"]["bounding"] == list(specmod.ALL_CAPABILITIES)


def test_host_devices_lists_device_nodes(tmp_path: Path) -> None:
    (tmp_path / "pts").mkdir()
    (tmp_path / "plain").write_text("")
    os.symlink("/dev/null", tmp_path / "link")
    assert REAL_HOST_DEVICES(str(tmp_path)) == []  # files, links and skipped directories are no devices
    (null,) = [device for device in REAL_HOST_DEVICES("/dev") if device["path"] == "/dev/null"]
    assert (null["type"], null["major"], null["minor"], null["fileMode"]) == ("c", 1, 3, 0o666)


# --------------------------------------------------------------------------- mounts


DEFAULT_ORDER = ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]


def test_default_mounts_order_and_options(rootfs: Path) -> None:
    config = build_spec(make(rootfs, shm_size=128 * 1024 * 1024))
    assert destinations(config) == DEFAULT_ORDER
    assert mount_at(config, "/dev/shm") == {
        "destination": "/dev/shm",
        "type": "tmpfs",
        "source": "shm",
        "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=134217728"],
    }
    assert mount_at(config, "/dev")["options"] == ["nosuid", "strictatime", "mode=755", "size=65536k"]
    assert mount_at(config, "/dev/pts")["options"] == [
        "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5",
    ]  # fmt: skip
    assert mount_at(config, "/sys")["options"] == ["nosuid", "noexec", "nodev", "ro"]
    assert mount_at(config, "/sys/fs/cgroup")["options"] == ["ro", "nosuid", "noexec", "nodev"]
    assert mount_at(config, "/dev/mqueue")["type"] == "mqueue"


def test_etc_files_then_mounts(rootfs: Path) -> None:
    etc = {"/etc/resolv.conf": "/c/resolv.conf", "/etc/hostname": "/c/hostname", "/etc/hosts": "/c/hosts"}
    volume = {"destination": "/data", "type": "bind", "source": "/v/data", "options": ["rbind", "rprivate"]}
    nested = {"destination": "/data/sub", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}
    config = build_spec(make(rootfs, etc_files=etc, mounts=[nested, volume]))
    # Stably sorted by depth, as Docker sorts: same-depth mounts keep their order, parents come first.
    own = ["/data", "/etc/resolv.conf", "/etc/hostname", "/etc/hosts", "/data/sub"]
    assert destinations(config) == DEFAULT_ORDER + own
    assert mount_at(config, "/etc/hosts") == {
        "destination": "/etc/hosts",
        "type": "bind",
        "source": "/c/hosts",
        "options": ["rbind", "rprivate"],
    }


def test_read_only_root(rootfs: Path) -> None:
    config = build_spec(make(rootfs, read_only=True, etc_files={"/etc/hosts": "/c/hosts"}))
    assert config["root"]["readonly"] is True
    assert mount_at(config, "/etc/hosts")["options"] == ["rbind", "ro", "rprivate"]
    assert "ro" not in mount_at(config, "/dev/shm")["options"]
    assert "ro" not in mount_at(config, "/proc")["options"]
    assert mount_at(config, "/sys")["options"].count("ro") == 1


def test_a_mount_replaces_the_default_at_its_destination(rootfs: Path) -> None:
    shm = {"destination": "/dev/shm", "type": "bind", "source": "/host/shm", "options": ["rbind"]}
    config = build_spec(make(rootfs, mounts=[shm]))
    assert destinations(config) == [d for d in DEFAULT_ORDER if d != "/dev/shm"] + ["/dev/shm"]
    assert mount_at(config, "/dev/shm")["source"] == "/host/shm"


def test_a_dev_mount_drops_every_default_under_dev(rootfs: Path) -> None:
    dev = {"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]}
    config = build_spec(make(rootfs, mounts=[dev]))
    assert destinations(config) == ["/proc", "/sys", "/sys/fs/cgroup", "/dev"]


def test_ipc_modes(rootfs: Path) -> None:
    none = build_spec(make(rootfs, ipc_mode="none"))
    assert "/dev/shm" not in destinations(none)
    assert "ipc" in namespace_types(none)
    host = build_spec(make(rootfs, ipc_mode="host"))
    assert mount_at(host, "/dev/shm") == {
        "destination": "/dev/shm",
        "type": "bind",
        "source": "/dev/shm",
        "options": ["rbind", "rprivate"],
    }
    assert "ipc" not in namespace_types(host)
    assert "ipc" in namespace_types(build_spec(make(rootfs, ipc_mode="shareable")))
    with pytest.raises(InvalidParameter, match="Invalid IPC mode: bogus"):
        build_spec(make(rootfs, ipc_mode="bogus"))


# --------------------------------------------------------------------------- namespaces


def test_default_namespaces(rootfs: Path) -> None:
    assert build_spec(make(rootfs))["linux"]["namespaces"] == [
        {"type": "mount"},
        {"type": "network"},
        {"type": "uts"},
        {"type": "pid"},
        {"type": "ipc"},
    ]


def test_cgroup_namespace_on_cgroup_v2(rootfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(specmod, "cgroup_v2", lambda: True)
    assert namespace_types(build_spec(make(rootfs)))[-1] == "cgroup"


def test_cgroupns_mode_chooses_the_cgroup_namespace(rootfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``HostConfig.CgroupnsMode``: ``private`` has a cgroup namespace on a cgroup v1 host too, ``host`` has
    none on a cgroup v2 host (Docker's ``--cgroupns``)."""
    assert namespace_types(build_spec(make(rootfs, cgroupns_mode="private")))[-1] == "cgroup"
    monkeypatch.setattr(specmod, "cgroup_v2", lambda: True)
    assert "cgroup" not in namespace_types(build_spec(make(rootfs, cgroupns_mode="host")))


def test_host_modes(rootfs: Path) -> None:
    config = build_spec(make(rootfs, network_mode="host", pid_mode="host", uts_mode="host", ipc_mode="host"))
    assert namespace_types(config) == ["mount"]
    assert "hostname" not in config
    assert "HOSTNAME=box" in config["process"]["env"]


def test_netns_path(rootfs: Path) -> None:
    config = build_spec(make(rootfs, network_mode="bridge", netns_path="/run/moor/netns/c1"))
    assert {"type": "network", "path": "/run/moor/netns/c1"} in config["linux"]["namespaces"]
    joined = build_spec(make(rootfs, network_mode="container:abc", netns_path="/proc/42/ns/net"))
    assert {"type": "network", "path": "/proc/42/ns/net"} in joined["linux"]["namespaces"]
    with pytest.raises(InvalidParameter):
        build_spec(make(rootfs, network_mode="container:abc"))


def test_network_none_is_a_fresh_namespace(rootfs: Path) -> None:
    config = build_spec(make(rootfs, network_mode="none"))
    assert {"type": "network"} in config["linux"]["namespaces"]


# --------------------------------------------------------------------------- sysctls and ulimits


def test_default_sysctls_only_with_an_own_network_namespace(rootfs: Path) -> None:
    own = build_spec(make(rootfs))["linux"]["sysctl"]
    assert own == {"net.ipv4.ping_group_range": "0 2147483647", "net.ipv4.ip_unprivileged_port_start": "0"}
    assert build_spec(make(rootfs, network_mode="host"))["linux"]["sysctl"] == {}
    joined = make(rootfs, network_mode="container:x", netns_path="/proc/1/ns/net")
    assert build_spec(joined)["linux"]["sysctl"] == {}


def test_sysctls_allowed(rootfs: Path) -> None:
    wanted = {
        "kernel.shmmax": "1000",
        "kernel.msgmax": "10",
        "kernel.sem": "1 2 3 4",
        "fs.mqueue.msg_max": "5",
        "net.ipv4.ip_forward": "1",
        "net.ipv4.ip_unprivileged_port_start": "1024",
    }
    sysctl = build_spec(make(rootfs, sysctls=wanted))["linux"]["sysctl"]
    assert sysctl["net.ipv4.ip_unprivileged_port_start"] == "1024"
    assert {k: sysctl[k] for k in wanted} == wanted


@pytest.mark.parametrize("name", ["kernel.hostname", "vm.swappiness", "kernel.panic", "fs.file-max"])
def test_sysctls_refused(rootfs: Path, name: str) -> None:
    with pytest.raises(InvalidParameter) as error:
        build_spec(make(rootfs, sysctls={name: "1"}))
    assert str(error.value) == f'sysctl "{name}" is not allowed'


def test_sysctls_refused_in_host_namespaces(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter, match='sysctl "net.ipv4.ip_forward" is not allowed'):
        build_spec(make(rootfs, network_mode="host", sysctls={"net.ipv4.ip_forward": "1"}))
    with pytest.raises(InvalidParameter, match='sysctl "kernel.shmmax" is not allowed'):
        build_spec(make(rootfs, ipc_mode="host", sysctls={"kernel.shmmax": "1"}))


def test_ulimits(rootfs: Path) -> None:
    ulimits = [{"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "core", "Soft": -1, "Hard": -1}]
    rlimits = build_spec(make(rootfs, ulimits=ulimits))["process"]["rlimits"]
    assert rlimits == [
        {"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 1024},
        {"type": "RLIMIT_CORE", "hard": 2**64 - 1, "soft": 2**64 - 1},
    ]


def test_ulimits_refused(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter, match="invalid ulimit type: bogus"):
        build_spec(make(rootfs, ulimits=[{"Name": "bogus", "Soft": 1, "Hard": 1}]))
    with pytest.raises(InvalidParameter, match="soft limit must be less than or equal to hard limit"):
        build_spec(make(rootfs, ulimits=[{"Name": "nproc", "Soft": 10, "Hard": 5}]))


# --------------------------------------------------------------------------- users


def test_user_by_name_with_supplementary_groups(rootfs: Path) -> None:
    user = resolve_user(str(rootfs), "alice")
    assert (user.uid, user.gid, user.additional_gids, user.home) == (1000, 1000, [1000, 10, 29], "/home/alice")


def test_user_empty_is_root_from_passwd(rootfs: Path) -> None:
    assert resolve_user(str(rootfs), "").to_oci() == {"uid": 0, "gid": 0, "additionalGids": [0, 10]}


def test_numeric_user_with_and_without_entry(rootfs: Path) -> None:
    assert resolve_user(str(rootfs), "1000").to_oci() == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10, 29]}
    assert resolve_user(str(rootfs), "4242").to_oci() == {"uid": 4242, "gid": 0, "additionalGids": [0]}


def test_user_and_group(rootfs: Path) -> None:
    assert resolve_user(str(rootfs), "alice:wheel").to_oci() == {"uid": 1000, "gid": 10, "additionalGids": [10]}
    assert resolve_user(str(rootfs), "1000:4242").to_oci() == {"uid": 1000, "gid": 4242, "additionalGids": [4242]}
    assert resolve_user(str(rootfs), "nobody:nogroup").to_oci() == {
        "uid": 65534,
        "gid": 65534,
        "additionalGids": [65534],
    }


def test_numeric_ids_need_no_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert resolve_user(str(empty), "123:456").to_oci() == {"uid": 123, "gid": 456, "additionalGids": [456]}
    assert resolve_user(str(empty), "").to_oci() == {"uid": 0, "gid": 0, "additionalGids": [0]}
    with pytest.raises(InvalidParameter, match="unable to find user bob"):
        resolve_user(str(empty), "bob")


def test_unknown_user_and_group(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter) as error:
        resolve_user(str(rootfs), "bob")
    assert str(error.value) == "unable to find user bob: no matching entries in passwd file"
    with pytest.raises(InvalidParameter) as error:
        resolve_user(str(rootfs), "alice:staff")
    assert str(error.value) == "unable to find group staff: no matching entries in group file"


def test_id_out_of_range(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter, match="range"):
        resolve_user(str(rootfs), "4294967296")


def test_user_in_build_spec(rootfs: Path) -> None:
    assert build_spec(make(rootfs, user="alice"))["process"]["user"] == {
        "uid": 1000,
        "gid": 1000,
        "additionalGids": [1000, 10, 29],
    }
    with pytest.raises(InvalidParameter, match="unable to find user ghost"):
        build_spec(make(rootfs, user="ghost"))


def test_symlinked_passwd_never_reads_the_host(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("hostonly:x:777:777::/:/bin/sh\n")
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    for target in (str(outside / "passwd"), "../../outside/passwd", "../../../../../../outside/passwd"):
        link = root / "etc" / "passwd"
        if link.is_symlink():
            link.unlink()
        os.symlink(target, link)
        assert read_file_in_root(str(root), "/etc/passwd") is None
        with pytest.raises(InvalidParameter, match="unable to find user hostonly"):
            resolve_user(str(root), "hostonly")


def test_symlinks_resolve_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "usr" / "lib" / "passwd").write_text("carol:x:1234:1234::/:/bin/sh\n")
    os.symlink("/usr/lib", root / "etc")  # a symlinked directory, absolute: means <root>/usr/lib
    assert resolve_user(str(root), "carol").uid == 1234
    os.unlink(root / "etc")
    (root / "etc").mkdir()
    os.symlink("../../../usr/lib/passwd", root / "etc" / "passwd")  # .. is clamped at the root
    assert resolve_user(str(root), "carol").uid == 1234


def test_symlink_loop_and_non_regular_files(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/passwd", root / "etc" / "passwd")
    assert read_file_in_root(str(root), "/etc/passwd") is None
    os.unlink(root / "etc" / "passwd")
    os.mkfifo(root / "etc" / "passwd")
    assert read_file_in_root(str(root), "/etc/passwd") is None  # a FIFO must not block the engine
    os.unlink(root / "etc" / "passwd")
    os.symlink("/dev/zero", root / "etc" / "passwd")
    assert read_file_in_root(str(root), "/etc/passwd") is None


# --------------------------------------------------------------------------- environment and command


def test_default_env() -> None:
    assert default_env([], False, "h") == [f"PATH={DEFAULT_PATH_ENV}", "HOSTNAME=h"]
    assert default_env([], True, "h") == [f"PATH={DEFAULT_PATH_ENV}", "HOSTNAME=h", "TERM=xterm"]


def test_default_env_overrides_in_place_and_appends() -> None:
    env = default_env(["PATH=/bin", "A=1", "TERM=dumb", "A=2", "B=3", "HOSTNAME=other"], True, "h")
    assert env == ["PATH=/bin", "HOSTNAME=other", "TERM=dumb", "A=2", "B=3"]


def test_default_env_bare_name_unsets() -> None:
    assert default_env(["A=1", "A", "HOSTNAME"], False, "h") == [f"PATH={DEFAULT_PATH_ENV}"]


def test_default_env_is_idempotent() -> None:
    once = default_env(["X=1"], True, "h")
    assert default_env(once, True, "h") == once


def test_merge_command_inherits_the_image() -> None:
    assert merge_command(["/entry"], ["run"], None, None) == ["/entry", "run"]
    assert merge_command(None, ["sh"], None, None) == ["sh"]
    assert merge_command(["/entry"], ["run"], None, ["other"]) == ["/entry", "other"]
    assert merge_command(None, ["sh"], None, []) == ["sh"]


def test_merge_command_entrypoint_override_drops_image_cmd() -> None:
    assert merge_command(["/entry"], ["run"], ["/bin/other"], None) == ["/bin/other"]
    assert merge_command(["/entry"], ["run"], ["/bin/other"], ["x"]) == ["/bin/other", "x"]


def test_merge_command_entrypoint_reset() -> None:
    # docker run --entrypoint "" sends [""]: no entrypoint and the image's Cmd is dropped too.
    assert merge_command(["/entry"], ["run"], [""], ["echo", "hi"]) == ["echo", "hi"]
    with pytest.raises(InvalidParameter, match="No command specified"):
        merge_command(["/entry"], ["run"], [""], None)
    # An empty list through the API: like Docker's daemon, no entrypoint but the image's Cmd stays.
    assert merge_command(["/entry"], ["run"], [], None) == ["run"]
    assert merge_command(["/entry"], ["run"], [], ["x"]) == ["x"]


def test_merge_command_nothing_to_run() -> None:
    with pytest.raises(InvalidParameter) as error:
        merge_command(None, None, None, None)
    assert str(error.value) == "No command specified"
    with pytest.raises(InvalidParameter):
        merge_command([], [], [], [])
