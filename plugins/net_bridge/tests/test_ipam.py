"""IPAM rules of the bridge driver as pure functions: subnets, gateways, IP ranges, MACs (no host changes)."""

from __future__ import annotations

import ipaddress

import pytest

from moor.errors import InvalidParameter
from moor_net_bridge import ipam

SUBNET = ipaddress.IPv4Network("10.77.0.0/24")


def addr(text: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(text)


def test_range_inside_the_subnet() -> None:
    assert ipam.parse_range("10.77.0.128/28", SUBNET) == ipaddress.IPv4Network("10.77.0.128/28")
    assert ipam.parse_range("10.77.0.130/28", SUBNET) == ipaddress.IPv4Network("10.77.0.128/28")
    assert ipam.parse_range("10.77.0.9/32", SUBNET) == ipaddress.IPv4Network("10.77.0.9/32")


def test_a_range_larger_than_the_subnet_is_cut_to_it() -> None:
    assert ipam.parse_range("10.77.0.0/16", SUBNET) == SUBNET


@pytest.mark.parametrize("text, message", [
    ("10.78.0.0/28", "no matching subnet for range 10.78.0.0/28"),
    ("bogus", "invalid CIDR address: bogus"),
    ("10.77.0.128", "invalid CIDR address: 10.77.0.128"),
    ("10.77.0.128/33", "invalid CIDR address: 10.77.0.128/33"),
    ("fd00::/64", "no matching subnet for range fd00::/64"),
])
def test_bad_ranges_are_refused_with_dockers_words(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        ipam.parse_range(text, SUBNET)
    assert str(caught.value) == message


def test_first_free_address_stays_in_the_range() -> None:
    block = ipaddress.IPv4Network("10.77.0.128/30")
    gateway = addr("10.77.0.1")
    taken = {gateway}
    handed = []
    for _ in range(4):
        found = ipam.first_free_address(SUBNET, taken, block)
        assert found is not None
        handed.append(str(found))
        taken.add(found)
    # the range's own first and last addresses are hosts of the subnet, so they are handed out too
    assert handed == ["10.77.0.128", "10.77.0.129", "10.77.0.130", "10.77.0.131"]
    assert ipam.first_free_address(SUBNET, taken, block) is None


def test_a_range_never_yields_the_subnets_network_or_broadcast_address() -> None:
    assert ipam.first_free_address(SUBNET, set(), ipaddress.IPv4Network("10.77.0.0/30")) == addr("10.77.0.1")
    last = ipaddress.IPv4Network("10.77.0.252/30")
    taken = {addr("10.77.0.252"), addr("10.77.0.253"), addr("10.77.0.254")}
    assert ipam.first_free_address(SUBNET, taken, last) is None


def test_without_a_range_the_whole_subnet_is_used() -> None:
    taken = {addr("10.77.0.1"), addr("10.77.0.2")}
    assert ipam.first_free_address(SUBNET, taken) == addr("10.77.0.3")


def test_recorded_addresses_are_taken_as_numbers() -> None:
    """The driver hands the recorded addresses over as numbers (a thousand parsed as IPv4Address took ~6 ms)."""
    taken = ipam.address_numbers(["10.77.0.1", "10.77.0.2", "10.77.0.4"])
    assert taken == {int(addr("10.77.0.1")), int(addr("10.77.0.2")), int(addr("10.77.0.4"))}
    assert ipam.first_free_address(SUBNET, taken) == addr("10.77.0.3")


@pytest.mark.parametrize("text, message", [
    ("bogus", "invalid gateway address bogus in Ipam configuration"),
    ("10.77.0.1/24", "invalid gateway address 10.77.0.1/24 in Ipam configuration"),
    ("10.78.0.1", "no matching subnet for gateway 10.78.0.1"),
    ("10.77.0.0", "failed to allocate gateway (10.77.0.0): Address already in use"),
    ("10.77.0.255", "failed to allocate gateway (10.77.0.255): Address already in use"),
])
def test_bad_gateways_are_refused_with_dockers_words(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        ipam.parse_gateway(text, SUBNET)
    assert str(caught.value) == message


def test_default_gateway_is_the_first_host_of_the_range() -> None:
    assert ipam.default_gateway(SUBNET) == addr("10.77.0.1")
    assert ipam.default_gateway(SUBNET, ipaddress.IPv4Network("10.77.0.128/25")) == addr("10.77.0.128")
    assert ipam.default_gateway(SUBNET, ipaddress.IPv4Network("10.77.0.0/25")) == addr("10.77.0.1")


def test_gateway_may_sit_inside_the_range() -> None:
    assert ipam.parse_gateway("10.77.0.129", SUBNET) == addr("10.77.0.129")


@pytest.mark.parametrize("text", ["bogus", "10.77.0.0", ""])
def test_bad_subnets_are_refused_with_dockers_words(text: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        ipam.parse_subnet(text)
    assert str(caught.value) == f"Invalid subnet {text} : invalid CIDR address: {text}"


def test_mac_addresses() -> None:
    assert ipam.parse_mac("02:42:AC:11:00:99") == "02:42:ac:11:00:99"
    assert ipam.parse_mac("02-42-ac-11-00-99") == "02:42:ac:11:00:99"
    with pytest.raises(InvalidParameter) as caught:
        ipam.parse_mac("zz")
    assert str(caught.value) == "zz is not a valid mac address"
    with pytest.raises(InvalidParameter):
        ipam.parse_mac("01:00:5e:00:00:01")


def test_ipv6_subnets_gateways_and_addresses() -> None:
    """A network made with ``--ipv6``: Docker's subnet error, addresses inside the subnet only, ``::1`` taken by
    the gateway so the first container gets ``::2``."""
    subnet = ipam.parse_subnet6("2001:db8::/64")
    assert str(subnet) == "2001:db8::/64"
    with pytest.raises(InvalidParameter, match="Invalid subnet fd00::zz/64 : invalid CIDR address"):
        ipam.parse_subnet6("fd00::zz/64")
    with pytest.raises(InvalidParameter):
        ipam.parse_subnet6("10.0.0.0/24")
    assert str(ipam.parse_address6("2001:db8::77", subnet, "address")) == "2001:db8::77"
    with pytest.raises(InvalidParameter, match="no matching subnet"):
        ipam.parse_address6("fd00::1", subnet, "address")
    gateway = subnet.network_address + 1
    assert str(ipam.first_free_address6(subnet, {gateway})) == "2001:db8::2"
    tiny = ipam.parse_subnet6("fd00::/126")
    taken = {tiny.network_address + n for n in range(1, 4)}
    assert ipam.first_free_address6(tiny, taken) is None
    assert str(ipam.parse_range6("2001:db8::100/120", subnet)) == "2001:db8::100/120"
    with pytest.raises(InvalidParameter):
        ipam.parse_range6("fd00::/120", subnet)
