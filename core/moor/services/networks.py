"""The network service: Docker's networks over the network drivers, and containers' endpoints.

Networks are :class:`~moor.networks.model.Network` records, kept by a
:class:`~moor.networks.store.NetworkStore`. ``bridge``, ``host`` and ``none``
always exist; moord sets ``bridge`` up on the host when it starts
(:meth:`NetworkService.ensure_default`, as dockerd does docker0) and takes it
down at a clean stop with nothing running; the record, and so the network ID,
stays. An engine built without moord (tools, tests) sets a network up the first
time a container joins it. A container joins its networks after runc created
its namespace and before its process starts; it leaves them when it exits.
Names on user-defined networks resolve through the embedded DNS server
(:mod:`moor.services.dns`), which asks :meth:`NetworkService.resolve`.

The service publishes Docker's network events ``create`` and ``destroy``
(``connect`` and ``disconnect`` come from
:class:`~moor.services.container_networking.ContainerNetworking`).
"""

from __future__ import annotations

import builtins
import logging
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

from moor import tracing
from moor.errors import Conflict, Forbidden, InvalidParameter, MoorError, NotFound
from moor.filters import labels_match
from moor.networks.model import PREDEFINED, Endpoint, IPAMConfig, Network, NetworkRequest
from moor.networks.store import NetworkStore, network_record
from moor.timefmt import format_timestamp, parse_timestamp
from moor.types import EndpointSpec, PortMapping

if TYPE_CHECKING:
    from moor.containers.record import Container
    from moor.drivers import DriverSet
    from moor.services.events import EventBus

log = logging.getLogger(__name__)

LIST_FILTERS = ("name", "id", "driver", "label", "type", "scope", "dangling")
PRUNE_FILTERS = ("until", "label", "label!")


