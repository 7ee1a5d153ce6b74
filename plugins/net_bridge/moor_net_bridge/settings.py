"""The bridge driver's own options: the ``[network.bridge]`` table of the config.

::

    [network.bridge]
    default_bridge = "moor0"             # the Linux bridge of the default network "bridge"
    default_subnet = "172.31.0.0/16"     # its subnet
    pool = "10.89.0.0/16"                # where user networks get their subnets (split into /24s)
    mtu = 1500

``pool`` may also be a table ``{base = "10.0.0.0/8", size = 16}`` (Docker's
``default-address-pools`` entry) or a list of strings and tables, tried in order.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from moor.errors import InvalidParameter
from moor_net_bridge.ipam import parse_subnet

DEFAULT_BRIDGE = "moor0"
DEFAULT_SUBNET = "172.31.0.0/16"
DEFAULT_POOL = "10.89.0.0/16"
DEFAULT_POOL_SIZE = 24
DEFAULT_MTU = 1500
KNOWN_OPTIONS = ("default_bridge", "default_subnet", "pool", "mtu")

#: Linux refuses interface names longer than this (IFNAMSIZ - 1)
MAX_IFNAME = 15
_IFNAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_IFNAME - 1}}}\Z")


#: :data:`DEFAULT_SUBNET` parsed (immutable, so one object serves as every default)
DEFAULT_SUBNET_NETWORK = ipaddress.IPv4Network(DEFAULT_SUBNET)


@dataclass(frozen=True)
class Pool:
    """An address range split into subnets of prefix length ``size``."""

    base: ipaddress.IPv4Network
    size: int


@dataclass(frozen=True)
class Settings:
    """The validated driver options."""

    default_bridge: str = DEFAULT_BRIDGE
    default_subnet: ipaddress.IPv4Network = DEFAULT_SUBNET_NETWORK
    pools: tuple[Pool, ...] = field(default_factory=lambda: (Pool(ipaddress.IPv4Network(DEFAULT_POOL),
                                                                  DEFAULT_POOL_SIZE),))
    mtu: int = DEFAULT_MTU


def check_ifname(name: str, what: str) -> str:
    """Return ``name`` when it is a plain interface name (letters, digits, ``_.-``), else raise InvalidParameter.

    Linux accepts more, but these names also go into iptables rules and comments.
    """
    if not _IFNAME.match(name):
        raise InvalidParameter(f"invalid {what} {name!r}: an interface name has 1 to {MAX_IFNAME} letters, "
                               f"digits, '_', '.' or '-' and starts with a letter or digit")
    return name


def parse_mtu(value: object, what: str) -> int:
    """An MTU from a config value or a Docker option string."""
    try:
        mtu = int(str(value), 10)
    except ValueError:
        raise InvalidParameter(f"invalid {what} {value!r}: not an integer") from None
    if not 68 <= mtu <= 65535:
        raise InvalidParameter(f"invalid {what} {mtu}: must be between 68 and 65535")
    return mtu


def _parse_pool(value: object) -> Pool:
    if isinstance(value, str):
        base = parse_subnet(value, "pool")
        return Pool(base, max(base.prefixlen, DEFAULT_POOL_SIZE))
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"base", "size"})
        if unknown:
            raise InvalidParameter(f"unknown option 'pool.{unknown[0]}' for the bridge network driver "
                                   f"(a pool has 'base' and 'size')")
        if "base" not in value:
            raise InvalidParameter("invalid option 'pool': a pool table needs 'base'")
        base = parse_subnet(str(value["base"]), "pool base")
        size = value.get("size", max(base.prefixlen, DEFAULT_POOL_SIZE))
        if not isinstance(size, int) or isinstance(size, bool) or not base.prefixlen <= size <= 30:
            raise InvalidParameter(f"invalid pool size {size!r} for {base}: "
                                   f"must be between {base.prefixlen} and 30")
        return Pool(base, size)
    raise InvalidParameter(f"invalid option 'pool': expected a subnet, a table or a list, not {value!r}")


def parse_settings(options: dict[str, object]) -> Settings:
    """Validate ``context.options``; an unknown option is InvalidParameter naming it."""
    for key in options:
        if key not in KNOWN_OPTIONS:
            raise InvalidParameter(f"unknown option {key!r} for the bridge network driver "
                                   f"(known: {', '.join(KNOWN_OPTIONS)})")
    settings = Settings()
    bridge = options.get("default_bridge", settings.default_bridge)
    if not isinstance(bridge, str):
        raise InvalidParameter(f"invalid option 'default_bridge': expected a string, not {bridge!r}")
    subnet = options.get("default_subnet", DEFAULT_SUBNET)
    if not isinstance(subnet, str):
        raise InvalidParameter(f"invalid option 'default_subnet': expected a string, not {subnet!r}")
    raw_pools = options.get("pool", DEFAULT_POOL)
    pools = tuple(_parse_pool(p) for p in (raw_pools if isinstance(raw_pools, list) else [raw_pools]))
    if not pools:
        raise InvalidParameter("invalid option 'pool': the list is empty")
    return Settings(
        default_bridge=check_ifname(bridge, "option 'default_bridge'"),
        default_subnet=parse_subnet(subnet, "option 'default_subnet'"),
        pools=pools,
        mtu=parse_mtu(options.get("mtu", DEFAULT_MTU), "option 'mtu'"),
    )
