"""User-defined bridge networks with the real bridge driver: addresses, names, aliases, DNS options,
isolation between networks. Each test uses its own bridge names and subnets and removes them."""

from __future__ import annotations

import secrets
import subprocess

import pytest

from e2e.containerhelpers import first_json, inspect, moor, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def make_network(daemon: DaemonProcess, name: str) -> str:
    subnet = f"10.204.{secrets.randbelow(250)}.0/24"
    result = moor(daemon, "network", "create", "--subnet", subnet, "--label", "test=1",
                  "-o", f"com.docker.network.bridge.name=mt{secrets.token_hex(4)}", name)
    assert result.returncode == 0, result.stderr
    return subnet


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, attempts: int = 50) -> bytes:
    """GET ``url``, retrying while the server in the container comes up."""
    import time
    import urllib.request

    for _ in range(attempts):
        try:
            return urllib.request.urlopen(url, timeout=2).read()
        except OSError:
            time.sleep(0.1)
    return b""


def test_names_aliases_addresses_and_isolation(moord: DaemonProcess) -> None:
    subnet = make_network(moord, "appnet")
    make_network(moord, "othernet")
    prefix = subnet.rsplit(".", 1)[0]
    try:
        assert moor(moord, "run", "-d", "--name", "db", "--network", "appnet", "--ip", f"{prefix}.50",
                    "--network-alias", "database", "busybox", "sleep", "300").returncode == 0
        ip = inspect(moord, "db")["NetworkSettings"]["Networks"]["appnet"]["IPAddress"]
        assert ip == f"{prefix}.50"
        web = moor(moord, "run", "--rm", "--network", "appnet", "--domainname", "corp.test", "busybox", "sh", "-c",
                   "ping -c1 -W2 db >/dev/null && echo by-name; ping -c1 -W2 database >/dev/null && echo by-alias; "
                   "cat /proc/sys/kernel/domainname")
        assert "by-name" in web.stdout and "by-alias" in web.stdout, web.stdout + web.stderr
        assert web.stdout.strip().endswith("corp.test")
        # on a user-defined network --dns servers are the embedded server's upstreams (127.0.0.11 in resolv.conf)
        conf = moor(moord, "run", "--rm", "--network", "appnet", "--dns", "10.0.0.53", "--dns-search", "example.test",
                    "--dns-option", "ndots:2", "busybox", "cat", "/etc/resolv.conf").stdout
        assert conf == "search example.test\nnameserver 127.0.0.11\noptions ndots:2\n"
        other = moor(moord, "run", "--rm", "--network", "othernet", "busybox", "sh", "-c",
                     f"ping -c1 -W1 {prefix}.50 >/dev/null && echo reached || echo isolated")
        assert other.stdout.strip() == "isolated"
        network_info = first_json(moord, "network", "inspect", "appnet")
        assert [c["Name"] for c in network_info["Containers"].values()] == ["db"]
        assert network_info["IPAM"]["Config"][0]["Subnet"] == subnet and network_info["Labels"] == {"test": "1"}
        refused = moor(moord, "network", "rm", "appnet")
        assert refused.returncode == 1 and "has active endpoints" in refused.stderr
        listed = moor(moord, "network", "ls", "--filter", "label=test=1", "--format", "{{.Name}}").stdout.split()
        assert sorted(listed) == ["appnet", "othernet"]
    finally:
        moor(moord, "rm", "-f", "db")
        for name in ("appnet", "othernet"):
            moor(moord, "network", "rm", name)
    assert "appnet" not in moor(moord, "network", "ls").stdout


def test_connect_and_disconnect_a_running_container(moord: DaemonProcess) -> None:
    make_network(moord, "latenet")
    try:
        moor(moord, "run", "-d", "--name", "late", "busybox", "sleep", "300")  # on the default bridge: eth0
        assert moor(moord, "network", "connect", "--alias", "tardy", "latenet", "late").returncode == 0
        links = moor(moord, "exec", "late", "ls", "/sys/class/net").stdout.split()
        assert links == ["eth0", "eth1", "lo"]
        assert moor(moord, "network", "disconnect", "latenet", "late").returncode == 0
        assert moor(moord, "exec", "late", "ls", "/sys/class/net").stdout.split() == ["eth0", "lo"]
    finally:
        moor(moord, "rm", "-f", "late")
        moor(moord, "network", "rm", "latenet")


