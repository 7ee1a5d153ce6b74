"""The CLI side of ``-v``/``--volume`` and ``--mount``, as the docker CLI parses them.

``-v`` entries with a source (``name:/path``, ``/host:/path``) become ``HostConfig.Binds``; a bare
``-v /path`` becomes a ``Config.Volumes`` entry (an anonymous volume). The daemon validates the
rest. ``--mount`` is a CSV list of ``key=value`` fields turned into an API Mount object here, with
the docker CLI's errors (``unexpected key``, ``target is required``, ...).
"""

from __future__ import annotations

import csv
import os
from typing import Any

TRUE_WORDS = ("1", "t", "T", "TRUE", "true", "True")
FALSE_WORDS = ("0", "f", "F", "FALSE", "false", "False")
BOOL_KEYS = ("readonly", "ro", "volume-nocopy", "bind-nonrecursive")


class MountFlagError(ValueError):
    """A ``-v`` or ``--mount`` value the docker CLI would refuse; the message is the CLI's."""


def split_volumes(values: tuple[str, ...] | list[str]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """``-v`` values -> (Binds, Config.Volumes); ``./dir`` and ``.`` host parts are made absolute."""
    binds: list[str] = []
    anonymous: dict[str, dict[str, Any]] = {}
    for value in values:
        parts = value.split(":")
        if any(part == "" for part in parts) and len(parts) > 1:
            raise MountFlagError(f"invalid spec: {value}: empty section between colons")
        if len(parts) == 1:
            anonymous[value] = {}
            continue
        host = parts[0]
        if host == "." or host.startswith("./") or host == ".." or host.startswith("../"):
            host = os.path.abspath(host)
        binds.append(":".join([host, *parts[1:]]))
    return binds, anonymous


def _bool(key: str, value: str | None) -> bool:
    if value is None:
        return True
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise MountFlagError(f"invalid value for {key}: {value}")


def _size(value: str) -> int:
    from moor.errors import InvalidParameter
    from moor.units import parse_size

    try:
        return int(parse_size(value, "tmpfs-size"))
    except (InvalidParameter, ValueError):
        raise MountFlagError(f"invalid value for tmpfs-size: {value}") from None


def parse_mount(value: str) -> dict[str, Any]:
    """One ``--mount`` value -> an API Mount object."""
    try:
        fields = next(csv.reader([value]))
    except (csv.Error, StopIteration):
        raise MountFlagError(f"invalid mount specification: {value}") from None
    mount: dict[str, Any] = {"Type": "volume"}
    bind: dict[str, Any] = {}
    volume: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    for field in fields:
        key, sep, raw = field.partition("=")
        key = key.strip().lower()
        item: str | None = raw if sep else None
        if item is None and key not in BOOL_KEYS:
            raise MountFlagError(f"invalid field '{field}' must be a key=value pair")
        text = item or ""
        if key == "type":
            mount["Type"] = text
        elif key in ("source", "src"):
            mount["Source"] = text
        elif key in ("target", "dst", "destination"):
            mount["Target"] = text
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = _bool(key, item)
        elif key == "consistency":
            mount["Consistency"] = text
        elif key == "bind-propagation":
            bind["Propagation"] = text
        elif key == "bind-nonrecursive":
            bind["NonRecursive"] = _bool(key, item)
        elif key == "volume-nocopy":
            volume["NoCopy"] = _bool(key, item)
        elif key == "volume-label":
            name, _, label = text.partition("=")
            volume.setdefault("Labels", {})[name] = label
        elif key == "volume-driver":
            volume.setdefault("DriverConfig", {})["Name"] = text
        elif key == "volume-opt":
            name, _, option = text.partition("=")
            volume.setdefault("DriverConfig", {}).setdefault("Options", {})[name] = option
        elif key == "tmpfs-size":
            tmpfs["SizeBytes"] = _size(text)
        elif key == "tmpfs-mode":
            try:
                tmpfs["Mode"] = int(text, 8)
            except ValueError:
                raise MountFlagError(f"invalid value for {key}: {text}") from None
        else:
            raise MountFlagError(f"unexpected key '{key}' in '{field}'")
    if not mount["Type"]:
        raise MountFlagError("type is required")
    if not mount.get("Target"):
        raise MountFlagError("target is required")
    kind = mount["Type"]
    for prefix, options, key in (("volume", volume, "VolumeOptions"), ("bind", bind, "BindOptions"),
                                 ("tmpfs", tmpfs, "TmpfsOptions")):
        if options:
            if kind != prefix:
                raise MountFlagError(f"cannot mix '{prefix}-*' options with mount type '{kind}'")
            mount[key] = options
    return mount
