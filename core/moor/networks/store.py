"""The network records on disk: ``<data_root>/network/networks.json``, network ID -> record, and each
endpoint in a small file of its own, ``<data_root>/network/endpoints/<network>.<container>.json``.

The file's shape is the one moor has always written, so that a data root from
before the typed model loads (and an older moord still reads a newer one): a
record holds Docker's keys of the network, its endpoints under
``Containers`` carry their ``Aliases``, and moor's bookkeeping sits under a
``"moor"`` key (``created_on_host``, and the driver's ``facts`` while it is
set up). A key that is missing (a record of an older moor) takes its default.
The shape is written here, not by :mod:`moor.networks.views`, so that what the
API shows can change without changing the file.

A connect or disconnect writes the endpoint's own file only, without fsync (an
endpoint dies with its container's namespace, so after a power loss it is stale
anyway; an unreadable one is skipped): with a thousand endpoints in
``networks.json`` each connect encoded and fsynced some 400 kB. ``networks.json``,
written durably when a network changes and when moord stops, still lists the
endpoints under ``Containers`` for an older moord; a record marked
``"moor": {"endpoint_files": true}`` takes its endpoints from their files, one
without the mark (written by an older moord) from ``Containers``, whose
endpoints then replace the files of that network.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

from moor.errors import MoorError
from moor.fsutil import atomic_write, read_json
from moor.networks.model import Endpoint, IPAMConfig, Network

log = logging.getLogger(__name__)

#: what an ID in an endpoint file's name may hold
SAFE_ID = re.compile(r"[0-9A-Za-z_-]{1,128}")


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
    own: dict[str, Any] = {"created_on_host": network.created_on_host, "endpoint_files": True}
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
    """Loads and saves the network records (one JSON file, written atomically) and their endpoints' files."""

    def __init__(self, data_root: str) -> None:
        self.path = os.path.join(data_root, "network", "networks.json")
        self.endpoints_dir = os.path.join(data_root, "network", "endpoints")

    def load(self) -> dict[str, Network]:
        """Network ID -> network, as saved (none when there is no file yet)."""
        records: dict[str, Any] = read_json(self.path, {}) or {}
        files = self._endpoint_files()
        networks = {}
        for network_id, record in records.items():
            network = network_from_record(record)
            if (record.get("moor") or {}).get("endpoint_files"):
                network.endpoints = files.get(network_id, {})
            else:  # an older moord's record: its Containers are the endpoints, written to their files now
                try:
                    for container_id in files.get(network_id, {}).keys() - network.endpoints.keys():
                        self.write_endpoint(network_id, container_id, None)
                    for container_id, endpoint in network.endpoints.items():
                        self.write_endpoint(network_id, container_id, endpoint)
                except MoorError as err:
                    log.warning("network %s: %s", network.name, err)
            networks[network_id] = network
        return networks

    def _endpoint_files(self) -> dict[str, dict[str, Endpoint]]:
        """Network ID -> container ID -> endpoint, as their files hold them."""
        found: dict[str, dict[str, Endpoint]] = {}
        try:
            names = os.listdir(self.endpoints_dir)
        except FileNotFoundError:
            return found
        for name in names:
            parts = name.split(".")
            if len(parts) != 3 or parts[2] != "json":
                continue
            path = os.path.join(self.endpoints_dir, name)
            try:
                with open(path, "rb") as handle:
                    entry = json.load(handle)
                found.setdefault(parts[0], {})[parts[1]] = endpoint_from_record(entry)
            except FileNotFoundError:
                continue
            except (OSError, ValueError, AttributeError, TypeError) as err:  # a power loss may leave one so
                log.warning("skipping the unreadable endpoint file %s: %s", path, err)
        return found

    def write_endpoint(self, network_id: str, container_id: str, endpoint: Endpoint | None) -> None:
        """Write the file of the container's endpoint on the network (None: remove it), without fsync."""
        for ident in (network_id, container_id):
            if not SAFE_ID.fullmatch(ident):
                raise MoorError(f"{ident!r} cannot name an endpoint's file")
        path = os.path.join(self.endpoints_dir, f"{network_id}.{container_id}.json")
        try:
            if endpoint is None:
                os.unlink(path)
            else:
                atomic_write(path, json.dumps(endpoint_record(endpoint), separators=(",", ":")).encode(),
                             durable=False)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise MoorError(f"cannot write the endpoint file {path}: {err.strerror or err}") from None

    def save(self, networks: dict[str, Network]) -> None:
        """Replace the file (compact: C's JSON encoder; an indented dump takes the pure-Python one, ten times
        slower)."""
        self.write({network_id: network_record(network) for network_id, network in networks.items()})

    def write(self, records: dict[str, Any]) -> None:
        """Replace the file with ``records`` (:func:`network_record` of each network, by ID)."""
        atomic_write(self.path, json.dumps(records, separators=(",", ":")).encode())
