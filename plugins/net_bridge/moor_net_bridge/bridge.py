"""``bridge``: a Linux bridge per network, a veth pair per container (netlink via pyroute2).

Docker 20.10's bridge driver is the model:

- ``create`` picks the subnet (the given one, the default network's, or the
  first free one of the pools), makes the bridge with the gateway address and
  adds the network's NAT and filter rules (:mod:`moor_net_bridge.firewall`);
- ``connect`` allocates an address (first fit in the network's ``IPRange``, or
  the requested one anywhere in the subnet), makes a
  veth pair, puts one end on the bridge and the other, as ``eth0`` (``eth1``,
  ...), into the container's namespace with Docker's MAC ``02:42:<address>``
  and a default route via the gateway when the namespace has none yet;
- ``publish`` forwards a container's published ports to its address by NAT
  (:func:`moor_net_bridge.firewall.set_ports`), recorded with its endpoint;
  ``unpublish`` and ``disconnect`` remove those rules;
- ``disconnect`` deletes the veth pair and releases the address;
- ``remove`` refuses while endpoints remain, then drops rules and bridge.

Networks and endpoints are recorded under ``context.home`` (see
:mod:`moor_net_bridge.state`: the networks durably, each endpoint in a small
file of its own), so a new driver instance knows them; calling
``create`` again for a known network re-makes whatever is missing on the host
(after a reboot, say) and returns the same facts.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging

from moor import hookimpl
from moor.errors import Conflict, InvalidParameter, MoorError, NotFound, Unavailable
from moor.types import DriverContext, EndpointInfo, EndpointSpec, NetworkSpec, PortMapping
from moor_net_bridge import firewall, ipam, links
from moor_net_bridge.settings import check_ifname, parse_mtu, parse_settings
from moor_net_bridge.state import EndpointRecord, NetworkRecord, State, StateStore

log = logging.getLogger(__name__)

#: Docker's network options (``docker network create -o``) the driver understands; others are ignored
BRIDGE_NAME = "com.docker.network.bridge.name"
ENABLE_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
ENABLE_ICC = "com.docker.network.bridge.enable_icc"
DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"
MTU = "com.docker.network.driver.mtu"

#: the name of the default network, whose bridge and subnet come from the driver options
DEFAULT_NETWORK = "bridge"


def _parse_bool(value: str, key: str) -> bool:
    """A boolean as Go's ``strconv.ParseBool`` reads it."""
    lowered = value.strip()
    if lowered in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if lowered in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise InvalidParameter(f"invalid value {value!r} for option {key}: expected true or false")


def _policy(record: NetworkRecord) -> firewall.NetworkPolicy:
    return firewall.NetworkPolicy(bridge=record.bridge, subnet=ipaddress.IPv4Network(record.subnet),
                                  internal=record.internal, masquerade=record.masquerade, icc=record.icc)


def _ports(found: EndpointRecord) -> list[PortMapping]:
    return [PortMapping(**port) for port in found.ports]  # type: ignore[arg-type]


def _port_rules(record: NetworkRecord, endpoint_id: str, found: EndpointRecord) -> list[firewall.Rule]:
    """The firewall rules the endpoint's recorded ports have."""
    return firewall.port_rules(_policy(record), endpoint_id, found.address, _ports(found))


def _facts(record: NetworkRecord) -> dict[str, str]:
    return {BRIDGE_NAME: record.bridge, "subnet": record.subnet, "gateway": record.gateway}


def _plan_ipv6(network: NetworkSpec, state: State) -> tuple[str, str, str]:
    """The IPv6 subnet, gateway (the first address unless given) and range of a network made with ``--ipv6``."""
    if not network.subnet6:
        return "", "", ""
    subnet = ipam.parse_subnet6(network.subnet6)
    for other in state.networks.values():
        if other.subnet6 and subnet.overlaps(ipaddress.IPv6Network(other.subnet6)):
            raise Conflict("Pool overlaps with other one on this address space")
    gateway = ipam.parse_address6(network.gateway6, subnet, "gateway") if network.gateway6 \
        else subnet.network_address + 1
    ip_range = ipam.parse_range6(network.ip_range6, subnet) if network.ip_range6 else None
    return str(subnet), str(gateway), "" if ip_range is None else str(ip_range)


