"""Every service key of compose on a real moord: the body ``moor.compose.convert`` makes is POSTed to
``/containers/create`` (networks and volumes from their bodies too), and the container's inspect is
checked for what Docker makes of the same body: environment, ports, mounts, resources, healthcheck,
logging, restart, networks, ...; then the same keys through ``moor compose up`` from a compose file.

One private moord for the module (``compose_moord``); each test removes what it made.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.composehelpers import COMPOSE_FILES, compose, compose_moord, remove_everything
from e2e.containerhelpers import wait_for
from moor.client import Client
from moor.compose.confighash import config_hash
from moor.compose.convert import RunOverrides, create_body, network_body, volume_body
from moor.compose.model import Project
from moor.compose.naming import container_name, oneoff_container_name, service_image
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

__all__ = ["compose_moord"]

S = 1_000_000_000

#: the config service's command: stop_signal (SIGUSR1) is what ends it cleanly
CONFIG_SCRIPT = "trap 'echo got USR1; exit 0' USR1; echo started; while :; do sleep 1; done"

#: made by the tests before the project, as `external: true` wants
EXTERNAL_NETWORK = "svckeys-external-net"
EXTERNAL_VOLUME = "svckeys-external-vol"

# ---------------------------------------------------------------------------------------------------------
# the project: canonical services (as the loader makes them) and the same keys as a compose file


def services(base: Path) -> dict[str, dict[str, Any]]:
    """Canonical services covering the keys of issue 16 item 2 (paths under ``base``)."""
    return {
        "config": {
            "image": "busybox", "command": ["sh", "-c", CONFIG_SCRIPT],
            "environment": {"FROM_FILE": "file", "PLAIN": "value", "EMPTY": ""},
            "user": "1000:1000", "working_dir": "/tmp", "hostname": "confighost", "domainname": "example.org",
            "tty": True, "stdin_open": True, "stop_signal": "SIGUSR1", "stop_grace_period": "1m30s",
            "labels": {"org.example.team": "moor"}, "init": True, "restart": "on-failure:3",
            "healthcheck": {"test": ["CMD-SHELL", "true"], "interval": "1s", "timeout": "500ms",
                            "start_period": "2s", "start_interval": "1s", "retries": 2},
            "logging": {"driver": "json-file", "options": {"max-size": "1m", "max-file": "2"}},
            "networks": {"default": None},
        },
        "entry": {"image": "busybox", "entrypoint": ["sh", "-c"], "command": ["echo $0 $1", "one", "two"],
                  "restart": "always", "networks": {"default": None}},
        "ports": {
            "image": "busybox", "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
            "ports": [{"target": 80, "host_ip": "127.0.0.1", "protocol": "tcp", "mode": "ingress"},
                      {"target": 5353, "published": "0", "host_ip": "127.0.0.1", "protocol": "udp",
                       "mode": "ingress"},
                      {"target": 8080, "published": "41000-41099", "host_ip": "127.0.0.1", "protocol": "tcp",
                       "mode": "ingress"}],
            "expose": ["7000", "7100-7101/udp"],
            "volumes": [{"type": "tmpfs", "target": "/www"}],
            "networks": {"default": None},
        },
        "storage": {
            "image": "busybox", "command": ["sleep", "300"],
            "volumes": [
                {"type": "volume", "source": "data", "target": "/data", "volume": {}},
                {"type": "volume", "source": "data", "target": "/data-ro", "read_only": True},
                {"type": "volume", "target": "/anonymous"},
                {"type": "bind", "source": str(base / "src"), "target": "/src", "bind": {"create_host_path": True}},
                {"type": "bind", "source": str(base / "made-by-engine"), "target": "/made",
                 "bind": {"create_host_path": True}},
                {"type": "bind", "source": str(base / "made-by-mount-api"), "target": "/made2",
                 "bind": {"create_host_path": True, "propagation": "rprivate"}},
                {"type": "bind", "source": str(base / "src"), "target": "/src-ro", "read_only": True,
                 "bind": {"create_host_path": False}},
                {"type": "tmpfs", "target": "/scratch", "tmpfs": {"size": 2 * 1048576, "mode": 0o1770}},
            ],
            "tmpfs": ["/run/cache:size=65536"],
            "secrets": [{"source": "token"}, {"source": "token", "target": "renamed"}],
            "configs": [{"source": "settings"}, {"source": "settings", "target": "/etc/app/settings.ini"}],
            "networks": {"default": None},
        },
        "limits": {
            "image": "busybox", "command": ["sleep", "300"],
            "mem_limit": 96 * 1048576, "mem_reservation": 32 * 1048576, "memswap_limit": 192 * 1048576,
            "cpus": 1.5, "cpu_shares": 512, "cpuset": "0", "pids_limit": 64, "shm_size": 8 * 1048576,
            "oom_score_adj": 200, "ulimits": {"nofile": {"soft": 512, "hard": 1024}, "core": {"soft": 0, "hard": 0}},
            "networks": {"default": None},
        },
        "deploy": {
            "image": "busybox", "command": ["sleep", "300"], "mem_limit": 96 * 1048576, "pids_limit": 64,
            "deploy": {"replicas": 1, "resources": {"limits": {"cpus": "0.5", "memory": 48 * 1048576, "pids": 32},
                                                    "reservations": {"memory": 16 * 1048576}},
                       "restart_policy": {"condition": "on-failure", "max_attempts": 2}},
            "networks": {"default": None},
        },
        "host": {
            "image": "busybox", "command": ["sleep", "300"],
            "cap_add": ["NET_ADMIN", "SYS_TIME"], "cap_drop": ["CHOWN", "MKNOD"],
            "dns": ["127.0.0.1", "127.0.0.2"], "dns_search": ["example.org"], "dns_opt": ["ndots:2"],
            "extra_hosts": ["db.example:10.9.8.7", "api.example:10.9.8.6"],
            "sysctls": {"net.ipv4.ip_forward": "1"}, "read_only": True, "security_opt": ["no-new-privileges"],
            "networks": {"default": None},
        },
        "privileged": {"image": "busybox", "command": ["sleep", "300"], "privileged": True,
                       "network_mode": "none"},
        "front": {
            "image": "busybox", "command": ["sleep", "300"],
            "networks": {"default": {"aliases": ["www", "web.local"]},
                         "back": {"aliases": ["api"], "ipv4_address": "172.31.240.10", "priority": 5}},
        },
        "sidecar": {"image": "busybox", "command": ["sleep", "300"], "network_mode": "service:front",
                    "volumes_from": ["storage:ro"]},
        "peer": {"image": "busybox", "command": ["sleep", "300"], "links": ["front:frontalias"],
                 "networks": {"default": None}},
        "resources": {"image": "busybox", "command": ["sleep", "300"], "networks": {"custom": None, "outside": None},
                      "volumes": [{"type": "volume", "source": "tmpvol", "target": "/t", "volume": {}},
                                  {"type": "volume", "source": "extvol", "target": "/e", "volume": {}}]},
        "hostnet": {"image": "busybox", "command": ["sleep", "300"], "network_mode": "host"},
        "bridged": {"image": "busybox", "command": ["sleep", "300"], "network_mode": "bridge"},
        "linked": {"image": "busybox", "command": ["sleep", "300"], "links": ["bridged:frontend"],
                   "network_mode": "bridge"},
    }


def make_project(base: Path) -> Project:
    """A project with a unique name whose files live under ``base``."""
    (base / "src").mkdir(parents=True, exist_ok=True)
    (base / "src" / "hello.txt").write_text("hello from the host\n")
    (base / "token.txt").write_text("s3cret\n")
    (base / "settings.ini").write_text("[app]\nkey=value\n")
    name = "keys" + secrets.token_hex(4)
    return Project(
        name=name, working_dir=str(base), config_files=[str(base / "compose.yaml")],
        services=services(base),
        networks={"default": {"name": f"{name}_default"},
                  "back": {"name": f"{name}_back", "internal": True, "labels": {"tier": "back"},
                           "ipam": {"config": [{"subnet": "172.31.240.0/24", "gateway": "172.31.240.1"}]}},
                  "custom": {"name": "svckeys-custom-net", "driver": "bridge",
                             "driver_opts": {"com.docker.network.driver.mtu": "1400"}},
                  "outside": {"name": EXTERNAL_NETWORK, "external": True}},
        volumes={"data": {"name": f"{name}_data", "labels": {"kind": "data"}},
                 "tmpvol": {"name": "svckeys-tmpvol", "driver": "local",
                            "driver_opts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}},
                 "extvol": {"name": EXTERNAL_VOLUME, "external": True}},
        secrets={"token": {"name": f"{name}_token", "file": str(base / "token.txt")}},
        configs={"settings": {"name": f"{name}_settings", "file": str(base / "settings.ini")}},
    )


# ---------------------------------------------------------------------------------------------------------
# helpers


@pytest.fixture
def daemon(compose_moord: DaemonProcess) -> Iterator[DaemonProcess]:
    """The module's moord, emptied after each test."""
    try:
        yield compose_moord
    finally:
        remove_everything(compose_moord)


