"""``bridge``: a Linux bridge per network, a veth pair per container (netlink via pyroute2).

The data path (bridges, veth pairs, addresses, NAT and port publishing) is the
networking issue's work; until then the driver loads, validates its options
and says clearly that it cannot connect containers yet.
"""

from __future__ import annotations

from moor import hookimpl
from moor.errors import InvalidParameter, Unavailable
from moor.types import DriverContext, EndpointInfo, EndpointSpec, NetworkSpec

KNOWN_OPTIONS = ("bridge_name", "subnet", "mtu")


class BridgeDriver:
    """Linux bridge networks."""

    def __init__(self, context: DriverContext) -> None:
        for key in context.options:
            if key not in KNOWN_OPTIONS:
                raise InvalidParameter(f"unknown option {key!r} (known: {', '.join(KNOWN_OPTIONS)})")
        self.context = context

    def _unavailable(self) -> Unavailable:
        return Unavailable("the bridge network driver cannot set up networks yet; use --network none or host")

    @hookimpl
    def moor_network_create(self, network: NetworkSpec) -> dict[str, str]:
        raise self._unavailable()

    @hookimpl
    def moor_network_remove(self, network: NetworkSpec) -> bool:
        return False

    @hookimpl
    def moor_network_connect(self, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str) -> EndpointInfo:
        raise self._unavailable()

    @hookimpl
    def moor_network_disconnect(self, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str | None) -> bool:
        return False
