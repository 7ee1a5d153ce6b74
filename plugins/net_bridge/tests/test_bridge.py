"""The bridge network driver on the real kernel: bridges, veth pairs, namespaces, iptables.

Every name a test creates (bridges, namespaces, dummy links) starts with ``mt``
and a per-run random tag; subnets are random free /24s under 10.200.0.0/16
(networks) and 10.201.0.0/16 (pools). Traffic flows only between the test's
namespaces and its bridges. Each test's finalizer removes what it made, also
when it failed; moor0 and docker0 are never touched.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pytest

from moor.drivers import Driver
from moor.errors import Conflict, DriverLoadError, InvalidParameter, NotFound, Unavailable
from moor.testing.conformance import NetworkDriverConformance, load_driver
from moor.types import DriverContext, EndpointSpec, NetworkSpec

pytestmark = pytest.mark.root

BRIDGE_NAME = "com.docker.network.bridge.name"
RUN_TAG = "mt" + secrets.token_hex(2)


def sh(command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, capture_output=True, text=True, check=check)


def host_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks the host's interfaces and routes use right now."""
    found = []
    for line in sh("ip -o -4 addr show").stdout.splitlines():
        found.append(ipaddress.IPv4Network(line.split()[3], strict=False))
    for line in sh("ip -4 route show table all").stdout.splitlines():
        first = line.split()[0] if line.split() else ""
        if first in ("local", "broadcast"):
            first = line.split()[1]
        if "/" in first or re.match(r"^\d+\.\d+\.\d+\.\d+$", first):
            found.append(ipaddress.IPv4Network(first, strict=False))
    return found


def iptables_rules() -> str:
    return sh("iptables-save").stdout


def nft_ruleset() -> str:
    return sh("nft list ruleset").stdout


class Host:
    """Names and subnets for one test, and the clean-up of whatever it left behind."""

    _taken_subnets: ClassVar[set[str]] = set()
    _counter = 0

    def __init__(self) -> None:
        self.links: list[str] = []
        self.netns: list[str] = []
        self.extra_rules: list[tuple[str, str]] = []

    def name(self) -> str:
        """A fresh interface name of this run (at most 15 characters)."""
        Host._counter += 1
        name = f"{RUN_TAG}{Host._counter:x}{secrets.token_hex(2)}"
        self.links.append(name)
        return name

    def subnet(self, under: str = "10.200.0.0/16", prefix: int = 24) -> ipaddress.IPv4Network:
        """A random /24 (or smaller) of ``under`` that nothing on the host uses."""
        used = host_networks()
        candidates = list(ipaddress.IPv4Network(under).subnets(new_prefix=24))
        for _ in range(200):
            block = candidates[secrets.randbelow(len(candidates))]
            if str(block) in Host._taken_subnets or any(block.overlaps(n) for n in used):
                continue
            Host._taken_subnets.add(str(block))
            return next(block.subnets(new_prefix=prefix))
        raise RuntimeError(f"no free /24 under {under}")

    def namespace(self) -> str:
        """A new empty network namespace; returns its path."""
        name = self.name()
        self.links.remove(name)
        sh(f"ip netns add {name}")
        self.netns.append(name)
        return f"/run/netns/{name}"

    def network(self, subnet: ipaddress.IPv4Network | str | None = None, **changes: Any) -> NetworkSpec:
        """A NetworkSpec with a bridge name of this run."""
        bridge = self.name()
        options = {BRIDGE_NAME: bridge, **changes.pop("options", {})}
        return NetworkSpec(id=secrets.token_hex(32), name=f"net-{bridge}", driver="bridge",
                           subnet=str(subnet) if subnet else "", options=options, **changes)

    def drop_forwarding(self, bridge: str) -> None:
        """Append DROP rules for ``bridge`` to FORWARD, as dockerd's DROP policy would act."""
        for direction in ("-i", "-o"):
            spec = f"FORWARD {direction} {bridge} -m comment --comment moor-test-{bridge} -j DROP"
            sh(f"iptables -w -A {spec}")
            self.extra_rules.append(("filter", spec))

    def clean(self) -> None:
        for table, spec in self.extra_rules:
            sh(f"iptables -w -t {table} -D {spec}", check=False)
        for name in self.netns:
            sh(f"ip netns del {name}", check=False)
        for name in self.links:
            sh(f"ip link del {name}", check=False)
        for line in iptables_rules().splitlines():
            if any(f'"moor bridge {name}"' in line for name in self.links) and line.startswith("-A "):
                table = _table_of(line)
                sh(f"iptables -w -t {table} -D {shlex.join(shlex.split(line)[1:])}", check=False)
        from moor_net_bridge import firewall
        firewall.prune()


