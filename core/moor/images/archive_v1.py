"""Legacy v1 layer IDs and ``json`` files of ``docker save`` archives, byte for byte as Docker 20.10.

A docker-save archive holds one directory per layer, named by a "v1 ID" and
holding a ``json`` file. Docker derives both from the image config:

* every layer but the top one gets an empty v1 image (``created`` at the Unix
  epoch, a zero container config); the top layer gets the config's v1 fields
  (``created``, ``container_config``, ``config``, ``architecture``, ``os``, ...)
  decoded the way Go decodes them into its ``V1Image`` struct;
* the v1 ID is the sha256 of that v1 image serialised without ``id``, as a JSON
  object with sorted keys, plus ``layer_id`` (the chain ID of the layers up to
  this one) and ``parent`` (the previous layer's v1 ID as a digest);
* the ``json`` file is the v1 image with ``id``, ``parent`` (hex) and the
  image's ``os`` set, in Go struct field order.

Reproducing Go's encoding (struct field order, omitempty, sorted maps, HTML-safe
string escapes, RFC 3339 times) makes the IDs equal to Docker's, so archives we
write share layer directory names with archives Docker writes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from moor.timefmt import ZERO_TIME

EPOCH = "1970-01-01T00:00:00Z"

# V1Image fields as Go decodes them from an image config ("parent" belongs to Image, not V1Image).
_V1_FIELDS = ["id", "comment", "created", "container", "container_config", "docker_version", "author",
              "config", "architecture", "variant", "os", "Size"]
_CONFIG_FIELDS = ["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
                  "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "ArgsEscaped",
                  "Image", "Volumes", "WorkingDir", "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild",
                  "Labels", "StopSignal", "StopTimeout", "Shell"]
_HEALTH_FIELDS = ["Test", "Interval", "Timeout", "StartPeriod", "Retries"]
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})")


# --- Go's encoding/json output ---------------------------------------------------------------

def _go_string(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"' or char == "\\":
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or char in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")  # a lone surrogate is invalid UTF-8 to Go
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it; dicts keep their insertion order."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_go_string(key)}:{go_json(item)}" for key, item in value.items()) + "}"
    return "[" + ",".join(go_json(item) for item in value) + "]"


# --- Go's decoding into the Docker structs ----------------------------------------------------

def _fields(raw: Any, names: Sequence[str]) -> dict[str, Any]:
    """Map JSON keys to struct field names as Go does (exact name first, then case-insensitive)."""
    found: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return found
    lowered = {name.lower(): name for name in reversed(names)}
    for key, value in raw.items():
        name = key if key in names else lowered.get(key.lower())
        if name is not None:
            found[name] = value
    return found


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else False


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _strings(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [_str(item) for item in value]


def _str_slice(value: Any) -> list[str] | None:
    """Docker's StrSlice: a string or a list of strings."""
    return [value] if isinstance(value, str) else _strings(value)


def _set(value: Any) -> dict[str, Any] | None:
    return {key: {} for key in sorted(value)} if isinstance(value, dict) else None


def _labels(value: Any) -> dict[str, str] | None:
    return {key: _str(value[key]) for key in sorted(value)} if isinstance(value, dict) else None


def go_time(value: Any) -> str:
    """An RFC 3339 time as Go's time.Time marshals it (trailing zero fraction digits dropped)."""
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return ZERO_TIME
    fraction = (match.group(2) or "")[:9].rstrip("0")
    zone = match.group(3)
    if zone in ("+00:00", "-00:00"):
        zone = "Z"
    return match.group(1) + ("." + fraction if fraction else "") + zone


