"""Image configs checked against the types Docker reads them with.

Docker decodes an image config into Go structs (``image.Image``,
``container.Config``), so a config whose ``config`` is a string or whose
``created`` is the number ``1e999`` fails to load there. moor keeps configs as
JSON, so it checks the same types by hand: :func:`problems` lists what is
wrong (empty for a good config), and :func:`sanitized` drops the wrong fields
so that a config written by an older, laxer moor can still be listed.

Only the fields moor reads are checked; unknown fields pass, as in Docker.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

#: RFC 3339 as Go's time.Time reads it (``T`` or ``t``, a fraction of any length, ``Z`` or an offset).
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_INT64 = (-(1 << 63), (1 << 63) - 1)

Check = Callable[[Any], str | None]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _string(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else f"want a string, got {_kind(value)}"


def _boolean(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else f"want a boolean, got {_kind(value)}"


def _integer(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, float) and (not math.isfinite(value) or not value.is_integer())):
        return f"want an integer, got {_kind(value) if not isinstance(value, float) else repr(value)}"
    if not _INT64[0] <= int(value) <= _INT64[1]:
        return f"the integer {value} is out of range"
    return None


def _time(value: Any) -> str | None:
    """A Go time.Time: an RFC 3339 string (years 0000-9999), or null."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"want an RFC 3339 time string, got {_kind(value)}"
    match = _RFC3339.fullmatch(value)
    if match is None:
        return f"{value[:64]!r} is not an RFC 3339 time"
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        datetime(max(year, 1), month, day, hour, minute, second)
    except ValueError:
        return f"{value[:64]!r} is not a valid time"
    return None


def _strings(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return f"want an array of strings, got {_kind(value)}" if not isinstance(value, list) else \
            "want an array of strings, got an array holding something else"
    return None


def _strslice(value: Any) -> str | None:
    """Docker's strslice: a string or an array of strings (or null)."""
    return None if isinstance(value, str) else _strings(value)


def _string_map(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        return f"want an object of strings, got {_kind(value)}" if not isinstance(value, dict) else \
            "want an object of strings, got an object holding something else"
    return None


def _set(value: Any) -> str | None:
    """A Go map[string]struct{}: an object whose values are objects (or null)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(item is None or isinstance(item, dict) for item in value.values()):
        return f"want an object of objects, got {_kind(value)}" if not isinstance(value, dict) else \
            "want an object of objects, got an object holding something else"
    return None


def _object(fields: dict[str, Check]) -> Check:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            return f"want an object, got {_kind(value)}"
        for key, field_check in fields.items():
            problem = field_check(value.get(key))
            if problem is not None:
                return f"{key}: {problem}"
        return None
    return check


def _array_of(item_check: Check) -> Check:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, list):
            return f"want an array, got {_kind(value)}"
        for index, item in enumerate(value):
            problem = item_check(item)
            if problem is not None:
                return f"[{index}]: {problem}"
        return None
    return check


def _diff_ids(value: Any) -> str | None:
    if value is None:
        return None  # an image of no layers (FROM scratch and config steps only): Go's omitempty leaves it out
    if not isinstance(value, list):
        return f"want an array of digests, got {_kind(value)}"
    for index, item in enumerate(value):
        if not isinstance(item, str) or not _DIGEST.fullmatch(item):
            return f"[{index}]: {str(item)[:80]!r} is not a sha256 digest"
    return None


_HEALTHCHECK = _object({"Test": _strings, "Interval": _integer, "Timeout": _integer, "StartPeriod": _integer,
                        "Retries": _integer})

#: container.Config, the fields moor reads.
CONTAINER_CONFIG: dict[str, Check] = {
    "Hostname": _string, "Domainname": _string, "User": _string, "AttachStdin": _boolean,
    "AttachStdout": _boolean, "AttachStderr": _boolean, "Tty": _boolean, "OpenStdin": _boolean,
    "StdinOnce": _boolean, "ArgsEscaped": _boolean, "NetworkDisabled": _boolean, "ExposedPorts": _set,
    "Env": _strings, "Cmd": _strslice, "Entrypoint": _strslice, "Shell": _strslice, "Healthcheck": _HEALTHCHECK,
    "Image": _string, "WorkingDir": _string, "MacAddress": _string, "StopSignal": _string, "Volumes": _set,
    "OnBuild": _strings, "Labels": _string_map, "StopTimeout": _integer,
}

_HISTORY_FIELDS: dict[str, Check] = {"created": _time, "author": _string, "created_by": _string,
                                     "comment": _string, "empty_layer": _boolean}
_HISTORY_ENTRY = _object(_HISTORY_FIELDS)

#: image.Image, the fields moor reads (``rootfs`` is required and checked on its own).
IMAGE_CONFIG: dict[str, Check] = {
    "architecture": _string, "variant": _string, "os": _string, "os.version": _string, "os.features": _strings,
    "author": _string, "comment": _string, "container": _string, "docker_version": _string, "created": _time,
    "config": _object(CONTAINER_CONFIG), "container_config": _object(CONTAINER_CONFIG),
    "history": _array_of(_HISTORY_ENTRY), "parent": _string, "id": _string,
}


def problems(config: Any) -> list[str]:
    """What is wrong with ``config`` (a decoded image config), one line per field; empty when it is good."""
    if not isinstance(config, dict):
        return [f"want an object, got {_kind(config)}"]
    found = []
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict):
        found.append(f"rootfs: want an object, got {_kind(rootfs)}")
    else:
        problem = _string(rootfs.get("type")) or _diff_ids(rootfs.get("diff_ids"))
        if problem is not None:
            found.append(f"rootfs: {problem}")
    for key, check in IMAGE_CONFIG.items():
        problem = check(config.get(key))
        if problem is not None:
            found.append(f"{key}: {problem}")
    return found


def sanitized(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the fields that fail their check (``config`` and history entries lose only their
    own bad fields). ``rootfs`` is kept as it is: the store refused bad diff IDs from the start."""
    clean = {key: value for key, value in config.items() if key not in IMAGE_CONFIG or IMAGE_CONFIG[key](value) is None}
    for key in ("config", "container_config"):
        inner = config.get(key)
        if isinstance(inner, dict) and key not in clean:
            clean[key] = _good_fields(inner, CONTAINER_CONFIG)
    history = config.get("history")
    if isinstance(history, list) and "history" not in clean:
        clean["history"] = [_good_fields(entry, _HISTORY_FIELDS) if isinstance(entry, dict) else {}
                            for entry in history]
    return clean


def _good_fields(value: dict[str, Any], fields: dict[str, Check]) -> dict[str, Any]:
    return {name: item for name, item in value.items() if name not in fields or fields[name](item) is None}


def normalized(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (checked) as Docker re-encodes it: a string Cmd, Entrypoint or Shell is a one-item array."""
    result = dict(config)
    for key in ("config", "container_config"):
        inner = config.get(key)
        if isinstance(inner, dict) and any(isinstance(inner.get(name), str) for name in _STRSLICES):
            result[key] = {name: [value] if name in _STRSLICES and isinstance(value, str) else value
                           for name, value in inner.items()}
    return result


_STRSLICES = ("Cmd", "Entrypoint", "Shell")
