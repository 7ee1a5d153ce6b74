"""A canonical service to the create body, as compose v2 builds it; network and volume bodies."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from moor.compose.convert import RunOverrides, create_body, create_query, network_body, volume_body
from moor.compose.errors import ComposeError, ComposeFileError
from moor.compose.mounts import injected_files
from unit.compose.convertdata import project

S = 1_000_000_000


def body(service: dict, **kwargs: object) -> dict:
    p = kwargs.pop("p", None) or project(web=service, db={"image": "busybox"})
    return create_body(p, "web", kwargs.pop("number", 1), image="busybox:latest", config_hash="h",
                       **kwargs)  # type: ignore[arg-type]


def test_minimal_service() -> None:
    b = body({"image": "busybox", "networks": {"default": None}})
    assert b["Image"] == "busybox:latest"
    assert b["AttachStdout"] and b["AttachStderr"] and not b["AttachStdin"]
    assert not b["Tty"] and not b["OpenStdin"] and not b["StdinOnce"]
    assert "Env" not in b
    assert "Cmd" not in b and "Entrypoint" not in b and "Healthcheck" not in b
    assert b["HostConfig"] == {"NetworkMode": "demo_default"}
    assert b["NetworkingConfig"] == {"EndpointsConfig": {"demo_default": {"Aliases": ["demo-web-1", "web"]}}}
    assert b["Labels"]["com.docker.compose.config-hash"] == "h"
    assert b["Labels"]["com.docker.compose.container-number"] == "1"


def test_config_keys() -> None:
    b = body({"image": "busybox", "command": ["sh", "-c", "x"], "entrypoint": [], "environment":
              {"A": "1", "UNSET": None, "E": ""}, "user": "1000:1000", "working_dir": "/w", "hostname": "h",
              "domainname": "example.org", "tty": True, "stdin_open": True, "stop_signal": "SIGUSR1",
              "stop_grace_period": "1m30s", "labels": {"mine": "yes"}})
    assert b["Cmd"] == ["sh", "-c", "x"]
    assert b["Entrypoint"] == []
    assert b["Env"] == ["A=1", "E="]
    assert (b["User"], b["WorkingDir"], b["Hostname"], b["Domainname"]) == ("1000:1000", "/w", "h", "example.org")
    assert b["Tty"] and b["OpenStdin"] and not b["StdinOnce"]
    assert b["StopSignal"] == "SIGUSR1"
    assert b["StopTimeout"] == 90
    assert b["Labels"]["mine"] == "yes"


def test_healthcheck_durations_in_nanoseconds() -> None:
    b = body({"image": "busybox", "healthcheck": {"test": ["CMD-SHELL", "true"], "interval": "1m30s",
                                                  "timeout": "500ms", "start_period": "2s",
                                                  "start_interval": "1s", "retries": 4}})
    assert b["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90 * S, "Timeout": S // 2,
                                "StartPeriod": 2 * S, "StartInterval": S, "Retries": 4}
    disabled = body({"image": "busybox", "healthcheck": {"disable": True}})
    assert disabled["Healthcheck"] == {"Test": ["NONE"]}
    with pytest.raises(ComposeFileError, match="start_interval requires healthcheck.start_period"):
        body({"image": "busybox", "healthcheck": {"test": ["CMD", "true"], "start_interval": "1s"}})
    with pytest.raises(ComposeFileError, match=r"services\.web\.healthcheck\.interval: time: invalid duration"):
        body({"image": "busybox", "healthcheck": {"test": ["CMD", "true"], "interval": "often"}})


def test_ports_and_expose() -> None:
    b = body({"image": "busybox", "ports": [
        {"target": 80, "published": "8080", "protocol": "tcp", "mode": "ingress"},
        {"target": 80, "published": "8081", "host_ip": "127.0.0.1", "protocol": "tcp", "mode": "ingress"},
        {"target": 53, "protocol": "udp", "mode": "ingress"}],
        "expose": ["90-91/udp", "7000"]})
    assert b["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "90/udp": {}, "91/udp": {}, "7000/tcp": {}}
    assert b["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": "8081"}],
        "53/udp": [{"HostIp": "", "HostPort": ""}]}


def test_volumes_binds_and_mounts() -> None:
    b = body({"image": "busybox", "volumes": [
        {"type": "volume", "source": "data", "target": "/data", "volume": {}},
        {"type": "volume", "source": "named", "target": "/ro", "read_only": True},
        {"type": "volume", "target": "/anon"},
        {"type": "bind", "source": "/srv/demo/src", "target": "/src", "bind": {"create_host_path": True}},
        {"type": "bind", "source": "/srv/demo/z", "target": "/z", "read_only": True,
         "bind": {"create_host_path": True, "selinux": "z"}},
        {"type": "bind", "source": "/srv/demo/p", "target": "/p", "bind": {"create_host_path": True,
                                                                          "propagation": "rshared"}},
        {"type": "bind", "source": "/srv/demo/strict", "target": "/strict", "bind": {"create_host_path": False}},
        {"type": "volume", "source": "data", "target": "/nc", "volume": {"nocopy": True, "subpath": "sub"}},
        {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": 1048576, "mode": 0o1777}},
    ], "tmpfs": ["/run:size=64k", "/cache"]})
    host = b["HostConfig"]
    assert host["Binds"] == ["demo_data:/data:rw", "custom-name:/ro:ro", "/srv/demo/src:/src:rw",
                             "/srv/demo/z:/z:ro,z"]
    assert host["Mounts"] == [
        {"Type": "volume", "Target": "/anon"},
        {"Type": "bind", "Source": "/srv/demo/p", "Target": "/p",
         "BindOptions": {"Propagation": "rshared", "CreateMountpoint": True}},
        {"Type": "bind", "Source": "/srv/demo/strict", "Target": "/strict", "BindOptions": {}},
        {"Type": "volume", "Source": "demo_data", "Target": "/nc", "VolumeOptions": {"NoCopy": True,
                                                                                   "Subpath": "sub"}},
        {"Type": "tmpfs", "Target": "/tmp", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 0o1777}},
    ]
    assert host["Tmpfs"] == {"/run": "size=64k", "/cache": ""}


def test_secrets_and_configs_from_files() -> None:
    b = body({"image": "busybox", "secrets": [{"source": "token"}, {"source": "token", "target": "other"},
                                              {"source": "fromenv"}],
              "configs": [{"source": "conf"}, {"source": "conf", "target": "/etc/app.conf"},
                          {"source": "inline"}]})
    assert b["HostConfig"]["Mounts"] == [
        {"Type": "bind", "Source": "/srv/demo/token.txt", "Target": "/run/secrets/token", "ReadOnly": True,
         "BindOptions": {}},
        {"Type": "bind", "Source": "/srv/demo/token.txt", "Target": "/run/secrets/other", "ReadOnly": True,
         "BindOptions": {}},
        {"Type": "bind", "Source": "/srv/demo/app.conf", "Target": "/conf", "ReadOnly": True},
        {"Type": "bind", "Source": "/srv/demo/app.conf", "Target": "/etc/app.conf", "ReadOnly": True},
    ]
    p = project(web={"image": "busybox", "secrets": [{"source": "fromenv", "mode": 0o400}],
                     "configs": [{"source": "inline"}]})
    assert injected_files(p, p.services["web"]) == [("/run/secrets/fromenv", b"/root", 0o400),
                                                    ("/inline", b"hello", 0o444)]
    with pytest.raises(ComposeError, match="unsupported external secret far"):
        body({"image": "busybox", "secrets": [{"source": "far"}]})
    with pytest.raises(ComposeError, match='service "web" refers to undefined secret nope'):
        body({"image": "busybox", "secrets": [{"source": "nope"}]})


def test_a_volume_target_wins_over_a_secret() -> None:
    b = body({"image": "busybox", "volumes": [{"type": "tmpfs", "target": "/run/secrets/token"}],
              "secrets": [{"source": "token"}]})
    assert [m["Target"] for m in b["HostConfig"]["Mounts"]] == ["/run/secrets/token"]
    assert b["HostConfig"]["Mounts"][0]["Type"] == "tmpfs"


def test_resources_short_keys_and_deploy() -> None:
    b = body({"image": "busybox", "mem_limit": 64 << 20, "mem_reservation": 32 << 20, "memswap_limit": 128 << 20,
              "mem_swappiness": 0, "cpus": 0.57, "cpu_shares": 512, "cpu_quota": 50000, "cpu_period": 100000,
              "cpuset": "0", "pids_limit": 100, "oom_kill_disable": False, "oom_score_adj": 100,
              "shm_size": 1 << 20, "ulimits": {"nofile": {"soft": 1024, "hard": 2048}, "nproc": 512},
              "devices": ["/dev/null:/dev/mynull:r", "/dev/zero"], "cgroup_parent": "parent"})
    host = b["HostConfig"]
    assert (host["Memory"], host["MemoryReservation"], host["MemorySwap"]) == (64 << 20, 32 << 20, 128 << 20)
    assert host["MemorySwappiness"] == 0
    assert host["NanoCpus"] == 570_000_000
    assert (host["CpuShares"], host["CpuQuota"], host["CpuPeriod"], host["CpusetCpus"]) == (512, 50000, 100000, "0")
    assert host["PidsLimit"] == 100
    assert host["OomKillDisable"] is False and host["OomScoreAdj"] == 100 and host["ShmSize"] == 1 << 20
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048},
                               {"Name": "nproc", "Soft": 512, "Hard": 512}]
    assert host["Devices"] == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "r"},
        {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/zero", "CgroupPermissions": "rwm"}]
    assert host["CgroupParent"] == "parent"
    deploy = body({"image": "busybox", "mem_limit": 64 << 20, "cpus": 2.0, "pids_limit": 10, "deploy": {
        "replicas": 2, "resources": {"limits": {"cpus": "0.5", "memory": 32 << 20, "pids": 50},
                                     "reservations": {"memory": 16 << 20}}}})["HostConfig"]
    assert (deploy["Memory"], deploy["NanoCpus"], deploy["PidsLimit"], deploy["MemoryReservation"]) == (
        32 << 20, 500_000_000, 50, 16 << 20)


def test_restart_policies() -> None:
    def policy(service: dict) -> object:
        return body({"image": "busybox", **service})["HostConfig"].get("RestartPolicy")
    assert policy({}) is None
    assert policy({"restart": "always"}) == {"Name": "always", "MaximumRetryCount": 0}
    assert policy({"restart": "on-failure:3"}) == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert policy({"restart": "no"}) == {"Name": "no", "MaximumRetryCount": 0}
    assert policy({"restart": "always", "deploy": {"restart_policy": {"condition": "any"}}}) == {
        "Name": "always", "MaximumRetryCount": 0}
    assert policy({"deploy": {"restart_policy": {"condition": "on-failure", "max_attempts": 2}}}) == {
        "Name": "on-failure", "MaximumRetryCount": 2}
    assert policy({"deploy": {"restart_policy": {"condition": "none"}}}) == {"Name": "no", "MaximumRetryCount": 0}


def test_host_keys() -> None:
    host = body({"image": "busybox", "cap_add": ["NET_ADMIN"], "cap_drop": ["MKNOD"], "privileged": True,
                 "init": True, "read_only": True, "dns": ["1.1.1.1"], "dns_search": ["example.org"],
                 "dns_opt": ["ndots:2"], "extra_hosts": ["db.local:10.0.0.5", "v6:[::1]", "v6b:::2"],
                 "sysctls": {"net.core.somaxconn": "1024"},
                 "logging": {"driver": "json-file", "options": {"max-size": "1m"}}, "group_add": ["audio"],
                 "security_opt": ["no-new-privileges", "label:disable"], "ipc": "private", "pid": "host",
                 "userns_mode": "host", "runtime": "runc"})["HostConfig"]
    assert host["CapAdd"] == ["NET_ADMIN"] and host["CapDrop"] == ["MKNOD"]
    assert host["Privileged"] is True and host["Init"] is True and host["ReadonlyRootfs"] is True
    assert host["Dns"] == ["1.1.1.1"] and host["DnsSearch"] == ["example.org"] and host["DnsOptions"] == ["ndots:2"]
    assert host["ExtraHosts"] == ["db.local:10.0.0.5", "v6:::1", "v6b:::2"]
    assert host["Sysctls"] == {"net.core.somaxconn": "1024"}
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert host["GroupAdd"] == ["audio"]
    assert host["SecurityOpt"] == ["no-new-privileges", "label:disable"]
    assert (host["IpcMode"], host["PidMode"], host["UsernsMode"], host["Runtime"]) == ("private", "host", "host",
                                                                                      "runc")
    with pytest.raises(ComposeFileError, match="invalid DNS address: nope"):
        body({"image": "busybox", "dns": ["nope"]})


def test_seccomp_profile_read_and_compacted(tmp_path: Path) -> None:
    (tmp_path / "profile.json").write_text('{ "defaultAction": "SCMP_ACT_ALLOW" }\n')
    p = project(web={"image": "busybox", "security_opt": ["seccomp=profile.json", "systempaths=unconfined"]})
    p.working_dir = str(tmp_path)
    host = create_body(p, "web", 1, image="busybox", config_hash="h")["HostConfig"]
    assert host["SecurityOpt"] == ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']
    assert host["MaskedPaths"] == [] and host["ReadonlyPaths"] == []


def test_networks_aliases_addresses_priority() -> None:
    b = body({"image": "busybox", "mac_address": "02:42:ac:11:00:02", "networks": {
        "default": {"aliases": ["www"]},
        "back": {"ipv4_address": "172.30.0.10", "priority": 10, "aliases": ["api", "api2"],
                 "driver_opts": {"x": "1"}}}})
    assert b["HostConfig"]["NetworkMode"] == "demo_back"
    endpoints = b["NetworkingConfig"]["EndpointsConfig"]
    assert list(endpoints) == ["demo_back", "demo_default"]
    assert endpoints["demo_back"] == {"Aliases": ["demo-web-1", "web", "api", "api2"],
                                      "IPAMConfig": {"IPv4Address": "172.30.0.10"},
                                      "DriverOpts": {"x": "1"}, "MacAddress": "02:42:ac:11:00:02"}
    assert endpoints["demo_default"] == {"Aliases": ["demo-web-1", "web", "www"]}
    with pytest.raises(ComposeFileError, match="service-level mac_address should have the same value as network back"):
        body({"image": "busybox", "mac_address": "02:42:ac:11:00:02",
              "networks": {"back": {"mac_address": "02:42:ac:11:00:03"}}})
    with pytest.raises(ComposeFileError, match="invalid IPv4 address"):
        body({"image": "busybox", "networks": {"back": {"ipv4_address": "300.1.1.1"}}})
    with pytest.raises(ComposeError, match='service "web" refers to undefined network nope'):
        body({"image": "busybox", "networks": {"nope": None}})


def test_network_mode() -> None:
    for mode in ("host", "none", "bridge", "container:abc"):
        b = body({"image": "busybox", "network_mode": mode})
        assert b["HostConfig"]["NetworkMode"] == mode and "NetworkingConfig" not in b
    shared = body({"image": "busybox", "network_mode": "service:db"}, container_ids={"db": "f00d"})
    assert shared["HostConfig"]["NetworkMode"] == "container:f00d"
    with pytest.raises(ComposeError, match="cannot share network namespace with service db: container missing"):
        body({"image": "busybox", "network_mode": "service:db"})
    assert body({"image": "busybox", "ipc": "service:db"}, container_ids={"db": "f00d"})["HostConfig"][
        "IpcMode"] == "container:f00d"
    p = project(web={"image": "busybox"})
    p.networks = {}
    assert create_body(p, "web", 1, image="b", config_hash="h")["HostConfig"]["NetworkMode"] == "none"


def test_links_and_volumes_from() -> None:
    b = body({"image": "busybox", "networks": {"default": None}, "links": ["db:database", "db"],
              "external_links": ["other:alias", "plain"], "volumes_from": ["db:ro", "service:db", "container:x:rw"]},
             container_ids={"db": "f00d"})
    assert b["HostConfig"]["Links"] == ["f00d:database", "f00d:db", "other:alias", "plain:plain"]
    assert b["NetworkingConfig"]["EndpointsConfig"]["demo_default"]["Links"] == b["HostConfig"]["Links"]
    assert b["HostConfig"]["VolumesFrom"] == ["f00d:ro", "f00d", "x:rw"]
    with pytest.raises(ComposeError, match="cannot share volume with service db: container missing"):
        body({"image": "busybox", "volumes_from": ["db"]})


def test_oneoff_defaults() -> None:
    service = {"image": "busybox", "restart": "always", "networks": {"default": {"aliases": ["x"]}},
               "ports": [{"target": 80, "published": "8080", "protocol": "tcp", "mode": "ingress"}]}
    b = body(service, oneoff=True, number=0, slug="a" * 64)
    assert b["Labels"]["com.docker.compose.oneoff"] == "True"
    assert b["Labels"]["com.docker.compose.slug"] == "a" * 64
    assert "com.docker.compose.container-number" not in b["Labels"]
    assert "RestartPolicy" not in b["HostConfig"] and "PortBindings" not in b["HostConfig"]
    assert b["NetworkingConfig"]["EndpointsConfig"]["demo_default"] == {"Aliases": ["demo-web-run-aaaaaaaaaaaa"]}
    named = body(service, oneoff=True, number=0, overrides=RunOverrides(name="mine", use_aliases=True))
    assert named["NetworkingConfig"]["EndpointsConfig"]["demo_default"] == {"Aliases": ["mine", "web", "x"]}
    custom = project(web={**service, "container_name": "fixed"})
    assert create_body(custom, "web", 1, image="b", config_hash="h")["NetworkingConfig"]["EndpointsConfig"][
        "demo_default"]["Aliases"] == ["fixed", "web", "x"]


def test_run_overrides() -> None:
    service = {"image": "busybox", "command": ["sleep", "1"], "cap_add": ["NET_ADMIN"], "cap_drop": ["CHOWN"],
               "environment": {"A": "1"}, "labels": {"l": "1"}, "networks": {"default": {"aliases": ["x"]}},
               "ports": [{"target": 80, "published": "8080", "protocol": "tcp", "mode": "ingress"}]}
    overrides = RunOverrides(entrypoint=["sh"], environment={"B": "2", "HOME": None, "MISSING": None},
                             user="nobody", working_dir="/tmp", tty=True, stdin_open=True, labels={"l": "2"},
                             remove=True, use_aliases=True, cap_add=["CHOWN"], cap_drop=["NET_ADMIN"],
                             ports=["127.0.0.1:9090:90/udp"], volumes=["/srv/x:/x:ro", "data:/d", "./rel:/rel"])
    b = body(service, oneoff=True, number=0, overrides=overrides)
    assert b["Entrypoint"] == ["sh"] and b["Cmd"] == []
    assert b["Env"] == ["A=1", "B=2", "HOME=/root"]
    assert (b["User"], b["WorkingDir"]) == ("nobody", "/tmp")
    assert b["Tty"] and b["OpenStdin"] and b["AttachStdin"] and b["StdinOnce"]
    assert b["Labels"]["l"] == "2"
    assert b["HostConfig"]["AutoRemove"] is True
    assert b["HostConfig"]["CapAdd"] == ["CHOWN"] and b["HostConfig"]["CapDrop"] == ["NET_ADMIN"]
    assert b["HostConfig"]["PortBindings"] == {"90/udp": [{"HostIp": "127.0.0.1", "HostPort": "9090"}]}
    assert b["HostConfig"]["Binds"] == ["/srv/x:/x:ro", "demo_data:/d:rw", os.path.abspath("rel") + ":/rel:rw"]
    assert b["NetworkingConfig"]["EndpointsConfig"]["demo_default"] == {"Aliases": ["web", "x"]}  # no name known
    command_only = body(service, oneoff=True, number=0, overrides=RunOverrides(command=["echo", "hi"]))
    assert command_only["Cmd"] == ["echo", "hi"] and "PortBindings" not in command_only["HostConfig"]
    service_ports = body(service, oneoff=True, number=0, overrides=RunOverrides(service_ports=True))
    assert service_ports["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    with pytest.raises(ComposeError, match="--service-ports and --publish are incompatible"):
        body(service, oneoff=True, number=0, overrides=RunOverrides(service_ports=True, ports=["1"]))
    with pytest.raises(ComposeFileError, match="invalid port specification"):
        body(service, oneoff=True, number=0, overrides=RunOverrides(ports=["x:y:z:w"]))


def test_body_is_json_and_the_project_untouched() -> None:
    p = project(web={"image": "busybox", "cap_add": ["A"], "ports": [{"target": 1, "protocol": "tcp"}]})
    before = json.dumps(p.services, sort_keys=True)
    b = create_body(p, "web", 1, image="b", config_hash="h", oneoff=True,
                    overrides=RunOverrides(cap_add=["B"], ports=["2"]))
    json.dumps(b)
    assert json.dumps(p.services, sort_keys=True) == before


def test_create_query() -> None:
    p = project(web={"image": "busybox", "platform": "linux/amd64"}, db={"image": "busybox"})
    assert create_query(p, "web", "demo-web-1") == {"name": "demo-web-1", "platform": "linux/amd64"}
    assert create_query(p, "db", "demo-db-1") == {"name": "demo-db-1"}
    p.environment["DOCKER_DEFAULT_PLATFORM"] = "linux/arm64"
    assert create_query(p, "db", "x")["platform"] == "linux/arm64"


def test_network_body() -> None:
    p = project()
    p.networks["back"] = {"name": "demo_back", "driver": "bridge", "driver_opts": {"com.docker.network.bridge.name":
                                                                                  "br-x"},
                          "internal": True, "attachable": True, "labels": {"mine": "1"},
                          "ipam": {"driver": "default", "config": [{"subnet": "172.30.0.0/24", "gateway": "172.30.0.1",
                                                                    "ip_range": "172.30.0.128/25",
                                                                    "aux_addresses": {"h": "172.30.0.5"}}]}}
    b = network_body(p, "back")
    labels = b.pop("Labels")
    assert b == {"Name": "demo_back", "CheckDuplicate": True, "Driver": "bridge",
                 "Options": {"com.docker.network.bridge.name": "br-x"}, "Internal": True, "Attachable": True,
                 "IPAM": {"Driver": "default", "Config": [{"Subnet": "172.30.0.0/24", "IPRange": "172.30.0.128/25",
                                                           "Gateway": "172.30.0.1",
                                                           "AuxiliaryAddresses": {"h": "172.30.0.5"}}],
                          "Options": {}}}
    assert labels["mine"] == "1" and labels["com.docker.compose.network"] == "back"
    assert labels["com.docker.compose.project"] == "demo"
    assert len(labels["com.docker.compose.config-hash"]) == 64
    assert network_body(p, "default") == {"Name": "demo_default", "CheckDuplicate": True,
                                          "Labels": network_body(p, "default")["Labels"]}
    with pytest.raises(ComposeError, match="external"):
        network_body(p, "outside")


def test_volume_body() -> None:
    p = project()
    p.volumes["opts"] = {"name": "demo_opts", "driver": "local", "driver_opts": {"type": "tmpfs", "device": "tmpfs"}}
    b = volume_body(p, "opts")
    assert b["Name"] == "demo_opts" and b["Driver"] == "local"
    assert b["DriverOpts"] == {"type": "tmpfs", "device": "tmpfs"}
    assert b["Labels"]["com.docker.compose.volume"] == "opts"
    named = volume_body(p, "named")
    assert named["Name"] == "custom-name" and named["Labels"]["a"] == "b" and "Driver" not in named


def test_more_resources() -> None:
    host = body({"image": "busybox", "cpu_count": 2, "cpu_rt_period": 1400, "cpu_rt_runtime": 400,
                 "device_cgroup_rules": ["c 1:3 mr"], "oom_kill_disable": True, "gpus": "all",
                 "blkio_config": {"weight": 300, "weight_device": [{"path": "/dev/sda", "weight": 400}],
                                  "device_read_bps": [{"path": "/dev/sda", "rate": "12mb"}],
                                  "device_write_iops": [{"path": "/dev/sda", "rate": 30}]},
                 "deploy": {"resources": {"reservations": {"devices": [
                     {"driver": "nvidia", "count": 2, "capabilities": ["gpu", "utility"], "device_ids": ["0"]}]}}}}
                )["HostConfig"]
    assert (host["CpuCount"], host["CpuRealtimePeriod"], host["CpuRealtimeRuntime"]) == (2, 1400, 400)
    assert host["DeviceCgroupRules"] == ["c 1:3 mr"] and host["OomKillDisable"] is True
    assert host["BlkioWeight"] == 300
    assert host["BlkioWeightDevice"] == [{"Path": "/dev/sda", "Weight": 400}]
    assert host["BlkioDeviceReadBps"] == [{"Path": "/dev/sda", "Rate": 12 * 1024 * 1024}]
    assert host["BlkioDeviceWriteIOps"] == [{"Path": "/dev/sda", "Rate": 30}]
    assert host["DeviceRequests"] == [
        {"Driver": "nvidia", "Capabilities": [["gpu", "utility"]], "Count": 2, "DeviceIDs": ["0"]},
        {"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]