def _address6(record: NetworkRecord, endpoint: EndpointSpec, network: NetworkSpec) -> ipaddress.IPv6Address | None:
    """The endpoint's IPv6 address: the one asked for, else the first free one (Docker hands out ``::2`` first)."""
    if not record.subnet6:
        if endpoint.ipv6_address:
            raise InvalidParameter("user specified IP address is supported only when connecting to networks with "
                                   "user configured subnets")
        return None
    subnet = ipaddress.IPv6Network(record.subnet6)
    taken = {ipaddress.IPv6Address(record.gateway6)}
    taken.update(ipaddress.IPv6Address(other.address6) for other in record.endpoints.values() if other.address6)
    if endpoint.ipv6_address:
        address = ipam.parse_address6(endpoint.ipv6_address, subnet, "address")
        if address in taken:
            raise Conflict("Address already in use")
        return address
    block = ipaddress.IPv6Network(record.ip_range6) if record.ip_range6 else subnet
    free = ipam.first_free_address6(block, taken)
    if free is None:
        raise Unavailable(f"no available IPv6 addresses on this network's address pools: {network.name} "
                          f"({network.id})")
    return free


class BridgeDriver:
    """Linux bridge networks."""

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        self.settings = parse_settings(context.options)
        self.store = StateStore(context.home)

    # ------------------------------------------------------------------ create / remove

    @hookimpl
    def moor_network_create(self, network: NetworkSpec) -> dict[str, str]:
        with self.store.transaction() as state:
            record = state.networks.get(network.id)
            if record is not None:
                self._realise(record)
                return _facts(record)
            record = self._plan(network, state)
            try:
                self._realise(record)
            except BaseException:
                try:
                    self._unrealise(record)
                except MoorError as err:
                    log.warning("bridge driver: cleaning up after a failed create of %s: %s", network.name, err)
                raise
            state.networks[network.id] = record
            return _facts(record)

    def _is_default(self, network: NetworkSpec) -> bool:
        return network.name == DEFAULT_NETWORK or network.options.get(DEFAULT_BRIDGE, "") == "true"

    def _plan(self, network: NetworkSpec, state: State) -> NetworkRecord:
        """Decide bridge name, subnet, gateway and policy of a new network (nothing on the host yet)."""
        default = self._is_default(network)
        options = network.options
        if options.get(BRIDGE_NAME):
            bridge = check_ifname(options[BRIDGE_NAME], f"bridge name (option {BRIDGE_NAME})")
        else:
            bridge = self.settings.default_bridge if default else f"br-{network.id[:12]}"
        for other in state.networks.values():
            if other.bridge == bridge:
                raise Conflict(f"cannot create network {network.id} ({bridge}): conflicts with network "
                               f"{other.id} ({other.bridge}): networks have same bridge name")
        taken = [ipaddress.IPv4Network(other.subnet) for other in state.networks.values()]
        if network.subnet:
            subnet = ipam.parse_subnet(network.subnet)
        elif default:
            subnet = self.settings.default_subnet
        else:
            found = ipam.pick_subnet(self.settings.pools, taken + links.host_networks())
            if found is None:
                raise Unavailable("could not find an available, non-overlapping IPv4 address pool "
                                  "among the defaults to assign to the network")
            subnet = found
        if any(subnet.overlaps(other) for other in taken):
            raise Conflict("Pool overlaps with other one on this address space")
        if (network.ip_range or network.gateway) and not network.subnet:
            raise InvalidParameter("every ip-range or gateway must have a corresponding subnet")
        ip_range = ipam.parse_range(network.ip_range, subnet) if network.ip_range else None
        gateway = (ipam.parse_gateway(network.gateway, subnet) if network.gateway
                   else ipam.default_gateway(subnet, ip_range))
        reserved = []
        for text in network.aux_addresses:
            try:
                aux = ipaddress.IPv4Address(text)
            except ValueError:
                raise InvalidParameter(f"invalid auxiliary address {text}") from None
            if aux not in subnet:
                raise InvalidParameter(f"no matching subnet for aux-address {text}")
            reserved.append(str(aux))
        subnet6, gateway6, ip_range6 = _plan_ipv6(network, state)
        return NetworkRecord(
            subnet6=subnet6, gateway6=gateway6, ip_range6=ip_range6,
            id=network.id,
            name=network.name,
            bridge=bridge,
            subnet=str(subnet),
            gateway=str(gateway),
            mtu=parse_mtu(options[MTU], f"option {MTU}") if options.get(MTU) else self.settings.mtu,
            internal=network.internal,
            masquerade=_parse_bool(options.get(ENABLE_MASQUERADE, "true"), ENABLE_MASQUERADE),
            icc=_parse_bool(options.get(ENABLE_ICC, "true"), ENABLE_ICC),
            created_bridge=False,
            ip_range="" if ip_range is None else str(ip_range),
            reserved=reserved,
        )

    def _realise(self, record: NetworkRecord) -> None:
        """Make the bridge, its address and the rules of ``record`` exist (idempotent)."""
        if not record.internal:
            firewall.enable_ip_forward()
        gateway = ipaddress.IPv4Interface(f"{record.gateway}/{ipaddress.IPv4Network(record.subnet).prefixlen}")
        if links.ensure_bridge(record.bridge, record.mtu, gateway):
            record.created_bridge = True
        if record.subnet6:
            links.ensure_ipv6_address(record.bridge, ipaddress.IPv6Interface(
                f"{record.gateway6}/{ipaddress.IPv6Network(record.subnet6).prefixlen}"))
        firewall.add_network(_policy(record), {endpoint_id: (found.address, _ports(found))
                                               for endpoint_id, found in record.endpoints.items() if found.ports})

    def _unrealise(self, record: NetworkRecord) -> bool:
        """Remove the rules and (when the driver made it) the bridge of ``record``."""
        removed = firewall.remove_network(_policy(record))
        if record.created_bridge:
            removed = links.delete_link(record.bridge) or removed
        return removed

    @hookimpl
    def moor_network_remove(self, network: NetworkSpec) -> bool:
        with self.store.transaction() as state:
            record = state.networks.get(network.id)
            if record is None:
                return False
            if record.endpoints:
                raise Conflict(f"error while removing network: network {network.name} id {network.id} "
                               f"has active endpoints")
            self._unrealise(record)
            del state.networks[network.id]
            return True

    # ------------------------------------------------------------------ connect / disconnect

    @hookimpl
    def moor_network_connect(self, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str) -> EndpointInfo:
        with self.store.transaction() as state:
            record = state.networks.get(network.id)
            if record is None:
                raise NotFound(f"network {network.name} id {network.id} not found")
            stale = record.endpoints.get(endpoint.id)
            if stale is not None:
                if links.link_exists(stale.host_veth):
                    raise Conflict(f"endpoint {endpoint.id} is already connected to network {network.name}")
                del record.endpoints[endpoint.id]
            subnet = ipaddress.IPv4Network(record.subnet)
            taken = ipam.address_numbers([record.gateway, *record.reserved,
                                          *(other.address for other in record.endpoints.values())])
            if endpoint.ipv4_address:
                address = ipam.parse_requested(endpoint.ipv4_address, subnet)
                if int(address) in taken:
                    raise Conflict("Address already in use")
            else:
                free = ipam.first_free_address(subnet, taken,
                                               ipaddress.IPv4Network(record.ip_range) if record.ip_range else None)
                if free is None:
                    raise Unavailable(f"no available IPv4 addresses on this network's address pools: "
                                      f"{network.name} ({network.id})")
                address = free
            address6 = _address6(record, endpoint, network)
            mac = ipam.parse_mac(endpoint.mac_address) if endpoint.mac_address else ipam.mac_for(address)
            gateway = None if record.internal else ipaddress.IPv4Address(record.gateway)
            subnet6 = ipaddress.IPv6Network(record.subnet6) if record.subnet6 else None
            attachment = links.Attachment(
                bridge=record.bridge, host_veth=links.new_veth_name(), mac=mac, mtu=record.mtu, gateway=gateway,
                address=ipaddress.IPv4Interface(f"{address}/{subnet.prefixlen}"),
                address6=ipaddress.IPv6Interface(f"{address6}/{subnet6.prefixlen}") if subnet6 and address6 else None,
                gateway6=ipaddress.IPv6Address(record.gateway6) if subnet6 and not record.internal else None)
            try:
                interface = links.attach(attachment, netns_path)
            except links.BridgeMissing:  # gone from the host (removed by hand, a reboot): made again
                self._realise(record)
                interface = links.attach(attachment, netns_path)
            record.endpoints[endpoint.id] = EndpointRecord(
                container_id=endpoint.container_id, address=str(address), mac=mac,
                host_veth=attachment.host_veth, interface=interface, netns_path=netns_path,
                address6=str(address6 or ""))
            return EndpointInfo(ipv4_address=str(address), prefix_len=subnet.prefixlen,
                                gateway="" if gateway is None else str(gateway), mac_address=mac,
                                interface=interface, ipv6_address=str(address6 or ""),
                                ipv6_prefix_len=subnet6.prefixlen if subnet6 and address6 else 0,
                                ipv6_gateway=record.gateway6 if subnet6 and address6 and not record.internal else "")

    @hookimpl
    def moor_network_disconnect(self, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str | None) -> bool:
        with self.store.transaction() as state:
            record = state.networks.get(network.id)
            if record is None:
                return False
            found = record.endpoints.get(endpoint.id)
            if found is None:
                return False
            if found.ports:
                try:
                    firewall.remove_ports(record.bridge, endpoint.id, _port_rules(record, endpoint.id, found))
                except MoorError as err:  # the address is released anyway; removing the network drops the rules
                    log.warning("bridge driver: removing the published ports of %s: %s", endpoint.id, err)
            del record.endpoints[endpoint.id]
        # Outside the state lock: the kernel takes ~30 ms to delete a veth (an RCU grace period), and the exits
        # of a whole project would otherwise queue behind each other's deletes. The name is never reused (each
        # attach makes a new random one), and with the container's namespace gone the kernel is already
        # removing the pair itself, so the delete then usually finds nothing.
        links.delete_link(found.host_veth)
        return True

    # ------------------------------------------------------------------ published ports

    @hookimpl
    def moor_network_publish(self, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> bool:
        with self.store.transaction() as state:
            record = state.networks.get(network.id)
            found = record.endpoints.get(endpoint.id) if record is not None else None
            if record is None or found is None:
                raise NotFound(f"endpoint {endpoint.id} is not connected to network {network.name}")
            wanted = [PortMapping(protocol=p.protocol, host_port=int(p.host_port),
                                  container_port=int(p.container_port), host_ip=p.host_ip) for p in ports]
            for port in wanted:
                if port.protocol not in ("tcp", "udp") or not 0 < port.host_port < 65536 \
                        or not 0 < port.container_port < 65536:
                    raise InvalidParameter(f"invalid port mapping {port.host_port}:{port.container_port}/"
                                           f"{port.protocol}")
                if port.host_ip:
                    try:
                        ipaddress.ip_address(port.host_ip)
                    except ValueError:
                        raise InvalidParameter(f"invalid host IP address {port.host_ip!r}") from None
            published = firewall.set_ports(_policy(record), endpoint.id, found.address, wanted, known=_ports(found))
            record.endpoints[endpoint.id] = dataclasses.replace(
                found, ports=[dataclasses.asdict(port) for port in wanted] if published else [])
            return published

    @hookimpl
    def moor_network_unpublish(self, network: NetworkSpec, endpoint: EndpointSpec) -> bool:
        with self.store.transaction() as state:
            record = state.networks.get(network.id)
            found = record.endpoints.get(endpoint.id) if record is not None else None
            if record is None or found is None or not found.ports:
                return False
            firewall.remove_ports(record.bridge, endpoint.id, _port_rules(record, endpoint.id, found))
            record.endpoints[endpoint.id] = dataclasses.replace(found, ports=[])
            return True