class NetworkService:
    """Owns the network records and the endpoints of containers."""

    def __init__(self, data_root: str, drivers: DriverSet, events: EventBus) -> None:
        self.drivers = drivers
        self.events = events
        self.store = NetworkStore(data_root)
        self.lock = threading.RLock()
        #: the records' writes (see :meth:`_flush`): changes counted, the last written, the newest taken
        self._version = 0
        self._written = 0
        self._write_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: tuple[int, dict[str, Any]] | None = None
        self.networks: dict[str, Network] = self.store.load()
        for name, driver in PREDEFINED.items():
            if self.find(name) is None and driver in self.drivers.names("network"):
                self._add(_new_network(NetworkRequest(name=name, driver=driver)))
        self._save()
        for name in ("host", "none"):  # the single-instance drivers learn of their one network, so refuse another
            network = self.find(name)
            if network is not None and self.has_driver(network.driver):
                try:
                    self.drivers.network(network.driver).create(network=network.spec())
                except Forbidden:
                    pass  # it knew already (a second service over the same drivers)

    # ------------------------------------------------------------------ records

    def _save(self) -> None:
        """Write the records now (the caller holds the lock)."""
        self._flush(self._changed())

    def _changed(self) -> int:
        """Count a change of the records (under the lock); the ticket :meth:`_flush` takes."""
        self._version += 1
        return self._version

    def _flush(self, ticket: int) -> None:
        """Return once the records as of change ``ticket`` (or newer) are on disk.

        Group commit: the records are taken under the lock, then written under a lock of the writes alone,
        and a writer writes the newest records taken: one write of the whole file covers every change made
        meanwhile. (Endpoints are not among these changes: a connect or disconnect writes its endpoint's own
        file, see :class:`~moor.networks.store.NetworkStore`.) Lock order: ``lock``, then ``_write_lock``, then
        ``_pending_lock`` (never the other way).
        """
        with self.lock:
            if self._written >= ticket:
                return
            taken = (self._version, {key: network_record(network) for key, network in self.networks.items()})
        with self._pending_lock:
            if self._pending is None or self._pending[0] < taken[0]:
                self._pending = taken
        with self._write_lock:
            if self._written >= ticket:
                return
            with self._pending_lock:
                version, records = self._pending or taken
            self.store.write(records)
            self._written = version

    def close(self) -> None:
        """At moord's stop: ``networks.json`` written once more, its ``Containers`` up to date (for an older
        moord; this one reads the endpoints' own files)."""
        with self.lock:
            self._save()

    def _add(self, network: Network) -> None:
        self.networks[network.id] = network

    def _publish(self, action: str, network: Network) -> None:
        self.events.publish("network", action, network.id, {"name": network.name, "type": network.driver})

    def has_driver(self, name: str) -> bool:
        """Whether the network driver ``name`` is loaded."""
        return name in self.drivers.names("network")

    def find(self, ident: str) -> Network | None:
        """The network with ID, name or unique ID prefix ``ident``; None if there is none."""
        with self.lock:
            if ident in self.networks:
                return self.networks[ident]
            for network in self.networks.values():
                if network.name == ident:
                    return network
            matches = [n for n in self.networks.values() if ident and n.id.startswith(ident)]
            return matches[0] if len(matches) == 1 else None

    def get(self, ident: str) -> Network:
        """:meth:`find`, or NotFound."""
        network = self.find(ident)
        if network is None:
            raise NotFound(f"network {ident} not found")
        return network

    # ------------------------------------------------------------------ API operations

    def list(self, filters: dict[str, list[str]]) -> list[Network]:
        """``network ls``: the networks that pass ``filters`` (Docker's keys), oldest first."""
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidParameter(f"Invalid filter '{key}'")
        for kind in filters.get("type", []):
            if kind not in ("builtin", "custom"):
                raise InvalidParameter(f"invalid filter: 'type'='{kind}'")
        dangling = [_dangling_value(value) for value in filters.get("dangling", [])]
        with self.lock:
            candidates = builtins.list(self.networks.values())
        result = []
        for network in candidates:
            if filters.get("name") and not any(n in network.name for n in filters["name"]):
                continue
            if filters.get("id") and not any(network.id.startswith(i) for i in filters["id"]):
                continue
            if filters.get("driver") and network.driver not in filters["driver"]:
                continue
            if not labels_match(network.labels, filters):
                continue
            kind = "builtin" if network.predefined else "custom"
            if filters.get("type") and kind not in filters["type"]:
                continue
            if filters.get("scope") and network.scope not in filters["scope"]:
                continue
            if dangling and (network.user_defined and not network.endpoints) != dangling[-1]:
                continue  # Docker: dangling networks are the user-defined ones no container uses
            result.append(network)
        return sorted(result, key=lambda n: (parse_timestamp(n.created) if n.created else 0.0, n.id))

    def create(self, request: NetworkRequest) -> Network:
        """``network create``: check the request, let the driver set the network up, keep it, publish ``create``."""
        name = request.name
        if not name:
            raise InvalidParameter("network name is required")
        driver_name = request.driver or self.drivers.defaults["network"]
        self.drivers.network(driver_name)  # an unknown driver is refused first
        _check_single_engine_request(request)
        with self.lock:
            existing = self.find(name)
            if existing is not None and existing.name == name:
                raise Conflict(f"network with name {name} already exists")
            if request.enable_ipv6 and not any(pool.ipv6 for pool in request.ipam):
                raise InvalidParameter("could not find an available, non-overlapping IPv6 address pool among the "
                                       "defaults to assign to the network")  # Docker has no default IPv6 pool either
            if len([pool for pool in request.ipam if not pool.ipv6]) > 1 or \
                    len([pool for pool in request.ipam if pool.ipv6]) > 1:
                raise Forbidden(f"{driver_name} driver doesn't support multiple subnets")
            network = _new_network(request, driver_name)
            self._set_up(network)
            self._add(network)
            self._save()
        self._publish("create", network)
        return network

    def inspect(self, ident: str, scope: str = "") -> Network:
        """``network inspect``: the network ``ident``; with a ``scope``, only if the network has that scope."""
        network = self.get(ident)
        if scope and scope != network.scope:
            raise NotFound(f"network {ident} not found")
        return network

    def remove(self, ident: str) -> None:
        """``network rm``: refused for the predefined networks and for one a container is on; publish ``destroy``."""
        network = self._remove(ident)
        self._publish("destroy", network)

    def _remove(self, ident: str) -> Network:
        with self.lock:
            network = self.get(ident)
            if network.predefined:
                raise Forbidden(f"{network.name} is a pre-defined network and cannot be removed")
            if network.endpoints:
                raise Forbidden(f"error while removing network: network {network.name} id {network.id} "
                                "has active endpoints")
            if network.created_on_host:
                self.drivers.network(network.driver).remove(network=network.spec())
            del self.networks[network.id]
            self._save()
        return network

    def prune(self, filters: dict[str, builtins.list[str]]) -> builtins.list[str]:
        """``network prune``: remove the user-defined networks no container is on; return their names.

        As Docker, each publishes ``destroy``, then the prune publishes ``prune`` (nothing reclaimed).
        """
        for key in filters:
            if key not in PRUNE_FILTERS:
                raise InvalidParameter(f"Invalid filter '{key}'")
        until = [parse_timestamp(value) for value in filters.get("until", [])]
        deleted = []
        with self.lock:
            candidates = builtins.list(self.networks.values())
        for network in candidates:
            if network.predefined or network.endpoints or not labels_match(network.labels, filters):
                continue
            if any(parse_timestamp(network.created) >= moment for moment in until):
                continue
            self._remove(network.id)
            self._publish("destroy", network)
            deleted.append(network.name)
        self.events.publish("network", "prune", "", {"reclaimed": "0"})
        return deleted

    # ------------------------------------------------------------------ on the host

    def _set_up(self, network: Network) -> None:
        """Let the driver set the network up on the host; keep its facts (and the subnet it picked, if none
        was given) in the record."""
        facts = self.drivers.network(network.driver).create(network=network.spec()) or {}
        network.created_on_host = True
        network.driver_facts = {str(k): str(v) for k, v in facts.items()}
        if facts.get("subnet") and not any(not pool.ipv6 for pool in network.ipam):
            # the picked IPv4 pool comes first, before an IPv6 one asked for, as Docker lists them
            network.ipam = [IPAMConfig(subnet=facts["subnet"], gateway=facts.get("gateway", "")), *network.ipam]
            network.subnet_picked = True

    def ensure_on_host(self, network: Network) -> None:
        """Let the driver set the network up on the host, once (lazily for ``bridge``)."""
        with self.lock:
            if network.created_on_host:
                return
            self._set_up(network)
            self._save()

    def ensure_default(self) -> None:
        """Set the predefined ``bridge`` network up on the host (moord's start-up).

        The driver re-makes whatever is missing (bridge, address, rules) and
        keeps its endpoints, so running containers keep their addresses. A
        failure is logged, not raised: the network is tried again when a
        container joins it.
        """
        network = self.find("bridge")
        if network is None or not self.has_driver(network.driver):
            return
        with self.lock:
            try:
                self._set_up(network)
            except MoorError as err:
                log.error("setting up the default bridge network failed: %s", err)
                return
            self._save()

    def release_default(self) -> None:
        """Remove the predefined bridge from the host when no container uses it."""
        network = self.find("bridge")
        if network is None or not network.created_on_host or network.endpoints:
            return
        try:
            self.drivers.network("bridge").remove(network=network.spec())
        except MoorError:
            log.exception("removing the default bridge failed")
            return
        with self.lock:
            network.created_on_host = False
            network.driver_facts = {}
            network.ipam = []
            self._save()

    # ------------------------------------------------------------------ endpoints

    def connect(self, container: Container, network_name: str, netns_path: str,
                settings: dict[str, Any] | None = None, mac_address: str = "") -> dict[str, Any]:
        """Join ``container`` (its namespace at ``netns_path``) to a network; return Docker's EndpointSettings
        (what the container's record keeps for the network).

        ``settings`` are the endpoint settings asked for (``IPAMConfig``, ``Aliases``); ``mac_address`` is the
        one asked for (else the driver picks one).
        """
        network = self.get(network_name)
        if network.driver in ("host", "none"):
            raise Forbidden(f"container cannot be disconnected from host network or connected to {network.name} "
                            "network")
        settings = dict(settings or {})
        ipam = dict(settings.get("IPAMConfig") or {})
        # Docker before API 1.45: on a user-defined network the short ID and a hostname of the container's own
        # choosing are aliases too (the embedded DNS answers them); a rejoin keeps one of each
        hostname = str((getattr(container, "config", None) or {}).get("Hostname") or "")
        if hostname in (container.name, container.short_id):
            hostname = ""
        asked = tuple(a for a in settings.get("Aliases") or [] if a not in (container.short_id, hostname))
        links = tuple(str(link) for link in settings.get("Links") or [])
        self.check_endpoint_settings(network, ipam, asked)
        self.ensure_on_host(network)
        endpoint_id = secrets.token_hex(32)
        aliases = asked + (() if network.predefined else (container.short_id, *((hostname,) if hostname else ())))
        endpoint = EndpointSpec(id=endpoint_id, container_id=container.id,
                                ipv4_address=ipam.get("IPv4Address", ""), mac_address=mac_address, aliases=aliases,
                                ipv6_address=ipam.get("IPv6Address", ""))
        # written ahead, on disk only: should moord die while the driver connects, its next start finds the
        # endpoint's ID there and disconnects it (ContainerNetworking.leave of the interrupted start)
        ahead = Endpoint(name=container.name, endpoint_id=endpoint_id, aliases=list(aliases), links=list(links))
        self.store.write_endpoint(network.id, container.id, ahead)
        try:
            with tracing.phase("net.driver"):
                info = self.drivers.network(network.driver).connect(
                    network=network.spec(), endpoint=endpoint, netns_path=netns_path)
        except BaseException:
            with self.lock:
                if container.id not in network.endpoints:
                    self.store.write_endpoint(network.id, container.id, None)
            raise
        with tracing.phase("net.records"), self.lock:
            endpoint_record = Endpoint(
                name=container.name, endpoint_id=endpoint_id, mac_address=info.mac_address,
                ipv4_address=f"{info.ipv4_address}/{info.prefix_len}" if info.ipv4_address else "",
                ipv6_address=f"{info.ipv6_address}/{info.ipv6_prefix_len}" if info.ipv6_address else "",
                aliases=list(aliases), links=list(links))
            network.endpoints[container.id] = endpoint_record
            self.store.write_endpoint(network.id, container.id, endpoint_record)
        return {
            "IPAMConfig": ipam or None, "Links": list(links) or None, "Aliases": list(aliases) or None,
            "NetworkID": network.id,
            "EndpointID": endpoint_id, "Gateway": info.gateway, "IPAddress": info.ipv4_address,
            "IPPrefixLen": info.prefix_len, "IPv6Gateway": info.ipv6_gateway, "GlobalIPv6Address": info.ipv6_address,
            "GlobalIPv6PrefixLen": info.ipv6_prefix_len, "MacAddress": info.mac_address,
            "DriverOpts": settings.get("DriverOpts") or None,  # kept as asked, as Docker's inspect shows them
        }

    def check_endpoint_settings(self, network: Network, ipam: dict[str, Any], aliases: tuple[str, ...]) -> None:
        """Refuse an address or an alias the network cannot give, in Docker's words (InvalidParameter)."""
        asks_address = bool(ipam.get("IPv4Address") or ipam.get("IPv6Address"))
        has_v6 = network.enable_ipv6 and any(pool.ipv6 for pool in network.ipam)
        if network.predefined:  # Docker: the default bridge takes no address or alias of one's choosing
            if asks_address:
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            if aliases:
                raise InvalidParameter("network-scoped alias is supported only for containers in user defined "
                                       "networks")
        elif (ipam.get("IPv4Address") and (network.subnet_picked or not network.ipam)) or \
                (ipam.get("IPv6Address") and not has_v6):
            raise InvalidParameter("user specified IP address is supported only when connecting to networks with "
                                   "user configured subnets")

    def disconnect(self, container: Container, network_name: str, netns_path: str | None) -> None:
        """Take ``container``'s endpoint off the network (``netns_path`` None: its namespace is gone)."""
        network = self.find(network_name)
        if network is None:
            return
        settings = container.networks.get(network.name) or {}
        endpoint = EndpointSpec(id=settings.get("EndpointID", ""), container_id=container.id,
                                ipv4_address=settings.get("IPAddress", ""))
        driver = self.drivers.network(network.driver)
        try:
            if driver.implements("unpublish"):
                driver.unpublish(network=network.spec(), endpoint=endpoint)
            driver.disconnect(network=network.spec(), endpoint=endpoint, netns_path=netns_path)
        except MoorError:
            log.exception("disconnecting %s from %s failed", container.short_id, network.name)
        with self.lock:
            network.endpoints.pop(container.id, None)
            self.store.write_endpoint(network.id, container.id, None)

    def publish(self, container: Container, network_name: str, ports: builtins.list[PortMapping]) -> bool:
        """Let the network's driver forward ``ports`` to the container's endpoint in the kernel, if it can."""
        network = self.get(network_name)
        driver = self.drivers.network(network.driver)
        settings = container.networks.get(network.name) or {}
        if not ports or not settings.get("EndpointID") or not driver.implements("publish"):
            return False
        endpoint = EndpointSpec(id=settings["EndpointID"], container_id=container.id,
                                ipv4_address=settings.get("IPAddress", ""))
        return bool(driver.publish(network=network.spec(), endpoint=endpoint, ports=ports))

    def members(self, network_name: str) -> set[str]:
        """The IDs of the containers with an endpoint on the network (none for an unknown one)."""
        with self.lock:
            network = self.find(network_name)
            return set(network.endpoints) if network is not None else set()

    def rename_member(self, container_id: str, name: str) -> None:
        """A renamed container answers to its new name on its networks (and no longer to the old one)."""
        with self.lock:
            for network in self.networks.values():
                endpoint = network.endpoints.get(container_id)
                if endpoint is not None:
                    endpoint.name = name
                    self.store.write_endpoint(network.id, container_id, endpoint)

    # ------------------------------------------------------------------ names (the embedded DNS server)

    def _shared(self, container_id: str) -> builtins.list[Network]:
        """The user-defined networks ``container_id`` is attached to."""
        return [n for n in self.networks.values() if n.user_defined and container_id in n.endpoints]

    def on_user_network(self, container_id: str) -> bool:
        """Whether the container has an endpoint on a user-defined network (and so the embedded DNS)."""
        with self.lock:
            return bool(self._shared(container_id))

    def resolve(self, container_id: str, name: str) -> builtins.list[str] | None:
        """IPv4 addresses ``name`` has for ``container_id``; None if it is no container's name.

        On every user-defined network the asking container is on, a member answers
        to its name, its aliases (which hold its short ID) and its full ID, in any
        case, with or without the network's name as a suffix (``db.appnet``).
        """
        wanted = name.rstrip(".").lower()
        found: builtins.list[str] = []
        with self.lock:
            for network in self._shared(container_id):
                suffix = "." + str(network.name).lower()
                key = wanted[:-len(suffix)] if wanted.endswith(suffix) else wanted
                key = _linked(network.endpoints[container_id].links).get(key, key)
                for member_id, endpoint in network.endpoints.items():  # no set built per member: 1000 per query
                    if key == member_id or key == str(endpoint.name).lower() or any(
                            key == str(alias).lower() for alias in endpoint.aliases):
                        address = endpoint.address
                        if address and address not in found:
                            found.append(address)
        return found or None

    def reverse(self, container_id: str, address: str) -> str | None:
        """``name.network`` of the member with ``address`` on a network shared with ``container_id``."""
        with self.lock:
            for network in self._shared(container_id):
                for endpoint in network.endpoints.values():
                    if endpoint.address == address:
                        return f"{endpoint.name}.{network.name}"
        return None


