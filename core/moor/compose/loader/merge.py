"""The compose specification's merge rules, applied to files already in the long syntax (normalize.canonical).

An override file (``-f a.yaml -f b.yaml``), an ``extends`` base and an ``include``d resource merge the same way:
mappings merge key by key (``environment``, ``labels``, ``depends_on``, ``networks``, ``build``, ...), a scalar
of the override wins, ``command``/``entrypoint``/``healthcheck.test`` are replaced whole, ``logging`` is replaced
when the driver changes, and sequences are appended, those with an identity keeping one entry per key with the
override's last: ``ports`` by host ip, published port, target and protocol, ``volumes`` by target, ``secrets``
and ``configs`` by target, ``env_file`` by path, and lists of strings by value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

#: paths (``*`` for any key) whose override value replaces the base one whole
_REPLACED = (
    ("services", "*", "command"),
    ("services", "*", "entrypoint"),
    ("services", "*", "healthcheck", "test"),
    ("services", "*", "ulimits", "*"),
)


def _port_key(entry: Any) -> str:
    if not isinstance(entry, dict):
        return str(entry)
    return (f"{entry.get('host_ip', '0.0.0.0')}:{entry.get('published', '')}:{entry.get('target')}"
            f"/{entry.get('protocol', 'tcp')}")


def _target_key(entry: Any) -> str:
    return str(entry.get("target")) if isinstance(entry, dict) else str(entry)


def _mount_key(default_dir: str) -> Callable[[Any], str]:
    def key(entry: Any) -> str:
        if isinstance(entry, dict):
            if entry.get("target"):
                return str(entry["target"])
            return f"{default_dir}/{entry.get('source')}"
        return f"{default_dir}/{entry}"
    return key


def _value_key(entry: Any) -> str:
    return str(entry)


def _path_key(entry: Any) -> str:
    return str(entry.get("path")) if isinstance(entry, dict) else str(entry)


def _device_key(entry: Any) -> str:
    parts = str(entry).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _subnet_key(entry: Any) -> str:
    return str(entry.get("subnet")) if isinstance(entry, dict) else str(entry)


#: sequences with an identity: one entry per key, the last one given winning (at the first one's place)
_UNIQUE: dict[tuple[str, ...], Callable[[Any], str]] = {
    ("services", "*", "ports"): _port_key,
    ("services", "*", "volumes"): _target_key,
    ("services", "*", "secrets"): _mount_key("/run/secrets"),
    ("services", "*", "configs"): _mount_key(""),
    ("services", "*", "env_file"): _path_key,
    ("services", "*", "devices"): _device_key,
    ("services", "*", "expose"): _value_key,
    ("services", "*", "dns"): _value_key,
    ("services", "*", "dns_opt"): _value_key,
    ("services", "*", "dns_search"): _value_key,
    ("services", "*", "cap_add"): _value_key,
    ("services", "*", "cap_drop"): _value_key,
    ("services", "*", "links"): _value_key,
    ("services", "*", "profiles"): _value_key,
    ("services", "*", "tmpfs"): _value_key,
    ("services", "*", "extra_hosts"): _value_key,
    ("services", "*", "label_file"): _value_key,
    ("services", "*", "build", "tags"): _value_key,
    ("services", "*", "build", "platforms"): _value_key,
    ("services", "*", "build", "extra_hosts"): _value_key,
    ("services", "*", "networks", "*", "aliases"): _value_key,
    ("services", "*", "networks", "*", "link_local_ips"): _value_key,
    ("networks", "*", "ipam", "config"): _subnet_key,
}


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(p in ("*", part) for part, p in zip(path, pattern))


def unique(entries: list[Any], key: Callable[[Any], str]) -> list[Any]:
    """One entry per key: a later entry replaces the earlier one in its place."""
    result: list[Any] = []
    index: dict[str, int] = {}
    for entry in entries:
        name = key(entry)
        if name in index:
            result[index[name]] = entry
        else:
            index[name] = len(result)
            result.append(entry)
    return result


#: maps whose ``KEY`` without a value is meaningful (taken from the environment): the override's wins
_NONE_OVERRIDES = (("services", "*", "environment", "*"), ("services", "*", "build", "args", "*"))


def _merge_value(base: Any, override: Any, path: tuple[str, ...]) -> Any:
    if override is None:
        return None if any(_matches(path, pattern) for pattern in _NONE_OVERRIDES) else base
    if base is None:
        return copy.deepcopy(override)
    if any(_matches(path, pattern) for pattern in _REPLACED):
        return copy.deepcopy(override)
    if _matches(path, ("services", "*", "logging")) and isinstance(base, dict) and isinstance(override, dict) \
            and "driver" in base and "driver" in override and base["driver"] != override["driver"]:
        return copy.deepcopy(override)
    if isinstance(base, dict) and isinstance(override, dict):
        return _merge_mappings(base, override, path)
    if isinstance(base, list) and isinstance(override, list):
        merged = list(base) + copy.deepcopy(override)
        for pattern, key in _UNIQUE.items():
            if _matches(path, pattern):
                if pattern == ("networks", "*", "ipam", "config"):
                    return _merge_ipam(base, override)
                return unique(merged, key)
        return merged
    return copy.deepcopy(override)


def _merge_ipam(base: list[Any], override: list[Any]) -> list[Any]:
    result = [dict(entry) if isinstance(entry, dict) else entry for entry in base]
    keys = [_subnet_key(entry) for entry in result]
    for entry in override:
        key = _subnet_key(entry)
        if key in keys and isinstance(entry, dict):
            position = keys.index(key)
            result[position] = {**result[position], **copy.deepcopy(entry)}
        else:
            keys.append(key)
            result.append(copy.deepcopy(entry))
    return result


def _merge_mappings(base: dict[str, Any], override: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if key in result:
            result[key] = _merge_value(result[key], value, (*path, key))
        else:
            result[key] = copy.deepcopy(value)
    return result


def _get(node: Any, path: Sequence[str | int]) -> tuple[bool, Any]:
    for part in path:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def _apply_tags(merged: dict[str, Any], override: dict[str, Any], resets: Sequence[Sequence[str | int]],
                overrides: Sequence[Sequence[str | int]]) -> None:
    """compose's ``!reset`` (the key removed) and ``!override`` (the value replaced, not merged) tags."""
    for path in resets:
        found, parent = _get(merged, path[:-1])
        if found and isinstance(parent, dict) and path and isinstance(path[-1], str):
            parent.pop(path[-1], None)
    for path in overrides:
        found, value = _get(override, path)
        parent_found, parent = _get(merged, path[:-1])
        if found and parent_found and isinstance(parent, dict) and path and isinstance(path[-1], str):
            parent[path[-1]] = copy.deepcopy(value)


