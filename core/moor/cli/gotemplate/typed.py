"""Docker's typed inspect structs, where they differ from the daemon's JSON: zero values of absent fields.

The docker CLI renders ``inspect -f`` on its typed structs first (types.ContainerJSON, ...): a field the JSON
omits or sends as null is there a nil map (printed ``map[]``), a nil slice (``[]``), a nil pointer (``<nil>``)
or an empty string, not a missing key (``<no value>``). :func:`typed_view` puts such zero values in, for the
fields people print; ``json`` still writes them as the daemon did (``null``, or nothing when it left them out).
"""

from __future__ import annotations

from typing import Any


class NilMap(dict[str, Any]):
    """A nil Go map: empty, printed ``map[]``, JSON ``null``."""

    omit = False

    def __json__(self) -> None:
        return None


class NilSlice(list[Any]):
    """A nil Go slice: empty, printed ``[]``, JSON ``null``."""

    omit = False

    def __json__(self) -> None:
        return None


class EmptyString(str):
    """A string field the daemon left out (``omitempty``): printed empty, JSON ``""``."""

    omit = False

    def __json__(self) -> str:
        return ""


class GoTime(str):
    """A time.Time field: printed as Go's String() (``2026-12-07 01:42:24.406110182 +0000 UTC``), JSON as sent."""

    def __new__(cls, rfc3339: str) -> GoTime:
        date, _, clock = rfc3339[:-1].partition("T")
        return super().__new__(cls, f"{date} {clock} +0000 UTC")

    def __init__(self, rfc3339: str) -> None:
        super().__init__()
        self.rfc3339 = rfc3339

    def __json__(self) -> str:
        return self.rfc3339


class NilPointer:
    """A nil pointer to a struct (``State.Health``): printed ``<nil>``, false, JSON ``null``."""

    is_nil = True
    omit = False

    def __str__(self) -> str:
        return "<nil>"

    def __json__(self) -> None:
        return None


_M, _S, _P, _T, _STR = "map", "slice", "pointer", "time", "string"

_CONFIG = {"ExposedPorts": _M, "Volumes": _M, "Labels": _M, "Entrypoint": _S, "Cmd": _S, "Env": _S,
           "OnBuild": _S, "Healthcheck": _P, "Shell": _S, "StopSignal": _STR, "MacAddress": _STR}
#: per kind: field paths (dotted; ``*`` is each value of a map) and their Go kind
SCHEMAS: dict[str, dict[str, str]] = {
    "container": {
        "Args": _S, "Mounts": _S, "State.Health": _P, "NetworkSettings.Ports": _M, "NetworkSettings.Networks": _M,
        "NetworkSettings.Networks.*.Aliases": _S, "NetworkSettings.Networks.*.Links": _S,
        "NetworkSettings.Networks.*.DriverOpts": _M, "NetworkSettings.Networks.*.IPAMConfig": _P,
        "HostConfig.PortBindings": _M, "HostConfig.Binds": _S, "HostConfig.Links": _S, "HostConfig.Dns": _S,
        "HostConfig.DnsOptions": _S, "HostConfig.DnsSearch": _S, "HostConfig.ExtraHosts": _S,
        "HostConfig.CapAdd": _S, "HostConfig.CapDrop": _S, "HostConfig.VolumesFrom": _S, "HostConfig.Tmpfs": _M,
        "HostConfig.Sysctls": _M, "HostConfig.SecurityOpt": _S, "HostConfig.StorageOpt": _M,
        "HostConfig.LogConfig.Config": _M, "HostConfig.Devices": _S, "HostConfig.Ulimits": _S,
        "HostConfig.GroupAdd": _S, "HostConfig.Mounts": _S, "HostConfig.DeviceRequests": _S,
        **{f"Config.{k}": v for k, v in _CONFIG.items()},
    },
    "image": {"RepoTags": _S, "RepoDigests": _S, "RootFS.Layers": _S,
              **{f"Config.{k}": v for k, v in _CONFIG.items()},
              **{f"ContainerConfig.{k}": v for k, v in _CONFIG.items()}},
    "network": {"Created": _T, "Options": _M, "Labels": _M, "Containers": _M, "IPAM.Config": _S, "IPAM.Options": _M,
                "Peers": _S, "Services": _M},
    "volume": {"Options": _M, "Labels": _M, "Status": _M},
}

_ZERO = {_M: NilMap, _S: NilSlice, _P: NilPointer, _STR: EmptyString}


def _fill(value: Any, path: list[str], kind: str) -> Any:
    """``value`` with the field at ``path`` set to its typed zero when absent or null (copies on the way)."""
    if not isinstance(value, dict):
        return value
    head, rest = path[0], path[1:]
    if head == "*":
        return {**value, **{k: _fill(v, rest, kind) for k, v in value.items()}} if rest else value
    copy = dict(value)
    if not rest:
        if kind == _T:
            stamp = copy.get(head)
            if isinstance(stamp, str) and stamp.endswith("Z") and "T" in stamp:
                copy[head] = GoTime(stamp)
            return copy
        if copy.get(head) is None:
            zero = _ZERO[kind]()
            zero.omit = head not in copy  # the daemon left it out: json leaves it out too (omitempty)
            copy[head] = zero
        return copy
    if isinstance(copy.get(head), dict):
        copy[head] = _fill(copy[head], rest, kind)
    return copy


def typed_view(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """``obj`` (a ``kind`` object's inspect JSON) as the docker CLI's typed struct reads: zero values filled in."""
    for path, zero in SCHEMAS.get(kind, {}).items():
        obj = _fill(obj, path.split("."), zero)
    return obj