def test_host_none_and_shared_namespaces_take_no_other_network(moord: DaemonProcess) -> None:
    prefix = make_network(moord, "lonenet").rsplit(".", 1)[0]
    try:
        for mode in ("none", "host", "container:lonebridge"):
            if mode.startswith("container:"):
                moor(moord, "run", "-d", "--name", "lonebridge", "busybox", "sleep", "300")
            name = "lone" + mode.split(":")[0]
            started = moor(moord, "run", "-d", "--name", name, "--network", mode, "busybox", "sleep", "300")
            assert started.returncode == 0
            refused = moor(moord, "network", "connect", "lonenet", name)
            words = ("container cannot be connected to multiple networks with one of the networks in private (none) "
                     "mode" if mode == "none" else "container sharing network namespace with another container or host "
                     "cannot be connected to any other network")
            assert refused.returncode == 1 and words in refused.stderr, refused.stderr
        # the host's namespace got no endpoint of the network (its bridge has the gateway, .1)
        addresses = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
        assert [a for a in addresses.split() if a.startswith(prefix + ".") and "/" in a] == [f"{prefix}.1/24"]
        for network, words in (("none", "container cannot be connected to multiple networks with one of the "
                                        "networks in private (none) mode"),
                               ("host", "container cannot be disconnected from host network or connected to host "
                                        "network")):
            refused = moor(moord, "network", "connect", network, "lonebridge")
            assert refused.returncode == 1 and words in refused.stderr, refused.stderr
        for driver in ("host", "none"):
            second = moor(moord, "network", "create", "-d", driver, f"second{driver}")
            assert second.returncode == 1 and "only one instance of" in second.stderr, second.stderr
    finally:
        moor(moord, "rm", "-f", "lonenone", "lonehost", "lonecontainer", "lonebridge")
        moor(moord, "network", "rm", "lonenet")


def test_docker_cli_networks(moord: DaemonProcess, docker_cli: str) -> None:
    import os

    env = {**os.environ, "DOCKER_HOST": moord.host, "DOCKER_CONFIG": moord.root}
    bridge = f"mt{secrets.token_hex(4)}"
    created = subprocess.run([docker_cli, "network", "create", "--subnet", f"10.205.{secrets.randbelow(250)}.0/24",
                              "-o", f"com.docker.network.bridge.name={bridge}", "dknet"],
                             capture_output=True, text=True, env=env)
    assert created.returncode == 0, created.stderr
    try:
        listed = subprocess.run([docker_cli, "network", "ls", "--format", "{{.Name}}"], capture_output=True, text=True,
                                env=env).stdout.split()
        assert {"bridge", "host", "none", "dknet"} <= set(listed)
        run = subprocess.run([docker_cli, "run", "--rm", "--network", "dknet", "busybox", "ip", "-4", "addr", "show",
                              "eth0"], capture_output=True, text=True, env=env)
        assert "inet 10.205." in run.stdout, run.stderr
    finally:
        subprocess.run([docker_cli, "network", "rm", "dknet"], capture_output=True, env=env)
    assert bridge not in subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout


def test_published_port_serves_the_host(moord: DaemonProcess) -> None:
    import socket
    import time

    make_network(moord, "webnet")
    port = free_port()
    try:
        started = moor(moord, "run", "-d", "--name", "web", "--network", "webnet", "-p", f"127.0.0.1:{port}:80",
                       "--expose", "81", "busybox", "sh", "-c",
                       "mkdir -p /www && echo served-by-moor > /www/index.html && httpd -f -p 80 -h /www")
        assert started.returncode == 0, started.stderr
        body = fetch(f"http://127.0.0.1:{port}/")
        assert body == b"served-by-moor\n"
        assert moor(moord, "port", "web", "80").stdout.strip() == f"127.0.0.1:{port}"
        ports = inspect(moord, "web")["NetworkSettings"]["Ports"]
        assert ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}], "81/tcp": None}
        assert f"127.0.0.1:{port}->80/tcp" in moor(moord, "ps").stdout
        taken = moor(moord, "run", "--rm", "--network", "webnet", "-p", f"127.0.0.1:{port}:80", "busybox", "true")
        assert taken.returncode == 125 and "port is already allocated" in taken.stderr
    finally:
        moor(moord, "rm", "-f", "web")
        moor(moord, "network", "rm", "webnet")
    for _attempt in range(40):  # the port is free once the container (and its monitor) is gone
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                again.bind(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
    else:
        raise AssertionError(f"port {port} still taken after the container was removed")


def test_links_and_thirty_parallel_containers(moord: DaemonProcess) -> None:
    from concurrent.futures import ThreadPoolExecutor

    make_network(moord, "crowd")
    names = [f"crowd{i}" for i in range(30)]
    try:
        with ThreadPoolExecutor(10) as pool:
            results = list(pool.map(lambda n: moor(moord, "run", "-d", "--name", n, "--network", "crowd", "busybox",
                                                   "sleep", "300"), names))
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results if r.returncode]
        addresses = {inspect(moord, n)["NetworkSettings"]["Networks"]["crowd"]["IPAddress"] for n in names}
        assert len(addresses) == 30
        linked = moor(moord, "run", "--rm", "--network", "crowd", "--link", "crowd0:primary", "busybox", "sh", "-c",
                      "grep -c primary /etc/hosts; ping -c1 -W2 primary >/dev/null && echo reached")
        # as Docker: on a user-defined network a link is a name the embedded DNS answers, not a hosts line
        assert linked.stdout.split() == ["0", "reached"], (linked.stdout, linked.stderr)
        missing = moor(moord, "run", "--rm", "--link", "nosuch:x", "busybox", "true")
        assert missing.returncode == 125 and "No such container: nosuch" in missing.stderr
    finally:
        moor(moord, "rm", "-f", *names)
        moor(moord, "network", "rm", "crowd")


