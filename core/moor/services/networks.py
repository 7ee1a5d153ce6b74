"""The network service: Docker's networks over the network drivers, and containers' endpoints.

Networks are records in ``<data_root>/network/networks.json``. ``bridge``,
``host`` and ``none`` always exist; moord sets ``bridge`` up on the host when it
starts (:meth:`NetworkService.ensure_default`, as dockerd does docker0) and takes
it down at a clean stop with nothing running; the record, and so the network ID,
stays. An engine built without moord (tools, tests) sets a network up the first
time a container joins it. A container joins its networks after runc
created its namespace and before its process starts; it leaves them when it
exits. Names on user-defined networks resolve through the embedded DNS server
(:mod:`moor.services.dns`), which asks :meth:`NetworkService.resolve`.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

from moor.errors import Conflict, Forbidden, InvalidParameter, MoorError, NotFound
from moor.filters import labels_match
from moor.fsutil import atomic_write_json, read_json
from moor.images.views import format_timestamp
from moor.types import EndpointSpec, NetworkSpec, PortMapping

if TYPE_CHECKING:
    from moor.containers.record import Container
    from moor.drivers import DriverSet

log = logging.getLogger(__name__)

PREDEFINED = {"bridge": "bridge", "host": "host", "none": "none"}


class NetworkService:
    """Owns the network records and the endpoints of containers."""

    def __init__(self, data_root: str, drivers: DriverSet) -> None:
        self.drivers = drivers
        self.path = os.path.join(data_root, "network", "networks.json")
        self.lock = threading.RLock()
        self.networks: dict[str, dict[str, Any]] = read_json(self.path, {}) or {}
        for name, driver in PREDEFINED.items():
            if self.find(name) is None and driver in self.drivers.names("network"):
                self._add(self._record(name, driver, {}, {}, {}, internal=False))
        self._save()
        for name in ("host", "none"):  # the single-instance drivers learn of their one network, so refuse another
            record = self.find(name)
            if record is not None and record["Driver"] in self.drivers.names("network"):
                try:
                    self.drivers.driver("network", record["Driver"]).create(network=self.spec(record))
                except Forbidden:
                    pass  # it knew already (a second service over the same drivers)

    # ------------------------------------------------------------------ records

    def _save(self) -> None:
        atomic_write_json(self.path, self.networks)

    def _add(self, record: dict[str, Any]) -> None:
        self.networks[record["Id"]] = record

    @staticmethod
    def _record(name: str, driver: str, options: dict[str, str], labels: dict[str, str], ipam: dict[str, Any],
                internal: bool, attachable: bool = False) -> dict[str, Any]:
        return {
            "Name": name, "Id": secrets.token_hex(32), "Created": format_timestamp(time.time()), "Scope": "local",
            "Driver": driver, "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": {}, "Config": list(ipam.get("Config") or [])},
            "Internal": internal, "Attachable": attachable, "Ingress": False, "ConfigFrom": {"Network": ""},
            "ConfigOnly": False, "Options": dict(options), "Labels": dict(labels), "Containers": {},
            "moor": {"created_on_host": False},
        }

    def find(self, ident: str) -> dict[str, Any] | None:
        with self.lock:
            if ident in self.networks:
                return self.networks[ident]
            for record in self.networks.values():
                if record["Name"] == ident:
                    return record
            matches = [r for r in self.networks.values() if ident and r["Id"].startswith(ident)]
            return matches[0] if len(matches) == 1 else None

    def get(self, ident: str) -> dict[str, Any]:
        record = self.find(ident)
        if record is None:
            raise NotFound(f"network {ident} not found")
        return record

    def spec(self, record: dict[str, Any]) -> NetworkSpec:
        config = (record["IPAM"].get("Config") or [{}])[0] if record["IPAM"].get("Config") else {}
        return NetworkSpec(id=record["Id"], name=record["Name"], driver=record["Driver"],
                           subnet=config.get("Subnet", ""), gateway=config.get("Gateway", ""),
                           ip_range=config.get("IPRange", ""),
                           aux_addresses=tuple(str(a) for a in (config.get("AuxiliaryAddresses") or {}).values()),
                           internal=bool(record["Internal"]), options=dict(record["Options"]),
                           labels=dict(record["Labels"]))

    # ------------------------------------------------------------------ API operations

    def list(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        for key in filters:
            if key not in ("name", "id", "driver", "label", "type", "scope", "dangling"):
                raise InvalidParameter(f"Invalid filter '{key}'")
        for kind in filters.get("type", []):
            if kind not in ("builtin", "custom"):
                raise InvalidParameter(f"invalid filter: 'type'='{kind}'")
        dangling = [_dangling_value(value) for value in filters.get("dangling", [])]
        result = []
        for record in self.networks.values():
            if filters.get("name") and not any(n in record["Name"] for n in filters["name"]):
                continue
            if filters.get("id") and not any(record["Id"].startswith(i) for i in filters["id"]):
                continue
            if filters.get("driver") and record["Driver"] not in filters["driver"]:
                continue
            if not labels_match(record["Labels"], filters):
                continue
            kind = "builtin" if record["Name"] in PREDEFINED else "custom"
            if filters.get("type") and kind not in filters["type"]:
                continue
            if filters.get("scope") and record["Scope"] not in filters["scope"]:
                continue
            if dangling and (record["Name"] not in PREDEFINED and not record["Containers"]) != dangling[-1]:
                continue  # Docker: dangling networks are the user-defined ones no container uses
            result.append(record)
        return sorted(result, key=lambda r: r["Created"])

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("Name") or ""
        if not name:
            raise InvalidParameter("network name is required")
        driver_name = body.get("Driver") or self.drivers.defaults["network"]
        self.drivers.driver("network", driver_name)  # an unknown driver is refused first
        with self.lock:
            if self.find(name) is not None and self.find(name)["Name"] == name:
                raise Conflict(f"network with name {name} already exists")
            ipam = dict(body.get("IPAM") or {})
            subnets = [str((c or {}).get("Subnet", "")) for c in ipam.get("Config") or []]
            if body.get("EnableIPv6") and not any(":" in subnet for subnet in subnets):
                raise InvalidParameter("could not find an available, non-overlapping IPv6 address pool among the "
                                       "defaults to assign to the network")  # Docker has no default IPv6 pool either
            if len([c for c in ipam.get("Config") or [] if ":" not in str((c or {}).get("Subnet", ""))]) > 1:
                raise Forbidden(f"{driver_name} driver doesn't support multiple subnets")
            record = self._record(name, driver_name, dict(body.get("Options") or {}), dict(body.get("Labels") or {}),
                                  ipam, bool(body.get("Internal")), bool(body.get("Attachable")))
            self._set_up(record)
            self._add(record)
            self._save()
        return record

    def remove(self, ident: str) -> None:
        with self.lock:
            record = self.get(ident)
            if record["Name"] in PREDEFINED:
                raise Forbidden(f"{record['Name']} is a pre-defined network and cannot be removed")
            if record["Containers"]:
                raise Forbidden(f"error while removing network: network {record['Name']} id {record['Id']} "
                                "has active endpoints")
            if record["moor"].get("created_on_host"):
                self.drivers.driver("network", record["Driver"]).remove(network=self.spec(record))
            del self.networks[record["Id"]]
            self._save()

    def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        from moor.images.views import parse_timestamp

        for key in filters:
            if key not in ("until", "label", "label!"):
                raise InvalidParameter(f"Invalid filter '{key}'")
        until = [parse_timestamp(value) for value in filters.get("until", [])]
        deleted = []
        for record in list(self.networks.values()):
            if record["Name"] in PREDEFINED or record["Containers"] or not labels_match(record["Labels"], filters):
                continue
            if any(parse_timestamp(record["Created"]) >= moment for moment in until):
                continue
            self.remove(record["Id"])
            deleted.append(record["Name"])
        return {"NetworksDeleted": deleted or None}

    # ------------------------------------------------------------------ endpoints

    def _set_up(self, record: dict[str, Any]) -> None:
        """Let the driver set the network up on the host; keep its facts (and the subnet it picked, if none
        was given) in the record."""
        facts = self.drivers.driver("network", record["Driver"]).create(network=self.spec(record)) or {}
        record["moor"] = {"created_on_host": True, "facts": facts}
        if facts.get("subnet") and not record["IPAM"]["Config"]:
            record["IPAM"]["Config"] = [{"Subnet": facts["subnet"], "Gateway": facts.get("gateway", "")}]

    def ensure_on_host(self, record: dict[str, Any]) -> None:
        """Let the driver set the network up on the host, once (lazily for ``bridge``)."""
        with self.lock:
            if record["moor"].get("created_on_host"):
                return
            self._set_up(record)
            self._save()

    def ensure_default(self) -> None:
        """Set the predefined ``bridge`` network up on the host (moord's start-up).

        The driver re-makes whatever is missing (bridge, address, rules) and
        keeps its endpoints, so running containers keep their addresses. A
        failure is logged, not raised: the network is tried again when a
        container joins it.
        """
        record = self.find("bridge")
        if record is None or record["Driver"] not in self.drivers.names("network"):
            return
        with self.lock:
            try:
                self._set_up(record)
            except MoorError as err:
                log.error("setting up the default bridge network failed: %s", err)
                return
            self._save()

    def connect(self, container: Container, network_name: str, netns_path: str,
                settings: dict[str, Any] | None = None, mac_address: str = "") -> dict[str, Any]:
        """Join ``container`` (its namespace at ``netns_path``) to a network; return Docker's EndpointSettings.

        ``mac_address`` is the one asked for (else the driver picks one).
        """
        record = self.get(network_name)
        if record["Driver"] in ("host", "none"):
            raise Forbidden(f"container cannot be disconnected from host network or connected to {record['Name']} "
                            "network")
        settings = dict(settings or {})
        ipam = dict(settings.get("IPAMConfig") or {})
        asked = tuple(a for a in settings.get("Aliases") or [] if a != container.short_id)  # a restart keeps one
        if record["Name"] in PREDEFINED:  # Docker: the default bridge takes no address or alias of one's choosing
            if ipam.get("IPv4Address") or ipam.get("IPv6Address"):
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            if asked:
                raise InvalidParameter("network-scoped alias is supported only for containers in user defined "
                                       "networks")
        self.ensure_on_host(record)
        endpoint_id = secrets.token_hex(32)
        aliases = asked + (() if record["Name"] in PREDEFINED else (container.short_id,))
        endpoint = EndpointSpec(id=endpoint_id, container_id=container.id,
                                ipv4_address=ipam.get("IPv4Address", ""), mac_address=mac_address, aliases=aliases)
        info = self.drivers.driver("network", record["Driver"]).connect(
            network=self.spec(record), endpoint=endpoint, netns_path=netns_path)
        result = {
            "IPAMConfig": ipam or None, "Links": None, "Aliases": list(aliases) or None, "NetworkID": record["Id"],
            "EndpointID": endpoint_id, "Gateway": info.gateway, "IPAddress": info.ipv4_address,
            "IPPrefixLen": info.prefix_len, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": info.mac_address, "DriverOpts": None,
        }
        with self.lock:
            record["Containers"][container.id] = {
                "Name": container.name, "EndpointID": endpoint_id, "MacAddress": info.mac_address,
                "IPv4Address": f"{info.ipv4_address}/{info.prefix_len}" if info.ipv4_address else "",
                "IPv6Address": "", "Aliases": list(aliases),
            }
            self._save()
        return result

    def disconnect(self, container: Container, network_name: str, netns_path: str | None) -> None:
        record = self.find(network_name)
        if record is None:
            return
        settings = container.networks.get(record["Name"]) or {}
        endpoint = EndpointSpec(id=settings.get("EndpointID", ""), container_id=container.id,
                                ipv4_address=settings.get("IPAddress", ""))
        driver = self.drivers.driver("network", record["Driver"])
        try:
            if driver.implements("unpublish"):
                driver.unpublish(network=self.spec(record), endpoint=endpoint)
            driver.disconnect(network=self.spec(record), endpoint=endpoint, netns_path=netns_path)
        except MoorError:
            log.exception("disconnecting %s from %s failed", container.short_id, record["Name"])
        with self.lock:
            record["Containers"].pop(container.id, None)
            self._save()

    def publish(self, container: Container, network_name: str, ports: list[PortMapping]) -> bool:
        """Let the network's driver forward ``ports`` to the container's endpoint in the kernel, if it can."""
        record = self.get(network_name)
        driver = self.drivers.driver("network", record["Driver"])
        settings = container.networks.get(record["Name"]) or {}
        if not ports or not settings.get("EndpointID") or not driver.implements("publish"):
            return False
        endpoint = EndpointSpec(id=settings["EndpointID"], container_id=container.id,
                                ipv4_address=settings.get("IPAddress", ""))
        return bool(driver.publish(network=self.spec(record), endpoint=endpoint, ports=ports))

    def release_default(self) -> None:
        """Remove the predefined bridge from the host when no container uses it."""
        record = self.find("bridge")
        if record is None or not record["moor"].get("created_on_host") or record["Containers"]:
            return
        try:
            self.drivers.driver("network", "bridge").remove(network=self.spec(record))
        except MoorError:
            log.exception("removing the default bridge failed")
            return
        with self.lock:
            record["moor"] = {"created_on_host": False}
            record["IPAM"]["Config"] = []
            self._save()

    def _shared(self, container_id: str) -> list[dict[str, Any]]:
        """The user-defined networks ``container_id`` is attached to."""
        return [r for r in self.networks.values() if r["Name"] not in PREDEFINED and container_id in r["Containers"]]

    def on_user_network(self, container_id: str) -> bool:
        """Whether the container has an endpoint on a user-defined network (and so the embedded DNS)."""
        with self.lock:
            return bool(self._shared(container_id))

    def resolve(self, container_id: str, name: str) -> list[str] | None:
        """IPv4 addresses ``name`` has for ``container_id``; None if it is no container's name.

        On every user-defined network the asking container is on, a member answers
        to its name, its aliases (which hold its short ID) and its full ID, in any
        case, with or without the network's name as a suffix (``db.appnet``).
        """
        wanted = name.rstrip(".").lower()
        found: list[str] = []
        with self.lock:
            for record in self._shared(container_id):
                suffix = "." + record["Name"].lower()
                key = wanted[:-len(suffix)] if wanted.endswith(suffix) else wanted
                for member_id, entry in record["Containers"].items():
                    address = (entry.get("IPv4Address") or "").split("/")[0]
                    keys = {member_id, entry["Name"].lower(), *(a.lower() for a in entry.get("Aliases") or [])}
                    if address and key in keys and address not in found:
                        found.append(address)
        return found or None

    def rename_member(self, container_id: str, name: str) -> None:
        """A renamed container answers to its new name on its networks (and no longer to the old one)."""
        with self.lock:
            records = [r for r in self.networks.values() if container_id in r["Containers"]]
            for record in records:
                record["Containers"][container_id]["Name"] = name
            if records:
                self._save()

    def reverse(self, container_id: str, address: str) -> str | None:
        """``name.network`` of the member with ``address`` on a network shared with ``container_id``."""
        with self.lock:
            for record in self._shared(container_id):
                for entry in record["Containers"].values():
                    if (entry.get("IPv4Address") or "").split("/")[0] == address:
                        return f"{entry['Name']}.{record['Name']}"
        return None


def _dangling_value(value: str) -> bool:
    """The ``dangling`` filter's value as Docker reads it."""
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidParameter("invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")")
