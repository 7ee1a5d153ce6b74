"""Docker's JSON shapes of containers: ``/containers/json`` rows and ``/containers/{id}/json``."""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING, Any

from moor import API_VERSION
from moor.api import versions
from moor.containers import hostconfig, security
from moor.containers.mountpoints import mount_views
from moor.containers.record import Container
from moor.timefmt import ZERO_TIME, human_duration, parse_timestamp

if TYPE_CHECKING:
    from moor.services.containers import ContainerService

#: Config fields Go's encoder leaves out when empty (``omitempty`` in Docker's container.Config)
CONFIG_OMIT_EMPTY = ("ExposedPorts", "ArgsEscaped", "NetworkDisabled", "MacAddress", "StopSignal", "Shell")


def config_view(config: dict[str, Any]) -> dict[str, Any]:
    """A container's Config as Docker shows it: the ``omitempty`` fields left out when empty (Healthcheck and
    StopTimeout, pointers, when null), Env null when empty (Docker keeps the image's, nil when it has none)."""
    view = {key: value for key, value in config.items()
            if not (key in CONFIG_OMIT_EMPTY and not value) and not (key in ("Healthcheck", "StopTimeout")
                                                                    and value is None)}
    if "Env" in view:
        view["Env"] = view["Env"] or None
    return view


def status_text(container: Container) -> str:
    state = container.state
    now = time.time()
    if state.Restarting:
        return f"Restarting ({state.ExitCode}) {human_duration(now - parse_timestamp(state.FinishedAt))} ago"
    if state.Running:
        text = "Up " + human_duration(now - parse_timestamp(state.StartedAt))
        if state.Paused:
            return text + " (Paused)"
        health = (state.Health or {}).get("Status")
        if health == "starting":
            return text + " (health: starting)"
        return f"{text} ({health})" if health else text
    if state.Status == "created" or state.FinishedAt == ZERO_TIME:
        return "Created"
    return f"Exited ({state.ExitCode}) {human_duration(now - parse_timestamp(state.FinishedAt))} ago"


def command_text(container: Container) -> str:
    return " ".join([container.path] + [shlex.quote(a) if " " in a else a for a in container.args])


def network_settings(container: Container) -> dict[str, Any]:
    bridge = container.networks.get("bridge") or {}
    return {
        "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "SandboxKey": "", "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None, "EndpointID": bridge.get("EndpointID", ""),
        "Ports": ({**{port: None for port in container.config.get("ExposedPorts") or {}}, **container.ports}
                  if container.state.Running else {}),  # Docker: a container that does not run has none
        "Gateway": bridge.get("Gateway", ""), "GlobalIPv6Address": bridge.get("GlobalIPv6Address", ""),
        "GlobalIPv6PrefixLen": bridge.get("GlobalIPv6PrefixLen", 0),
        "IPAddress": bridge.get("IPAddress", ""), "IPPrefixLen": bridge.get("IPPrefixLen", 0),
        "IPv6Gateway": bridge.get("IPv6Gateway", ""),
        "MacAddress": bridge.get("MacAddress", ""),
        "Networks": network_views(container),
    }


def network_views(container: Container) -> dict[str, Any]:
    """``NetworkSettings.Networks``: the container's endpoints; a container in the ``host`` or ``none`` mode
    shows that network, as Docker's does."""
    networks = {name: _endpoint(s) for name, s in list(container.networks.items())}
    mode = container.host_config.get("NetworkMode")
    if not networks and mode in ("host", "none"):
        networks[mode] = _endpoint({})
    return networks


def _endpoint(settings: dict[str, Any]) -> dict[str, Any]:
    return {"IPAMConfig": settings.get("IPAMConfig"), "Links": settings.get("Links") or None,
            "Aliases": settings.get("Aliases"),
            "NetworkID": settings.get("NetworkID", ""), "EndpointID": settings.get("EndpointID", ""),
            "Gateway": settings.get("Gateway", ""), "IPAddress": settings.get("IPAddress", ""),
            "IPPrefixLen": settings.get("IPPrefixLen", 0), "IPv6Gateway": settings.get("IPv6Gateway", ""),
            "GlobalIPv6Address": settings.get("GlobalIPv6Address", ""),
            "GlobalIPv6PrefixLen": settings.get("GlobalIPv6PrefixLen", 0), "MacAddress": settings.get("MacAddress", ""),
            "DriverOpts": settings.get("DriverOpts") or None}