def make_externals(client: Client) -> None:
    """The network and the volume the project names as external."""
    client.call("POST", "/networks/create", body={"Name": EXTERNAL_NETWORK})
    client.call("POST", "/volumes/create", body={"Name": EXTERNAL_VOLUME})


def up_by_api(client: Client, project: Project, names: list[str], *, start: bool = True
              ) -> dict[str, dict[str, Any]]:
    """Networks, volumes and the containers of ``names`` (in that order) made from convert's bodies;
    their inspect JSON by service."""
    make_externals(client)
    for key, network in project.networks.items():
        if not network.get("external"):
            client.call("POST", "/networks/create", body=network_body(project, key))
    for key, volume in project.volumes.items():
        if not volume.get("external"):
            client.call("POST", "/volumes/create", body=volume_body(project, key))
    ids: dict[str, str] = {}
    for service in names:
        body = create_body(project, service, 1, image=service_image(project, service),
                           config_hash=config_hash(project, service), container_ids=ids)
        created = client.call("POST", "/containers/create", {"name": container_name(project, service, 1)}, body)
        ids[service] = created["Id"]
        if start:
            client.call("POST", f"/containers/{created['Id']}/start")
    return {service: client.get(f"/containers/{ids[service]}/json") for service in names}


def run_in(client: Client, container: str, *command: str) -> str:
    """``command`` run in a running container by exec; its output."""
    exec_id = client.call("POST", f"/containers/{container}/exec",
                          body={"Cmd": list(command), "AttachStdout": True, "AttachStderr": True})["Id"]
    response = client.open("POST", f"/exec/{exec_id}/start", body=json.dumps({"Detach": False}).encode(),
                           headers={"Content-Type": "application/json"})
    raw = response.read()
    response.close()
    output = b""
    while len(raw) >= 8:  # multiplexed frames (no TTY)
        size = int.from_bytes(raw[4:8], "big")
        output += raw[8:8 + size]
        raw = raw[8 + size:]
    return output.decode()


