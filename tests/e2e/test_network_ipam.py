"""The default bridge across moord restarts, IP ranges and gateways of user networks, --mac-address.

Each test uses its own daemon bridge, network bridge names and subnets, and removes them.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest

from e2e.containerhelpers import address, import_busybox, moor, moord  # noqa: F401 - fixture
from e2e.containerhelpers import first_json as inspect
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


def test_default_bridge_is_made_at_start_and_survives_restarts() -> None:
    with DaemonProcess() as daemon:
        assert link_exists(daemon.bridge), "the default bridge is missing right after moord started"
        import_busybox(daemon)
        network = inspect(daemon, "network", "inspect", "bridge")
        subnet = network["IPAM"]["Config"][0]["Subnet"]
        try:
            assert moor(daemon, "run", "-d", "--name", "first", "busybox", "sleep", "300").returncode == 0
            first = address(daemon, "first")
            daemon.stop()
            assert link_exists(daemon.bridge), "a running container's bridge went away with moord"
            daemon.start()
            again = inspect(daemon, "network", "inspect", "bridge")
            assert (again["Id"], again["IPAM"]["Config"][0]["Subnet"]) == (network["Id"], subnet)
            assert inspect(daemon, "inspect", "first")["State"]["Running"]
            assert address(daemon, "first") == first
            assert moor(daemon, "run", "-d", "--name", "second", "busybox", "sleep", "300").returncode == 0
            second = address(daemon, "second")
            assert second and second != first
            reached = moor(daemon, "exec", "second", "ping", "-c1", "-W2", first)
            assert reached.returncode == 0, reached.stdout + reached.stderr
        finally:
            moor(daemon, "rm", "-f", "first", "second")
        daemon.stop()
        assert not link_exists(daemon.bridge), "moord left its bridge after a clean stop with nothing running"
        daemon.start()
        assert link_exists(daemon.bridge)
        last = inspect(daemon, "network", "inspect", "bridge")
        assert (last["Id"], last["IPAM"]["Config"][0]["Subnet"]) == (network["Id"], subnet)


def test_ip_range_and_gateway(moord: DaemonProcess) -> None:
    prefix = f"10.205.{secrets.randbelow(250)}"
    subnet, ip_range, gateway = f"{prefix}.0/24", f"{prefix}.128/30", f"{prefix}.254"
    created = moor(moord, "network", "create", "--subnet", subnet, "--ip-range", ip_range, "--gateway", gateway,
                   "-o", f"com.docker.network.bridge.name=mt{secrets.token_hex(4)}", "ranged")
    assert created.returncode == 0, created.stderr
    names = ["r1", "r2", "fixed"]
    try:
        config = inspect(moord, "network", "inspect", "ranged")["IPAM"]["Config"]
        assert config == [{"Subnet": subnet, "IPRange": ip_range, "Gateway": gateway}]
        for name in names[:2]:
            assert moor(moord, "run", "-d", "--name", name, "--network", "ranged", "busybox",
                        "sleep", "300").returncode == 0
        assert [address(moord, n, "ranged") for n in names[:2]] == [f"{prefix}.128", f"{prefix}.129"]
        # --ip may name any host of the subnet, also outside the range
        assert moor(moord, "run", "-d", "--name", "fixed", "--network", "ranged", "--ip", f"{prefix}.5", "busybox",
                    "sleep", "300").returncode == 0
        assert address(moord, "fixed", "ranged") == f"{prefix}.5"
        route = moor(moord, "exec", "r1", "ip", "-4", "route", "show", "default")
        assert f"via {gateway}" in route.stdout, route.stdout + route.stderr
    finally:
        moor(moord, "rm", "-f", *names)
        moor(moord, "network", "rm", "ranged")


def test_without_a_gateway_the_range_gives_it(moord: DaemonProcess) -> None:
    prefix = f"10.205.{secrets.randbelow(250)}"
    created = moor(moord, "network", "create", "--subnet", f"{prefix}.0/24", "--ip-range", f"{prefix}.128/25",
                   "-o", f"com.docker.network.bridge.name=mt{secrets.token_hex(4)}", "rangegw")
    assert created.returncode == 0, created.stderr
    try:
        shown = moor(moord, "run", "--rm", "--network", "rangegw", "busybox", "sh", "-c",
                     "ip -4 -o addr show eth0; ip -4 route show default")
        assert f"inet {prefix}.129/24" in shown.stdout and f"default via {prefix}.128" in shown.stdout, shown.stdout
    finally:
        moor(moord, "network", "rm", "rangegw")


@pytest.mark.parametrize("args, message", [
    (["--subnet", "10.205.7.0/24", "--ip-range", "10.205.8.0/28"], "no matching subnet for range 10.205.8.0/28"),
    (["--ip-range", "10.205.7.0/28"], "every ip-range or gateway must have a corresponding subnet"),
    (["--subnet", "10.205.7.0/24", "--gateway", "10.205.8.1"], "no matching subnet for gateway 10.205.8.1"),
    (["--subnet", "10.205.7.0/24", "--ip-range", "bogus"], "invalid CIDR address: bogus"),
    (["--subnet", "10.205.7.0/24", "--gateway", "10.205.7.0"],
     "failed to allocate gateway (10.205.7.0): Address already in use"),
    (["--subnet", "bogus"], "Invalid subnet bogus : invalid CIDR address: bogus"),
    (["--subnet", "10.205.7.0/24", "--subnet", "10.205.7.0/25"],
     "multiple overlapping subnet configuration is not supported"),
    (["--subnet", "10.205.7.0/24", "--subnet", "10.205.8.0/24"], "bridge driver doesn't support multiple subnets"),
    (["--subnet", "10.205.7.0/24", "--aux-address", "a=10.205.8.2"], "no matching subnet for aux-address 10.205.8.2"),
    (["--ipv6"], "could not find an available, non-overlapping IPv6 address pool among the defaults"),
])
def test_network_create_checks_ipam_as_docker(moord: DaemonProcess, args: list[str], message: str) -> None:
    result = moor(moord, "network", "create", *args, "badnet")
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert moor(moord, "network", "inspect", "badnet").returncode != 0


def test_ip_range_through_the_api(moord: DaemonProcess) -> None:
    client = moord.client()
    prefix = f"10.205.{secrets.randbelow(250)}"
    from moor.client import DaemonError

    with pytest.raises(DaemonError) as caught:
        client.call("POST", "/networks/create", body={"Name": "apinet", "IPAM": {"Config": [
            {"Subnet": f"{prefix}.0/24", "IPRange": "10.1.2.0/28"}]}})
    assert "no matching subnet for range 10.1.2.0/28" in caught.value.message


def test_aux_addresses_are_kept_from_containers(moord: DaemonProcess) -> None:
    prefix = f"10.205.{secrets.randbelow(250)}"
    created = moor(moord, "network", "create", "--subnet", f"{prefix}.0/24", "--aux-address", f"router={prefix}.2",
                   "-o", f"com.docker.network.bridge.name=mt{secrets.token_hex(4)}", "auxnet")
    assert created.returncode == 0, created.stderr
    try:
        config = inspect(moord, "network", "inspect", "auxnet")["IPAM"]["Config"]
        assert config == [{"Subnet": f"{prefix}.0/24", "AuxiliaryAddresses": {"router": f"{prefix}.2"}}]
        shown = moor(moord, "run", "--rm", "--network", "auxnet", "busybox", "ip", "-4", "-o", "addr", "show", "eth0")
        assert f"inet {prefix}.3/24" in shown.stdout, shown.stdout + shown.stderr
    finally:
        moor(moord, "network", "rm", "auxnet")


def test_mac_address(moord: DaemonProcess) -> None:
    mac = "02:42:ac:11:00:99"
    try:
        assert moor(moord, "run", "-d", "--name", "withmac", "--mac-address", mac, "busybox",
                    "sleep", "300").returncode == 0
        shown = inspect(moord, "inspect", "withmac")
        assert shown["Config"]["MacAddress"] == mac
        assert shown["NetworkSettings"]["Networks"]["bridge"]["MacAddress"] == mac
        assert shown["NetworkSettings"]["MacAddress"] == mac
        inside = moor(moord, "exec", "withmac", "cat", "/sys/class/net/eth0/address")
        assert inside.stdout.strip() == mac, inside.stderr
        # API 1.44 clients put it in the primary network's EndpointsConfig
        client = moord.client()
        created = client.call("POST", "/containers/create?name=apimac", body={
            "Image": "busybox", "Cmd": ["cat", "/sys/class/net/eth0/address"],
            "NetworkingConfig": {"EndpointsConfig": {"bridge": {"MacAddress": "02:42:AC:11:00:98"}}}})
        assert inspect(moord, "inspect", created["Id"])["Config"]["MacAddress"] == "02:42:ac:11:00:98"
        started = moor(moord, "start", "-a", "apimac")
        assert started.stdout.strip() == "02:42:ac:11:00:98", started.stderr
    finally:
        moor(moord, "rm", "-f", "withmac", "apimac")
    bad = moor(moord, "run", "--rm", "--mac-address", "zz", "busybox", "true")
    assert bad.returncode == 125
    assert 'invalid argument "zz" for "--mac-address" flag: zz is not a valid mac address' in bad.stderr
    host = moor(moord, "run", "--rm", "--network", "host", "--mac-address", mac, "busybox", "true")
    assert host.returncode == 125 and "conflicting options: mac-address and the network mode" in host.stderr


def test_hostname_domainname_add_host_and_dns_on_the_default_bridge(moord: DaemonProcess) -> None:
    result = moor(moord, "run", "--rm", "-h", "boxhost", "--domainname", "corp.test", "--add-host", "db.local:10.1.2.3",
                  "--dns", "10.0.0.53", "--dns-search", "example.test", "--dns-option", "ndots:2", "busybox",
                  "sh", "-c",
                  "cat /etc/hostname; echo --; cat /etc/hosts; echo --; cat /etc/resolv.conf; echo --; "
                  "hostname; cat /proc/sys/kernel/domainname; ip -4 -o addr show eth0")
    hostname, hosts, resolv, rest = result.stdout.split("--\n")
    assert hostname == "boxhost\n"
    words = rest.split()
    address = words[words.index("inet") + 1].split("/")[0]
    assert hosts.splitlines()[-2:] == ["10.1.2.3\tdb.local", f"{address}\tboxhost.corp.test boxhost"]
    assert resolv == "search example.test\nnameserver 10.0.0.53\noptions ndots:2\n"
    assert rest.splitlines()[:2] == ["boxhost", "corp.test"]
