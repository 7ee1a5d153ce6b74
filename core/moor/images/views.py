"""Docker's JSON shapes of images: summaries (``/images/json``), inspect and history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moor import API_VERSION
from moor.api import versions
from moor.errors import InvalidParameter
from moor.images.changes import ZERO_CONFIG
from moor.images.healthcheck import effective_config
from moor.timefmt import ZERO_TIME, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from moor.images.store import ImageRecord
    from moor.services.images import ImageService

#: The container-config fields Docker always shows, with their zero values.
CONTAINER_CONFIG_DEFAULTS: dict[str, Any] = ZERO_CONFIG


def created_time(image: ImageRecord) -> float:
    """When the image was built (its config's ``created``), else when it entered the store."""
    created = image.config.get("created")
    try:
        return parse_timestamp(created) if isinstance(created, str) and created else image.created
    except (InvalidParameter, ValueError, OverflowError):
        return image.created


def _history_time(created: Any) -> int:
    """A history entry's ``created`` in seconds; 0 when missing or unreadable."""
    try:
        return int(parse_timestamp(created)) if isinstance(created, str) and created else 0
    except (InvalidParameter, ValueError, OverflowError):
        return 0


def container_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    return {**CONTAINER_CONFIG_DEFAULTS, **config}


def summary(service: ImageService, image: ImageRecord, version: str = API_VERSION) -> dict[str, Any]:
    """A ``/images/json`` row as API ``version`` shows it."""
    tags = service.tags_of(image.id)
    digests = service.digests_of(image.id)
    size = service.size(image)
    return versions.image_summary({
        "Containers": -1,
        "Created": int(created_time(image)),
        "Id": image.id,
        "Labels": (image.config.get("config") or {}).get("Labels") or {},
        "ParentId": image.parent,
        "RepoDigests": digests,
        "RepoTags": tags,  # untagged: <none>:<none> before API 1.43 (pulled by digest: no tag, not <none>)
        "SharedSize": -1,
        "Size": size,
    }, version)


def inspect(service: ImageService, image: ImageRecord, graph_data: dict[str, str],
            version: str = API_VERSION) -> dict[str, Any]:
    """An image's inspect document as API ``version`` shows it."""
    config = image.config
    size = service.size(image)
    return versions.image_inspect({
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
        "GraphDriver": {"Data": graph_data, "Name": "overlay"},
        "RootFS": {"Type": "layers", "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": format_timestamp(image.last_tag_time) if image.last_tag_time
                     else ZERO_TIME},
    }, version)


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
            "Created": _history_time(entry.get("created")),
            "CreatedBy": entry.get("created_by", ""),
            "Tags": None,
            "Size": size,
            "Comment": entry.get("comment", ""),
        })
    rows.reverse()
    # as Docker: the rows take the IDs (and tags) of the image and its local parents, newest first
    current: ImageRecord | None = image
    for row in rows:
        if current is None:
            break
        row["Id"] = current.id
        row["Tags"] = service.tags_of(current.id) or None
        current = service.store.get(current.parent) if current.parent else None
    return rows