# ---------------------------------------------------------------------------------------------------------
# the checks, shared by the API path and the `compose up` path


def check_labels(project: Project, service: str, info: dict[str, Any]) -> None:
    labels = info["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == project.name
    assert labels["com.docker.compose.service"] == service
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.project.working_dir"] == project.working_dir
    assert len(labels["com.docker.compose.config-hash"]) == 64
    assert "com.docker.compose.version" in labels
    assert info["Name"] == f"/{project.name}-{service}-1"


def check_config(info: dict[str, Any]) -> None:
    config, host = info["Config"], info["HostConfig"]
    assert {"FROM_FILE=file", "PLAIN=value", "EMPTY="} <= set(config["Env"])
    assert config["Cmd"] == ["sh", "-c", CONFIG_SCRIPT]
    assert config["User"] == "1000:1000"
    assert config["WorkingDir"] == "/tmp"
    assert config["Hostname"] == "confighost"
    assert config["Domainname"] == "example.org"
    assert config["Tty"] is True and config["OpenStdin"] is True
    assert config["StopSignal"] == "SIGUSR1"
    assert config["StopTimeout"] == 90
    assert config["Labels"]["org.example.team"] == "moor"
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": S, "Timeout": S // 2,
                                     "StartPeriod": 2 * S, "StartInterval": S, "Retries": 2}
    assert host["Init"] is True
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}}


def check_config_inside(client: Client, container: str) -> None:
    assert run_in(client, container, "id", "-u").strip() == "1000"
    assert run_in(client, container, "hostname").strip() == "confighost"
    assert run_in(client, container, "sh", "-c", "echo $PLAIN $FROM_FILE").strip() == "value file"
    assert run_in(client, container, "cat", "/proc/1/cmdline").startswith("/sbin/docker-init\0")  # init: true
    wait_for(lambda: client.get(f"/containers/{container}/json")["State"].get("Health", {}).get("Status")
             == "healthy", timeout=60)


