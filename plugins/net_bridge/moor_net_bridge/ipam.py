"""IPv4 address management: subnets from pools, addresses from subnets, MACs from addresses.

Pure functions over :mod:`ipaddress` values; the driver keeps what is taken
(in its state) and asks the host what its interfaces use.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING

from moor.errors import InvalidParameter
from moor.netaddr import check_mac_address

if TYPE_CHECKING:
    from moor_net_bridge.settings import Pool

#: the smallest subnet that holds a gateway and one container
MAX_PREFIX = 30


def parse_subnet(text: str, what: str = "subnet") -> ipaddress.IPv4Network:
    """An IPv4 subnet in CIDR form; host bits are dropped (as Go's ``net.ParseCIDR`` does)."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
        if "/" not in text:
            raise ValueError(text)
    except ValueError:
        if what == "subnet":  # a network's IPAM config: Docker's wording
            raise InvalidParameter(f"Invalid subnet {text} : invalid CIDR address: {text}") from None
        raise InvalidParameter(f"invalid {what} {text!r}: invalid CIDR address") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise InvalidParameter(f"invalid {what} {text!r}: the bridge driver handles IPv4 subnets only")
    if network.prefixlen > MAX_PREFIX:
        raise InvalidParameter(f"invalid {what} {text!r}: a subnet needs a prefix of /{MAX_PREFIX} or shorter")
    return network


def parse_gateway(text: str, subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    """The gateway ``text`` (a bare address, as Docker wants it), checked to be a host of ``subnet``."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise InvalidParameter(f"invalid gateway address {text} in Ipam configuration") from None
    if not isinstance(address, ipaddress.IPv4Address) or address not in subnet:
        raise InvalidParameter(f"no matching subnet for gateway {text}")
    if address in (subnet.network_address, subnet.broadcast_address):
        raise InvalidParameter(f"failed to allocate gateway ({text}): Address already in use")
    return address


def parse_range(text: str, subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    """An IPAM config's ``IPRange``: the CIDR block containers get their addresses from.

    As in Docker, the address as written must lie in ``subnet``; a block larger
    than ``subnet`` is cut down to ``subnet``.
    """
    try:
        if "/" not in text:
            raise ValueError(text)
        interface = ipaddress.ip_interface(text.strip())
    except ValueError:
        raise InvalidParameter(f"invalid CIDR address: {text}") from None
    if not isinstance(interface, ipaddress.IPv4Interface) or interface.ip not in subnet:
        raise InvalidParameter(f"no matching subnet for range {text}")
    block = interface.network
    return block if block.subnet_of(subnet) else subnet


def default_gateway(subnet: ipaddress.IPv4Network,
                    ip_range: ipaddress.IPv4Network | None = None) -> ipaddress.IPv4Address:
    """Docker's default gateway: the first host of ``ip_range`` when there is one, else of ``subnet``."""
    if ip_range is not None:
        found = first_free_address(subnet, (), ip_range)
        if found is not None:
            return found
    return subnet.network_address + 1


def pick_subnet(pools: Iterable[Pool], taken: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Network | None:
    """The first subnet of the pools that overlaps nothing in ``taken``, or ``None``."""
    used = sorted(set(taken), key=lambda n: (int(n.network_address), n.prefixlen))
    for pool in pools:
        for candidate in pool.base.subnets(new_prefix=pool.size):
            if not any(candidate.overlaps(other) for other in used):
                return candidate
    return None


def address_numbers(addresses: Iterable[str]) -> set[int]:
    """Dotted IPv4 addresses (as the driver records them) as numbers: a thousand in a fraction of a millisecond,
    where making an ``IPv4Address`` of each takes some 6 ms."""
    return {int.from_bytes(socket.inet_aton(text), "big") for text in addresses}


def first_free_address(subnet: ipaddress.IPv4Network, taken: Iterable[ipaddress.IPv4Address | int],
                       within: ipaddress.IPv4Network | None = None) -> ipaddress.IPv4Address | None:
    """The lowest host address of ``subnet`` not in ``taken`` (addresses or their numbers; Docker's first-fit), or
    ``None``.

    With ``within`` (the network's ``IPRange``, inside ``subnet``) only its
    addresses are handed out; its own first and last addresses count as hosts
    unless they are the subnet's network or broadcast address, as in Docker.
    """
    used = {int(address) for address in taken}
    first, last = int(subnet.network_address) + 1, int(subnet.broadcast_address) - 1
    if within is not None:
        first = max(first, int(within.network_address))
        last = min(last, int(within.broadcast_address))
    for value in range(first, last + 1):
        if value not in used:
            return ipaddress.IPv4Address(value)
    return None


def parse_requested(text: str, subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    """The address a container asked for, checked to be a usable host of ``subnet``."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise InvalidParameter(f"invalid IPv4 address: {text}") from None
    if not isinstance(address, ipaddress.IPv4Address) or address not in subnet:
        raise InvalidParameter(f"Invalid address {text}: It does not belong to any of this network's subnets")
    if address in (subnet.network_address, subnet.broadcast_address):
        raise InvalidParameter(f"Invalid address {text}: it is the network or broadcast address of {subnet}")
    return address


def mac_for(address: ipaddress.IPv4Address) -> str:
    """Docker's MAC for a container address: ``02:42`` then the four address bytes."""
    return "02:42:" + ":".join(f"{byte:02x}" for byte in address.packed)


def parse_mac(text: str) -> str:
    """A MAC address in lower-case colon form (``:`` or ``-`` separated); a multicast address is refused."""
    return check_mac_address(text.strip())


# --- IPv6 (a network made with ``--ipv6``) ---------------------------------------------------

#: the smallest IPv6 subnet that holds a gateway and one container
MAX_PREFIX6 = 126


def parse_subnet6(text: str) -> ipaddress.IPv6Network:
    """A network's IPv6 subnet, in Docker's words when it is none."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidParameter(f"Invalid subnet {text} : invalid CIDR address: {text}") from None
    if not isinstance(network, ipaddress.IPv6Network):
        raise InvalidParameter(f"invalid IPv6 subnet {text!r}")
    if network.prefixlen > MAX_PREFIX6:
        raise InvalidParameter(f"invalid subnet {text!r}: a subnet needs a prefix of /{MAX_PREFIX6} or shorter")
    return network


def parse_address6(text: str, subnet: ipaddress.IPv6Network, what: str) -> ipaddress.IPv6Address:
    """An IPv6 gateway or endpoint address; it must be a host address of ``subnet``."""
    try:
        address = ipaddress.ip_address(text.split("/")[0])
    except ValueError:
        raise InvalidParameter(f"invalid {what} {text!r}: not an IPv6 address") from None
    if not isinstance(address, ipaddress.IPv6Address) or address not in subnet:
        raise InvalidParameter(f"no matching subnet for {what} {text}")
    if address == subnet.network_address:
        raise InvalidParameter(f"failed to allocate {what} ({text}): Address already in use")
    return address


def parse_range6(text: str, subnet: ipaddress.IPv6Network) -> ipaddress.IPv6Network:
    """An IPv6 pool's ``IPRange`` (a CIDR block inside ``subnet``)."""
    try:
        block = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidParameter(f"invalid CIDR address: {text}") from None
    if not isinstance(block, ipaddress.IPv6Network) or not block.subnet_of(subnet):
        raise InvalidParameter(f"invalid range {text!r}: it must be inside the subnet {subnet}")
    return block


def first_free_address6(block: ipaddress.IPv6Network,
                        taken: set[ipaddress.IPv6Address]) -> ipaddress.IPv6Address | None:
    """The lowest host address of ``block`` (never its first, the subnet-router anycast) not ``taken``."""
    candidate = block.network_address + 1
    for _ in range(len(taken) + 2):
        if candidate not in block:
            return None
        if candidate not in taken:
            return candidate
        candidate += 1
    return None