def merge(base: dict[str, Any], override: dict[str, Any], *, resets: Sequence[Sequence[str | int]] = (),
          overrides: Sequence[Sequence[str | int]] = ()) -> dict[str, Any]:
    """Two canonical compose models merged, ``override`` over ``base`` (new dicts; the inputs are unchanged).
    ``resets``/``overrides``: the override file's paths tagged ``!reset``/``!override``."""
    merged = _merge_mappings(copy.deepcopy(base), override, ())
    _apply_tags(merged, override, resets, overrides)
    # a sequence given by one side only still gets its duplicates folded, as compose-go's EnforceUnicity does
    for service in (merged.get("services") or {}).values():
        if isinstance(service, dict):
            _fold_duplicates(service, ("services", "*"))
    return merged


def _fold_duplicates(node: dict[str, Any], path: tuple[str, ...]) -> None:
    for key, value in node.items():
        here = (*path, key)
        if isinstance(value, list):
            for pattern, indexer in _UNIQUE.items():
                if _matches(here, pattern):
                    node[key] = unique(value, indexer)
                    break
        elif isinstance(value, dict):
            _fold_duplicates(value, here)


def merge_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """One canonical service over another (``extends``), by the same rules as :func:`merge`."""
    merged: dict[str, Any] = merge({"services": {"x": base}}, {"services": {"x": override}})["services"]["x"]
    return merged
