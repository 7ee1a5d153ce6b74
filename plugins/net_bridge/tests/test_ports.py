"""Published ports through the bridge driver's NAT, seen from another host: a namespace of the test's own,
joined to the host by a veth pair, reaches servers in a container namespace through the host's address.

Nothing listens on the host ports here (there is no engine, hence no userland proxy), so every answer
proves the kernel forwarded the traffic.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from test_bridge import BRIDGE_NAME, Host, driver, endpoint, host, in_ns, iptables_rules, options, sh  # noqa: F401

from moor.drivers import Driver
from moor.errors import InvalidParameter
from moor.types import PortMapping

pytestmark = pytest.mark.root

#: runs in the container namespace: answers TCP on 8080 and echoes UDP on 5353, each with the peer's address
SERVER = r"""
import socket, threading
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("0.0.0.0", 8080)); tcp.listen(8)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("0.0.0.0", 5353))
def echo():
    while True:
        data, peer = udp.recvfrom(2048)
        udp.sendto(data + b" from " + peer[0].encode(), peer)
threading.Thread(target=echo, daemon=True).start()
print("ready", flush=True)
while True:
    client, peer = tcp.accept()
    client.sendall(b"tcp hello " + peer[0].encode()); client.close()
"""

#: runs in the outside namespace: argv = protocol, address, port; prints the answer (or nothing)
CLIENT = r"""
import socket, sys
protocol, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if protocol == "tcp":
        with socket.create_connection((address, port), timeout=2) as conn:
            print(conn.recv(200).decode())
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as conn:
            conn.settimeout(2); conn.sendto(b"udp ping", (address, port)); print(conn.recv(200).decode())
except OSError as err:
    print("failed:", err)