def _new_network(request: NetworkRequest, driver: str = "") -> Network:
    """A new network record for ``request`` (not yet set up on the host)."""
    return Network(id=secrets.token_hex(32), name=request.name, driver=driver or request.driver,
                   created=format_timestamp(time.time()), internal=request.internal, attachable=request.attachable,
                   enable_ipv6=request.enable_ipv6,
                   ipam_options=dict(request.ipam_options) if request.ipam_options is not None else None,
                   ipam=list(request.ipam), options=dict(request.options), labels=dict(request.labels))


def _dangling_value(value: str) -> bool:
    """The ``dangling`` filter's value as Docker reads it."""
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidParameter("invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")")


def _check_single_engine_request(request: NetworkRequest) -> None:
    """Refuse what only a swarm, an IPAM plugin or a configuration-only network could serve, in Docker's words."""
    if request.ingress:
        raise Forbidden("Ingress network can only be global scope network")
    if request.scope == "swarm":
        raise Forbidden("cannot create a swarm scoped network when swarm is not active")
    if request.scope not in ("", "local"):
        raise InvalidParameter('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
                               "connect this node to swarm and try again.")
    if request.ipam_driver not in ("", "default"):
        raise NotFound(f'plugin "{request.ipam_driver}" not found')
    if request.config_from:  # moor keeps no configuration-only networks
        raise NotFound(f'configuration network "{request.config_from}" does not exist')


def _linked(links: builtins.list[str]) -> dict[str, str]:
    """A container's network-scoped links (``name:alias``) as alias -> name, lower-cased (a bare ``name`` links
    to itself)."""
    pairs = (link.partition(":") for link in links)
    return {(alias or name).lower(): name.lower() for name, _, alias in pairs}
