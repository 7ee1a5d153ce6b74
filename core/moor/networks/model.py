"""The network model: typed records of networks, their IPAM pools and their endpoints.

Docker's JSON of them is made at the API edge (:mod:`moor.networks.views`);
drivers see a :class:`moor.types.NetworkSpec` made from a :class:`Network`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from moor.types import NetworkSpec

#: the networks that always exist, by name -> their driver (Docker's predefined networks)
PREDEFINED = {"bridge": "bridge", "host": "host", "none": "none"}


@dataclass
class IPAMConfig:
    """One address pool of a network (an entry of Docker's ``IPAM.Config``); "" or empty: not set."""

    subnet: str = ""
    gateway: str = ""
    #: where containers get their addresses (CIDR, inside ``subnet``)
    ip_range: str = ""
    #: name -> address (inside ``subnet``) never handed to a container
    aux_addresses: dict[str, str] = field(default_factory=dict)

    @property
    def ipv6(self) -> bool:
        return ":" in self.subnet


@dataclass
class Endpoint:
    """A container on a network: what ``network inspect`` lists, and the names the embedded DNS answers to."""

    #: the container's name (without a leading slash)
    name: str
    endpoint_id: str
    mac_address: str = ""
    #: the address with its prefix length (``10.1.0.2/24``), "" when it has none
    ipv4_address: str = ""
    ipv6_address: str = ""
    #: the network-scoped aliases (on user-defined networks: the asked ones, then the container's short ID)
    aliases: list[str] = field(default_factory=list)
    #: network-scoped links (``EndpointSettings.Links``, ``name:alias``): the aliases only this container resolves
    links: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        """The IPv4 address without its prefix length ("" when none)."""
        return self.ipv4_address.split("/")[0]


@dataclass
class Network:
    """A network: Docker's facts of it and moor's bookkeeping (whether the driver set it up, and its facts)."""

    id: str
    name: str
    driver: str
    #: Docker's timestamp text (RFC 3339 with nanoseconds), as shown and as kept
    created: str
    scope: str = "local"
    enable_ipv6: bool = False
    internal: bool = False
    attachable: bool = False
    ingress: bool = False
    config_only: bool = False
    config_from: str = ""
    ipam_driver: str = "default"
    #: ``IPAM.Options`` as asked; None when the request had none (Docker then shows null)
    ipam_options: dict[str, str] | None = None
    ipam: list[IPAMConfig] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    #: container ID -> its endpoint
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    #: whether the driver set the network up on the host (``bridge`` is set up lazily or by moord)
    created_on_host: bool = False
    #: what the driver's ``create`` returned (its bridge's name, the subnet it picked...)
    driver_facts: dict[str, str] = field(default_factory=dict)
    #: whether the driver picked the subnet (none was asked for): no container may then ask for an address
    subnet_picked: bool = False

    @property
    def predefined(self) -> bool:
        """Whether this is one of Docker's predefined networks (``bridge``, ``host``, ``none``)."""
        return self.name in PREDEFINED

    @property
    def user_defined(self) -> bool:
        return not self.predefined

    def spec(self) -> NetworkSpec:
        """What the network's driver is told of it (the first IPv4 pool's addresses, and with ``EnableIPv6`` the
        first IPv6 pool's)."""
        pool = next((p for p in self.ipam if not p.ipv6), IPAMConfig())
        pool6 = next((p for p in self.ipam if p.ipv6), IPAMConfig()) if self.enable_ipv6 else IPAMConfig()
        return NetworkSpec(id=self.id, name=self.name, driver=self.driver, subnet=pool.subnet,
                           gateway=pool.gateway, ip_range=pool.ip_range,
                           aux_addresses=tuple(pool.aux_addresses.values()), internal=self.internal,
                           options=dict(self.options), labels=dict(self.labels), subnet6=pool6.subnet,
                           gateway6=pool6.gateway, ip_range6=pool6.ip_range)


@dataclass(frozen=True)
class NetworkRequest:
    """What ``network create`` asks for (decoded from the request by :func:`moor.networks.views.network_request`)."""

    name: str
    #: "" for the configured default driver
    driver: str = ""
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ipam: tuple[IPAMConfig, ...] = ()
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    #: "" or "local": the only scope a single engine serves
    scope: str = ""
    #: the IPAM driver: "" or "default", the only one moor has
    ipam_driver: str = ""
    #: ``ConfigFrom.Network``: a configuration-only network to take the configuration from
    config_from: str = ""
    #: ``Ingress``: a swarm's routing-mesh network (refused: moor has no swarm)
    ingress: bool = False
    #: ``IPAM.Options``: kept and shown, as Docker's default IPAM driver does (None: not sent, shown as null)
    ipam_options: dict[str, str] | None = None
