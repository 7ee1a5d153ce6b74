"""Containers on networks: which networks a container joins, its endpoints, published ports,
/etc/hosts and the embedded DNS server's listeners.

:class:`ContainerNetworking` is the container service's collaborator for all of
it: the service asks it at create (networks wanted, MAC address, host config
checks), at start (join after runc made the namespace, publish the ports
through the monitor), at exit (leave), when moord re-adopts a running container
(DNS listeners) and for ``network connect``/``disconnect`` (it publishes those
two network events). The engine builds it over the
:class:`~moor.services.networks.NetworkService` (which owns the network records
and the endpoints on them) and the container store; it reads networks only
through the service's public methods and the model
(:class:`~moor.networks.model.Network`).
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moor import tracing
from moor.config import dns_upstream
from moor.containers import portspec
from moor.containers.etcfiles import (
    DEFAULT_NAMESERVERS,
    HOST_GATEWAY,
    embedded_resolv_conf_text,
    extra_host_line,
    host_nameservers,
    hosts_text,
    rewrite_in_place,
)
from moor.containers.links import link_env, parse_link
from moor.errors import Conflict, Forbidden, InvalidParameter, MoorError, NotFound
from moor.netaddr import check_mac_address
from moor.networks.netns import PremadeNetns
from moor.services.dns import EmbeddedDNS
from moor.services.dns_forward import Upstream
from moor.types import PortMapping

if TYPE_CHECKING:
    from moor.config import Config
    from moor.containers.processes import ContainerProcesses
    from moor.containers.record import Container, ContainerStore
    from moor.networks.model import Network
    from moor.services.events import EventBus
    from moor.services.networks import NetworkService

log = logging.getLogger(__name__)


def _loopback(server: str) -> bool:
    try:
        return ipaddress.ip_address(server.partition("%")[0]).is_loopback
    except ValueError:
        return False


#: the key of a container's network settings that keeps the MAC address ``network connect`` asked for
ASKED_MAC = "AskedMacAddress"


def _asked_mac(settings: dict[str, Any]) -> str:
    return str(settings.get(ASKED_MAC) or "")


def _mac_wish(mac: str) -> dict[str, str]:
    """The settings of an endpoint still to make that asked for ``mac`` (inspect shows it, as Docker's)."""
    return {"MacAddress": mac, ASKED_MAC: mac} if mac else {}


def host_line(entry: str) -> str:
    """``--add-host name:ip`` -> an /etc/hosts line (InvalidParameter in Docker's words for a bad entry)."""
    return extra_host_line(entry)


class Joining:
    """A container joining its networks in a thread of its own (:meth:`ContainerNetworking.join_in_background`)."""

    def __init__(self, context: contextvars.Context, work: Callable[[], None]) -> None:
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(context, work), name="moor-join", daemon=True)
        self._thread.start()

    def _run(self, context: contextvars.Context, work: Callable[[], None]) -> None:
        try:
            context.run(work)
        except BaseException as err:  # noqa: BLE001 - handed to the waiting thread
            self._failure = err

    def wait(self) -> None:
        """Return once the container joined its networks; raise what the join raised."""
        self._thread.join()
        if self._failure is not None:
            raise self._failure

    def finish(self) -> None:
        """Wait for the join to end, whatever its outcome (the start failed: the caller leaves the networks)."""
        self._thread.join()


