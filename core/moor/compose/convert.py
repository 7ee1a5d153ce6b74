"""A canonical service to the ``POST /containers/create`` body (Docker API 1.44), and the bodies of
``POST /networks/create`` and ``POST /volumes/create``, as compose v2 builds them
(pkg/compose/create.go): the same fields, the same choices between ``Binds`` and ``Mounts``, the
same network endpoints and aliases, the same labels.

The container's name and platform are query parameters, not part of the body: see
:func:`moor.compose.naming.container_name` and :func:`create_query`.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moor.compose.durations import parse_duration, to_seconds
from moor.compose.errors import ComposeError, ComposeFileError
from moor.compose.labels import container_labels
from moor.compose.loader.normalize import parse_port_spec, parse_volume_spec
from moor.compose.model import Project, Section
from moor.compose.mounts import storage, tmpfs_map
from moor.compose.naming import (
    CONFIG_HASH_LABEL,
    container_name,
    oneoff_container_name,
    resource_labels,
    service_config,
)
from moor.compose.resources import resources, restart_policy


@dataclass
class RunOverrides:
    """What ``compose run`` changes in the service for its one-off container (all optional)."""

    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str | None] = field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    #: extra volumes: short syntax strings (``./src:/dst:ro``) or canonical long-syntax dicts
    volumes: list[Any] = field(default_factory=list)
    #: published ports: short syntax strings (``8080:80``) or canonical long-syntax dicts
    ports: list[Any] = field(default_factory=list)
    service_ports: bool = False
    tty: bool | None = None
    stdin_open: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    remove: bool = False
    use_aliases: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# compose run's changes


def _short_ports(items: list[Any], where: str) -> list[Section]:
    """``run --publish`` values (short syntax strings or long-syntax dicts) as long-syntax ports."""
    ports: list[Section] = []
    for item in items:
        ports.extend([dict(item)] if isinstance(item, Mapping) else parse_port_spec(str(item), where))
    return ports


def _short_volume(spec: str, where: str) -> Section:
    """A ``run --volume`` value as a long-syntax volume; a relative bind from the current directory, as
    compose resolves it."""
    volume = parse_volume_spec(spec, where)
    if volume["type"] == "bind":
        volume["source"] = os.path.abspath(os.path.expanduser(str(volume["source"])))
    return volume


def apply_run_overrides(project: Project, config: Section, overrides: RunOverrides) -> Section:
    """A copy of the service as ``compose run`` changes it (compose v2's ``applyRunOptions``)."""
    config = copy.deepcopy(config)
    if overrides.tty is not None:
        config["tty"] = overrides.tty
    if overrides.stdin_open is not None:
        config["stdin_open"] = overrides.stdin_open
    if overrides.command is not None:
        config["command"] = list(overrides.command)
    if overrides.user:
        config["user"] = overrides.user
    if overrides.cap_add:
        config["cap_add"] = list(config.get("cap_add") or []) + list(overrides.cap_add)
        config["cap_drop"] = [cap for cap in config.get("cap_drop") or [] if cap not in overrides.cap_add]
    if overrides.cap_drop:
        config["cap_drop"] = list(config.get("cap_drop") or []) + list(overrides.cap_drop)
        config["cap_add"] = [cap for cap in config.get("cap_add") or [] if cap not in overrides.cap_drop]
    if overrides.working_dir:
        config["working_dir"] = overrides.working_dir
    if overrides.entrypoint is not None:
        config["entrypoint"] = list(overrides.entrypoint)
        if overrides.command is None:
            config["command"] = []
    if overrides.environment:
        environment = dict(config.get("environment") or {})
        for key, value in overrides.environment.items():
            if value is None:
                value = project.environment.get(key)
            if value is not None:
                environment[key] = value
        config["environment"] = environment
    if overrides.labels:
        config["labels"] = {**(config.get("labels") or {}), **overrides.labels}
    if overrides.service_ports and overrides.ports:
        raise ComposeError("--service-ports and --publish are incompatible")
    if not overrides.service_ports:
        config["ports"] = _short_ports(overrides.ports, "--publish")
    if overrides.volumes:
        config["volumes"] = list(config.get("volumes") or []) + [
            dict(item) if isinstance(item, Mapping) else _short_volume(str(item), "--volume")
            for item in overrides.volumes]
    return config


# ---------------------------------------------------------------------------------------------------------
# Config


def environment_list(environment: Mapping[str, Any] | None) -> list[str]:
    """``environment`` as ``KEY=value`` strings; a variable left without a value is dropped (compose-go
    resolves then removes the empty ones)."""
    return [f"{key}={value}" for key, value in (environment or {}).items() if value is not None]


def healthcheck(name: str, check: Section | None) -> dict[str, Any] | None:
    """``healthcheck`` as ``Config.Healthcheck``: durations in nanoseconds, ``disable`` as ``["NONE"]``."""
    if check is None:
        return None
    where = f"services.{name}.healthcheck"
    result: dict[str, Any] = {}
    test = ["NONE"] if check.get("disable") else check.get("test")
    if test is not None:
        result["Test"] = list(test)
    for key, json_key in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                          ("start_interval", "StartInterval")):
        if check.get(key) is not None:
            result[json_key] = parse_duration(check[key], f"{where}.{key}")
    if check.get("start_interval") is not None and check.get("start_period") is None:
        raise ComposeFileError("healthcheck.start_interval requires healthcheck.start_period to be set")
    if check.get("retries") is not None:
        result["Retries"] = int(check["retries"])
    return result