def check_hostname_resolves(client: Client, project: Project, config: dict[str, Any], peer: str) -> None:
    """``hostname:`` is a name the project network's DNS answers (an alias, as Docker before API 1.45)."""
    assert "confighost" in config["NetworkSettings"]["Networks"][f"{project.name}_default"]["Aliases"]
    assert "ok" in run_in(client, peer, "sh", "-c", "ping -c1 -W2 confighost >/dev/null && echo ok")


def check_stop_signal(client: Client, container: str) -> None:
    """A stop sends ``stop_signal`` (the service's trap answers it and exits 0)."""
    client.call("POST", f"/containers/{container}/stop")
    state = client.get(f"/containers/{container}/json")["State"]
    assert (state["Running"], state["ExitCode"]) == (False, 0)
    logs = client.call("GET", f"/containers/{container}/logs", {"stdout": 1, "stderr": 1})
    assert b"got USR1" in logs


def check_entry(info: dict[str, Any]) -> None:
    """Also: what a sparse body leaves out reads back as Docker's zero values (docker-compose 1.29 and
    docker-py read these keys)."""
    host = info["HostConfig"]
    for key in ("CapAdd", "CapDrop", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "SecurityOpt", "Links", "Ulimits"):
        assert key in host and host[key] is None, key
    assert (host["IpcMode"], host["PidMode"], host["ReadonlyRootfs"], host["OomScoreAdj"]) == ("private", "", False, 0)
    assert info["Config"]["Entrypoint"] == ["sh", "-c"]
    assert info["Config"]["Cmd"] == ["echo $0 $1", "one", "two"]
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "always", "MaximumRetryCount": 0}


