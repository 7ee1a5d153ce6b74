"""Compose data to the canonical model of docs/compose.md.

Two steps, as compose-go has them: :func:`canonical` turns one file's short syntax into the long syntax (run on
each file before it is merged, so that overrides merge entry by entry), and :func:`finalize` completes the merged
model: defaults, relative paths made absolute, ``env_file`` folded into ``environment``, the dependencies that
``links``/``network_mode``/``volumes_from`` imply, the ``default`` network, and resource names.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from moor.compose.durations import parse_duration
from moor.compose.errors import ComposeFileError
from moor.compose.loader.dotenv import read_env_file
from moor.errors import InvalidParameter
from moor.units import parse_size

Lookup = Callable[[str], "str | None"]

#: the resource sections at the top of a compose file
RESOURCE_SECTIONS = ("networks", "volumes", "secrets", "configs")

_SIZE_KEYS = ("mem_limit", "mem_reservation", "memswap_limit", "shm_size")
_INT_KEYS = ("cpu_shares", "cpu_quota", "cpu_period", "cpu_rt_runtime", "cpu_rt_period", "pids_limit",
             "oom_score_adj", "mem_swappiness", "cpu_count", "cpu_percent", "scale")
_MAP_KEYS = ("labels", "annotations", "sysctls")
_LIST_KEYS = ("dns", "dns_search", "dns_opt", "cap_add", "cap_drop", "security_opt", "group_add", "profiles",
              "links", "external_links", "tmpfs", "volumes_from", "device_cgroup_rules", "label_file")
#: the durations under ``deploy`` (compose-go's types.Duration fields)
_DEPLOY_DURATIONS = {"restart_policy": ("delay", "window"), "update_config": ("delay", "monitor"),
                     "rollback_config": ("delay", "monitor")}
_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
_PORT = re.compile(r"^(?:(?P<ip>\[[0-9a-fA-F:.%\w]*\]|[\d.]*):)??(?:(?P<published>[\d-]*):)?"
                   r"(?P<target>\d+(?:-\d+)?)(?:/(?P<protocol>\w+))?$")


def _error(path: str, message: str) -> ComposeFileError:
    return ComposeFileError(f"{path}: {message}" if path else message)


# --- scalar helpers -------------------------------------------------------------------------------------------


def text(value: Any) -> str:
    """A YAML scalar as compose writes it into a string field (booleans lower case, floats as Go prints them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def size(value: Any, path: str) -> int:
    """A size in bytes: an integer, or ``512m``/``1g``/``100kb`` (binary units)."""
    if isinstance(value, bool):
        raise _error(path, f"invalid size: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    try:
        return parse_size(str(value))
    except InvalidParameter:
        raise _error(path, f"invalid size: '{value}'") from None


def duration(value: Any, path: str) -> str:
    """A Go duration (``1m30s``, ``1d``), checked as compose-go decodes it: ComposeFileError naming the key at
    load time, not a failure at create time; kept as written."""
    written = text(value)
    parse_duration(written, path)
    return written


def integer(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise _error(path, f"must be an integer, not {text(value)}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise _error(path, f"must be an integer, not '{value}'") from None


def file_mode(value: Any, path: str) -> int:
    """A file mode: an integer (YAML ``0440`` is octal already) or a string read as octal (``"0440"``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        raise _error(path, f"invalid file mode '{value}'") from None


def string_list(value: Any) -> list[str]:
    """A string or a list of scalars as a list of strings."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [text(item) for item in value]
    return [text(value)]


def shell_words(value: Any, path: str) -> list[str]:
    """``command``/``entrypoint``: a string split as a shell would, a list kept (items as strings)."""
    if isinstance(value, list):
        return [text(item) for item in value]
    try:
        return shlex.split(text(value))
    except ValueError as err:
        raise _error(path, f"invalid command line '{value}': {err}") from None


def key_values(value: Any, path: str, *, keep_none: bool = True) -> dict[str, str | None]:
    """A map or a list of ``KEY=VALUE`` (``KEY`` alone: ``None``) as ``{key: str or None}``."""
    result: dict[str, str | None] = {}
    if value is None:
        return result
    if isinstance(value, Mapping):
        for key, item in value.items():
            if item is None:
                if keep_none:
                    result[str(key)] = None
            else:
                result[str(key)] = text(item)
        return result
    if isinstance(value, list):
        for item in value:
            entry = text(item)
            key, sep, rest = entry.partition("=")
            if sep:
                result[key] = rest
            elif keep_none:
                result[key] = None
        return result
    raise _error(path, f"must be a mapping or a list, not {type(value).__name__}")


def string_map(value: Any, path: str) -> dict[str, str]:
    """``labels``/``sysctls``/``driver_opts``: a map (or ``k=v`` list) with every value a string."""
    return {key: ("" if item is None else item) for key, item in key_values(value, path).items()}


# --- service keys ---------------------------------------------------------------------------------------------


def parse_ports(value: Any, path: str) -> list[dict[str, Any]]:
    """``ports`` in the long syntax: one entry per container port (ranges expanded)."""
    result: list[dict[str, Any]] = []
    for index, item in enumerate(value or []):
        where = f"{path}[{index}]"
        if isinstance(item, Mapping):
            entry = dict(item)
            if entry.get("target") is None:
                raise _error("", f"service ports {where} is missing a target port")
            entry["target"] = integer(entry["target"], f"{where}.target")
            if entry.get("published") is not None:
                entry["published"] = text(entry["published"])
            else:
                entry.pop("published", None)
            entry.setdefault("protocol", "tcp")
            entry.setdefault("mode", "ingress")
            result.append(entry)
        elif isinstance(item, (int, str)) and not isinstance(item, bool):
            result.extend(parse_port_spec(str(item), where))
        else:
            raise _error(where, f"invalid type {type(item).__name__} for port")
    return result


def _port_range(spec: str, where: str, full: str) -> tuple[int, int]:
    first, _, last = spec.partition("-")
    try:
        start = int(first)
        end = int(last) if last else start
    except ValueError:
        raise _error(where, f"invalid port specification: \"{full}\"") from None
    if end < start or not 0 <= start <= 65535 or end > 65535:
        raise _error(where, f"invalid port specification: \"{full}\"")
    return start, end


def parse_port_spec(spec: str, where: str) -> list[dict[str, Any]]:
    """Docker's ``[ip:][published:]target[-end][/protocol]`` as long-syntax entries."""
    match = _PORT.match(spec.strip())
    if not match:
        raise _error(where, f"invalid port specification: \"{spec}\"")
    host_ip = match.group("ip") or ""
    if host_ip.startswith("["):
        host_ip = host_ip[1:-1]
    published = match.group("published") or ""
    protocol = (match.group("protocol") or "tcp").lower()
    start, end = _port_range(match.group("target"), where, spec)
    targets = list(range(start, end + 1))
    hosts: list[str]
    if not published:
        hosts = [""] * len(targets)
    else:
        pstart, pend = _port_range(published, where, spec)
        if pend - pstart + 1 == len(targets):
            hosts = [str(port) for port in range(pstart, pend + 1)]
        elif len(targets) == 1:
            hosts = [published if pend != pstart else str(pstart)]
        else:
            raise _error(where, f"invalid port specification: \"{spec}\"")
    entries: list[dict[str, Any]] = []
    for target, host in zip(targets, hosts):
        entry: dict[str, Any] = {"mode": "ingress"}
        if host_ip:
            entry["host_ip"] = host_ip
        entry["target"] = target
        if host:
            entry["published"] = host
        entry["protocol"] = protocol
        entries.append(entry)
    return entries


def _is_file_path(source: str) -> bool:
    return bool(source) and source[0] in "./~"


def parse_volume_spec(spec: str, where: str) -> dict[str, Any]:
    """A short-syntax service volume (``[source:]target[:mode]``) in the long syntax."""
    if not spec:
        raise _error(where, "invalid empty volume spec")
    parts = spec.split(":")
    if len(parts) > 3 or any(part == "" for part in parts):
        raise _error(where, f"invalid spec: {spec}: " + ("too many colons" if len(parts) > 3
                                                         else "empty section between colons"))
    volume: dict[str, Any] = {}
    options: list[str] = []
    if len(parts) == 1:
        source, target = "", parts[0]
    else:
        source, target = parts[0], parts[1]
        if len(parts) == 3:
            options = parts[2].split(",")
    if _is_file_path(source):
        volume["type"] = "bind"
    else:
        volume["type"] = "volume"
    if source:
        volume["source"] = source
    volume["target"] = posixpath.normpath(target) if target else target
    bind: dict[str, Any] = {}
    sub: dict[str, Any] = {}
    for option in options:
        if option == "ro":
            volume["read_only"] = True
        elif option == "rw":
            volume.pop("read_only", None)
        elif option == "nocopy":
            sub["nocopy"] = True
        elif option in _PROPAGATIONS:
            bind["propagation"] = option
        elif option in ("z", "Z"):
            bind["selinux"] = option
    if volume["type"] == "bind":
        bind["create_host_path"] = True
        volume["bind"] = bind
    else:
        volume["volume"] = sub
    return volume


def parse_volumes(value: Any, path: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for index, item in enumerate(value or []):
        where = f"{path}[{index}]"
        if isinstance(item, str):
            result.append(parse_volume_spec(item, where))
        elif isinstance(item, Mapping):
            entry = dict(item)
            if not isinstance(entry.get("target"), str) or not entry["target"]:
                raise _error("", f"service volume {where} is missing a mount target")
            if entry.get("type") == "bind" and not entry.get("source"):
                raise _error(where, 'invalid mount config for type "bind": field Source must not be empty')
            entry["target"] = posixpath.normpath(entry["target"])
            tmpfs = entry.get("tmpfs")
            if isinstance(tmpfs, Mapping):
                tmpfs = dict(tmpfs)
                if "size" in tmpfs:
                    tmpfs["size"] = size(tmpfs["size"], f"{where}.tmpfs.size")
                if "mode" in tmpfs:
                    tmpfs["mode"] = file_mode(tmpfs["mode"], f"{where}.tmpfs.mode")
                entry["tmpfs"] = tmpfs
            if isinstance(entry.get("bind"), Mapping):
                bind = dict(entry["bind"])
                bind.setdefault("create_host_path", True)
                entry["bind"] = bind
            result.append(entry)
        else:
            raise _error(where, f"invalid type {type(item).__name__} for service volume mount")
    return result


def parse_extra_hosts(value: Any) -> list[str]:
    """``extra_hosts`` as ``host:ip`` strings (the map form and ``host=ip`` converted)."""
    hosts: list[str] = []
    if isinstance(value, Mapping):
        for host, address in value.items():
            for item in address if isinstance(address, list) else [address]:
                hosts.append(f"{host}:{text(item)}")
        return hosts
    for item in string_list(value):
        host, sep, address = item.partition("=")
        hosts.append(f"{host}:{address}" if sep else item)
    return hosts


def _file_references(value: Any, path: str) -> list[dict[str, Any]]:
    """Service ``secrets``/``configs``: ``- name`` or the long form."""
    result: list[dict[str, Any]] = []
    for index, item in enumerate(value or []):
        if isinstance(item, str):
            result.append({"source": item})
        elif isinstance(item, Mapping):
            entry = dict(item)
            if not entry.get("source"):
                raise _error(f"{path}[{index}]", "source is required")
            for key in ("uid", "gid"):
                if key in entry:
                    entry[key] = text(entry[key])
            if "mode" in entry:
                entry["mode"] = file_mode(entry["mode"], f"{path}[{index}].mode")
            result.append(entry)
        else:
            raise _error(f"{path}[{index}]", f"unsupported type {type(item).__name__}")
    return result


def _depends_on(value: Any, path: str) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    if isinstance(value, list):
        for item in value:
            result[text(item)] = {"condition": "service_started", "required": True, "restart": False}
        return result
    if isinstance(value, Mapping):
        for name, item in value.items():
            entry = dict(item) if isinstance(item, Mapping) else {}
            entry.setdefault("condition", "service_started")
            entry.setdefault("required", True)
            entry.setdefault("restart", False)
            result[str(name)] = entry
        return result
    raise _error(path, f"invalid type {type(value).__name__} for depends_on")


def _build(value: Any, path: str) -> dict[str, Any]:
    if isinstance(value, str):
        return {"context": value}
    if not isinstance(value, Mapping):
        raise _error(path, f"invalid type {type(value).__name__} for build")
    build = dict(value)
    if "args" in build:
        build["args"] = key_values(build["args"], f"{path}.args")
    for key in ("labels", "additional_contexts"):
        if key in build:
            build[key] = string_map(build[key], f"{path}.{key}")
    for key in ("cache_from", "cache_to", "tags", "platforms", "ssh"):
        if key in build and not isinstance(build[key], Mapping):
            build[key] = string_list(build[key])
    if "extra_hosts" in build:
        build["extra_hosts"] = parse_extra_hosts(build["extra_hosts"])
    if "shm_size" in build:
        build["shm_size"] = size(build["shm_size"], f"{path}.shm_size")
    if "secrets" in build:
        build["secrets"] = _file_references(build["secrets"], f"{path}.secrets")
    return build


def _healthcheck(value: Any, path: str) -> dict[str, Any]:
    health = dict(value or {})
    test = health.get("test")
    if isinstance(test, str):
        health["test"] = ["CMD-SHELL", test]
    elif isinstance(test, list):
        health["test"] = [text(item) for item in test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in health and health[key] is not None:
            health[key] = duration(health[key], f"{path}.{key}")
    if "retries" in health and health["retries"] is not None:
        health["retries"] = integer(health["retries"], f"{path}.retries")
    return health


def _resources(value: Any, path: str) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for kind, limits in (value or {}).items():
        if not isinstance(limits, Mapping):
            resources[kind] = limits
            continue
        entry = dict(limits)
        if "memory" in entry:
            entry["memory"] = size(entry["memory"], f"{path}.{kind}.memory")
        if "cpus" in entry:
            entry["cpus"] = text(entry["cpus"])
        if "pids" in entry:
            entry["pids"] = integer(entry["pids"], f"{path}.{kind}.pids")
        resources[kind] = entry
    return resources


def _deploy(value: Any, path: str) -> dict[str, Any]:
    deploy = dict(value or {})
    if "replicas" in deploy and deploy["replicas"] is not None:
        deploy["replicas"] = integer(deploy["replicas"], f"{path}.replicas")
    if "resources" in deploy:
        deploy["resources"] = _resources(deploy["resources"], f"{path}.resources")
    if "labels" in deploy:
        deploy["labels"] = string_map(deploy["labels"], f"{path}.labels")
    for section, keys in _DEPLOY_DURATIONS.items():
        if isinstance(deploy.get(section), Mapping):
            deploy[section] = dict(deploy[section])
            for key in keys:
                if deploy[section].get(key) is not None:
                    deploy[section][key] = duration(deploy[section][key], f"{path}.{section}.{key}")
    return deploy


def _ulimits(value: Any, path: str) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for name, limit in (value or {}).items():
        if isinstance(limit, Mapping):
            result[name] = {key: integer(limit[key], f"{path}.{name}.{key}")
                            for key in ("soft", "hard") if key in limit}
        else:
            number = integer(limit, f"{path}.{name}")
            result[name] = {"soft": number, "hard": number}
    return result


def _networks(value: Any, path: str) -> dict[str, dict[str, Any] | None]:
    if isinstance(value, list):
        return {text(name): None for name in value}
    if not isinstance(value, Mapping):
        raise _error(path, f"invalid type {type(value).__name__} for networks")
    result: dict[str, dict[str, Any] | None] = {}
    for name, item in value.items():
        if item is None:
            result[name] = None
            continue
        entry = dict(item)
        for key in ("aliases", "link_local_ips"):
            if key in entry:
                entry[key] = string_list(entry[key])
        if "priority" in entry:
            entry["priority"] = integer(entry["priority"], f"{path}.{name}.priority")
        if "driver_opts" in entry:
            entry["driver_opts"] = string_map(entry["driver_opts"], f"{path}.{name}.driver_opts")
        result[name] = entry
    return result


def _env_files(value: Any, path: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            result.append({"path": item, "required": True})
        elif isinstance(item, Mapping):
            entry = dict(item)
            entry.setdefault("required", True)
            result.append(entry)
        else:
            raise _error(path, f"invalid type {type(item).__name__} for env_file")
    return result


def _devices(value: Any) -> list[str]:
    devices: list[str] = []
    for item in value or []:
        if isinstance(item, Mapping):
            parts = [text(item.get("source", "")), text(item.get("target", item.get("source", "")))]
            if item.get("permissions"):
                parts.append(text(item["permissions"]))
            devices.append(":".join(parts))
        else:
            devices.append(text(item))
    return devices


def _logging(value: Any, path: str) -> dict[str, Any]:
    logging = dict(value or {})
    if "options" in logging:
        logging["options"] = string_map(logging["options"], f"{path}.options")
    return logging


def canonical_service(service: Any, path: str, *, lenient: bool = False) -> dict[str, Any]:
    """One service in the long syntax (no path resolution, no defaults beyond the long forms' own).
    ``lenient``: a value that does not parse is kept as written (for files left uninterpolated)."""
    if service is None:
        return {}
    if not isinstance(service, Mapping):
        raise _error(path, "must be a mapping")
    result: dict[str, Any] = {}
    for key, value in service.items():
        if value is None and key not in ("networks",):
            continue
        try:
            result[key] = _service_value(key, value, f"{path}.{key}")
        except (ComposeFileError, TypeError, AttributeError, ValueError):
            if not lenient:
                raise
            result[key] = value
    return result


def _cpus(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _error(where, f"invalid cpus value '{value}'") from None


def _extends(value: Any, where: str) -> dict[str, Any]:
    return {"service": value} if isinstance(value, str) else dict(value)


#: service key -> its long-syntax converter (value, key path) -> value
_CONVERTERS: dict[str, Callable[[Any, str], Any]] = {
    "build": _build,
    "command": shell_words,
    "entrypoint": shell_words,
    "environment": key_values,
    "env_file": _env_files,
    "ports": parse_ports,
    "expose": lambda value, where: string_list(value),
    "volumes": parse_volumes,
    "networks": lambda value, where: _networks(value if value is not None else {}, where),
    "depends_on": _depends_on,
    "healthcheck": _healthcheck,
    "deploy": _deploy,
    "cpus": _cpus,
    "cpuset": lambda value, where: text(value),
    "ulimits": _ulimits,
    "devices": lambda value, where: _devices(value),
    "extra_hosts": lambda value, where: parse_extra_hosts(value),
    "logging": _logging,
    "secrets": _file_references,
    "configs": _file_references,
    "extends": _extends,
    **{key: size for key in _SIZE_KEYS},
    **{key: integer for key in _INT_KEYS},
    **{key: string_map for key in _MAP_KEYS},
    **{key: (lambda value, where: string_list(value)) for key in _LIST_KEYS},
    **{key: (lambda value, where: text(value)) for key in (
        "user", "working_dir", "hostname", "domainname", "stop_signal", "container_name", "image", "restart",
        "pull_policy", "platform", "mac_address")},
    "stop_grace_period": duration,
}


def _service_value(key: str, value: Any, where: str) -> Any:
    """One service key's value in the long syntax (keys compose has no short syntax for: as given)."""
    converter = _CONVERTERS.get(key)
    return converter(value, where) if converter is not None else value


def canonical_resource(kind: str, key: str, value: Any) -> dict[str, Any]:
    """A top-level network, volume, secret or config in the long syntax (``external: {name}`` folded)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _error(f"{kind}.{key}", "must be a mapping")
    resource = dict(value)
    external = resource.get("external")
    if isinstance(external, Mapping):
        resource["external"] = True
        if "name" in external:
            if "name" in resource and resource["name"] != external["name"]:
                raise _error(f"{kind}.{key}", "name and external.name conflict; only use name")
            resource["name"] = external["name"]
    for field in ("labels", "driver_opts"):
        if field in resource:
            resource[field] = string_map(resource[field], f"{kind}.{key}.{field}")
    if "name" in resource:
        resource["name"] = text(resource["name"])
    ipam = resource.get("ipam")
    if isinstance(ipam, Mapping) and "options" in ipam:
        resource["ipam"] = dict(ipam, options=string_map(ipam["options"], f"{kind}.{key}.ipam.options"))
    return resource


def canonical(data: Mapping[str, Any], *, lenient: bool = False) -> dict[str, Any]:
    """One file's data (interpolated, schema-checked) in the long syntax; ``version`` dropped. ``lenient``: values
    that do not parse are kept as written (files left uninterpolated)."""
    model: dict[str, Any] = {}
    for key, value in data.items():
        if key == "version":
            continue
        if key == "services":
            model[key] = {name: canonical_service(service, f"services.{name}", lenient=lenient)
                          for name, service in (value or {}).items()}
        elif key in RESOURCE_SECTIONS:
            model[key] = {name: canonical_resource(key, name, item) for name, item in (value or {}).items()}
        elif key == "name" and value is not None:
            model[key] = text(value)
        else:
            model[key] = value
    return model


# --- paths ----------------------------------------------------------------------------------------------------

_REMOTE_CONTEXT = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")


def absolute(path: str, base: str, home: str | None = None) -> str:
    """``path`` with ``~`` expanded (to ``home`` when given), made absolute against ``base`` (normalised)."""
    tilde = home is not None and (path == "~" or path.startswith("~/"))
    expanded = f"{home}{path[1:]}" if tilde else os.path.expanduser(path)
    if os.path.isabs(expanded):
        return os.path.normpath(expanded)
    return os.path.normpath(os.path.join(base, expanded))


def _context_path(context: str, base: str) -> str:
    if "://" in context or context.startswith(_REMOTE_CONTEXT) or context.startswith("service:"):
        return context
    return absolute(context, base)


def resolve_service_paths(service: dict[str, Any], base: str, home: str | None = None) -> None:
    """Relative paths of one canonical service made absolute against ``base`` (in place)."""
    build = service.get("build")
    if isinstance(build, dict):
        if "context" in build:
            build["context"] = _context_path(text(build["context"]), base)
        if isinstance(build.get("additional_contexts"), dict):
            build["additional_contexts"] = {key: _context_path(value, base)
                                            for key, value in build["additional_contexts"].items()}
    for entry in service.get("env_file", []):
        if isinstance(entry, dict) and entry.get("path"):
            entry["path"] = absolute(text(entry["path"]), base)
    if "label_file" in service:
        service["label_file"] = [absolute(item, base) for item in service["label_file"]]
    for volume in service.get("volumes", []):
        if volume.get("type") == "bind" and isinstance(volume.get("source"), str) and volume["source"]:
            volume["source"] = absolute(volume["source"], base, home)
    extends = service.get("extends")
    if isinstance(extends, dict) and isinstance(extends.get("file"), str):
        extends["file"] = absolute(extends["file"], base)


def resolve_paths(model: dict[str, Any], base: str, home: str | None = None) -> None:
    """Every relative path of a canonical model made absolute against ``base`` (in place); ``~`` is ``home``
    (the project environment's ``HOME``) when given."""
    for service in (model.get("services") or {}).values():
        resolve_service_paths(service, base, home)
    for kind in ("secrets", "configs"):
        for resource in (model.get(kind) or {}).values():
            if isinstance(resource.get("file"), str):
                resource["file"] = absolute(resource["file"], base)
    for volume in (model.get("volumes") or {}).values():
        options = volume.get("driver_opts")
        if volume.get("driver", "local") == "local" and isinstance(options, dict) and options.get("o") == "bind" \
                and options.get("device"):
            options["device"] = absolute(options["device"], base)


# --- the merged model -----------------------------------------------------------------------------------------


def _implied_dependencies(service: dict[str, Any]) -> None:
    """``links``, ``network_mode: service:X`` (and ipc/pid), ``volumes_from`` imply a dependency (compose-go)."""
    depends: dict[str, Any] = service.get("depends_on", {})
    for link in service.get("links", []):
        name = link.split(":")[0]
        depends.setdefault(name, {"condition": "service_started", "required": True, "restart": True})
    for key in ("network_mode", "ipc", "pid", "uts", "cgroup"):
        value = service.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            depends.setdefault(value[len("service:"):],
                               {"condition": "service_started", "required": True, "restart": True})
    for item in service.get("volumes_from", []):
        if not item.startswith("container:"):
            depends.setdefault(item.split(":")[0],
                               {"condition": "service_started", "required": True, "restart": False})
    if depends:
        service["depends_on"] = depends


def finalize_service(service: dict[str, Any], lookup: Lookup) -> None:
    """Defaults of one merged service (in place): build, pull_policy, dependencies, the default network."""
    build = service.get("build")
    if isinstance(build, dict):
        build.setdefault("context", ".")
        if "dockerfile" not in build and "dockerfile_inline" not in build:
            build["dockerfile"] = "Dockerfile"
        if "args" in build:
            args: dict[str, str | None] = {}
            for key, value in build["args"].items():
                if value is None:
                    value = lookup(key)
                    if value is None:
                        continue
                args[key] = value
            build["args"] = args
    for secret in service.get("secrets", []):
        if isinstance(secret, dict) and secret.get("source") and not secret.get("target"):
            secret["target"] = f"/run/secrets/{secret['source']}"
    if service.get("pull_policy") == "if_not_present":
        service["pull_policy"] = "missing"
    _implied_dependencies(service)
    if "network_mode" not in service and not service.get("networks"):
        service["networks"] = {"default": None}


def resource_names(model: dict[str, Any], project_name: str) -> None:
    """``name`` of every top-level resource: ``PROJECT_KEY`` unless ``name:`` or ``external`` says otherwise."""
    for kind in RESOURCE_SECTIONS:
        for key, resource in (model.get(kind) or {}).items():
            if resource.get("name"):
                continue
            resource["name"] = key if resource.get("external") is True else f"{project_name}_{key}"


def default_network(model: dict[str, Any]) -> None:
    """The ``default`` network added when a service uses it."""
    used = any("default" in (service.get("networks") or {}) for service in (model.get("services") or {}).values())
    networks = model.setdefault("networks", {})
    if used and "default" not in networks:
        networks["default"] = {}
    if not networks:
        del model["networks"]


def resolve_environment(service: dict[str, Any], lookup: Lookup) -> None:
    """``environment`` completed (in place): the ``env_file`` files first (a missing required one is an error),
    then ``environment`` over them; a name without a value takes the project environment's, else stays ``None``."""
    environment: dict[str, str | None] = {}
    for entry in service.get("env_file", []):
        path = entry["path"]
        if not os.path.exists(path):
            if entry.get("required", True):
                raise ComposeFileError(f"env file {path} not found: stat {path}: no such file or directory")
            continue

        def chained(name: str, found: dict[str, str | None] = environment) -> str | None:
            value = found.get(name)
            return value if value is not None else lookup(name)

        environment.update(read_env_file(path, chained))
    environment.update(service.get("environment", {}))
    resolved: dict[str, str | None] = {}
    for key, value in environment.items():
        resolved[key] = lookup(key) if value is None else value
    if resolved or "environment" in service:
        service["environment"] = resolved


def resolve_label_files(service: dict[str, Any], lookup: Lookup) -> None:
    """``label_file`` files (dotenv format) read into ``labels`` (in place), ``labels`` over them."""
    if not service.get("label_file"):
        return
    labels: dict[str, str] = {}
    for path in service["label_file"]:
        labels.update(read_env_file(path, lookup))
    labels.update(service.get("labels") or {})
    service["labels"] = labels