def _port_key(target: Any, protocol: Any) -> str:
    return f"{int(target)}/{str(protocol or 'tcp').lower()}"


def exposed_ports(config: Section) -> dict[str, dict[str, Any]]:
    """``Config.ExposedPorts``: every port's target and every ``expose`` entry (ranges expanded)."""
    exposed: dict[str, dict[str, Any]] = {}
    for port in config.get("ports") or []:
        exposed[_port_key(port["target"], port.get("protocol"))] = {}
    for item in config.get("expose") or []:
        ports, _, protocol = str(item).partition("/")
        first, _, last = ports.partition("-")
        try:
            start, end = int(first), int(last or first)
        except ValueError:
            raise ComposeFileError(f"invalid expose port: {item}") from None
        for port in range(start, end + 1):
            exposed[_port_key(port, protocol)] = {}
    return exposed


def port_bindings(config: Section) -> dict[str, list[dict[str, str]]]:
    """``HostConfig.PortBindings`` from the long-syntax ``ports``."""
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in config.get("ports") or []:
        bindings.setdefault(_port_key(port["target"], port.get("protocol")), []).append(
            {"HostIp": str(port.get("host_ip") or ""), "HostPort": str(port.get("published") or "")})
    return bindings


# ---------------------------------------------------------------------------------------------------------
# networking


def _shared_namespace(kind: str, mode: str | None, container_ids: Mapping[str, str]) -> str | None:
    """``service:NAME`` as ``container:ID`` (``network_mode``, ``ipc``, ``pid``)."""
    if not mode or not str(mode).startswith("service:"):
        return mode
    other = str(mode)[len("service:"):]
    if other not in container_ids:
        raise ComposeError(f"cannot share {kind} namespace with service {other}: container missing")
    return "container:" + container_ids[other]


def networks_by_priority(config: Section) -> list[str]:
    """The service's network keys, highest ``priority`` first, then by name (compose-go's order)."""
    networks = config.get("networks") or {}
    return sorted(networks, key=lambda key: (-int((networks[key] or {}).get("priority") or 0), key))


