"""The network records on disk: ``<data_root>/network/networks.json``, network ID -> record.

The file's shape is the one moor has always written, so that a data root from
before the typed model loads (and an older moord still reads a newer one): a
record holds Docker's keys of the network, its endpoints under
``Containers`` carry their ``Aliases``, and moor's bookkeeping sits under a
``"moor"`` key (``created_on_host``, and the driver's ``facts`` while it is
set up). A key that is missing (a record of an older moor) takes its default.
The shape is written here, not by :mod:`moor.networks.views`, so that what the
API shows can change without changing the file.
"""

from __future__ import annotations

import json
import os
from typing import Any

from moor.fsutil import atomic_write, read_json
from moor.networks.model import Endpoint, IPAMConfig, Network


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def pool_from_record(entry: dict[str, Any] | None) -> IPAMConfig:
    entry = entry or {}
    return IPAMConfig(subnet=str(entry.get("Subnet") or ""), gateway=str(entry.get("Gateway") or ""),
                      ip_range=str(entry.get("IPRange") or ""), aux_addresses=_strings(entry.get("AuxiliaryAddresses")))


def pool_record(pool: IPAMConfig) -> dict[str, Any]:
    entry: dict[str, Any] = {"Subnet": pool.subnet, "IPRange": pool.ip_range, "Gateway": pool.gateway,
                             "AuxiliaryAddresses": dict(pool.aux_addresses)}
    return {key: value for key, value in entry.items() if value}


def endpoint_from_record(entry: dict[str, Any]) -> Endpoint:
    return Endpoint(name=str(entry.get("Name") or ""), endpoint_id=str(entry.get("EndpointID") or ""),
                    mac_address=str(entry.get("MacAddress") or ""), ipv4_address=str(entry.get("IPv4Address") or ""),
                    ipv6_address=str(entry.get("IPv6Address") or ""),
                    aliases=[str(alias) for alias in entry.get("Aliases") or []],
                    links=[str(link) for link in entry.get("Links") or []])


def endpoint_record(endpoint: Endpoint) -> dict[str, Any]:
    return {"Name": endpoint.name, "EndpointID": endpoint.endpoint_id, "MacAddress": endpoint.mac_address,
            "IPv4Address": endpoint.ipv4_address, "IPv6Address": endpoint.ipv6_address,
            "Aliases": list(endpoint.aliases), **({"Links": list(endpoint.links)} if endpoint.links else {})}


def network_from_record(record: dict[str, Any]) -> Network:
    """A :class:`Network` from its record on disk."""
    ipam = record.get("IPAM") or {}
    own = record.get("moor") or {}
    return Network(
        id=str(record["Id"]), name=str(record["Name"]), driver=str(record.get("Driver") or ""),
        created=str(record.get("Created") or ""), scope=str(record.get("Scope") or "local"),
        enable_ipv6=bool(record.get("EnableIPv6")), internal=bool(record.get("Internal")),
        attachable=bool(record.get("Attachable")), ingress=bool(record.get("Ingress")),
        config_only=bool(record.get("ConfigOnly")),
        config_from=str((record.get("ConfigFrom") or {}).get("Network") or ""),
        ipam_driver=str(ipam.get("Driver") or "default"),
        ipam_options=None if ipam.get("Options") is None else _strings(ipam["Options"]),
        ipam=[pool_from_record(entry) for entry in ipam.get("Config") or []],
        options=_strings(record.get("Options")), labels=_strings(record.get("Labels")),
        endpoints={str(cid): endpoint_from_record(entry or {})
                   for cid, entry in (record.get("Containers") or {}).items()},
        created_on_host=bool(own.get("created_on_host")), driver_facts=_strings(own.get("facts")),
        subnet_picked=bool(own.get("subnet_picked")),
    )


def network_record(network: Network) -> dict[str, Any]:
    """The record on disk of ``network``."""
    own: dict[str, Any] = {"created_on_host": network.created_on_host}
    if network.subnet_picked:
        own["subnet_picked"] = True
    if network.created_on_host:
        own["facts"] = dict(network.driver_facts)
    return {
        "Name": network.name, "Id": network.id, "Created": network.created, "Scope": network.scope,
        "Driver": network.driver, "EnableIPv6": network.enable_ipv6,
        "IPAM": {"Driver": network.ipam_driver,
                 "Options": dict(network.ipam_options) if network.ipam_options is not None else None,
                 "Config": [pool_record(pool) for pool in network.ipam]},
        "Internal": network.internal, "Attachable": network.attachable, "Ingress": network.ingress,
        "ConfigFrom": {"Network": network.config_from}, "ConfigOnly": network.config_only,
        "Options": dict(network.options), "Labels": dict(network.labels),
        "Containers": {cid: endpoint_record(endpoint) for cid, endpoint in network.endpoints.items()},
        "moor": own,
    }


class NetworkStore:
    """Loads and saves every network record in one JSON file (written atomically)."""

    def __init__(self, data_root: str) -> None:
        self.path = os.path.join(data_root, "network", "networks.json")

    def load(self) -> dict[str, Network]:
        """Network ID -> network, as saved (none when there is no file yet)."""
        records: dict[str, Any] = read_json(self.path, {}) or {}
        return {network_id: network_from_record(record) for network_id, record in records.items()}

    def save(self, networks: dict[str, Network]) -> None:
        """Replace the file (every connect and disconnect does: with a thousand endpoints it is some 400 kB, so
        it is written compact, by C's JSON encoder; an indented dump takes the pure-Python one, ten times slower)."""
        self.write({network_id: network_record(network) for network_id, network in networks.items()})

    def write(self, records: dict[str, Any]) -> None:
        """Replace the file with ``records`` (:func:`network_record` of each network, by ID)."""
        atomic_write(self.path, json.dumps(records, separators=(",", ":")).encode())