def port_list(container: Container) -> list[dict[str, Any]]:
    """``Ports`` of ``/containers/json``: every published binding and, while the container runs on a
    network of its own, every exposed port that is not published (without ``IP`` and ``PublicPort``)."""
    ports = [{"IP": b["HostIp"], "PrivatePort": int(port.split("/")[0]), "PublicPort": int(b["HostPort"]),
              "Type": port.split("/")[1]} for port, bindings in container.ports.items() for b in bindings]
    mode = str(container.host_config.get("NetworkMode") or "")
    if container.state.Running and mode not in ("host", "none") and not mode.startswith("container:"):
        for port in container.config.get("ExposedPorts") or {}:
            number, _, protocol = port.partition("/")
            if not container.ports.get(f"{number}/{protocol or 'tcp'}") and number.isdigit():
                ports.append({"PrivatePort": int(number), "Type": protocol or "tcp"})
    return ports


def summaries(service: ContainerService, containers: list[Container], size: bool = False) -> list[dict[str, Any]]:
    """The ``/containers/json`` rows of ``containers``; the links between containers are looked up once."""
    links = service.link_index()
    return [summary(service, container, size, links.get(container.name, [])) for container in containers]


def summary(service: ContainerService, container: Container, size: bool = False,
            links: list[str] | None = None) -> dict[str, Any]:
    """One ``/containers/json`` row (``links``: the container's link names, when the caller has them)."""
    row: dict[str, Any] = {
        "Id": container.id,
        "Names": sorted(["/" + container.name, *(service.link_names(container) if links is None else links)]),
        "Image": container.image,
        "ImageID": container.image_id,
        "Command": command_text(container),
        "Created": int(parse_timestamp(container.created)),
        "Ports": port_list(container),
        "Labels": dict(container.config.get("Labels") or {}),
        "State": container.state.Status,
        "Status": status_text(container),
        "HostConfig": {"NetworkMode": container.host_config.get("NetworkMode", "default")},
        # every EndpointSettings field, as inspect's (a stopped container's too: its endpoints are wishes)
        "NetworkSettings": {"Networks": network_views(container)},
        "Mounts": mount_views(container.mounts),
    }
    if size:  # as Docker's: SizeRw left out when nothing was written
        row.update(_sizes(service, container))
        if not row["SizeRw"]:
            del row["SizeRw"]
    return row


def _sizes(service: ContainerService, container: Container) -> dict[str, int]:
    """``SizeRw`` (the container's own layer) and ``SizeRootFs`` (that and its image)."""
    written = service.size_rw(container)
    image = service.images.store.get(container.image_id)
    return {"SizeRw": written, "SizeRootFs": written + (service.images.size(image) if image else 0)}


def inspect(service: ContainerService, container: Container, size: bool = False,
            version: str = API_VERSION, exec_ids: list[str] | None = None) -> dict[str, Any]:
    """A container's inspect document as API ``version`` shows it (``exec_ids``: its execs not ended)."""
    state = {k: v for k, v in container.state.to_json().items() if k != "Health" or v is not None}
    result: dict[str, Any] = {
        "Id": container.id,
        "Created": container.created,
        "Path": container.path,
        "Args": list(container.args),
        "State": state,
        "Image": container.image_id,
        "ResolvConfPath": container.resolv_conf_path,
        "HostnamePath": container.hostname_path,
        "HostsPath": container.hosts_path,
        "LogPath": container.log_path,
        "Name": "/" + container.name,
        "RestartCount": container.restart_count,
        "Driver": service.drivers.storage.name,
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": exec_ids or None,
        # full: the fields the record leaves out at their zero value (which Docker shows for a sparse create body
        # too); apply_defaults: what a container made before moord kept them would have got
        "HostConfig": security.apply_defaults({**hostconfig.full(container.host_config),
                                               "IpcMode": container.host_config.get("IpcMode") or "private"}),
        "GraphDriver": {"Data": {"MergedDir": container.rootfs} if container.rootfs else {},
                        "Name": service.drivers.storage.name},
        "Mounts": mount_views(container.mounts),
        "Config": config_view(container.config),
        "NetworkSettings": network_settings(container),
    }
    if size:
        result.update(_sizes(service, container))
    return versions.container_inspect(result, version)