def links(config: Section, container_ids: Mapping[str, str]) -> list[str]:
    """Docker's legacy links: ``links`` (``service[:alias]``, to the service's container) and
    ``external_links`` (``container[:alias]``)."""
    result: list[str] = []
    for link in config.get("links") or []:
        service, _, alias = str(link).partition(":")
        if service in container_ids:
            result.append(f"{container_ids[service]}:{alias or service}")
    for link in config.get("external_links") or []:
        container, _, alias = str(link).partition(":")
        result.append(f"{container}:{alias or container}")
    return result


def _endpoint(network: Section | None, own_name: str | None, service: str | None, legacy_links: list[str]
              ) -> dict[str, Any]:
    """One endpoint: aliases as compose v2.20+ gives them (the container's name, then, unless a one-off
    without ``--use-aliases``, the service's name and the network's ``aliases``)."""
    endpoint: dict[str, Any] = {}
    network = network or {}
    aliases = [own_name] if own_name else []
    if service is not None:
        aliases += [service, *(str(alias) for alias in network.get("aliases") or [])]
    if aliases:
        endpoint["Aliases"] = aliases
    if legacy_links:
        endpoint["Links"] = legacy_links
    ipam: dict[str, Any] = {}
    for key, json_key in (("ipv4_address", "IPv4Address"), ("ipv6_address", "IPv6Address")):
        if network.get(key):
            try:
                ipaddress.ip_address(str(network[key]))
            except ValueError:
                version = "IPv4" if key == "ipv4_address" else "IPv6"
                raise ComposeFileError(f"invalid {version} address: {network[key]}") from None
            ipam[json_key] = str(network[key])
    if network.get("link_local_ips"):
        ipam["LinkLocalIPs"] = [str(ip) for ip in network["link_local_ips"] if ip]
    if ipam:
        endpoint["IPAMConfig"] = ipam
    if network.get("mac_address"):
        endpoint["MacAddress"] = str(network["mac_address"])
    if network.get("driver_opts"):
        endpoint["DriverOpts"] = {str(k): str(v) for k, v in network["driver_opts"].items()}
    return endpoint


def network_settings(project: Project, name: str, config: Section, *, use_aliases: bool,
                     legacy_links: list[str], container_ids: Mapping[str, str], own_name: str | None = None
                     ) -> tuple[str, dict[str, Any] | None]:
    """``(HostConfig.NetworkMode, NetworkingConfig)``: the first network by priority as the mode and every
    network in ``EndpointsConfig`` (API 1.44), or ``network_mode`` as it is (``service:X`` resolved)."""
    mode = config.get("network_mode")
    if mode:
        return str(_shared_namespace("network", mode, container_ids)), None
    if not project.networks:
        return "none", None
    keys = networks_by_priority(config) or ["default"]
    endpoints: dict[str, Any] = {}
    for key in keys:
        definition = project.networks.get(key)
        if definition is None:
            raise ComposeError(f"service \"{name}\" refers to undefined network {key}: invalid compose project")
        endpoint = _endpoint((config.get("networks") or {}).get(key), own_name, name if use_aliases else None,
                             legacy_links)
        endpoints[str(definition.get("name") or key)] = endpoint
    primary = next(iter(endpoints))
    mac = config.get("mac_address")
    if mac and endpoints[primary].get("MacAddress", mac) != mac:
        raise ComposeFileError(f"the service-level mac_address should have the same value as network {keys[0]}")
    if mac:
        endpoints[primary]["MacAddress"] = str(mac)
    return primary, {"EndpointsConfig": endpoints}


# ---------------------------------------------------------------------------------------------------------
# HostConfig pieces