def check_ports(info: dict[str, Any]) -> int:
    """The published TCP port."""
    config, host = info["Config"], info["HostConfig"]
    assert set(config["ExposedPorts"]) == {"80/tcp", "5353/udp", "8080/tcp", "7000/tcp", "7100/udp", "7101/udp"}
    assert host["PortBindings"]["8080/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": "41000-41099"}]
    assert 41000 <= int(info["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]) <= 41099
    assert host["PortBindings"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    assert host["PortBindings"]["5353/udp"] == [{"HostIp": "127.0.0.1", "HostPort": "0"}]
    published = info["NetworkSettings"]["Ports"]["80/tcp"]
    assert published[0]["HostIp"] == "127.0.0.1" and int(published[0]["HostPort"]) > 0
    assert info["NetworkSettings"]["Ports"]["5353/udp"][0]["HostIp"] == "127.0.0.1"
    return int(published[0]["HostPort"])


def http_get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
        return data


def check_storage(project: Project, info: dict[str, Any]) -> None:
    base = Path(project.working_dir)
    mounts = {mount["Destination"]: mount for mount in info["Mounts"]}
    volume = f"{project.name}_data"
    assert mounts["/data"]["Type"] == "volume" and mounts["/data"]["Name"] == volume and mounts["/data"]["RW"]
    assert mounts["/data-ro"]["Name"] == volume and mounts["/data-ro"]["RW"] is False
    assert mounts["/anonymous"]["Type"] == "volume" and len(mounts["/anonymous"]["Name"]) == 64
    assert mounts["/src"]["Type"] == "bind" and mounts["/src"]["Source"] == str(base / "src")
    assert mounts["/src-ro"]["RW"] is False
    assert mounts["/made"]["Source"] == str(base / "made-by-engine")
    assert (base / "made-by-engine").is_dir()  # a short or default bind creates its missing source
    assert (base / "made-by-mount-api").is_dir()  # and so does create_host_path through the Mount API
    assert mounts["/made2"]["Propagation"] == "rprivate"
    assert {"Type": "bind", "Source": str(base / "made-by-mount-api"), "Target": "/made2",
            "BindOptions": {"Propagation": "rprivate", "CreateMountpoint": True}} in info["HostConfig"]["Mounts"]
    assert mounts["/scratch"]["Type"] == "tmpfs"
    for target in ("/run/secrets/token", "/run/secrets/renamed", "/settings", "/etc/app/settings.ini"):
        assert mounts[target]["Type"] == "bind" and mounts[target]["RW"] is False, target
    assert mounts["/run/secrets/token"]["Source"] == str(base / "token.txt")
    assert mounts["/settings"]["Source"] == str(base / "settings.ini")
    assert info["HostConfig"]["Tmpfs"] == {"/run/cache": "size=65536"}


def check_storage_inside(client: Client, container: str) -> None:
    assert run_in(client, container, "cat", "/run/secrets/token", "/run/secrets/renamed") == "s3cret\ns3cret\n"
    assert run_in(client, container, "cat", "/settings", "/etc/app/settings.ini").count("key=value") == 2
    assert run_in(client, container, "cat", "/src/hello.txt") == "hello from the host\n"
    assert "Read-only" in run_in(client, container, "sh", "-c", "touch /src-ro/x 2>&1; touch /data-ro/x 2>&1")
    mounts = run_in(client, container, "cat", "/proc/mounts")
    scratch = next(line for line in mounts.splitlines() if " /scratch " in line)
    assert "tmpfs" in scratch and "size=2048k" in scratch and "mode=1770" in scratch
    assert any(" /run/cache " in line and "size=64k" in line for line in mounts.splitlines())
    run_in(client, container, "sh", "-c", "echo kept > /data/file")
    assert run_in(client, container, "cat", "/data-ro/file") == "kept\n"


def check_limits(info: dict[str, Any]) -> None:
    host = info["HostConfig"]
    assert host["Memory"] == 96 * 1048576
    assert host["MemoryReservation"] == 32 * 1048576
    assert host["MemorySwap"] == 192 * 1048576
    assert host["NanoCpus"] == 1_500_000_000
    assert host["CpuShares"] == 512
    assert host["CpusetCpus"] == "0"
    assert host["PidsLimit"] == 64
    assert host["ShmSize"] == 8 * 1048576
    assert host["OomScoreAdj"] == 200
    assert sorted(host["Ulimits"], key=lambda u: u["Name"]) == [{"Name": "core", "Soft": 0, "Hard": 0},
                                                                {"Name": "nofile", "Soft": 512, "Hard": 1024}]


def check_limits_inside(client: Client, container: str) -> None:
    """The limits hold inside (cgroup v1 or v2 files): memory, pids, shm size, open files. The open files are the
    container's main process's: runc 1.1 built with Go >= 1.19 sets an exec's rlimits racing the Go runtime's own
    raise of the soft limit to the hard one, so an exec's ``ulimit -n`` is sometimes the hard limit (as in Docker)."""
    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; "
              "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; "
              "df -k /dev/shm | tail -1; grep 'Max open files' /proc/1/limits")
    memory, pids, shm, nofile = run_in(client, container, "sh", "-c", script).strip().splitlines()
    assert (int(memory), int(pids), shm.split()[1], nofile.split()[3:5]) == (96 * 1048576, 64, "8192", ["512", "1024"])


def check_deploy(info: dict[str, Any]) -> None:
    host = info["HostConfig"]
    assert host["Memory"] == 48 * 1048576
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 32
    assert host["MemoryReservation"] == 16 * 1048576
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}


def check_host(info: dict[str, Any]) -> None:
    host = info["HostConfig"]
    assert host["CapAdd"] == ["NET_ADMIN", "SYS_TIME"] and host["CapDrop"] == ["CHOWN", "MKNOD"]
    assert host["Dns"] == ["127.0.0.1", "127.0.0.2"]
    assert host["DnsSearch"] == ["example.org"] and host["DnsOptions"] == ["ndots:2"]
    assert host["ExtraHosts"] == ["db.example:10.9.8.7", "api.example:10.9.8.6"]
    assert host["Sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert host["ReadonlyRootfs"] is True
    assert host["SecurityOpt"] == ["no-new-privileges"]


def check_host_inside(client: Client, container: str) -> None:
    hosts = run_in(client, container, "cat", "/etc/hosts")
    assert "10.9.8.7\tdb.example" in hosts and "10.9.8.6\tapi.example" in hosts
    resolv = run_in(client, container, "cat", "/etc/resolv.conf")
    assert "search example.org" in resolv and "options ndots:2" in resolv
    status = run_in(client, container, "cat", "/proc/self/status")
    effective = int(next(line for line in status.splitlines() if line.startswith("CapEff:")).split()[1], 16)
    assert effective & (1 << 12)  # CAP_NET_ADMIN added
    assert not effective & (1 << 0)  # CAP_CHOWN dropped
    assert run_in(client, container, "cat", "/proc/sys/net/ipv4/ip_forward").strip() == "1"
    assert "Read-only" in run_in(client, container, "sh", "-c", "touch /x 2>&1")


def check_networks(project: Project, front: dict[str, Any]) -> None:
    networks = front["NetworkSettings"]["Networks"]
    default, back = networks[f"{project.name}_default"], networks[f"{project.name}_back"]
    assert {f"{project.name}-front-1", "front", "www", "web.local"} <= set(default["Aliases"])
    assert {"front", "api"} <= set(back["Aliases"])
    assert back["IPAMConfig"]["IPv4Address"] == "172.31.240.10"
    assert back["IPAddress"] == "172.31.240.10"
    assert front["HostConfig"]["NetworkMode"] == f"{project.name}_back"  # the higher priority is the primary


def check_names_resolve(client: Client, peer: str) -> None:
    """From a container on the default network: the service name, its aliases and a link's alias resolve
    (the embedded DNS); a name only on the internal network does not."""
    script = "for n in front www web.local frontalias api; do ping -c1 -W2 $n >/dev/null 2>&1 && echo ok-$n; done"
    out = run_in(client, peer, "sh", "-c", script)
    assert out.split() == ["ok-front", "ok-www", "ok-web.local", "ok-frontalias"], out


def check_top_level(client: Client, project: Project, info: dict[str, Any], hostnet: dict[str, Any]) -> None:
    """Top-level networks and volumes: driver, driver_opts, name:, external."""
    custom = client.get("/networks/svckeys-custom-net")
    assert custom["Driver"] == "bridge" and custom["Options"]["com.docker.network.driver.mtu"] == "1400"
    assert custom["Labels"]["com.docker.compose.network"] == "custom"
    assert "com.docker.compose.project" not in client.get(f"/networks/{EXTERNAL_NETWORK}")["Labels"]
    assert set(info["NetworkSettings"]["Networks"]) == {"svckeys-custom-net", EXTERNAL_NETWORK}
    tmpvol = client.get("/volumes/svckeys-tmpvol")
    assert tmpvol["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    assert tmpvol["Labels"]["com.docker.compose.volume"] == "tmpvol"
    mounts = {mount["Destination"]: mount for mount in info["Mounts"]}
    assert mounts["/t"]["Name"] == "svckeys-tmpvol" and mounts["/e"]["Name"] == EXTERNAL_VOLUME
    in_mounts = run_in(client, info["Id"], "cat", "/proc/mounts")
    assert any(line.split()[1] == "/t" and line.split()[2] == "tmpfs" for line in in_mounts.splitlines())
    assert hostnet["HostConfig"]["NetworkMode"] == "host" and not hostnet["NetworkSettings"]["IPAddress"]
    assert list(hostnet["NetworkSettings"]["Networks"]) == ["host"]  # as Docker's
    inside = {line.split(":")[0].strip() for line in run_in(client, hostnet["Id"], "cat", "/proc/net/dev").splitlines()
              if ":" in line}
    assert inside & set(os.listdir("/sys/class/net")) - {"lo"}  # the host's own interfaces


def check_user_network_link(client: Client, project: Project, peer: dict[str, Any]) -> None:
    """``links`` on a user-defined network are the endpoint's, as Docker keeps them: no legacy link (no
    variables, no /etc/hosts line, HostConfig.Links null) and a start that needs not the linked container."""
    assert peer["HostConfig"]["Links"] is None
    assert [link.split(":")[1] for link in
            peer["NetworkSettings"]["Networks"][f"{project.name}_default"]["Links"]] == ["frontalias"]
    assert "frontalias" not in run_in(client, peer["Id"], "cat", "/etc/hosts")
    assert "FRONTALIAS" not in run_in(client, peer["Id"], "env")
    front = f"{project.name}-front-1"
    client.call("POST", f"/containers/{front}/stop", {"t": 0})
    client.call("POST", f"/containers/{peer['Id']}/restart", {"t": 0})
    assert client.get(f"/containers/{peer['Id']}/json")["State"]["Running"]
    client.call("POST", f"/containers/{front}/start")


def check_resources_labels(client: Client, project: Project) -> None:
    back = client.get(f"/networks/{project.name}_back")
    assert back["Labels"]["com.docker.compose.project"] == project.name
    assert back["Labels"]["com.docker.compose.network"] == "back"
    assert back["Labels"]["tier"] == "back"
    assert back["Internal"] is True
    assert back["IPAM"]["Config"][0]["Subnet"] == "172.31.240.0/24"
    volume = client.get(f"/volumes/{project.name}_data")
    assert volume["Labels"]["com.docker.compose.volume"] == "data"
    assert volume["Labels"]["com.docker.compose.project"] == project.name
    assert volume["Labels"]["kind"] == "data"


# ---------------------------------------------------------------------------------------------------------
# through the API, with convert's bodies


def test_config_keys_by_api(daemon: DaemonProcess, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    client = daemon.client()
    infos = up_by_api(client, project, ["config", "entry", "peer"])
    check_labels(project, "config", infos["config"])
    check_config(infos["config"])
    check_entry(infos["entry"])
    check_config_inside(client, infos["config"]["Id"])
    check_hostname_resolves(client, project, infos["config"], infos["peer"]["Id"])
    check_stop_signal(client, infos["config"]["Id"])


def test_ports_by_api(daemon: DaemonProcess, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    client = daemon.client()
    info = up_by_api(client, project, ["ports"])["ports"]
    port = check_ports(info)
    run_in(client, info["Id"], "sh", "-c", "echo published > /www/index.html")
    wait_for(lambda: b"published" in http_get(port), timeout=30)


def test_storage_by_api(daemon: DaemonProcess, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    client = daemon.client()
    info = up_by_api(client, project, ["storage"])["storage"]
    check_storage(project, info)
    check_storage_inside(client, info["Id"])
    check_resources_labels(client, project)


def test_resources_by_api(daemon: DaemonProcess, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    client = daemon.client()
    infos = up_by_api(client, project, ["limits", "deploy"])
    check_limits(infos["limits"])
    check_deploy(infos["deploy"])
    check_limits_inside(client, infos["limits"]["Id"])


def test_top_level_networks_and_volumes_by_api(daemon: DaemonProcess, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    client = daemon.client()
    infos = up_by_api(client, project, ["resources", "hostnet"])
    check_top_level(client, project, infos["resources"], infos["hostnet"])


def test_host_keys_by_api(daemon: DaemonProcess, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    client = daemon.client()
    infos = up_by_api(client, project, ["host", "privileged"])
    check_host(infos["host"])
    check_host_inside(client, infos["host"]["Id"])
    assert infos["privileged"]["HostConfig"]["Privileged"] is True
    assert infos["privileged"]["HostConfig"]["NetworkMode"] == "none"


def test_networks_and_shared_namespaces_by_api(daemon: DaemonProcess, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    client = daemon.client()
    infos = up_by_api(client, project, ["storage", "front", "sidecar", "peer", "bridged", "linked"])
    front, sidecar, linked = infos["front"], infos["sidecar"], infos["linked"]
    check_networks(project, front)
    assert sidecar["HostConfig"]["NetworkMode"] == "container:" + front["Id"]
    assert sidecar["HostConfig"]["VolumesFrom"] == [infos["storage"]["Id"] + ":ro"]
    assert run_in(client, sidecar["Id"], "cat", "/src/hello.txt") == "hello from the host\n"
    assert "Read-only" in run_in(client, sidecar["Id"], "sh", "-c", "touch /data/x 2>&1")
    assert "172.31.240.10" in run_in(client, sidecar["Id"], "ip", "-4", "addr")  # front's namespace
    check_names_resolve(client, infos["peer"]["Id"])
    check_user_network_link(client, project, infos["peer"])
    assert linked["HostConfig"]["Links"] == [f"/{project.name}-bridged-1:/{project.name}-linked-1/frontend"]
    assert "\tfrontend" in run_in(client, linked["Id"], "cat", "/etc/hosts")


def test_oneoff_body_by_api(daemon: DaemonProcess, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    client = daemon.client()
    up_by_api(client, project, [])
    overrides = RunOverrides(command=["sh", "-c", "echo $EXTRA"], environment={"EXTRA": "from-run"},
                             remove=False, ports=["127.0.0.1::81"])
    body = create_body(project, "ports", 0, image="busybox", config_hash=config_hash(project, "ports"),
                       oneoff=True, overrides=overrides, slug="ab" * 32)
    name = oneoff_container_name(project, "ports", "ab" * 32)
    created = client.call("POST", "/containers/create", {"name": name}, body)
    info = client.get(f"/containers/{created['Id']}/json")
    labels = info["Config"]["Labels"]
    assert info["Name"] == f"/{project.name}-ports-run-abababababab"
    assert labels["com.docker.compose.oneoff"] == "True"
    assert labels["com.docker.compose.slug"] == "ab" * 32
    assert "com.docker.compose.container-number" not in labels
    assert list(info["HostConfig"]["PortBindings"]) == ["81/tcp"]  # the service's own ports not published
    assert info["NetworkSettings"]["Networks"][f"{project.name}_default"]["Aliases"][0] == name  # no service alias
    assert "ports" not in info["NetworkSettings"]["Networks"][f"{project.name}_default"]["Aliases"]


# ---------------------------------------------------------------------------------------------------------
# through `moor compose up`


def _compose_up_available() -> bool:
    """H4's ``up`` and H2's loader are in the tree (they land beside this test)."""
    return all(importlib.util.find_spec(module) is not None
               for module in ("moor.cli.compose.up", "moor.compose.runtime.up", "moor.compose.loader.project"))


needs_up = pytest.mark.skipif(not _compose_up_available(), reason="moor compose up is not there yet")


@needs_up
def test_service_keys_through_compose_up(daemon: DaemonProcess, tmp_path: Path) -> None:
    source = COMPOSE_FILES / "service-keys"
    project_dir = tmp_path / "project"
    subprocess.run(["cp", "-r", str(source), str(project_dir)], check=True)
    name = "upkeys" + secrets.token_hex(4)
    client = daemon.client()
    make_externals(client)
    result = compose(daemon, project_dir, "-p", name, "up", "-d", timeout=180,
                     env={"SVCKEYS_SECRET": "from the environment"})
    assert result.returncode == 0, result.stderr
    project = Project(name=name, working_dir=str(project_dir), config_files=[str(project_dir / "compose.yaml")])

    def info(service: str) -> dict[str, Any]:
        return client.get(f"/containers/{name}-{service}-1/json")

    for service in ("config", "entry", "ports", "storage", "limits", "deploy", "host", "front"):
        check_labels(project, service, info(service))
    check_config(info("config"))
    check_config_inside(client, info("config")["Id"])
    check_hostname_resolves(client, project, info("config"), info("peer")["Id"])
    check_stop_signal(client, info("config")["Id"])
    check_entry(info("entry"))
    port = check_ports(info("ports"))
    run_in(client, info("ports")["Id"], "sh", "-c", "echo published > /www/index.html")
    wait_for(lambda: b"published" in http_get(port), timeout=30)
    check_storage(project, info("storage"))
    check_storage_inside(client, info("storage")["Id"])
    storage = info("storage")["Id"]
    assert run_in(client, storage, "cat", "/run/secrets/fromenv") == "from the environment"
    assert run_in(client, storage, "stat", "-c", "%a", "/run/secrets/fromenv").strip() == "400"
    assert run_in(client, storage, "cat", "/etc/inline.conf") == f"inline config for {name}\n"
    check_resources_labels(client, project)
    check_limits(info("limits"))
    check_limits_inside(client, info("limits")["Id"])
    check_deploy(info("deploy"))
    check_host(info("host"))
    check_host_inside(client, info("host")["Id"])
    check_networks(project, info("front"))
    check_names_resolve(client, info("peer")["Id"])
    check_user_network_link(client, project, info("peer"))
    check_top_level(client, project, info("resources"), info("hostnet"))
    sidecar = info("sidecar")
    assert sidecar["HostConfig"]["NetworkMode"] == "container:" + info("front")["Id"]
    assert sidecar["HostConfig"]["VolumesFrom"] == [info("storage")["Id"] + ":ro"]
    down = compose(daemon, project_dir, "-p", name, "down", "-v", timeout=180)
    assert down.returncode == 0, down.stderr


@needs_up
@pytest.mark.parametrize(("service", "message"), [
    ("    dns: [not-an-address]\n", "invalid DNS address: not-an-address"),
    ("    healthcheck:\n      test: 'true'\n      start_interval: 1s\n",
     "healthcheck.start_interval requires healthcheck.start_period to be set"),
    ("    stop_grace_period: soon\n", 'time: invalid duration "soon"'),
    ("    secrets: [far]\n", "unsupported external secret far-away"),
])
def test_values_the_engine_body_cannot_take(daemon: DaemonProcess, tmp_path: Path, service: str,
                                            message: str) -> None:
    """A value convert cannot turn into a create body: one line naming it, exit 1, no traceback."""
    yaml = ("services:\n  web:\n    image: busybox\n    command: sleep 300\n" + service
            + "secrets:\n  far:\n    name: far-away\n    external: true\n")
    (tmp_path / "compose.yaml").write_text(yaml)
    result = compose(daemon, tmp_path, "-p", "bad" + secrets.token_hex(4), "up", "-d")
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not daemon.client().get("/containers/json", all=1)
