"""The PORTS column of ``ps``: Docker's compact form of a container's port list.

Ports are ordered by container port, host address, host port and protocol. A port published on
the same host port number (``-p 80:80``) or not published at all (``EXPOSE 80``) joins a run of
consecutive ports of its host address and protocol, shown as one range
(``0.0.0.0:8000-8002->8000-8002/tcp``, ``80-81/tcp``); a port published on another number is
shown alone (``0.0.0.0:8080->80/tcp``), after the runs.
"""

from __future__ import annotations

from typing import Any


def _run_text(ip: str, protocol: str, first: int, last: int) -> str:
    span = str(first) if first == last else f"{first}-{last}"
    return f"{ip}:{span}->{span}/{protocol}" if ip else f"{span}/{protocol}"


def display_ports(ports: list[dict[str, Any]]) -> str:
    """``/containers/json`` ``Ports`` entries as ``docker ps`` shows them."""
    ordered = sorted(ports, key=lambda p: (int(p.get("PrivatePort") or 0), p.get("IP") or "",
                                           int(p.get("PublicPort") or 0), p.get("Type") or ""))
    runs: dict[tuple[str, str], list[int]] = {}  # (ip, protocol) -> [first, last] of the open run
    closed: list[str] = []
    alone: list[str] = []
    for port in ordered:
        ip, protocol = port.get("IP") or "", port.get("Type") or "tcp"
        private, public = int(port.get("PrivatePort") or 0), int(port.get("PublicPort") or 0)
        if ip and public != private:
            alone.append(f"{ip}:{public}->{private}/{protocol}")
            continue
        run = runs.get((ip, protocol))
        if run is None:
            runs[(ip, protocol)] = [private, private]
        elif private == run[1] + 1:
            run[1] = private
        else:
            closed.append(_run_text(ip, protocol, *run))
            runs[(ip, protocol)] = [private, private]
    return ", ".join(closed + [_run_text(ip, protocol, *run) for (ip, protocol), run in runs.items()] + alone)
