"""``host`` and ``none``: the single-instance network drivers.

``host`` leaves the container in the host's network namespace; ``none`` gives
it a namespace of its own with only a loopback interface. Neither lets a user
create a second network of its kind.
"""

from __future__ import annotations

from moor import hookimpl
from moor.errors import Forbidden
from moor.types import DriverContext, EndpointInfo, EndpointSpec, NetworkSpec


class _SingleNetworkDriver:
    kind = ""

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        self.created = False

    @hookimpl
    def moor_network_create(self, network: NetworkSpec) -> dict[str, str]:
        if self.created:
            raise Forbidden(f"only one instance of \"{self.kind}\" network is allowed")
        self.created = True
        return {}

    @hookimpl
    def moor_network_remove(self, network: NetworkSpec) -> bool:
        raise Forbidden(f"{network.name} is a pre-defined network and cannot be removed")

    @hookimpl
    def moor_network_connect(self, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str) -> EndpointInfo:
        return EndpointInfo()

    @hookimpl
    def moor_network_disconnect(self, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str | None) -> bool:
        return True


class HostDriver(_SingleNetworkDriver):
    """The container shares the host's network stack."""

    kind = "host"


class NoneDriver(_SingleNetworkDriver):
    """The container has its own network namespace with loopback only."""

    kind = "null"
