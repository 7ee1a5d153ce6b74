"""The loaded model as ``docker compose config`` prints it: YAML (go-yaml's style) or JSON.

Keys of compose's own structures come in the order of compose-go's types (``image`` after ``healthcheck``,
``target`` before ``published``, ...); keys the user chose (services, environment names, labels, ...) are
sorted, as Go sorts map keys. ``env_file`` is left out: its contents are in ``environment`` already.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from moor.compose.model import Project


def _keys(names: str) -> list[str]:
    return names.split()


_SERVICE_KEYS = _keys(
    "profiles annotations attach build develop blkio_config cap_add cap_drop cgroup_parent cgroup cpu_count "
    "cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpus cpuset cpu_shares command configs "
    "container_name credential_spec depends_on deploy device_cgroup_rules devices dns dns_opt dns_search "
    "dockerfile domainname entrypoint provider environment expose extends external_links extra_hosts "
    "group_add gpus hostname healthcheck image init ipc isolation labels label_file links logging log_driver log_opt "
    "mem_limit mem_reservation memswap_limit mem_swappiness mac_address models net network_mode networks "
    "oom_kill_disable oom_score_adj pid pids_limit platform ports privileged pull_policy read_only restart "
    "runtime scale secrets security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls "
    "tmpfs tty ulimits use_api_socket user userns_mode uts volume_driver volumes volumes_from working_dir "
    "pre_start post_start pre_stop")

#: path pattern -> the order of that structure's keys (``*`` any key, ``[]`` any list item)
_ORDERS: dict[tuple[str, ...], list[str]] = {
    ("services", "*"): _SERVICE_KEYS,
    ("services", "*", "build"): _keys(
        "context dockerfile dockerfile_inline entitlements args provenance sbom ssh labels cache_from cache_to "
        "no_cache no_cache_filter additional_contexts pull extra_hosts isolation network target secrets shm_size "
        "tags ulimits platforms privileged"),
    ("services", "*", "ports", "[]"): _keys("name mode host_ip target published protocol app_protocol"),
    ("services", "*", "volumes", "[]"): _keys("type source target read_only consistency bind volume tmpfs image"),
    ("services", "*", "volumes", "[]", "bind"): _keys("selinux propagation create_host_path recursive"),
    ("services", "*", "volumes", "[]", "volume"): _keys("labels nocopy subpath"),
    ("services", "*", "volumes", "[]", "tmpfs"): _keys("size mode"),
    ("services", "*", "networks", "*"): _keys(
        "aliases driver_opts gw_priority interface_name ipv4_address ipv6_address link_local_ips mac_address "
        "priority"),
    ("services", "*", "depends_on", "*"): _keys("condition restart required"),
    ("services", "*", "secrets", "[]"): _keys("source target uid gid mode"),
    ("services", "*", "configs", "[]"): _keys("source target uid gid mode"),
    ("services", "*", "healthcheck"): _keys("test timeout interval retries start_period start_interval disable"),
    ("services", "*", "logging"): _keys("driver options"),
    ("services", "*", "deploy"): _keys(
        "mode replicas labels update_config rollback_config resources restart_policy placement "
        "endpoint_mode"),
    ("services", "*", "deploy", "resources"): _keys("limits reservations"),
    ("services", "*", "deploy", "resources", "*"): _keys("cpus memory pids devices generic_resources"),
    ("services", "*", "deploy", "restart_policy"): _keys("condition delay max_attempts window"),
    ("services", "*", "ulimits", "*"): _keys("soft hard"),
    ("networks", "*"): _keys(
        "name driver driver_opts ipam external internal attachable labels enable_ipv4 enable_ipv6"),
    ("networks", "*", "ipam"): _keys("driver config options"),
    ("networks", "*", "ipam", "config", "[]"): _keys("subnet gateway ip_range aux_addresses"),
    ("volumes", "*"): _keys("name driver driver_opts external labels"),
    ("secrets", "*"): _keys("name file environment content external labels driver driver_opts template_driver"),
    ("configs", "*"): _keys("name file environment content external labels driver driver_opts template_driver"),
}

_LEFT_OUT = {("services", "*"): {"env_file"}}


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(p in ("*", part) for part, p in zip(path, pattern))


def _ordered(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, Mapping):
        order: list[str] | None = None
        left_out: set[str] = set()
        for pattern, keys in _ORDERS.items():
            if _matches(path, pattern):
                order = keys
                break
        for pattern, keys_out in _LEFT_OUT.items():
            if _matches(path, pattern):
                left_out = keys_out
        if order is not None:
            rank = {key: index for index, key in enumerate(order)}
            keys = sorted(value, key=lambda key: (rank.get(key, len(rank)), key))
        else:
            keys = sorted(value)
        if _matches(path, ("services", "*", "depends_on", "*")) and value.get("restart") is False:
            left_out = {"restart"}  # compose-go's omitempty
        return {key: _ordered(value[key], (*path, key)) for key in keys if key not in left_out}
    if isinstance(value, list):
        return [_ordered(item, (*path, "[]")) for item in value]
    return value


def project_dict(project: Project) -> dict[str, Any]:
    """The project as ``docker compose config`` shows it, keys in its order."""
    model: dict[str, Any] = {"name": project.name, "services": project.services}
    for kind in ("networks", "volumes", "secrets", "configs"):
        section = getattr(project, kind)
        if section:
            model[kind] = section
    ordered: dict[str, Any] = {}
    for key, value in model.items():
        ordered[key] = _ordered(value, (key,)) if key != "name" else value
    for key in sorted(project.extensions):
        ordered[key] = project.extensions[key]
    return ordered


def to_json(data: Any) -> str:
    """JSON as compose prints it (two-space indentation)."""
    return json.dumps(data, indent=2, ensure_ascii=False)


# --- YAML in go-yaml's style ----------------------------------------------------------------------------------

_PLAIN_UNSAFE = re.compile(
    r"""^(?:[,\[\]{}#&*!|>'"%@`\s]|[-?:](?:\s|$)|$)|\s$|: |:$| #|[\x00-\x1f\x7f]""")
_SPECIAL_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", "+.inf",
                  ".nan"}
_NUMBER = re.compile(r"^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$|^0[xXoObB][0-9a-fA-F_]+$"
                     r"|^\d{4}-\d\d?-\d\d?")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        if math.isnan(value):
            return ".nan"
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value)
    if _PLAIN_UNSAFE.search(text) or text.lower() in _SPECIAL_WORDS or _NUMBER.match(text):
        return json.dumps(text, ensure_ascii=False)
    return text