def test_docker_py_networks_and_ports(moord: DaemonProcess) -> None:

    import docker

    client = docker.DockerClient(base_url=moord.host)
    subnet = f"10.206.{secrets.randbelow(250)}.0/24"
    network = client.networks.create("pynet", driver="bridge",
                                     ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)]),
                                     options={"com.docker.network.bridge.name": f"mt{secrets.token_hex(4)}"})
    port = free_port()
    container = None
    try:
        container = client.containers.run(
            "busybox", ["sh", "-c", "mkdir -p /w && echo py > /w/index.html && httpd -f -p 80 -h /w"],
            detach=True, network="pynet", ports={"80/tcp": ("127.0.0.1", port)})
        body = fetch(f"http://127.0.0.1:{port}/")
        assert body == b"py\n"
        network.reload()
        assert container.id in network.attrs["Containers"]
    finally:
        if container is not None:
            container.remove(force=True)
        network.remove()
        client.close()


def test_default_bridge_network_and_publishing(moord: DaemonProcess) -> None:

    port = free_port()
    started = moor(moord, "run", "-d", "--name", "defweb", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c",
                   "mkdir -p /w && echo default > /w/index.html && httpd -f -p 80 -h /w")
    assert started.returncode == 0, started.stderr
    try:
        settings = inspect(moord, "defweb")["NetworkSettings"]
        assert settings["IPAddress"] and settings["Networks"]["bridge"]["Gateway"]
        body = fetch(f"http://127.0.0.1:{port}/")
        assert body == b"default\n"
        assert moord.bridge in subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    finally:
        moor(moord, "rm", "-f", "defweb")


def test_network_mode_checks_at_create_and_at_start(moord: DaemonProcess) -> None:
    host = moor(moord, "run", "--rm", "--network", "host", "-p", "80:80", "busybox", "true")
    assert host.returncode == 0 and "WARNING: Published ports are discarded when using host network mode" in host.stderr
    hostname = moor(moord, "create", "--network", "container:nosuch", "-h", "x", "busybox")
    assert hostname.returncode == 1 and "conflicting options: hostname and the network mode" in hostname.stderr
    try:  # as Docker: the container and the network it names need exist only when it starts
        for name, network in (("latecontainer", "container:nosuch"), ("latenetwork", "nosuchnet")):
            assert moor(moord, "create", "--name", name, "--network", network, "busybox").returncode == 0
        started = moor(moord, "start", "latecontainer")
        assert started.returncode == 1 and "No such container: nosuch" in started.stderr
        started = moor(moord, "start", "latenetwork")
        assert started.returncode == 1 and "network nosuchnet not found" in started.stderr
    finally:
        moor(moord, "rm", "latecontainer", "latenetwork")


def test_links_on_the_default_bridge_connect_ip_ls_quiet_and_prune(moord: DaemonProcess) -> None:
    prefix = make_network(moord, "pinnet").rsplit(".", 1)[0]
    make_network(moord, "sparenet")
    try:
        assert moor(moord, "run", "-d", "--name", "linked", "busybox", "sleep", "300").returncode == 0
        target = inspect(moord, "linked")
        address = target["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        hosts = moor(moord, "run", "--rm", "--link", "linked:friend", "busybox", "cat", "/etc/hosts").stdout
        assert f"{address}\tfriend {target['Id'][:12]} linked\n" in hosts  # Docker's line for a link
        pinned = moor(moord, "network", "connect", "--ip", f"{prefix}.77", "--alias", "pin", "pinnet", "linked")
        assert pinned.returncode == 0, pinned.stderr
        shown = moor(moord, "exec", "linked", "ip", "-4", "-o", "addr", "show", "eth1").stdout
        assert f"inet {prefix}.77/24" in shown
        ids = moor(moord, "network", "ls", "-q", "--filter", "name=pinnet").stdout.split()
        assert ids == [first_json(moord, "network", "inspect", "pinnet")["Id"][:12]]
        pruned = moor(moord, "network", "prune", "-f", "--filter", "label=test=1")
        assert pruned.returncode == 0 and "sparenet" in pruned.stdout and "pinnet" not in pruned.stdout  # in use
        names = moor(moord, "network", "ls", "--format", "{{.Name}}").stdout.split()
        assert "pinnet" in names and "sparenet" not in names
    finally:
        moor(moord, "rm", "-f", "linked")
        for name in ("pinnet", "sparenet"):
            moor(moord, "network", "rm", name)