"""


def outside(host: Host) -> tuple[str, str, str]:
    """Another host: a namespace joined to this one by a veth pair on a private /30; (netns, host address, its own)."""
    netns = host.namespace()
    name = netns.rsplit("/", 1)[1]
    near, far = host.name(), host.name()
    pair = host.subnet(prefix=30)
    host_address, own = str(pair.network_address + 1), str(pair.network_address + 2)
    sh(f"ip link add {near} type veth peer name {far} && ip link set {far} netns {name}")
    sh(f"ip addr add {host_address}/30 dev {near} && ip link set {near} up")
    in_ns(netns, f"ip addr add {own}/30 dev {far}")
    in_ns(netns, f"ip link set {far} up")
    in_ns(netns, "ip link set lo up")
    return netns, host_address, own


def ask(netns: str, protocol: str, address: str, port: int) -> str:
    return in_ns(netns, f"{sys.executable} -c '{CLIENT}' {protocol} {address} {port}").stdout.strip()


def unused_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("0.0.0.0", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(host: Host) -> Iterator[str]:
    """A container-like namespace running :data:`SERVER`; yields its path."""
    netns = host.namespace()
    process = subprocess.Popen(["ip", "netns", "exec", netns.rsplit("/", 1)[1], sys.executable, "-c", SERVER],
                               stdout=subprocess.PIPE, text=True)
    try:
        yield netns
    finally:
        process.kill()
        process.wait()


def test_published_ports_reach_the_container_from_another_host(driver: Driver, host: Host, server: str) -> None:
    network = host.network(host.subnet())
    bridge = network.options[BRIDGE_NAME]
    driver.create(network=network)
    one = endpoint("one")
    info = driver.connect(network=network, endpoint=one, netns_path=server)
    elsewhere, host_address, own = outside(host)
    tcp_port, udp_port = unused_port(socket.SOCK_STREAM), unused_port(socket.SOCK_DGRAM)
    assert ask(elsewhere, "tcp", host_address, tcp_port).startswith("failed")  # nothing published yet
    ports = [PortMapping(protocol="tcp", container_port=8080, host_port=tcp_port),
             PortMapping(protocol="udp", container_port=5353, host_port=udp_port, host_ip=host_address)]
    assert driver.publish(network=network, endpoint=one, ports=ports) is True
    rules = iptables_rules()
    tag = f'-m comment --comment "moor bridge {bridge} port {one.id}"'
    assert f"! -i {bridge} -p tcp -m tcp --dport {tcp_port} {tag} -j DNAT --to-destination " \
           f"{info.ipv4_address}:8080" in rules
    assert f"-d {host_address}/32 ! -i {bridge} -p udp -m udp --dport {udp_port} {tag} -j DNAT" in rules
    assert f"-d {info.ipv4_address}/32 ! -i {bridge} -o {bridge} -p tcp -m tcp --dport 8080 {tag} -j ACCEPT" in rules
    assert f"-s {info.ipv4_address}/32 -d {info.ipv4_address}/32 -p udp -m udp --dport 5353 {tag} -j MASQUERADE" \
        in rules
    assert "-A PREROUTING -m addrtype --dst-type LOCAL -j MOOR-DNAT" in rules
    assert "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j MOOR-DNAT" in rules
    # the container sees the other host's own address: DNAT, not a proxy and not masquerade
    assert ask(elsewhere, "tcp", host_address, tcp_port) == f"tcp hello {own}"
    assert ask(elsewhere, "udp", host_address, udp_port) == f"udp ping from {own}"
    assert driver.unpublish(network=network, endpoint=one) is True
    assert one.id not in iptables_rules()
    assert ask(elsewhere, "tcp", host_address, tcp_port).startswith("failed")


def test_disconnect_and_remove_take_the_port_rules_along(driver: Driver, host: Host) -> None:
    network = host.network(host.subnet())
    bridge = network.options[BRIDGE_NAME]
    driver.create(network=network)
    one, two = endpoint("one"), endpoint("two")
    for item in (one, two):
        driver.connect(network=network, endpoint=item, netns_path=host.namespace())
        port = PortMapping(protocol="tcp", container_port=80, host_port=unused_port(socket.SOCK_STREAM))
        driver.publish(network=network, endpoint=item, ports=[port])
    assert driver.disconnect(network=network, endpoint=one, netns_path=None) is True
    rules = iptables_rules()
    assert one.id not in rules and two.id in rules
    state = driver.plugin.store.load().networks[network.id]
    assert state.endpoints[two.id].ports and one.id not in state.endpoints
    record = driver.plugin.store.load()
    record.networks[network.id].endpoints.clear()  # as if the endpoint was lost: remove still cleans its rules
    driver.plugin.store.save(record)
    assert driver.remove(network=network) is True
    assert bridge not in iptables_rules()


def test_rules_come_back_with_the_network(driver: Driver, host: Host) -> None:
    """Re-creating a known network (after the host lost its rules) puts the endpoints' port rules back."""
    network = host.network(host.subnet())
    driver.create(network=network)
    one = endpoint("one")
    driver.connect(network=network, endpoint=one, netns_path=host.namespace())
    driver.publish(network=network, endpoint=one,
                   ports=[PortMapping(protocol="udp", container_port=53, host_port=unused_port(socket.SOCK_DGRAM))])
    lines = [line for line in iptables_rules().splitlines() if one.id in line]
    assert len(lines) == 3
    for line in lines:
        table = "nat" if "DNAT" in line or "MASQUERADE" in line else "filter"
        sh(f"iptables -w -t {table} -D {line[3:]}")
    assert one.id not in iptables_rules()
    driver.create(network=network)
    assert sorted(line for line in iptables_rules().splitlines() if one.id in line) == sorted(lines)


def test_internal_networks_and_bad_mappings(driver: Driver, host: Host) -> None:
    network = host.network(host.subnet(), internal=True)
    driver.create(network=network)
    one = endpoint("one")
    driver.connect(network=network, endpoint=one, netns_path=host.namespace())
    ports = [PortMapping(protocol="tcp", container_port=80, host_port=unused_port(socket.SOCK_STREAM))]
    assert driver.publish(network=network, endpoint=one, ports=ports) is False
    assert one.id not in iptables_rules()
    for bad in (PortMapping(protocol="sctp", container_port=80, host_port=80),
                PortMapping(protocol="tcp", container_port=0, host_port=80),
                PortMapping(protocol="tcp", container_port=80, host_port=80, host_ip="not-an-address")):
        with pytest.raises(InvalidParameter):
            driver.publish(network=network, endpoint=one, ports=[bad])