def _block(text: str, indent: str) -> list[str] | None:
    """A multi-line string as a literal block (``|-``), when it can be one."""
    if "\n" not in text or any(ord(char) < 32 and char not in "\n\t" for char in text) or \
            text != text.strip(" ") or text.startswith("\n"):
        return None
    chomp = "" if text.endswith("\n") and not text.endswith("\n\n") else "-"
    lines = text[:-1].split("\n") if chomp == "" else text.split("\n")
    return [f"|{chomp}"] + [(indent + line) if line else "" for line in lines]


def _value_lines(start: str, value: Any, indent: int, lines: list[str]) -> None:
    """``start`` (``key:`` or ``-``) and its value: nested collections on the following lines."""
    if isinstance(value, Mapping) and value:
        lines.append(start)
        _mapping(value, indent + 1, lines)
    elif isinstance(value, list) and value:
        lines.append(start)
        _sequence(value, indent + 1, lines)
    elif isinstance(value, Mapping):
        lines.append(f"{start} {{}}")
    elif isinstance(value, list):
        lines.append(f"{start} []")
    elif isinstance(value, str) and "\n" in value and (block := _block(value, "  " * (indent + 1))):
        lines.append(f"{start} {block[0]}")
        lines.extend(block[1:])
    else:
        lines.append(f"{start} {_scalar(value)}")


def _mapping(value: Mapping[str, Any], indent: int, lines: list[str], first: str | None = None) -> None:
    pad = "  " * indent
    for index, (key, item) in enumerate(value.items()):
        lead = first if index == 0 and first is not None else pad
        _value_lines(f"{lead}{_scalar(key)}:", item, indent, lines)


def _sequence(value: list[Any], indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    for item in value:
        if isinstance(item, Mapping) and item:
            _mapping(item, indent + 1, lines, first=f"{pad}- ")
        else:
            _value_lines(f"{pad}-", item, indent, lines)


def to_yaml(data: Any) -> str:
    """``data`` (plain dicts, lists, scalars) as YAML in go-yaml's block style, two-space indentation."""
    lines: list[str] = []
    if isinstance(data, Mapping) and data:
        _mapping(data, 0, lines)
    elif isinstance(data, list) and data:
        _sequence(data, 0, lines)
    else:
        _value_lines("", data, 0, lines)
        lines[-1] = lines[-1].lstrip()
    return "\n".join(lines) + "\n"


def render(project: Project, output_format: str = "yaml") -> str:
    """The project as ``docker compose config --format FORMAT`` prints it."""
    data = project_dict(project)
    return to_json(data) + "\n" if output_format == "json" else to_yaml(data)
