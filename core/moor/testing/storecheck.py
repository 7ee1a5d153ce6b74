"""Check a moord data root for half-done work, through the API and on disk.

After moord was killed and started again, everything it shows must be whole: every image lists and
inspects, every layer an image needs has its record and its content in the storage driver, every
container record inspects and has its snapshot, and nothing interrupted work left lies around
(temporary files, spool directories, ``.pending`` layer marks, container directories without a
record, snapshots that no layer or container owns).

Written for the default drivers (``overlay`` storage): the paths are theirs.
"""

from __future__ import annotations

import os
import time
from typing import Any

from moor.client import Client, DaemonError, quote_name
from moor.fsutil import read_json
from moor.images.store import chain_ids, hex_of

#: what the overlay driver keeps beside its keys
STORAGE_FIXTURES = {"l", ".empty"}


def listdir_sorted(path: str) -> list[str]:
    """The names in ``path``, sorted; none when it does not exist."""
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def _wait_for_removed_layers(storage: str, timeout: float = 30.0) -> None:
    """Give the overlay driver's reaper the time to delete the layers removed last (``.tmp-rm-*``, deleted on a
    thread of their own after their removal returned): what is still there after ``timeout`` is reported."""
    deadline = time.monotonic() + timeout
    while any(name.startswith(".tmp-rm-") for name in listdir_sorted(storage)) and time.monotonic() < deadline:
        time.sleep(0.1)


def _api(client: Client, problems: list[str], path: str) -> Any:
    try:
        return client.get(path)
    except DaemonError as err:
        problems.append(f"GET {path}: {err.status} {err.message}")
    except (OSError, ValueError) as err:
        problems.append(f"GET {path}: {err}")
    return None


def check_images(client: Client, data_root: str) -> list[str]:
    """Images list and inspect; their layers and the driver's keys agree; no temporary leftovers."""
    problems: list[str] = []
    image_root = os.path.join(data_root, "image")
    storage = os.path.join(data_root, "storage", "overlay")
    images = _api(client, problems, "/images/json?all=1")
    for image in images or []:
        for path in (f"/images/{quote_name(image['Id'])}/json", f"/images/{quote_name(image['Id'])}/history"):
            _api(client, problems, path)
    problems += [f"temporary file image/tmp/{n}" for n in listdir_sorted(os.path.join(image_root, "tmp"))]
    for sub in ("blobs/sha256", "layers", "images", ""):
        problems += [f"temporary file image/{sub}/{n}".replace("//", "/")
                     for n in listdir_sorted(os.path.join(image_root, sub)) if n.startswith(".tmp-")]
    layers = listdir_sorted(os.path.join(image_root, "layers"))
    problems += [f"interrupted layer mark image/layers/{n}" for n in layers if n.endswith(".pending")]
    recorded = {n[:-5] for n in layers if n.endswith(".json")}
    for key in recorded:
        if not os.path.isdir(os.path.join(storage, key, "diff")):
            problems.append(f"layer {key[:12]} is recorded but its content is missing from the storage driver")
    for name in listdir_sorted(os.path.join(image_root, "images")):
        if not name.endswith(".json"):
            continue
        record = read_json(os.path.join(image_root, "images", name)) or {}
        diff_ids = ((record.get("config") or {}).get("rootfs") or {}).get("diff_ids") or []
        for chain in chain_ids(diff_ids):
            if hex_of(chain) not in recorded:
                problems.append(f"image {name[:12]} needs layer {hex_of(chain)[:12]}, which is not recorded")
    containers = set(listdir_sorted(os.path.join(data_root, "containers")))
    _wait_for_removed_layers(storage)
    for key in listdir_sorted(storage):
        if key in STORAGE_FIXTURES:
            continue
        if key.startswith(".tmp-"):
            problems.append(f"temporary storage directory {key}")
        elif key not in recorded and key.removesuffix("-init") not in containers:  # a container's init layer too
            problems.append(f"snapshot {key[:12]} belongs to no layer and no container")
    return problems


def check_containers(client: Client, data_root: str) -> list[str]:
    """Every container record inspects and has its snapshot; no directory is left without a record."""
    problems: list[str] = []
    storage = os.path.join(data_root, "storage", "overlay")
    listed = _api(client, problems, "/containers/json?all=1") or []
    listed_ids = {c["Id"] for c in listed}
    for name in listdir_sorted(os.path.join(data_root, "containers")):
        directory = os.path.join(data_root, "containers", name)
        record = read_json(os.path.join(directory, "config.v2.json"))
        if record is None:
            problems.append(f"container directory {name[:12]} has no record")
            continue
        if name not in listed_ids:
            problems.append(f"container {name[:12]} has a record but is not listed")
        if not os.path.isdir(os.path.join(storage, record.get("storage_key") or name)):
            problems.append(f"container {name[:12]} has lost its snapshot")
    for container in listed:
        _api(client, problems, f"/containers/{container['Id']}/json")
    return problems


def check_store(client: Client, data_root: str) -> list[str]:
    """Everything :func:`check_images` and :func:`check_containers` find (empty: clean)."""
    return check_images(client, data_root) + check_containers(client, data_root)
