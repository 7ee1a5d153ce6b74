"""A build step's image config and history text, byte for byte as Docker 20.10's classic builder writes them.

Docker's builder describes each step in Go's ``fmt`` words (``CMD %q`` of a string slice, ``HEALTHCHECK %q`` of
a struct pointer, ``VOLUME %v``), joins the step's command into ``created_by`` and marshals the image config
with Go's ``encoding/json`` (struct fields in their Go order, map keys sorted, ``<``, ``>`` and ``&`` escaped,
the top level's keys sorted). This module writes the ``fmt`` words; Go's JSON comes from
:mod:`moor.images.archive_v1` (shared with ``docker save``). An image built by moor from the same inputs (and
the same creation times) has the same config bytes, hence the same ID, as Docker's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from moor import __version__
from moor.images.archive_v1 import container_config as container_config_json
from moor.images.archive_v1 import go_json, go_time

#: The ``docker_version`` of the images moor builds: as Docker's, the engine's version (``/version``'s).
DOCKER_VERSION = __version__

_HISTORY_FIELDS = ("created", "author", "created_by", "comment", "empty_layer")
_NANOS = 1_000_000_000


# --------------------------------------------------------------------------- Go's fmt


def _go_escape(char: str, quote: str) -> str:
    """One character as Go's strconv writes it inside a ``quote``-quoted literal."""
    if char in (quote, "\\"):
        return "\\" + char
    if char.isprintable():
        return char
    simple = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
    if char in simple:
        return simple[char]
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` (what ``%q`` makes of a string)."""
    return '"' + "".join(_go_escape(char, '"') for char in text) + '"'


def go_quote_rune(value: int) -> str:
    """Go's ``strconv.QuoteRune`` (what ``%q`` makes of an integer: ``'\\x04'``, ``'A'``)."""
    char = chr(value) if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else "\ufffd"
    return "'" + _go_escape(char, "'") + "'"


def go_quote_list(items: Sequence[str] | None) -> str:
    """``%q`` of a Go string slice: ``["a" "b"]`` (``[]`` for none)."""
    return "[" + " ".join(go_quote(item) for item in items or ()) + "]"


def go_list(items: Sequence[str] | None) -> str:
    """``%v`` of a Go string slice: ``[a b]``."""
    return "[" + " ".join(items or ()) + "]"


def _fraction(value: int, precision: int) -> tuple[str, int]:
    """Go's ``fmtFrac``: the ``precision`` decimal digits of ``value`` below the unit (trailing zeros and a bare
    point dropped), and what is left above it."""
    digits = f"{value % 10 ** precision:0{precision}d}".rstrip("0")
    return ("." + digits if digits else ""), value // 10 ** precision


def go_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String``: ``0s``, ``1.5ms``, ``1m30s``, ``2h0m0s``."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < _NANOS:
        if value < 1_000:
            return f"{sign}{value}ns"
        precision, unit = (3, "\u00b5s") if value < 1_000_000 else (6, "ms")
        fraction, whole = _fraction(value, precision)
        return f"{sign}{whole}{fraction}{unit}"
    fraction, seconds = _fraction(value, 9)
    text = f"{seconds % 60}{fraction}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def healthcheck_text(health: Mapping[str, Any] | None) -> str:
    """``%q`` of Docker 20.10's ``*container.HealthConfig``: ``&{["CMD-SHELL" "x"] "5s" "3s" "0s" '\\x02'}``."""
    if health is None:
        return "<nil>"
    durations = " ".join(go_quote(go_duration(int(health.get(key) or 0)))
                         for key in ("Interval", "Timeout", "StartPeriod"))
    return f"&{{{go_quote_list(health.get('Test'))} {durations} {go_quote_rune(int(health.get('Retries') or 0))}}}"


# --------------------------------------------------------------------------- the image config


def _empty(value: Any) -> bool:
    """Go's omitempty: nil, false, 0, "" and empty slices and maps are left out."""
    return value is None or value is False or value == 0 or value == "" or value == [] or value == {}


def history_entry(created: str, created_by: str = "", author: str = "", comment: str = "",
                  empty_layer: bool = False) -> dict[str, Any]:
    """One ``history`` item as Docker writes it (empty fields left out)."""
    entry: dict[str, Any] = {"created": created}
    for key, value in (("author", author), ("created_by", created_by), ("comment", comment),
                       ("empty_layer", empty_layer)):
        if value:
            entry[key] = value
    return entry


def _go_history(entry: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"created": go_time(entry.get("created"))}
    for key in _HISTORY_FIELDS[1:]:
        if not _empty(entry.get(key)):
            result[key] = entry[key]
    return result


def new_image_config(parent: Mapping[str, Any] | None, config: Mapping[str, Any],
                     container_config: Mapping[str, Any], created: str, diff_id: str | None, author: str = "",
                     container: str = "", docker_version: str = DOCKER_VERSION, host_arch: str = "amd64",
                     host_os: str = "linux") -> bytes:
    """The image config JSON of a build step, as Docker's ``image.NewChildImage`` and ``MarshalJSON`` write it.

    ``parent`` is the whole config of the image the step starts from (None for ``FROM scratch``); ``config``
    the step's resulting ``config`` and ``container_config`` the step's (with the ``Cmd`` that ``created_by``
    joins), both with ``Image`` set to the parent's ID as Docker writes it; ``created`` an RFC 3339 stamp
    (``moor.timefmt.rfc3339_nano``); ``diff_id`` the step's layer, or None when it made none
    (``empty_layer``); ``author`` MAINTAINER's name; ``container`` the ID of the step's container, if one
    ran. The architecture, variant, OS version and features come from ``parent``.
    """
    parent = parent or {}
    created = go_time(created)
    command = container_config.get("Cmd") or []
    history = [_go_history(item) for item in parent.get("history") or []]
    history.append(_go_history(history_entry(created, " ".join(command), author, "", diff_id is None)))
    rootfs: dict[str, Any] = {"type": (parent.get("rootfs") or {}).get("type") or "layers"}
    diff_ids = list((parent.get("rootfs") or {}).get("diff_ids") or []) + ([diff_id] if diff_id else [])
    if diff_ids:
        rootfs["diff_ids"] = diff_ids
    document: dict[str, Any] = {
        "architecture": parent.get("architecture") or host_arch,
        "author": author,
        "config": container_config_json(config),
        "container": container,
        "container_config": container_config_json(container_config),
        "created": created,
        "docker_version": docker_version,
        "history": history,
        "os": parent.get("os") or host_os,
        "os.features": parent.get("os.features"),
        "os.version": parent.get("os.version"),
        "rootfs": rootfs,
        "variant": parent.get("variant"),
    }
    kept = {key: value for key, value in document.items()
            if key in ("container_config", "created", "rootfs") or (key == "config" and value is not None)
            or not _empty(value)}
    return go_json(kept).encode()


# --------------------------------------------------------------------------- the cache


def cache_key(parent_id: str, created_by: str, config: Mapping[str, Any], extra: Sequence[str] = ()) -> str:
    """The build cache's key of a step: its parent image, its ``created_by`` text (which names the instruction,
    its arguments, the build args a RUN sees and a COPY's content checksum), the config it leaves (Docker's
    cache compares the config too) and anything else that changes its result (``extra``: RUN mounts, network,
    ...). The image ID and hostname in ``config`` are ignored. ``sha256:<hex>``."""
    normalized = container_config_json(config)
    normalized.pop("Image", None)
    normalized.pop("Hostname", None)
    text = go_json([parent_id, created_by, normalized, list(extra)])
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