class ContainerNetworking:
    """The networking side of the containers in ``store``: endpoints, ports, /etc/hosts and embedded DNS."""

    def __init__(self, config: Config, networks: NetworkService, store: ContainerStore, events: EventBus,
                 processes: ContainerProcesses, get: Callable[[str], Container],
                 make_netns: Callable[[], PremadeNetns] | None = None) -> None:
        self.config = config
        #: makes a container's network namespace ahead of runc (see :meth:`prepare`); None: runc makes it
        self.make_netns = make_netns
        #: the monitors' side: their port proxies take the published ports
        self.processes = processes
        #: the network service (a peer of the container service, built by the engine)
        self.networks = networks
        self.store = store
        self.events = events
        #: the lookup of a container by name or ID (NotFound for an unknown one)
        self.get = get
        self.dns = EmbeddedDNS(networks.resolve, networks.reverse, self.dns_upstreams)
        #: whether ``default`` means the ``bridge`` network, as in Docker (needs the bridge driver)
        self.bridge_by_default = networks.has_driver("bridge")
        #: a connect to a running container and that container's exit (leave) happen one after the other: a lock
        #: per container (see :meth:`_exits`), so that the exits of different containers go on side by side
        self._exit_locks: dict[str, threading.RLock] = {}
        self._exit_locks_guard = threading.Lock()
        #: IDs of the containers that left their networks since their last start (exited, start failed)
        self._left: set[str] = set()

    def _exits(self, container_id: str) -> threading.RLock:
        """The lock that orders a connect to the running container ``container_id`` and its leave."""
        with self._exit_locks_guard:
            return self._exit_locks.setdefault(container_id, threading.RLock())

    def forget(self, container_id: str) -> None:
        """The container is gone: drop its lock."""
        with self._exit_locks_guard:
            self._exit_locks.pop(container_id, None)

    def close(self) -> None:
        """At a clean stop with nothing running, take the default bridge off the host (it comes back lazily).

        The embedded DNS server's listeners close in any case.
        """
        self.dns.close()
        if not any(c.state.Running for c in self.store.all()):
            self.networks.release_default()

    # ------------------------------------------------------------------ create

    def mac_address(self, config: dict[str, Any], host_config: dict[str, Any], networking: dict[str, Any]) -> None:
        """Check ``Config.MacAddress`` (or the primary network's ``EndpointsConfig`` one, API 1.44) into ``config``."""
        mode = host_config["NetworkMode"]
        endpoints = networking.get("EndpointsConfig") or {}
        primary = endpoints.get(mode) or endpoints.get("bridge" if mode == "default" else mode) or {}
        mac = config.get("MacAddress") or (primary.get("MacAddress") if isinstance(primary, dict) else "") or ""
        if not mac:
            config.pop("MacAddress", None)
            return
        if mode == "host" or mode.startswith("container:"):
            raise InvalidParameter("conflicting options: mac-address and the network mode")
        config["MacAddress"] = check_mac_address(mac)

    def wanted_networks(self, host_config: dict[str, Any], networking: dict[str, Any]) -> dict[str, Any]:
        """The networks a container joins when it starts: name -> endpoint settings asked for."""
        mode = host_config["NetworkMode"]
        wanted: dict[str, Any] = {}
        # An unknown network keeps the name asked for: as in Docker, it is refused when the container starts
        # (NotFound from the join), not when it is made.
        if mode == "bridge" or (mode == "default" and self.bridge_by_default) or (
                mode not in ("none", "host", "default") and not mode.startswith("container:")):
            network = self.networks.find("bridge" if mode == "default" else mode)
            wanted[network.name if network else mode] = {}
        for name, settings in (networking.get("EndpointsConfig") or {}).items():
            if name in ("default", "none", "host") or name == mode:  # the docker CLI repeats the mode here
                if name in wanted or (name == "default" and "bridge" in wanted):
                    wanted["bridge" if name == "default" else name] = dict(settings or {})
                continue
            network = self.networks.find(name)
            wanted[network.name if network else name] = dict(settings or {})
        return {name: {"IPAMConfig": s.get("IPAMConfig"), "Aliases": s.get("Aliases"),
                       **{key: s[key] for key in ("DriverOpts", "Links") if s.get(key)}}
                for name, s in wanted.items()}

    @staticmethod
    def check_network_mode(config: dict[str, Any], host_config: dict[str, Any]) -> None:
        """Refuse, as Docker does when a container is made, what the network mode leaves no room for: ``config``
        is the request's own (not merged with the image's). The container whose namespace
        ``container:<name>`` joins need not exist yet: its absence fails the start."""
        mode = str(host_config.get("NetworkMode") or "")
        conflicts: list[tuple[bool, str]] = []
        if mode.startswith("container:"):
            if not mode.split(":", 1)[1]:
                raise InvalidParameter("Invalid network mode: invalid container format container:<name|id>")
            conflicts = [
                (bool(config.get("Hostname")), "conflicting options: hostname and the network mode"),
                (bool(host_config.get("Links")), "conflicting options: container type network can't be used with "
                                                 "links. This would result in undefined behavior"),
                (bool(host_config.get("Dns")), "conflicting options: dns and the network mode"),
                (bool(host_config.get("ExtraHosts")),
                 "conflicting options: custom host-to-IP mapping and the network mode"),
                (bool(host_config.get("PortBindings") or host_config.get("PublishAllPorts")),
                 "conflicting options: port publishing and the container type network mode"),
                (bool(config.get("ExposedPorts")),
                 "conflicting options: port exposing and the container type network mode"),
            ]
        elif mode == "host":
            conflicts = [(bool(host_config.get("Links")), "conflicting options: host type networking can't be used "
                                                          "with links. This would result in undefined behavior")]
        for conflict, message in conflicts:
            if conflict:
                raise InvalidParameter(message)

    def check_host_config(self, host_config: dict[str, Any]) -> None:
        """Check ``ExtraHosts`` and ``PortBindings``; ``Links`` become ``/name:/{self}/alias`` (the linked
        container must exist; ``{self}`` is the new container's name, filled in once known). On a user-defined
        network Docker keeps no legacy link (no variables, no /etc/hosts line, no start refused): a link
        there is the endpoint's (``EndpointsConfig.*.Links``, names its DNS answers)."""
        for entry in host_config.get("ExtraHosts") or []:
            if host_line(entry).startswith(HOST_GATEWAY + "\t"):
                self.host_gateway()
        links = []
        mode = str(host_config.get("NetworkMode") or "default")
        legacy = mode in ("default", "bridge") or mode.startswith("container:") or mode in ("host", "none")
        for link in (host_config.get("Links") or []) if legacy else []:  # Docker: none on a user-defined network
            source, _, alias = link.partition(":")
            try:
                linked = self.get(source.strip("/"))
            except NotFound as err:  # a 400, as Docker: a 404 would have the docker CLI pull the image
                raise InvalidParameter(f"could not get container for {source.strip('/')}: {err}") from None
            links.append(f"/{linked.name}:/{{self}}/{alias.rsplit('/', 1)[-1] or linked.name}")
        host_config["Links"] = links or None
        portspec.validate(host_config.get("PortBindings"))

    # ------------------------------------------------------------------ the bundle (before runc creates the container)

    def joined_netns(self, container: Container) -> str:
        """With ``--network container:<other>``: the namespace of the running ``other`` to join, else ""."""
        other = self.joined_container(container)
        return "" if other is None else f"/proc/{other.state.Pid}/ns/net"

    def joined_container(self, container: Container) -> Container | None:
        """With ``--network container:<other>``: the running ``other`` (Conflict when it does not run), else None."""
        mode = container.host_config["NetworkMode"]
        if not mode.startswith("container:"):
            return None
        other = self.get(mode.split(":", 1)[1])
        if not other.state.Running:
            raise Conflict(f"cannot join network of a non running container: {other.id}")
        return other

    def etc_hosts_extra(self, container: Container) -> list[str]:
        """The ``--add-host`` lines of the container's /etc/hosts (``host-gateway``: the default bridge's gateway)."""
        lines = [host_line(entry) for entry in container.host_config.get("ExtraHosts") or []]
        if any(line.startswith(HOST_GATEWAY + "\t") for line in lines):
            gateway = self.host_gateway()
            lines = [gateway + line[len(HOST_GATEWAY):] if line.startswith(HOST_GATEWAY + "\t") else line
                     for line in lines]
        return lines

    def host_gateway(self) -> str:
        """The host's address on the default bridge, what ``--add-host name:host-gateway`` names (Docker 20.10);
        InvalidParameter in Docker's words when there is none."""
        network = self.networks.find("bridge")
        for pool in network.ipam if network is not None else []:
            if pool.gateway and ":" not in pool.gateway:
                return pool.gateway.split("/")[0]
        raise InvalidParameter("unable to derive the IP value for host-gateway")

    # ------------------------------------------------------------------ start / exit

    def prepare(self, container: Container) -> PremadeNetns | None:
        """The network namespace of a container about to start, made now when the container has one of its own and
        joins networks: the bundle names it for runc, and :meth:`join_in_background` sets the network up while runc
        creates the container (the two took turns before). None otherwise, or when it cannot be made (runc makes
        the namespace then, and :meth:`join` follows)."""
        mode = str(container.host_config.get("NetworkMode") or "")
        if self.make_netns is None or not container.networks or mode in ("host", "none") or \
                mode.startswith("container:"):
            return None
        try:
            return self.make_netns()
        except OSError as err:
            log.warning("cannot make the network namespace of %s ahead of runc: %s", container.short_id, err)
            return None

    def join_in_background(self, container: Container, premade: PremadeNetns) -> Joining:
        """:meth:`join` the namespace made by :meth:`prepare`, in a thread of its own (its phases on the start's
        trace line); the caller waits through the returned :class:`Joining`."""
        return Joining(contextvars.copy_context(), lambda: self._traced_join(container, premade.path))

    def _traced_join(self, container: Container, netns_path: str) -> None:
        with tracing.phase("network"):
            self.join(container, 0, netns_path)

    def join(self, container: Container, pid: int, netns_path: str = "") -> None:
        """Connect the container to the networks it wants: its namespace is ``netns_path`` (made ahead), else
        that of its process ``pid`` (made, not yet started)."""
        netns_path = netns_path or f"/proc/{pid}/ns/net"
        with self._exits(container.id):
            self._left.discard(container.id)
        for name in list(container.networks):
            wish = container.networks.get(name)
            if wish is None:  # disconnected by another request meanwhile
                continue
            asked = _asked_mac(wish)
            with tracing.phase("net.connect"):
                container.networks[name] = self.networks.connect(container, name, netns_path, wish,
                                                                 asked or self._mac_for(container, name))
            if asked:
                container.networks[name][ASKED_MAC] = asked
            joined = self.networks.find(name)
            if joined is not None:  # as Docker at each start, the default network too
                with tracing.phase("net.events"):
                    self._publish("connect", joined, container)
        with tracing.phase("net.hosts"):
            self.refresh_hosts(container)
        with tracing.phase("net.dns"):
            self.sync_dns(container, pid, netns_path=netns_path)

    def _mac_for(self, container: Container, network_name: str) -> str:
        """The MAC address asked for on ``network_name``: Docker's ``Config.MacAddress`` is the primary network's."""
        mac = container.config.get("MacAddress") or ""
        if not mac:
            return ""
        mode = container.host_config.get("NetworkMode") or "default"
        primary = self.networks.find("bridge" if mode == "default" else mode)
        return mac if primary is not None and primary.name == network_name else ""

    def _user_network(self, name: str) -> bool:
        """Whether ``name`` is a user-defined network (whose members get the embedded DNS server)."""
        network = self.networks.find(name)
        return network is not None and network.user_defined

    def embedded_dns(self, container: Container) -> bool:
        """Whether the container's resolv.conf names the embedded DNS server: it (or the container whose
        network namespace it joins) is on a user-defined network."""
        mode = container.host_config.get("NetworkMode") or ""
        if mode.startswith("container:"):
            other = self.store.find(mode.split(":", 1)[1])
            return other is not None and self.networks.on_user_network(other.id)
        return any(self._user_network(name) for name in list(container.networks))  # connect may change it

    def sync_dns(self, container: Container, pid: int, new_resolv_conf: bool = False, netns_path: str = "") -> None:
        """Open the embedded DNS server's listeners in the container (in ``netns_path``, else in the namespace of
        its process ``pid``) while it is on a user-defined network.

        With ``new_resolv_conf`` (``network connect``), a container that joins its first one while
        running gets the resolv.conf of the embedded server too, as with Docker (one that started
        on such a network has it from its start).
        """
        if not (pid or netns_path) or not self.networks.on_user_network(container.id):
            self.dns.detach(container.id)
            return
        try:
            opened = self.dns.attach(container.id, netns_path or f"/proc/{pid}/ns/net")
            if opened and new_resolv_conf and container.resolv_conf_path:
                rewrite_in_place(container.resolv_conf_path, embedded_resolv_conf_text(
                    search=container.host_config.get("DnsSearch"), options=container.host_config.get("DnsOptions")))
        except (MoorError, OSError) as err:
            log.error("%s", err)

    def dns_upstreams(self, container_id: str) -> list[Upstream]:
        """Where the embedded DNS server forwards for a container: its --dns, the config's, or the host's.

        It forwards from the container's namespace, where 127.0.0.1 is the container's own. The one
        exception is Docker's: the loopback resolvers of the host's resolv.conf (127.0.0.53 and the
        like) are asked from the host, but not for a container on --internal networks only, which
        reaches no resolver (as newer Docker; 20.10 let it reach those through the host).
        """
        container = self.store.find(container_id)
        servers = list((container.host_config.get("Dns") or []) if container else [])
        from_host: set[str] = set()
        if not servers and self.config.dns_upstreams is not None:
            servers = list(self.config.dns_upstreams)
        elif not servers:
            reaches_out = container is not None and any(
                network is not None and not network.internal
                for network in map(self.networks.find, container.networks))
            servers = [s for s in host_nameservers() if reaches_out or not _loopback(s)] or list(DEFAULT_NAMESERVERS)
            from_host = {s for s in servers if _loopback(s)}
        result = []
        for server in servers:
            try:
                address, port = dns_upstream(server)
            except ValueError:
                log.warning("ignoring DNS server %r: not an IP address", server)
                continue
            result.append(Upstream(address, port, server in from_host))
        return result

    def publish_ports(self, container: Container, state_dir: str) -> None:
        """Ask the monitor to forward each published port to the container's address."""
        container.ports = {}
        bindings = dict(container.host_config.get("PortBindings") or {})
        if container.host_config.get("PublishAllPorts"):
            for port in container.config.get("ExposedPorts") or {}:
                bindings.setdefault(port, [{"HostIp": "", "HostPort": ""}])
        if not bindings:
            return
        network, address = next(((n, s["IPAddress"]) for n, s in list(container.networks.items()) if s.get("IPAddress")
                                 and not self._internal(n)), ("", ""))
        if not address:
            return  # host, none and internal networks publish nothing, as in Docker
        held = {(port.partition("/")[2], binding["HostIp"], binding["HostPort"]) for other in self.store.all()
                if other.id != container.id and other.state.Running
                for port, bindings in other.ports.items() for binding in bindings or []}
        endpoint_id = container.networks.get(network, {}).get("EndpointID", "")

        def publish(protocol: str, host_ip: str, host_ports: list[int], target_port: int) -> int:
            """Let the monitor's proxy take the first free of ``host_ports``; return the one taken."""
            reply: dict[str, Any] = {}
            for host_port in host_ports:
                if (protocol, host_ip or "0.0.0.0", str(host_port)) in held:  # Docker's allocator knows its own
                    reply = {"error": f"Bind for {host_ip or '0.0.0.0'}:{host_port} failed: port is already allocated"}
                    continue
                reply = self.processes.request(state_dir, {
                    "op": "publish", "protocol": protocol, "host_port": host_port, "host_ip": host_ip,
                    "target": address, "target_port": target_port}, timeout=10)
                if reply.get("ok"):
                    return int(reply["host_port"])
            raise Conflict(f"driver failed programming external connectivity on endpoint {container.name} "
                           f"({endpoint_id}): {reply.get('error')}")

        ipv6 = portspec.host_has_ipv6()
        mappings = []
        for port, entries in sorted(bindings.items()):
            number, _, protocol = port.partition("/")
            protocol = protocol or "tcp"
            published = []
            for entry in entries or [{}]:
                host_ip = entry.get("HostIp") or ""
                host_port = publish(protocol, host_ip, portspec.host_ports(str(entry.get("HostPort") or "")),
                                    int(number))  # a range: the first free
                published.append({"HostIp": host_ip or "0.0.0.0", "HostPort": str(host_port)})
                mappings.append(PortMapping(protocol=protocol, container_port=int(number), host_port=host_port,
                                            host_ip=host_ip))
                if not host_ip and ipv6:  # the IPv6 twin on the same port, as Docker 20.10
                    publish(protocol, "::", [host_port], int(number))
                    published.append({"HostIp": "::", "HostPort": str(host_port)})
            container.ports[f"{number}/{protocol}"] = published
        self.networks.publish(container, network, mappings)

    def _internal(self, name: str) -> bool:
        """Whether ``name`` is an internal network (no way out, so nothing published)."""
        network = self.networks.find(name)
        return network is not None and network.internal

    def leave(self, container: Container) -> None:
        """Disconnect the container from its networks (it exited or did not start); keep what it asked for."""
        with self._exits(container.id):  # after a connect under way: its endpoint is disconnected too
            self._left.add(container.id)
            for name, settings in list(container.networks.items()):
                if not settings.get("EndpointID"):  # a start moord did not finish: the network service knows it
                    network = self.networks.find(name)
                    endpoint = network.endpoints.get(container.id) if network is not None else None
                    if endpoint is not None:
                        container.networks[name] = settings = {**settings, "EndpointID": endpoint.endpoint_id}
                if settings.get("EndpointID"):
                    self.networks.disconnect(container, name, None)
                    left = self.networks.find(name)
                    if left is not None:
                        self._publish("disconnect", left, container)
                container.networks[name] = {"IPAMConfig": settings.get("IPAMConfig"),
                                            "Aliases": settings.get("Aliases"), **_mac_wish(_asked_mac(settings)),
                                            # as Docker: a stopped container still names the network it was on
                                            **({"NetworkID": settings["NetworkID"]} if settings.get("NetworkID")
                                               else {})}
        container.ports = {}  # a start that failed half-way published some
        self.dns.detach(container.id)
        self.refresh_hosts(container)

    def rename(self, container_id: str, name: str) -> None:
        """A renamed container answers to its new name on its networks (and no longer to the old one)."""
        self.networks.rename_member(container_id, name)

    # ------------------------------------------------------------------ /etc/hosts

    def refresh_hosts(self, container: Container) -> None:
        """Rewrite /etc/hosts (in place) of the container and of the members of its networks that ``--link``
        to it: own address, --add-host and --link lines. No other peer's file names it (names on
        user-defined networks are the embedded DNS server's), so no other is rewritten."""
        self._write_hosts(container)
        members: set[str] = set()
        for name in list(container.networks):
            members |= self.networks.members(name)
        members.discard(container.id)
        for member_id in members:
            member = self.store.find(member_id)
            if member is not None and any(link.partition(":")[0].strip("/") == container.name
                                          for link in member.host_config.get("Links") or []):
                self._write_hosts(member)

    def _write_hosts(self, container: Container) -> None:
        mode = str(container.host_config.get("NetworkMode") or "")
        if not container.hosts_path or mode == "host" or mode.startswith("container:"):  # not its own file
            return
        own = [s.get("IPAddress") for s in list(container.networks.values()) if s.get("IPAddress")]
        extra = self.etc_hosts_extra(container) + self._link_lines(container)
        try:
            rewrite_in_place(container.hosts_path, hosts_text(container.config["Hostname"], own[0] if own else "",
                                                              extra, container.config.get("Domainname") or ""))
        except FileNotFoundError:  # the container is being removed: its directory went
            pass

    def link_env(self, container: Container) -> list[str]:
        """The variables Docker sets for the container's ``--link``s (see :mod:`moor.containers.links`); Conflict
        when a linked container does not run."""
        env: list[str] = []
        for link in container.host_config.get("Links") or []:
            child, alias = parse_link(link)
            linked = self.store.find(child)
            if linked is None:
                continue
            if not linked.state.Running:  # as Docker, at start (and exec)
                raise Conflict(f"Cannot link to a non running container: /{linked.name} AS /{container.name}/{alias}")
            shared = sorted(linked.networks.items(), key=lambda item: item[0] != "bridge")  # the bridge's first
            address = next((s.get("IPAddress") for n, s in shared if s.get("IPAddress") and n in container.networks),
                           "")
            env += link_env(f"/{container.name}/{alias}", address or "", linked.config.get("Env") or [],
                            linked.config.get("ExposedPorts") or {})
        return env

    def _link_lines(self, container: Container) -> list[str]:
        """``--link name:alias``: the linked container's address under its alias, ID and name."""
        lines = []
        for link in container.host_config.get("Links") or []:
            source, _, target = link.partition(":")
            linked = self.store.find(source.strip("/"))
            if linked is None:
                continue
            alias = target.rsplit("/", 1)[-1] or linked.name
            address = next((s.get("IPAddress") for n, s in linked.networks.items()
                            if s.get("IPAddress") and n in container.networks), "")
            if address:
                lines.append(f"{address}\t{alias} {linked.short_id} {linked.name}")
        return lines

    # ------------------------------------------------------------------ network connect / disconnect

    def connect(self, ident: str, network_name: str, settings: dict[str, Any]) -> None:
        """``network connect``: join now if the container runs, else when it starts."""
        container = self.get(ident)
        network = self.networks.get(network_name)
        mode = str(container.host_config.get("NetworkMode") or "")
        if mode == "host" or mode.startswith("container:"):  # never a veth into the host's (or another's) namespace
            raise InvalidParameter("container sharing network namespace with another container or host cannot be "
                                   "connected to any other network")
        if network.driver == "host":
            raise InvalidParameter("container cannot be disconnected from host network or connected to host network")
        if mode == "none" or network.driver == "none":
            raise InvalidParameter("container cannot be connected to multiple networks with one of the networks in "
                                   "private (none) mode")
        if network.name in container.networks and container.networks[network.name].get("EndpointID"):
            raise Forbidden(f"endpoint with name {container.name} already exists in network {network.name}")
        mac = check_mac_address(settings["MacAddress"]) if settings.get("MacAddress") else ""
        wish: dict[str, Any] = {"IPAMConfig": settings.get("IPAMConfig"), "Aliases": settings.get("Aliases"),
                                **_mac_wish(mac), **{key: settings[key] for key in ("DriverOpts", "Links")
                                                     if settings.get(key)}}
        self.networks.check_endpoint_settings(network, dict(wish["IPAMConfig"] or {}),
                                              tuple(wish["Aliases"] or ()))
        with self._exits(container.id):  # an exit meanwhile waits, then disconnects this endpoint with the others
            if container.state.Running and container.id not in self._left:
                container.networks[network.name] = self.networks.connect(
                    container, network.name, f"/proc/{container.state.Pid}/ns/net", wish,
                    mac or self._mac_for(container, network.name))
                if mac:
                    container.networks[network.name][ASKED_MAC] = mac
                self.refresh_hosts(container)
                self.sync_dns(container, container.state.Pid, new_resolv_conf=True)
            else:  # as Docker before API 1.45: on a user-defined network the short ID is an alias at once
                if not network.predefined and container.short_id not in (wish["Aliases"] or ()):
                    wish["Aliases"] = [*(wish["Aliases"] or ()), container.short_id]
                container.networks[network.name] = wish
        self.store.save(container)
        self._publish("connect", network, container)

    def disconnect(self, ident: str, network_name: str, force: bool) -> None:
        """``network disconnect``: leave now if connected, and forget the wish to join."""
        container = self.get(ident)
        network = self.networks.get(network_name)
        if network.driver == "host" and container.host_config.get("NetworkMode") == "host":
            raise InvalidParameter("container cannot be disconnected from host network or connected to host network")
        if network.name not in container.networks:
            raise Conflict(f"container {container.id} is not connected to network {network.name}")
        settings = container.networks.pop(network.name)
        if settings.get("EndpointID"):
            container.networks[network.name] = settings
            self.networks.disconnect(container, network.name, f"/proc/{container.state.Pid}/ns/net")
            container.networks.pop(network.name, None)
            self.refresh_hosts(container)
            self.sync_dns(container, container.state.Pid)
        self.store.save(container)
        self._publish("disconnect", network, container)

    def _publish(self, action: str, network: Network, container: Container) -> None:
        """Docker's network event of a container joining or leaving ``network``."""
        self.events.publish("network", action, network.id, {"container": container.id, "name": network.name,
                                                            "type": network.driver})
