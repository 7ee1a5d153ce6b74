"""Small typed values that cross the boundary between the engine and its drivers.

Drivers never see HTTP or the API's JSON: they receive and return these.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import IO, Protocol


@dataclass(frozen=True)
class DriverContext:
    """What every driver is given when it is built.

    ``home`` is a directory the driver owns under the data root
    (``<data_root>/<kind>/<name>``); ``exec_home`` the same under the exec root;
    ``options`` the driver's table in the config. Made by
    :func:`moor.driverbuild.driver_context`; a container's monitor builds its
    log driver with the very same context (see :mod:`moor.driverbuild`).
    """

    kind: str
    name: str
    home: str
    exec_home: str
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Mount:
    """One mount, as in the OCI runtime spec: the caller performs it."""

    type: str
    source: str
    target: str = "/"
    options: tuple[str, ...] = ()

    def as_oci(self) -> dict[str, object]:
        return {"destination": self.target, "type": self.type, "source": self.source,
                "options": list(self.options)}


@dataclass(frozen=True)
class Change:
    """A path changed in a writable layer: kind is 0 modified, 1 added, 2 deleted."""

    path: str
    kind: int


@dataclass(frozen=True)
class ContainerRef:
    """The container facts a driver or lifecycle hook may need."""

    id: str
    name: str
    image: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    log_options: dict[str, str] = field(default_factory=dict)
    log_path: str = ""
    exit_code: int | None = None
    #: the extra attributes of each message (Docker's ``labels``/``env`` log options), as ``logs --details``
    #: shows them; see :func:`moor.logdrivers.attrs.extra_attributes`
    log_attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LogMessage:
    """One line (or partial line) a container wrote."""

    stream: str  # "stdout" or "stderr"
    line: bytes
    timestamp: float  # seconds since the epoch, with fractions
    partial: bool = False
    attrs: tuple[tuple[str, str], ...] = ()  # (key, value) sorted by key: what ``logs --details`` prints


class LogWriter(Protocol):
    """What :func:`moor_log_open` returns."""

    def write(self, message: LogMessage) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class NetworkSpec:
    """A network as the engine knows it, handed to the network driver."""

    id: str
    name: str
    driver: str
    subnet: str = ""
    gateway: str = ""
    internal: bool = False
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    #: the IPAM config's ``IPRange`` (CIDR, inside ``subnet``): where containers get their addresses
    ip_range: str = ""
    #: the IPAM config's ``AuxiliaryAddresses`` values (inside ``subnet``): never handed to a container
    aux_addresses: tuple[str, ...] = ()
    #: the IPv6 pool of a network made with ``EnableIPv6`` ("" when none): subnet, gateway ("" = the driver's
    #: choice) and ``IPRange``
    subnet6: str = ""
    gateway6: str = ""
    ip_range6: str = ""


@dataclass(frozen=True)
class EndpointSpec:
    """A container's wish to join a network."""

    id: str
    container_id: str
    ipv4_address: str = ""
    mac_address: str = ""
    aliases: tuple[str, ...] = ()
    #: the IPv6 address asked for ("" = the driver's choice, on a network with an IPv6 subnet)
    ipv6_address: str = ""


@dataclass(frozen=True)
class EndpointInfo:
    """What the network driver actually set up for an endpoint."""

    ipv4_address: str = ""
    prefix_len: int = 0
    gateway: str = ""
    mac_address: str = ""
    interface: str = ""
    #: on a network with an IPv6 subnet: the endpoint's global IPv6 address, its prefix length and gateway
    ipv6_address: str = ""
    ipv6_prefix_len: int = 0
    ipv6_gateway: str = ""


@dataclass(frozen=True)
class PortMapping:
    """One published port: ``host_ip:host_port`` on the host to ``container_port`` of an endpoint."""

    protocol: str  # "tcp" or "udp"
    container_port: int
    host_port: int  # the port actually bound (never 0)
    host_ip: str = ""  # "" (or "0.0.0.0") for every host address


@dataclass(frozen=True)
class VolumeInfo:
    """A volume as its driver reports it."""

    name: str
    driver: str
    mountpoint: str
    created_at: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    scope: str = "local"
    status: dict[str, object] = field(default_factory=dict)


def replace(value: object, **changes: object) -> object:
    """dataclasses.replace, re-exported so drivers need import only this module."""
    return dataclasses.replace(value, **changes)  # type: ignore[type-var]


Stream = IO[bytes]
