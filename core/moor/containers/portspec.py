"""``HostConfig.PortBindings``: Docker's checks, and the host ports a binding may take.

A binding's ``HostPort`` is empty (any free port), one port, or a range ``8000-8010``
(``docker run -p 8000-8010:80``: the first free port of the range). A binding without
``HostIp`` is published on ``0.0.0.0`` and, when the host has IPv6, on ``::`` with the
same port, as Docker 20.10 does (the ``::`` one through the userland proxy only).
"""

from __future__ import annotations

import json
import socket
from typing import Any

from moor.containers.etcfiles import is_ip
from moor.errors import InvalidParameter

PROTOCOLS = ("tcp", "udp")
DISABLE_IPV6 = "/proc/sys/net/ipv6/conf/all/disable_ipv6"


def host_has_ipv6() -> bool:
    """Whether the host can listen on IPv6 addresses (IPv6 loaded and not disabled)."""
    if not socket.has_ipv6:
        return False
    try:
        with open(DISABLE_IPV6, encoding="ascii") as handle:
            return handle.read().strip() == "0"
    except OSError:
        return False


def _port_number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 65536 else None


def host_ports(text: str) -> list[int]:
    """The host ports ``HostPort`` allows, in the order to try them (``[0]``: any free port)."""
    text = (text or "").strip()
    if not text or text == "0":
        return [0]
    first, _, last = text.partition("-")
    start, end = _port_number(first), _port_number(last or first)
    if start is None or end is None or end < start:
        raise InvalidParameter(f"invalid port specification: {json.dumps(text)}")  # dockerd's "abc"
    return list(range(start, end + 1))


def validate_exposed(ports: dict[str, Any] | None) -> None:
    """``ExposedPorts`` keys are ``port[/protocol]`` with one port (the docker CLI expands ranges): a key such as
    ``abc/tcp`` made the start of a container with ``PublishAllPorts`` fail with a 500."""
    for port in ports or {}:
        number, _, protocol = port.partition("/")
        if _port_number(number) is None:
            raise InvalidParameter(f"invalid port specification: {json.dumps(number)}")
        if protocol not in ("", *PROTOCOLS, "sctp"):
            raise InvalidParameter(f"invalid proto: {protocol}")


def validate(bindings: dict[str, Any] | None) -> None:
    """Refuse what Docker refuses (and SCTP, which moor does not publish); a ``HostIp`` is an IP address or
    empty (the docker CLI's ``Invalid ip address``)."""
    for port, entries in (bindings or {}).items():
        number, _, protocol = port.partition("/")
        if _port_number(number) is None:
            raise InvalidParameter(f"invalid port specification: {json.dumps(number)}")
        if protocol not in ("", *PROTOCOLS):
            raise InvalidParameter(f"publishing {port!r} is not supported: moor publishes TCP and UDP ports")
        for entry in entries or []:
            host_ip = str((entry or {}).get("HostIp") or "")
            if host_ip and not is_ip(host_ip):
                raise InvalidParameter(f"Invalid ip address: {host_ip}")
            host_ports(str((entry or {}).get("HostPort") or ""))