def _table_of(rule_line: str) -> str:
    table = "filter"
    for line in iptables_rules().splitlines():
        if line.startswith("*"):
            table = line[1:]
        if line == rule_line:
            return table
    return table


@pytest.fixture
def host() -> Iterator[Host]:
    made = Host()
    try:
        yield made
    finally:
        made.clean()


def _options(host: Host) -> dict[str, Any]:
    return {"pool": {"base": str(host.subnet("10.201.0.0/16")), "size": 26}}


def _disconnect_everything(driver: Driver) -> None:
    store = driver.plugin.store
    for record in store.load().networks.values():
        spec = NetworkSpec(id=record.id, name=record.name, driver="bridge")
        for endpoint_id in list(record.endpoints):
            driver.disconnect(network=spec, endpoint=EndpointSpec(id=endpoint_id, container_id=""),
                              netns_path=None)
        driver.remove(network=spec)


@pytest.fixture
def options(host: Host) -> dict[str, Any]:
    return _options(host)


@pytest.fixture
def driver(tmp_path: Any, host: Host, options: dict[str, Any]) -> Iterator[Driver]:
    loaded = load_driver("network", "bridge", tmp_path, options)
    try:
        yield loaded
    finally:
        _disconnect_everything(loaded)


def endpoint(name: str, address: str = "", mac: str = "") -> EndpointSpec:
    return EndpointSpec(id=f"ep-{name}-{secrets.token_hex(4)}", container_id=f"c-{name}",
                        ipv4_address=address, mac_address=mac)


