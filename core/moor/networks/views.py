"""Docker's JSON of networks (``/networks``), made from the model at the API edge, and the create request read.

What moor keeps for itself (the driver's facts, the endpoints' aliases) is not shown, as in Docker.
"""

from __future__ import annotations

from typing import Any

from moor.networks.model import Endpoint, IPAMConfig, Network, NetworkRequest


def ipam_config_view(pool: IPAMConfig) -> dict[str, Any]:
    """An entry of ``IPAM.Config``: the keys that are set, as Docker (``omitempty``)."""
    shown: dict[str, Any] = {"Subnet": pool.subnet, "IPRange": pool.ip_range, "Gateway": pool.gateway,
                             "AuxiliaryAddresses": dict(pool.aux_addresses)}
    return {key: value for key, value in shown.items() if value}


def endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    """An entry of a network's ``Containers``."""
    return {"Name": endpoint.name, "EndpointID": endpoint.endpoint_id, "MacAddress": endpoint.mac_address,
            "IPv4Address": endpoint.ipv4_address, "IPv6Address": endpoint.ipv6_address}


def network_view(network: Network) -> dict[str, Any]:
    """``GET /networks/{id}`` (and each row of ``GET /networks``)."""
    return {
        "Name": network.name, "Id": network.id, "Created": network.created, "Scope": network.scope,
        "Driver": network.driver, "EnableIPv6": network.enable_ipv6,
        "IPAM": {"Driver": network.ipam_driver,
                 "Options": dict(network.ipam_options) if network.ipam_options is not None else None,
                 "Config": [ipam_config_view(pool) for pool in network.ipam]},
        "Internal": network.internal, "Attachable": network.attachable, "Ingress": network.ingress,
        "ConfigFrom": {"Network": network.config_from}, "ConfigOnly": network.config_only,
        "Options": dict(network.options), "Labels": dict(network.labels),
        "Containers": {container_id: endpoint_view(endpoint) for container_id, endpoint in network.endpoints.items()},
    }


def created_view(network: Network) -> dict[str, Any]:
    """The answer to ``POST /networks/create``."""
    return {"Id": network.id, "Warning": ""}


def prune_view(deleted: list[str]) -> dict[str, Any]:
    """The answer to ``POST /networks/prune``: the names of the networks removed."""
    return {"NetworksDeleted": deleted or None}


def ipam_config_request(entry: dict[str, Any] | None) -> IPAMConfig:
    """An ``IPAM.Config`` entry of a request (a missing or null key is not set)."""
    entry = entry or {}
    return IPAMConfig(subnet=str(entry.get("Subnet") or ""), gateway=str(entry.get("Gateway") or ""),
                      ip_range=str(entry.get("IPRange") or ""),
                      aux_addresses={str(k): str(v) for k, v in (entry.get("AuxiliaryAddresses") or {}).items()})


def network_request(body: dict[str, Any]) -> NetworkRequest:
    """``POST /networks/create``'s body as a :class:`NetworkRequest`."""
    ipam = body.get("IPAM") or {}
    return NetworkRequest(
        name=str(body.get("Name") or ""), driver=str(body.get("Driver") or ""),
        options={str(k): str(v) for k, v in (body.get("Options") or {}).items()},
        labels={str(k): str(v) for k, v in (body.get("Labels") or {}).items()},
        ipam=tuple(ipam_config_request(entry) for entry in ipam.get("Config") or []),
        internal=bool(body.get("Internal")), attachable=bool(body.get("Attachable")),
        enable_ipv6=bool(body.get("EnableIPv6")), scope=str(body.get("Scope") or ""),
        ipam_driver=str(ipam.get("Driver") or ""), config_from=str((body.get("ConfigFrom") or {}).get("Network") or ""),
        ingress=bool(body.get("Ingress")),
        ipam_options=None if ipam.get("Options") is None else {str(k): str(v) for k, v in ipam["Options"].items()})
