"""``RUN --mount=...`` options (BuildKit's syntax): bind, cache, tmpfs and secret mounts, with BuildKit's errors."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from moor.errors import InvalidParameter


@dataclass(frozen=True, kw_only=True)
class RunMount:
    """One ``RUN --mount=...`` (BuildKit): bind (default), cache, tmpfs or secret.

    ``mode``/``uid``/``gid`` are None when not given; ``readonly`` already has its per-type default (bind
    and secret read-only, cache and tmpfs writable); ``size`` is a tmpfs's limit in bytes (None: none).
    ``target`` may be relative to the WORKDIR, or empty (the WORKDIR itself): :func:`mount_target` resolves it.
    A cache's ``id`` defaults to its cleaned target, a secret's to its source or its target's base name (and
    its target to ``/run/secrets/<id>``).
    """

    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    id: str = ""
    sharing: str = ""
    readonly: bool = True
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: int | None = None



_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_SHARING = ("shared", "private", "locked")
_MOUNT_KEYS = ("type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro", "readwrite",
               "rw", "required", "size", "id", "sharing", "mode", "uid", "gid")


def parse_mount(value: str, expand: Callable[[str], str] | None = None) -> RunMount:
    """One ``--mount`` value (CSV ``key=value`` fields) as BuildKit reads it, with its errors.

    ``expand`` expands each value (``${VAR}``); without it values are kept as written.
    """
    fields = _csv_fields(value)
    kind = "bind"
    values: dict[str, str] = {}
    readonly: bool | None = None
    required = False
    for item in fields:
        key, has_value, raw = item.partition("=")
        key = key.lower()
        if not has_value:
            if key in ("readonly", "ro"):
                readonly = True
            elif key in ("readwrite", "rw"):
                readonly = False
            elif key == "required":
                if kind not in ("secret", "ssh"):
                    raise InvalidParameter(f"unexpected key '{key}' for mount type '{kind}'")
                required = True
            else:
                raise InvalidParameter(f"invalid field '{item}' must be a key=value pair")
            continue
        if expand is None and key == "from" and 0 <= raw.find("$") < len(raw) - 1:
            raise InvalidParameter(f"'{key}' doesn't support variable expansion, define alias stage instead")
        text = expand(raw) if expand is not None else raw
        if key == "type":
            if text.lower() not in _MOUNT_TYPES:
                raise InvalidParameter(f'unsupported mount type "{text}"')
            kind = text.lower()
        elif key in ("readonly", "ro", "readwrite", "rw"):
            parsed = _go_bool(text)
            if parsed is None:
                raise InvalidParameter(f"invalid value for {key}: {text}")
            readonly = parsed if key in ("readonly", "ro") else not parsed
        elif key == "required":
            if kind not in ("secret", "ssh"):
                raise InvalidParameter(f"unexpected key '{key}' for mount type '{kind}'")
            parsed = _go_bool(text)
            if parsed is None:
                raise InvalidParameter(f"invalid value for {key}: {text}")
            required = parsed
        elif key == "size" and kind != "tmpfs":
            raise InvalidParameter(f"unexpected key '{key}' for mount type '{kind}'")
        elif key == "sharing" and text.lower() not in _SHARING:
            raise InvalidParameter(f'unsupported sharing value "{text}"')
        elif key not in _MOUNT_KEYS:
            raise InvalidParameter(f"unexpected key '{key}' in '{item}'")
        else:
            values[{"src": "source", "dst": "target", "destination": "target"}.get(key, key)] = text
    return _mount(kind, values, readonly, required)


def _mount(kind: str, values: dict[str, str], readonly: bool | None, required: bool) -> RunMount:
    """The checked mount from its parsed fields (BuildKit's per-type rules and defaults)."""
    numbers: dict[str, int | None] = {}
    for key, base in (("mode", 8), ("uid", 10), ("gid", 10)):
        numbers[key] = None
        if key in values:
            numbers[key] = _go_uint32(values[key], base)
            if numbers[key] is None:
                raise InvalidParameter(f"invalid value {values[key]} for {key}")
            if kind not in ("secret", "ssh", "cache"):
                raise InvalidParameter(f'{key} not allowed for "{kind}" type mounts')
    size = None
    if "size" in values:
        size = _ram_in_bytes(values["size"])
    sharing = values.get("sharing", "").lower()
    if kind == "secret":
        if values.get("from"):
            raise InvalidParameter("secret mount should not have a from")
        if sharing:
            raise InvalidParameter("secret mount should not define sharing")
        if not values.get("source") and not values.get("target") and not values.get("id"):
            raise InvalidParameter("invalid secret mount. one of source, target required")
        if values.get("source") and values.get("id"):
            raise InvalidParameter("both source and id can't be set")
    if sharing and kind != "cache":
        raise InvalidParameter(f"invalid cache sharing set for {kind} mount")
    if readonly is None:
        readonly = kind not in ("cache", "tmpfs")
    target = values.get("target", "")
    mount_id = values.get("id", "")
    if kind == "secret":
        mount_id = values.get("source", "") or mount_id or posixpath.basename(go_path_clean(target))
        target = target or f"/run/secrets/{posixpath.basename(go_path_clean(mount_id))}"
    elif kind == "cache":
        sharing = sharing or "shared"
        mount_id = mount_id or go_path_clean(target)
    return RunMount(type=kind, target=target, source=values.get("source", ""), from_=values.get("from", ""),
                    id=mount_id, sharing=sharing, readonly=readonly, mode=numbers["mode"], uid=numbers["uid"],
                    gid=numbers["gid"], required=required, size=size)


def go_path_clean(path: str) -> str:
    """Go's path.Clean: ``.`` for empty, no ``..`` above the root, no trailing slash."""
    if path == "":
        return "."
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def mount_target(mount: RunMount, workdir: str) -> str:
    """A mount's absolute target: relative ones (and an empty one) are in the WORKDIR, as BuildKit does.

    ``invalid mount target "/"`` when it comes to the root.
    """
    target = go_path_clean(posixpath.join("/", workdir or "/", mount.target))
    if target == "/":
        raise InvalidParameter(f'invalid mount target "{target}"')
    return target


def _go_uint32(text: str, base: int) -> int | None:
    """Go's strconv.ParseUint(text, base, 32); None when it is not one."""
    digits = "01234567" if base == 8 else "0123456789"
    if not text or any(char not in digits for char in text):
        return None
    value = int(text, base)
    return value if value < 1 << 32 else None


def _go_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool; None when it is not a boolean."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


_RAM = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKmMgGtTpP]?)[iI]?[bB]?$")


def _ram_in_bytes(text: str) -> int:
    """docker/go-units' RAMInBytes: ``64m``, ``1g``, ``512kb`` (binary units)."""
    match = _RAM.match(text.strip())
    if match is None:
        raise InvalidParameter(f"invalid value for size: {text}")
    power = "kmgtp".find(match.group(2).lower()) + 1 if match.group(2) else 0
    return int(float(match.group(1)) * (1024 ** power))


def _csv_fields(value: str) -> list[str]:
    """The fields of a CSV line (``"a,b",c``), as Go's encoding/csv reads one record."""
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    index = 0
    at_start = True
    while index < len(value):
        char = value[index]
        if quoted:
            if char == '"':
                if value[index + 1:index + 2] == '"':
                    current.append('"')
                    index += 1
                else:
                    quoted = False
            else:
                current.append(char)
        elif char == '"' and at_start:
            quoted = True
            at_start = False
        elif char == ",":
            fields.append("".join(current))
            current = []
            at_start = True
        else:
            current.append(char)
            at_start = False
        index += 1
    if quoted:
        raise InvalidParameter('failed to parse csv mounts: parse error: extraneous or missing " in quoted-field')
    fields.append("".join(current))
    return fields
