"""``docker system df``: the space images, volumes and the build cache take (``GET /system/df``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moor.containers import views as container_views
from moor.images import views

if TYPE_CHECKING:
    from moor.services.build.cache import BuildCache
    from moor.services.containers import ContainerService
    from moor.services.images import ImageService
    from moor.services.volumes import VolumeService


def disk_usage(images: ImageService, volumes: VolumeService, build_cache: BuildCache | None = None,
               containers: ContainerService | None = None) -> dict[str, Any]:
    """Docker's DiskUsage: each image's size shared with others and its containers, every container with its
    sizes (``SizeRw``, ``SizeRootFs``), the volumes' usage, the build cache's records (and ``BuilderSize``, what
    20.10 still sends: the bytes no image shares)."""
    everything = images.list(all_images=True)
    chains = {image.id: images.store.layer_chain(image) for image in everything}
    users_of_layer: dict[str, int] = {}
    for layers in chains.values():
        for layer in layers:
            users_of_layer[layer.chain_id] = users_of_layer.get(layer.chain_id, 0) + 1
    rows = []
    for image in everything:
        row = views.summary(images, image)
        row["Containers"] = len(images.users(image.id))
        row["SharedSize"] = sum(layer.disk_size for layer in chains[image.id] if users_of_layer[layer.chain_id] > 1)
        rows.append(row)
    unique_layers = {layer.chain_id: layer.disk_size for layers in chains.values() for layer in layers}
    cache = build_cache.usage() if build_cache is not None else []
    listed = container_views.summaries(containers, containers.list_containers(True, {}, -1), size=True) \
        if containers is not None else []
    return {"LayersSize": sum(unique_layers.values()), "Images": rows, "Containers": listed,
            "Volumes": volumes.usage(), "BuildCache": cache,
            "BuilderSize": sum(row["Size"] for row in cache if not row["Shared"])}