def security_options(project: Project, options: list[str] | None) -> tuple[list[str], bool]:
    """``security_opt`` as the engine takes it: a seccomp profile file read (relative to the project
    directory) and compacted; ``systempaths=unconfined`` returned as a flag."""
    parsed: list[str] = []
    unconfined = False
    for option in options or []:
        if option == "systempaths=unconfined":
            unconfined = True
            continue
        key, sep, value = option.partition("=")
        if not sep and key != "no-new-privileges":
            if ":" not in option:
                raise ComposeFileError(f"invalid security-opt: \"{option}\"")
            key, _, value = option.partition(":")
        if key == "seccomp" and value not in ("unconfined", "builtin"):
            path = value if os.path.isabs(value) else os.path.join(project.working_dir, value)
            try:
                with open(path, encoding="utf-8") as profile:
                    text = json.dumps(json.load(profile), separators=(",", ":"))
            except (OSError, ValueError) as error:
                raise ComposeError(f"opening seccomp profile ({value}) failed: {error}") from None
            parsed.append(f"seccomp={text}")
        else:
            parsed.append(option)
    return parsed, unconfined


def _dns(name: str, servers: list[str] | None) -> list[str]:
    for server in servers or []:
        try:
            ipaddress.ip_address(str(server))
        except ValueError:
            raise ComposeFileError(f"invalid DNS address: {server}") from None
    return [str(server) for server in servers or []]


#: service keys copied into HostConfig as they are, when set
_HOST_DIRECT = {
    "cap_add": "CapAdd",
    "cap_drop": "CapDrop",
    "init": "Init",
    "read_only": "ReadonlyRootfs",
    "shm_size": "ShmSize",
    "sysctls": "Sysctls",
    "volume_driver": "VolumeDriver",
    "dns_search": "DnsSearch",
    "dns_opt": "DnsOptions",
    "storage_opt": "StorageOpt",
    "userns_mode": "UsernsMode",
    "uts": "UTSMode",
    "privileged": "Privileged",
    "runtime": "Runtime",
    "isolation": "Isolation",
    "group_add": "GroupAdd",
    "oom_score_adj": "OomScoreAdj",
    "annotations": "Annotations",
    "cgroup": "CgroupnsMode",
}


def _extra_host(item: str) -> str:
    """``host:ip`` with an IPv6 address out of its brackets (``v6:[::1]`` -> ``v6:::1``), as the engine
    reads the first colon as the separator."""
    host, _, address = str(item).partition(":")
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    return f"{host}:{address}"


def _volumes_from(items: list[str] | None, container_ids: Mapping[str, str]) -> list[str]:
    """``volumes_from`` (``service[:mode]``, ``service:NAME[:mode]``, ``container:NAME[:mode]``) with
    services as their container."""
    result = []
    for item in items or []:
        parts = str(item).split(":")
        if parts[0] == "container" and len(parts) > 1:
            result.append(":".join(parts[1:]))
            continue
        if parts[0] == "service" and len(parts) > 1:
            parts = parts[1:]
        service, mode = parts[0], parts[1:]
        if service not in container_ids:
            raise ComposeError(f"cannot share volume with service {service}: container missing")
        result.append(":".join([container_ids[service], *mode]))
    return result


def host_config(project: Project, name: str, config: Section, *, links_: list[str], network_mode: str,
                container_ids: Mapping[str, str], auto_remove: bool) -> dict[str, Any]:
    """``HostConfig`` of the create body."""
    binds, mounts = storage(project, name, config)
    host: dict[str, Any] = {"NetworkMode": network_mode}
    if auto_remove:
        host["AutoRemove"] = True
    if binds:
        host["Binds"] = binds
    if mounts:
        host["Mounts"] = mounts
    tmpfs = tmpfs_map(config)
    if tmpfs:
        host["Tmpfs"] = tmpfs
    for key, json_key in _HOST_DIRECT.items():
        if config.get(key) is not None:
            host[json_key] = copy.deepcopy(config[key])
    for key, json_key in (("ipc", "IpcMode"), ("pid", "PidMode")):
        if config.get(key):
            host[json_key] = _shared_namespace(key.upper() if key == "ipc" else "PID", config[key], container_ids)
    if config.get("dns"):
        host["Dns"] = _dns(name, config["dns"])
    if config.get("extra_hosts") is not None:
        host["ExtraHosts"] = [_extra_host(item) for item in config["extra_hosts"]]
    policy = restart_policy(config)
    if policy is not None:
        host["RestartPolicy"] = policy
    bindings = port_bindings(config)
    if bindings:
        host["PortBindings"] = bindings
    if config.get("volumes_from"):
        host["VolumesFrom"] = _volumes_from(config["volumes_from"], container_ids)
    logging = config.get("logging")
    if logging:
        host["LogConfig"] = {"Type": str(logging.get("driver") or ""),
                             "Config": {str(k): str(v) for k, v in (logging.get("options") or {}).items()}}
    security, unconfined = security_options(project, config.get("security_opt"))
    if security:
        host["SecurityOpt"] = security
    if unconfined:
        host["MaskedPaths"] = []
        host["ReadonlyPaths"] = []
    if links_:
        host["Links"] = links_
    host.update(resources(name, config))
    return host


