"""Docker's JSON shapes of images: summaries (``/images/json``), inspect and history."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from moor.errors import InvalidParameter
from moor.images.healthcheck import effective_config

if TYPE_CHECKING:
    from moor.images.store import ImageRecord
    from moor.services.images import ImageService

#: The container-config fields Docker always shows, with their zero values.
CONTAINER_CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
    "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None,
    "Labels": None,
}


def parse_timestamp(value: str | float | int) -> float:
    """RFC 3339 (any fraction), or seconds since the epoch, as Docker filters accept."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    ago = _go_duration(text)
    if ago is not None:  # Docker: a duration means that long before now ("24h", "1h30m")
        return time.time() - ago
    base, _, rest = text.partition(".")
    fraction = ""
    zone = "Z"
    if rest:
        digits = "".join(c for c in rest if c.isdigit())
        fraction, zone = digits, rest[len(digits):] or "Z"
    elif base.endswith("Z"):
        base = base[:-1]
    elif len(base) > 19 and base[19] in "+-":
        base, zone = base[:19], base[19:]
    try:
        moment = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise InvalidParameter(f"invalid timestamp {text!r}") from None
    offset = 0
    if zone not in ("Z", ""):
        sign = -1 if zone[0] == "-" else 1
        hours, _, minutes = zone[1:].partition(":")
        offset = sign * (int(hours) * 3600 + int(minutes or 0) * 60)
    seconds = moment.replace(tzinfo=UTC).timestamp() - offset
    return seconds + (float("0." + fraction) if fraction else 0.0)


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _go_duration(text: str) -> float | None:
    """Seconds in a Go duration (``1h30m``, ``-5s``, ``1.5h``), or None if ``text`` is not one."""
    match = re.fullmatch(r"([-+]?)((?:[0-9]*\.?[0-9]+(?:ns|us|\u00b5s|ms|s|m|h))+)", text)
    if match is None:
        return None
    seconds = sum(float(number) * _DURATION_UNITS[unit]
                  for number, unit in re.findall(r"([0-9]*\.?[0-9]+)(ns|us|\u00b5s|ms|s|m|h)", match.group(2)))
    return -seconds if match.group(1) == "-" else seconds


def format_timestamp(seconds: float) -> str:
    """RFC 3339 with nanoseconds in UTC, Docker's ``Created`` format."""
    whole = int(seconds)
    nanos = int(round((seconds - whole) * 1e9))
    stamp = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z" if nanos else f"{stamp}Z"


def created_time(image: ImageRecord) -> float:
    """When the image was built (its config's ``created``), else when it entered the store."""
    created = image.config.get("created")
    try:
        return parse_timestamp(created) if created else image.created
    except InvalidParameter:
        return image.created


def container_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    return {**CONTAINER_CONFIG_DEFAULTS, **config}


def summary(service: ImageService, image: ImageRecord) -> dict[str, Any]:
    tags = service.tags_of(image.id)
    digests = service.digests_of(image.id)
    size = service.size(image)
    return {
        "Containers": -1,
        "Created": int(created_time(image)),
        "Id": image.id,
        "Labels": (image.config.get("config") or {}).get("Labels") or {},
        "ParentId": image.parent,
        "RepoDigests": digests or (["<none>@<none>"] if not tags else []),
        "RepoTags": tags or ["<none>:<none>"],
        "SharedSize": -1,
        "Size": size,
        "VirtualSize": size,
    }


def inspect(service: ImageService, image: ImageRecord, graph_data: dict[str, str]) -> dict[str, Any]:
    config = image.config
    size = service.size(image)
    return {
        "Id": image.id,
        "RepoTags": service.tags_of(image.id),
        "RepoDigests": service.digests_of(image.id),
        "Parent": image.parent,
        "Comment": config.get("comment", ""),
        "Created": config.get("created") or format_timestamp(image.created),
        "Container": config.get("container", ""),
        "ContainerConfig": container_config(config.get("container_config") or {}),
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": container_config(effective_config(config)),
        "Architecture": config.get("architecture", ""),
        **({"Variant": config["variant"]} if config.get("variant") else {}),
        "Os": config.get("os", ""),
        "Size": size,
        "VirtualSize": size,
        "GraphDriver": {"Data": graph_data, "Name": "overlay"},
        "RootFS": {"Type": "layers", "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": format_timestamp(image.last_tag_time) if image.last_tag_time
                     else "0001-01-01T00:00:00Z"},
    }


def history(service: ImageService, image: ImageRecord) -> list[dict[str, Any]]:
    """Newest first; each non-empty history entry takes the next layer's size."""
    layers = service.store.layer_chain(image)
    entries = image.config.get("history") or [{} for _ in layers]
    rows: list[dict[str, Any]] = []
    layer_index = 0
    for entry in entries:
        size = 0
        if not entry.get("empty_layer") and layer_index < len(layers):
            size = layers[layer_index].disk_size
            layer_index += 1
        rows.append({
            "Id": "<missing>",
            "Created": int(parse_timestamp(entry["created"])) if entry.get("created") else 0,
            "CreatedBy": entry.get("created_by", ""),
            "Tags": None,
            "Size": size,
            "Comment": entry.get("comment", ""),
        })
    rows.reverse()
    if rows:
        rows[0]["Id"] = image.id
        rows[0]["Tags"] = service.tags_of(image.id) or None
    return rows