def in_ns(path: str, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh(f"ip netns exec {path.rsplit('/', 1)[1]} {command}", check=check)


def ns_links(path: str) -> list[str]:
    return [link["ifname"] for link in json.loads(in_ns(path, "ip -j link show").stdout)]


def ping(path: str, address: str) -> bool:
    return in_ns(path, f"ping -c 1 -W 1 {address}", check=False).returncode == 0


def needs_ping() -> None:
    if shutil.which("ping") is None:
        pytest.fail("ping is not installed: apt-get install iputils-ping")


# --------------------------------------------------------------------------- conformance


class TestBridgeConformance(NetworkDriverConformance):
    @pytest.fixture
    def driver(self, tmp_path: Any, host: Host) -> Iterator[Driver]:
        loaded = load_driver("network", "bridge", tmp_path)
        try:
            yield loaded
        finally:
            _disconnect_everything(loaded)

    @pytest.fixture
    def network(self, host: Host) -> NetworkSpec:
        return host.network(host.subnet(prefix=28))

    @pytest.fixture
    def namespaces(self, host: Host) -> list[str]:
        return [host.namespace(), host.namespace()]


# --------------------------------------------------------------------------- options


def test_unknown_driver_option_is_refused(tmp_path: Any) -> None:
    with pytest.raises(DriverLoadError, match="'bogus'"):
        load_driver("network", "bridge", tmp_path, {"bogus": 1})
    from moor_net_bridge.bridge import BridgeDriver

    def context(**options: object) -> DriverContext:
        return DriverContext(kind="network", name="bridge", home=str(tmp_path / "h"),
                             exec_home=str(tmp_path / "e"), options=options)

    with pytest.raises(InvalidParameter, match="unknown option 'bogus'"):
        BridgeDriver(context(bogus=1))
    for bad in ({"mtu": 10}, {"mtu": "x"}, {"pool": "10.0.0.0/33"}, {"pool": {"base": "10.0.0.0/16", "size": 8}},
                {"pool": {"base": "10.0.0.0/16", "width": 24}}, {"default_subnet": "fd00::/64"},
                {"default_bridge": "a-name-far-too-long"}):
        with pytest.raises(InvalidParameter):
            BridgeDriver(context(**bad))
    driver = BridgeDriver(context(pool=["10.90.0.0/16", {"base": "10.0.0.0/8", "size": 16}], mtu=1400))
    assert [(str(p.base), p.size) for p in driver.settings.pools] == [("10.90.0.0/16", 24), ("10.0.0.0/8", 16)]
    assert driver.settings.mtu == 1400


def test_invalid_network_options(driver: Driver, host: Host) -> None:
    subnet = host.subnet()
    for spec in (host.network("10.200.0.0/33"), host.network("not-a-subnet"),
                 host.network(subnet, gateway=str(subnet.network_address + 300)),
                 host.network(subnet, options={"com.docker.network.driver.mtu": "9"}),
                 host.network(subnet, options={"com.docker.network.bridge.enable_ip_masquerade": "maybe"}),
                 host.network(subnet, options={BRIDGE_NAME: "x" * 16})):
        with pytest.raises(InvalidParameter):
            driver.create(network=spec)
    assert driver.plugin.store.load().networks == {}


# --------------------------------------------------------------------------- create and remove


def test_create_with_given_subnet_and_remove(driver: Driver, host: Host) -> None:
    subnet = host.subnet()
    network = host.network(subnet)
    bridge = network.options[BRIDGE_NAME]
    gateway = str(subnet.network_address + 1)
    facts = driver.create(network=network)
    assert facts == {BRIDGE_NAME: bridge, "subnet": str(subnet), "gateway": gateway}
    details = json.loads(sh(f"ip -d -j addr show dev {bridge}").stdout)[0]
    assert details["linkinfo"]["info_kind"] == "bridge"
    assert "UP" in details["flags"]
    assert details["address"].startswith("02:42:")
    assert [(a["local"], a["prefixlen"]) for a in details["addr_info"] if a["family"] == "inet"] == [(gateway, 24)]
    rules = iptables_rules()
    assert f'-A MOOR-POSTROUTING -s {subnet} ! -o {bridge} -m comment --comment "moor bridge {bridge}" ' \
           f'-j MASQUERADE' in rules
    assert f"-i {bridge} ! -o {bridge}" in rules and "-A FORWARD -j MOOR-FORWARD" in rules
    assert driver.create(network=network) == facts  # idempotent
    assert driver.remove(network=network) is True
    assert sh(f"ip link show {bridge}", check=False).returncode != 0
    for listing in (iptables_rules(), nft_ruleset()):
        assert bridge not in listing and str(subnet) not in listing
    assert driver.remove(network=network) is False


def test_create_allocates_a_free_subnet_from_the_pool(driver: Driver, host: Host, options: dict[str, Any]) -> None:
    pool = ipaddress.IPv4Network(options["pool"]["base"])
    quarters = list(pool.subnets(new_prefix=26))
    dummy = host.name()
    sh(f"ip link add {dummy} type bridge && ip addr add {quarters[0].network_address + 5}/26 dev {dummy}")
    driver.create(network=host.network(quarters[1]))
    facts = driver.create(network=host.network())
    assert facts["subnet"] == str(quarters[2])
    assert facts["gateway"] == str(quarters[2].network_address + 1)
    assert facts[BRIDGE_NAME].startswith(RUN_TAG)
    unnamed = NetworkSpec(id=secrets.token_hex(32), name="unnamed", driver="bridge")
    facts = driver.create(network=unnamed)
    assert facts == {BRIDGE_NAME: f"br-{unnamed.id[:12]}", "subnet": str(quarters[3]),
                     "gateway": str(quarters[3].network_address + 1)}
    host.links.append(facts[BRIDGE_NAME])
    with pytest.raises(Unavailable, match="could not find an available, non-overlapping IPv4 address pool"):
        driver.create(network=host.network())


def test_overlapping_subnet_is_refused(driver: Driver, host: Host) -> None:
    subnet = host.subnet()
    driver.create(network=host.network(subnet))
    other = host.network(next(subnet.subnets(new_prefix=25)))
    with pytest.raises(Conflict, match="Pool overlaps with other one on this address space"):
        driver.create(network=other)
    assert sh(f"ip link show {other.options[BRIDGE_NAME]}", check=False).returncode != 0
    same_bridge = host.network(host.subnet(), options={BRIDGE_NAME: host.links[0]})
    with pytest.raises(Conflict, match="same bridge name"):
        driver.create(network=same_bridge)


def test_default_network_uses_the_driver_options(tmp_path: Any, host: Host) -> None:
    bridge, subnet = host.name(), host.subnet()
    loaded = load_driver("network", "bridge", tmp_path, {"default_bridge": bridge, "default_subnet": str(subnet),
                                                         "mtu": 1400})
    try:
        network = NetworkSpec(id=secrets.token_hex(32), name="bridge", driver="bridge")
        assert loaded.create(network=network) == {BRIDGE_NAME: bridge, "subnet": str(subnet),
                                                  "gateway": str(subnet.network_address + 1)}
        assert sh(f"cat /sys/class/net/{bridge}/mtu").stdout.strip() == "1400"
    finally:
        _disconnect_everything(loaded)


def test_recreate_after_the_host_lost_everything(driver: Driver, host: Host, tmp_path: Any,
                                                 options: dict[str, Any]) -> None:
    subnet = host.subnet()
    network = host.network(subnet)
    bridge = network.options[BRIDGE_NAME]
    facts = driver.create(network=network)
    before = [line for line in iptables_rules().splitlines() if f"moor bridge {bridge}" in line]
    host.clean()  # as a reboot would: bridge and rules gone
    assert sh(f"ip link show {bridge}", check=False).returncode != 0
    assert f"moor bridge {bridge}" not in iptables_rules()
    restarted = load_driver("network", "bridge", tmp_path, options)
    assert restarted.create(network=network) == facts
    assert sh(f"ip -4 -o addr show dev {bridge}").stdout.split()[3] == f"{subnet.network_address + 1}/24"
    assert [line for line in iptables_rules().splitlines() if f"moor bridge {bridge}" in line] == before


# --------------------------------------------------------------------------- connect and disconnect


def test_two_namespaces_get_consecutive_addresses_and_talk(driver: Driver, host: Host) -> None:
    needs_ping()
    subnet = host.subnet()
    network = host.network(subnet)
    bridge = network.options[BRIDGE_NAME]
    host.drop_forwarding(bridge)  # as dockerd's FORWARD policy DROP would, there before moor
    driver.create(network=network)
    ns1, ns2 = host.namespace(), host.namespace()
    first = driver.connect(network=network, endpoint=endpoint("one"), netns_path=ns1)
    second = driver.connect(network=network, endpoint=endpoint("two"), netns_path=ns2)
    base = subnet.network_address
    assert (first.ipv4_address, second.ipv4_address) == (str(base + 2), str(base + 3))
    assert first.prefix_len == 24 and first.gateway == str(base + 1) and first.interface == "eth0"
    a, b, c = subnet.network_address.packed[:3]
    assert first.mac_address == f"02:42:{a:02x}:{b:02x}:{c:02x}:02"
    link = json.loads(in_ns(ns1, "ip -j addr show dev eth0").stdout)[0]
    assert link["address"] == first.mac_address and "UP" in link["flags"]
    assert "UP" in json.loads(in_ns(ns1, "ip -j link show dev lo").stdout)[0]["flags"]
    assert in_ns(ns1, "ip -4 route show default").stdout.split()[:3] == ["default", "via", str(base + 1)]
    ports = sh(f"ip -o link show master {bridge}").stdout
    assert len(re.findall(r"\d+: (veth[0-9a-f]{7})@", ports)) == 2
    assert ping(ns1, second.ipv4_address) and ping(ns2, first.ipv4_address)
    assert ping(ns1, first.gateway)


def test_second_network_gets_eth1_and_no_second_default_route(driver: Driver, host: Host) -> None:
    needs_ping()
    first_net, second_net = host.network(host.subnet()), host.network(host.subnet())
    driver.create(network=first_net)
    driver.create(network=second_net)
    ns1, ns2 = host.namespace(), host.namespace()
    on_first = driver.connect(network=first_net, endpoint=endpoint("one"), netns_path=ns1)
    on_second = driver.connect(network=second_net, endpoint=endpoint("one"), netns_path=ns1)
    assert (on_first.interface, on_second.interface) == ("eth0", "eth1")
    assert on_second.gateway == second_net.subnet.replace(".0/24", ".1")
    routes = in_ns(ns1, "ip -4 route show default").stdout.splitlines()
    assert len(routes) == 1 and "dev eth0" in routes[0]
    other = driver.connect(network=second_net, endpoint=endpoint("two"), netns_path=ns2)
    assert ping(ns1, other.ipv4_address)  # on the shared network
    lone = host.namespace()
    isolated = driver.connect(network=first_net, endpoint=endpoint("three"), netns_path=lone)
    assert not ping(ns2, isolated.ipv4_address)  # across networks: isolated, as Docker does


def test_a_bridge_gone_from_the_host_is_made_again_by_a_connect(driver: Driver, host: Host) -> None:
    """The bridge removed behind the driver's back (by hand, say): the next connect sets the network up again (the
    attach finds no bridge and tells so), and the container's first interface is eth0, made under that name."""
    network = host.network(host.subnet())
    bridge = network.options[BRIDGE_NAME]
    driver.create(network=network)
    sh(f"ip link del {bridge}")
    ns = host.namespace()
    joined = driver.connect(network=network, endpoint=endpoint("one"), netns_path=ns)
    assert joined.interface == "eth0"
    assert len(re.findall(r"\d+: (veth[0-9a-f]{7})@", sh(f"ip -o link show master {bridge}").stdout)) == 1
    assert "UP" in json.loads(sh(f"ip -j link show dev {bridge}").stdout)[0]["flags"]
    assert json.loads(in_ns(ns, "ip -j link show").stdout)[-1]["ifname"] == "eth0"


def test_requested_address_and_conflicts(driver: Driver, host: Host) -> None:
    subnet = host.subnet()
    network = host.network(subnet)
    driver.create(network=network)
    ns1, ns2 = host.namespace(), host.namespace()
    wanted = str(subnet.network_address + 77)
    info = driver.connect(network=network, endpoint=endpoint("one", wanted), netns_path=ns1)
    assert info.ipv4_address == wanted and info.mac_address.endswith(":4d")
    with pytest.raises(Conflict, match="Address already in use"):
        driver.connect(network=network, endpoint=endpoint("two", wanted), netns_path=ns2)
    with pytest.raises(Conflict, match="Address already in use"):
        driver.connect(network=network, endpoint=endpoint("two", str(subnet.network_address + 1)), netns_path=ns2)
    with pytest.raises(InvalidParameter, match="does not belong"):
        driver.connect(network=network, endpoint=endpoint("two", "192.0.2.200"), netns_path=ns2)
    assert ns_links(ns2) == ["lo"]  # nothing was made
    chosen = driver.connect(network=network, endpoint=endpoint("two", mac="02:aa:bb:cc:dd:ee"), netns_path=ns2)
    assert chosen.ipv4_address == str(subnet.network_address + 2) and chosen.mac_address == "02:aa:bb:cc:dd:ee"
    with pytest.raises(NotFound):
        driver.connect(network=network, endpoint=endpoint("ghost"), netns_path=f"/run/netns/{RUN_TAG}-absent")
    third = driver.connect(network=network, endpoint=endpoint("three"), netns_path=host.namespace())
    assert third.ipv4_address == str(subnet.network_address + 3)  # the failed connect took nothing


def test_aux_addresses_are_never_handed_out(driver: Driver, host: Host) -> None:
    subnet = host.subnet()
    aux = str(subnet.network_address + 2)
    with pytest.raises(InvalidParameter, match="^no matching subnet for aux-address 192.0.2.9$"):
        driver.create(network=host.network(subnet, aux_addresses=("192.0.2.9",)))
    network = host.network(subnet, aux_addresses=(aux,))
    driver.create(network=network)
    first = driver.connect(network=network, endpoint=endpoint("one"), netns_path=host.namespace())
    assert first.ipv4_address == str(subnet.network_address + 3)  # .1 the gateway, .2 reserved
    with pytest.raises(Conflict, match="Address already in use"):
        driver.connect(network=network, endpoint=endpoint("two", aux), netns_path=host.namespace())


def test_pool_exhaustion_on_a_slash_30(driver: Driver, host: Host) -> None:
    subnet = host.subnet(prefix=30)
    network = host.network(subnet)
    driver.create(network=network)
    ns1, ns2 = host.namespace(), host.namespace()
    assert driver.connect(network=network, endpoint=endpoint("one"), netns_path=ns1).ipv4_address == \
        str(subnet.network_address + 2)
    with pytest.raises(Unavailable, match="no available IPv4 addresses on this network's address pools"):
        driver.connect(network=network, endpoint=endpoint("two"), netns_path=ns2)
    assert ns_links(ns2) == ["lo"]


def test_disconnect_releases_the_address_even_when_the_namespace_is_gone(driver: Driver, host: Host) -> None:
    subnet = host.subnet()
    network = host.network(subnet)
    bridge = network.options[BRIDGE_NAME]
    driver.create(network=network)
    ns1 = host.namespace()
    one = endpoint("one")
    first = driver.connect(network=network, endpoint=one, netns_path=ns1)
    assert driver.disconnect(network=network, endpoint=one, netns_path=ns1) is True
    assert ns_links(ns1) == ["lo"]
    assert sh(f"ip -o link show master {bridge}").stdout == ""
    assert driver.disconnect(network=network, endpoint=one, netns_path=ns1) is False
    ns2 = host.namespace()
    two = endpoint("two")
    assert driver.connect(network=network, endpoint=two, netns_path=ns2).ipv4_address == first.ipv4_address
    sh(f"ip netns del {ns2.rsplit('/', 1)[1]}")
    assert driver.disconnect(network=network, endpoint=two, netns_path=None) is True
    again = driver.connect(network=network, endpoint=endpoint("three"), netns_path=host.namespace())
    assert again.ipv4_address == first.ipv4_address


def test_remove_with_active_endpoints_is_refused(driver: Driver, host: Host) -> None:
    network = host.network(host.subnet())
    driver.create(network=network)
    one = endpoint("one")
    driver.connect(network=network, endpoint=one, netns_path=host.namespace())
    with pytest.raises(Conflict, match=f"error while removing network: network {network.name} id {network.id} "
                                       f"has active endpoints"):
        driver.remove(network=network)
    assert sh(f"ip link show {network.options[BRIDGE_NAME]}", check=False).returncode == 0
    assert driver.disconnect(network=network, endpoint=one, netns_path=None) is True
    assert driver.remove(network=network) is True


def test_restart_keeps_networks_addresses_and_endpoints(driver: Driver, host: Host, tmp_path: Any,
                                                        options: dict[str, Any]) -> None:
    subnet = host.subnet()
    network = host.network(subnet)
    driver.create(network=network)
    one = endpoint("one")
    driver.connect(network=network, endpoint=one, netns_path=host.namespace())
    restarted = load_driver("network", "bridge", tmp_path, options)
    assert restarted.plugin is not driver.plugin
    second = restarted.connect(network=network, endpoint=endpoint("two"), netns_path=host.namespace())
    assert second.ipv4_address == str(subnet.network_address + 3)
    with pytest.raises(Conflict, match="Address already in use"):
        restarted.connect(network=network, endpoint=endpoint("three", str(subnet.network_address + 2)),
                          netns_path=host.namespace())
    with pytest.raises(Conflict, match="has active endpoints"):
        restarted.remove(network=network)
    assert restarted.disconnect(network=network, endpoint=one, netns_path=None) is True
    assert driver.connect(network=network, endpoint=endpoint("four"), netns_path=host.namespace()).ipv4_address \
        == str(subnet.network_address + 2)


def test_internal_network(driver: Driver, host: Host) -> None:
    needs_ping()
    subnet = host.subnet()
    network = host.network(subnet, internal=True)
    bridge = network.options[BRIDGE_NAME]
    driver.create(network=network)
    host.drop_forwarding(bridge)
    ns1, ns2 = host.namespace(), host.namespace()
    first = driver.connect(network=network, endpoint=endpoint("one"), netns_path=ns1)
    second = driver.connect(network=network, endpoint=endpoint("two"), netns_path=ns2)
    assert first.gateway == "" and in_ns(ns1, "ip -4 route show default").stdout == ""
    rules = iptables_rules()
    assert "MASQUERADE" not in "".join(line for line in rules.splitlines() if bridge in line)
    assert f"! -d {subnet} -i {bridge}" in rules
    assert ping(ns1, second.ipv4_address)


def test_masquerade_off_and_mtu(driver: Driver, host: Host) -> None:
    network = host.network(host.subnet(), options={"com.docker.network.bridge.enable_ip_masquerade": "false",
                                                   "com.docker.network.driver.mtu": "1400"})
    bridge = network.options[BRIDGE_NAME]
    driver.create(network=network)
    assert "MASQUERADE" not in "".join(line for line in iptables_rules().splitlines() if bridge in line)
    ns1 = host.namespace()
    info = driver.connect(network=network, endpoint=endpoint("one"), netns_path=ns1)
    assert in_ns(ns1, f"cat /sys/class/net/{info.interface}/mtu").stdout.strip() == "1400"


def test_concurrent_connects_get_distinct_addresses(driver: Driver, host: Host) -> None:
    subnet = host.subnet()
    network = host.network(subnet)
    driver.create(network=network)
    paths = [host.namespace() for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        infos = list(pool.map(lambda item: driver.connect(network=network, endpoint=endpoint(f"p{item[0]}"),
                                                           netns_path=item[1]), enumerate(paths)))
    assert sorted(int(ipaddress.IPv4Address(i.ipv4_address)) for i in infos) == \
        [int(subnet.network_address) + n for n in range(2, 8)]
    assert {i.interface for i in infos} == {"eth0"}


def test_namespace_of_a_process(driver: Driver, host: Host) -> None:
    """The engine's case: the namespace of a container's process, by /proc/<pid>/ns/net."""
    needs_ping()
    subnet = host.subnet()
    network = host.network(subnet)
    driver.create(network=network)
    process = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    try:
        path = f"/proc/{process.pid}/ns/net"
        for _ in range(250):  # until unshare is in its new namespace
            if os.readlink(path) != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.02)
        one = endpoint("one")
        info = driver.connect(network=network, endpoint=one, netns_path=path)
        assert info.interface == "eth0" and info.ipv4_address == str(subnet.network_address + 2)
        reply = subprocess.run(["nsenter", "-t", str(process.pid), "-n", "ping", "-c", "1", "-W", "1", info.gateway],
                               capture_output=True, check=False)
        assert reply.returncode == 0
    finally:
        process.kill()
        process.wait()
    assert driver.disconnect(network=network, endpoint=one, netns_path=None) is True
    assert sh(f"ip -o link show master {network.options[BRIDGE_NAME]}").stdout == ""