# ---------------------------------------------------------------------------------------------------------
# the bodies


def create_body(project: Project, service: str, number: int, *, image: str, config_hash: str, image_id: str = "",
                oneoff: bool = False, overrides: RunOverrides | None = None,
                container_ids: Mapping[str, str] | None = None, slug: str = "", replace: str = ""
                ) -> dict[str, Any]:
    """The ``POST /containers/create`` body of container ``number`` of ``service`` (a one-off's with
    ``oneoff``, changed by ``overrides``).

    ``container_ids`` maps other services to one of their containers (ID or name): ``network_mode``,
    ``ipc`` and ``pid`` of ``service:X``, ``volumes_from`` and ``links`` use it. ``slug`` and ``replace``
    go to the ``com.docker.compose.slug`` and ``.replace`` labels.
    """
    container_ids = container_ids or {}
    where = f"services.{service}"
    config = service_config(project, service)
    if oneoff or overrides is not None:
        config = apply_run_overrides(project, config, overrides or RunOverrides())
        config.pop("restart", None)
        if isinstance(config.get("deploy"), dict):
            config["deploy"] = {k: v for k, v in config["deploy"].items() if k != "restart_policy"}
    labels = container_labels(project, service, number, oneoff=oneoff, config_hash=config_hash,
                              image_id=image_id, slug=slug, replace=replace)
    if overrides is not None:
        for key, value in overrides.labels.items():
            if not key.startswith("com.docker.compose."):
                labels[key] = str(value)
    use_aliases = overrides.use_aliases if overrides is not None else not oneoff
    attach_stdin = bool(overrides is not None and overrides.stdin_open)
    body: dict[str, Any] = {}
    for key, json_key in (("hostname", "Hostname"), ("domainname", "Domainname"), ("user", "User")):
        if config.get(key):
            body[json_key] = str(config[key])
    body.update({"AttachStdin": attach_stdin, "AttachStdout": True, "AttachStderr": True,
                 "Tty": bool(config.get("tty")), "OpenStdin": bool(config.get("stdin_open")),
                 "StdinOnce": attach_stdin and bool(config.get("stdin_open"))})
    exposed = exposed_ports(config)
    if exposed:
        body["ExposedPorts"] = exposed
    environment = environment_list(config.get("environment"))
    if environment:
        body["Env"] = environment
    if config.get("command") is not None:
        body["Cmd"] = list(config["command"])
    health = healthcheck(service, config.get("healthcheck"))
    if health is not None:
        body["Healthcheck"] = health
    body["Image"] = image
    if config.get("working_dir"):
        body["WorkingDir"] = str(config["working_dir"])
    if config.get("entrypoint") is not None:
        body["Entrypoint"] = list(config["entrypoint"])
    if config.get("network_mode") == "disabled":
        body["NetworkDisabled"] = True
    body["Labels"] = labels
    if config.get("stop_signal"):
        body["StopSignal"] = str(config["stop_signal"])
    if config.get("stop_grace_period") is not None:
        body["StopTimeout"] = to_seconds(config["stop_grace_period"], f"{where}.stop_grace_period")
    legacy_links = links(config, container_ids)
    if oneoff:
        own_name = (overrides.name if overrides is not None else None) or (
            oneoff_container_name(project, service, slug) if slug else None)
    else:
        own_name = container_name(project, service, number)
    network_mode, networking = network_settings(project, service, config, use_aliases=use_aliases,
                                                 legacy_links=legacy_links, container_ids=container_ids,
                                                 own_name=own_name)
    body["HostConfig"] = host_config(project, service, config, links_=legacy_links, network_mode=network_mode,
                                     container_ids=container_ids, auto_remove=bool(overrides and overrides.remove))
    if networking is not None:
        body["NetworkingConfig"] = networking
    return body