def _health(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    found = _fields(raw, _HEALTH_FIELDS)
    out: dict[str, Any] = {}
    test = _strings(found.get("Test"))
    if test:
        out["Test"] = test
    for name in _HEALTH_FIELDS[1:]:
        if _int(found.get(name)):
            out[name] = _int(found.get(name))
    return out


def container_config(raw: Any) -> dict[str, Any]:
    """Docker's container.Config decoded from ``raw`` and ready for :func:`go_json`."""
    found = _fields(raw, _CONFIG_FIELDS)
    convert: dict[str, Callable[[Any], Any]] = {
        "ExposedPorts": _set, "Env": _strings, "Cmd": _str_slice, "Healthcheck": _health, "Volumes": _set,
        "Entrypoint": _str_slice, "OnBuild": _strings, "Labels": _labels, "Shell": _str_slice,
    }
    out: dict[str, Any] = {}
    for name in _CONFIG_FIELDS:
        value = found.get(name)
        if name in convert:
            out[name] = convert[name](value)
        elif name in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce",
                      "ArgsEscaped", "NetworkDisabled"):
            out[name] = _bool(value)
        elif name == "StopTimeout":
            out[name] = _int(value) if isinstance(value, int) and not isinstance(value, bool) else None
        else:
            out[name] = _str(value)
    for name in ("ExposedPorts", "Shell"):
        if not out[name]:
            del out[name]
    for name in ("Healthcheck", "StopTimeout"):
        if out[name] is None:
            del out[name]
    for name in ("ArgsEscaped", "NetworkDisabled", "MacAddress", "StopSignal"):
        if not out[name]:
            del out[name]
    return out


def _v1_image(fields: dict[str, Any]) -> dict[str, Any]:
    """A V1Image in Go field order with omitempty applied; ``fields`` holds decoded values."""
    order = ["id", "parent", "comment", "created", "container", "container_config", "docker_version",
             "author", "config", "architecture", "variant", "os", "Size"]
    out = {}
    for name in order:
        value = fields.get(name)
        if name in ("created", "container_config") or value:
            out[name] = value
    return out


def _top_fields(config: dict[str, Any]) -> dict[str, Any]:
    """The V1Image fields of an image config, decoded as Go does."""
    found = _fields(config, _V1_FIELDS)
    fields: dict[str, Any] = {name: _str(found.get(name)) for name in
                              ("comment", "container", "docker_version", "author", "architecture", "variant", "os")}
    fields["created"] = go_time(found.get("created"))
    fields["container_config"] = container_config(found.get("container_config"))
    fields["config"] = container_config(found["config"]) if isinstance(found.get("config"), dict) else None
    fields["Size"] = _int(found.get("Size"))
    return fields


# --- the legacy layers ------------------------------------------------------------------------

@dataclass
class LegacyLayer:
    """One layer directory of a docker-save archive."""

    v1_id: str       #: 64 hex digits: the directory name
    json: bytes      #: the ``json`` file


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The chain IDs of a layer stack: chain[0] = diff[0], chain[i] = sha256(chain[i-1] + " " + diff[i])."""
    chains: list[str] = []
    for diff_id in diff_ids:
        chain = diff_id if not chains else "sha256:" + hashlib.sha256(f"{chains[-1]} {diff_id}".encode()).hexdigest()
        chains.append(chain)
    return chains


def legacy_layers(config: dict[str, Any], diff_ids: Sequence[str]) -> list[LegacyLayer]:
    """The v1 layer IDs and ``json`` files Docker 20.10 writes for an image, bottom first."""
    top = _top_fields(config)
    image_os = top["os"]
    layers: list[LegacyLayer] = []
    parent = ""
    for index, chain in enumerate(chain_ids(diff_ids)):
        if index == len(diff_ids) - 1:
            fields = dict(top)
        else:
            fields = {"created": EPOCH, "container_config": container_config(None)}
        identity = dict(_v1_image(fields))
        identity["layer_id"] = chain
        if parent:
            identity["parent"] = "sha256:" + parent
        encoded = go_json(dict(sorted(identity.items())))
        v1_id = hashlib.sha256(encoded.encode()).hexdigest()
        fields.update(id=v1_id, parent=parent, os=image_os)
        layers.append(LegacyLayer(v1_id=v1_id, json=go_json(_v1_image(fields)).encode()))
        parent = v1_id
    return layers