def create_query(project: Project, service: str, name: str) -> dict[str, str]:
    """The query of ``POST /containers/create``: ``name`` and, when the service or
    ``DOCKER_DEFAULT_PLATFORM`` names one, ``platform``."""
    query = {"name": name}
    platform = service_config(project, service).get("platform") or project.environment.get(
        "DOCKER_DEFAULT_PLATFORM")
    if platform:
        query["platform"] = str(platform)
    return query


def _resource_hash(section: Section) -> str:
    text = json.dumps(section, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def network_body(project: Project, key: str) -> dict[str, Any]:
    """The ``POST /networks/create`` body of the project's network ``key`` (not an external one)."""
    network = project.networks[key]
    if network.get("external"):
        raise ComposeError(f"network {network.get('name', key)} is external: compose does not create it")
    labels = {str(k): str(v) for k, v in (network.get("labels") or {}).items()}
    labels.update(resource_labels(project, "network", key))
    labels[CONFIG_HASH_LABEL] = _resource_hash(network)
    body: dict[str, Any] = {"Name": str(network.get("name") or key), "CheckDuplicate": True}
    if network.get("driver"):
        body["Driver"] = str(network["driver"])
    if network.get("driver_opts"):
        body["Options"] = {str(k): str(v) for k, v in network["driver_opts"].items()}
    for option, json_key in (("internal", "Internal"), ("attachable", "Attachable"),
                             ("enable_ipv6", "EnableIPv6"), ("enable_ipv4", "EnableIPv4")):
        if network.get(option) is not None:
            body[json_key] = bool(network[option])
    ipam = network.get("ipam") or {}
    if ipam.get("driver") or ipam.get("config") or ipam.get("options"):
        pools = []
        for pool in ipam.get("config") or []:
            entry: dict[str, Any] = {}
            for option, json_key in (("subnet", "Subnet"), ("ip_range", "IPRange"), ("gateway", "Gateway")):
                if pool.get(option):
                    entry[json_key] = str(pool[option])
            if pool.get("aux_addresses"):
                entry["AuxiliaryAddresses"] = {str(k): str(v) for k, v in pool["aux_addresses"].items()}
            pools.append(entry)
        body["IPAM"] = {"Driver": str(ipam.get("driver") or "default"), "Config": pools,
                        "Options": {str(k): str(v) for k, v in (ipam.get("options") or {}).items()}}
    body["Labels"] = labels
    return body


def volume_body(project: Project, key: str) -> dict[str, Any]:
    """The ``POST /volumes/create`` body of the project's volume ``key`` (not an external one)."""
    volume = project.volumes[key]
    if volume.get("external"):
        raise ComposeError(f"volume {volume.get('name', key)} is external: compose does not create it")
    labels = {str(k): str(v) for k, v in (volume.get("labels") or {}).items()}
    labels.update(resource_labels(project, "volume", key))
    labels[CONFIG_HASH_LABEL] = _resource_hash({**volume, "driver": volume.get("driver") or "local"})
    body: dict[str, Any] = {"Name": str(volume.get("name") or key)}
    if volume.get("driver"):
        body["Driver"] = str(volume["driver"])
    if volume.get("driver_opts"):
        body["DriverOpts"] = {str(k): str(v) for k, v in volume["driver_opts"].items()}
    body["Labels"] = labels
    return body
