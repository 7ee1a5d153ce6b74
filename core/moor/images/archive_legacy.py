"""Legacy (v1) ``docker save`` archives: a ``repositories`` file and ``<v1 id>/json`` + ``layer.tar``, no
manifest.json — as Docker before 1.10 wrote them, and as Docker 20.10 still loads them.

Docker 20.10 loads each v1 ID of a chain (``json``'s ``parent``, bottom first) as an image of its own: its
config is the v1 ``json`` without ``id``, ``parent``, ``Size``, ``parent_id``, ``layer_id`` and ``throwaway``,
with ``rootfs`` (the diff IDs of the layers up to it) and ``history`` (one entry per v1 image: created,
author, the container command as ``created_by``, comment) added, top-level keys sorted as Go marshals a
map; each image's parent is the one below it. A legacy load prints no ``Loaded image`` lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

from moor.errors import InvalidParameter
from moor.images.archive_read import ArchiveImage, ArchiveLayer
from moor.images.archive_v1 import go_json, go_time
from moor.images.compression import open_layer

#: Docker refuses a deeper chain than this (layer.maxLayerDepth).
MAX_DEPTH = 125
_V1_ID = re.compile(r"^[a-f0-9]{64}$")
_DROPPED = ("id", "parent", "Size", "parent_id", "layer_id", "throwaway")
_MAX_JSON = 1 << 20


def _bad(message: str) -> InvalidParameter:
    return InvalidParameter(f"invalid archive: {message}")


def _read_json(path: str, rel: str) -> Any:
    try:
        if os.path.islink(path) or not os.path.isfile(path):
            raise _bad(f"{rel}: missing")
        if os.path.getsize(path) > _MAX_JSON:
            raise _bad(f"{rel}: too large")
        with open(path, "rb") as handle:
            return json.loads(handle.read())
    except (ValueError, RecursionError):
        raise _bad(f"{rel}: not JSON") from None


def is_legacy(workdir: str) -> bool:
    """Whether ``workdir`` holds a legacy archive: a ``repositories`` file and no manifest.json."""
    return os.path.isfile(os.path.join(workdir, "repositories")) and \
        not os.path.exists(os.path.join(workdir, "manifest.json"))


def _diff_id(path: str) -> str:
    digest = hashlib.sha256()
    with open_layer(path) as layer:
        while chunk := layer.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _history(v1: dict[str, Any]) -> dict[str, Any]:
    """Docker's HistoryFromConfig: omitempty fields in Go's struct order."""
    entry: dict[str, Any] = {"created": go_time(v1.get("created"))}
    if isinstance(v1.get("author"), str) and v1["author"]:
        entry["author"] = v1["author"]
    command = (v1.get("container_config") or {}).get("Cmd") if isinstance(v1.get("container_config"), dict) else None
    if isinstance(command, list) and command:
        entry["created_by"] = " ".join(str(part) for part in command)
    if isinstance(v1.get("comment"), str) and v1["comment"]:
        entry["comment"] = v1["comment"]
    return entry


def _config(v1: dict[str, Any], diff_ids: list[str], history: list[dict[str, Any]]) -> bytes:
    """Docker's MakeConfigFromV1Config: the v1 json, less its v1 keys, with rootfs and history; keys sorted."""
    fields = {key: value for key, value in v1.items() if key not in _DROPPED}
    fields["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    fields["history"] = history
    return go_json(dict(sorted(fields.items()))).encode()


class _Loader:
    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.done: dict[str, tuple[ArchiveImage, list[str], list[dict[str, Any]]]] = {}
        self.order: list[str] = []

    def load(self, top: str) -> ArchiveImage:
        chain: list[tuple[str, dict[str, Any]]] = []
        current: str = top
        while current not in self.done:
            if not _V1_ID.match(current):
                raise _bad(f"invalid v1 image ID {current!r}")
            if len(chain) >= MAX_DEPTH or current in (v1_id for v1_id, _ in chain):
                raise _bad(f"image {top}: the chain of parents is too deep or loops")
            v1 = _read_json(os.path.join(self.workdir, current, "json"), f"{current}/json")
            if not isinstance(v1, dict):
                raise _bad(f"{current}/json: expected a JSON object")
            chain.append((current, v1))
            parent = v1.get("parent")
            if not parent:
                break
            if not isinstance(parent, str):
                raise _bad(f"{current}/json: parent is not a string")
            current = parent
        for v1_id, v1 in reversed(chain):
            parent = v1.get("parent") or ""
            below = self.done.get(parent) if parent else None
            layers, diff_ids, history = (list(below[0].layers), list(below[1]), list(below[2])) if below \
                else ([], [], [])
            if len(layers) >= MAX_DEPTH:
                raise _bad(f"image {top}: the chain of parents is too deep")
            path = os.path.join(self.workdir, v1_id, "layer.tar")
            if os.path.islink(path) or not os.path.isfile(path):
                raise _bad(f"{v1_id}/layer.tar: missing")
            layers.append(ArchiveLayer(path=path, digest=None, media_type=""))
            diff_ids.append(_diff_id(path))
            history.append(_history(v1))
            config = _config(v1, diff_ids, history)
            parent_id = "sha256:" + hashlib.sha256(below[0].config).hexdigest() if below else ""
            image = ArchiveImage(config=config, layers=layers, repo_tags=[], parent=parent_id, legacy=True)
            self.done[v1_id] = (image, diff_ids, history)
            self.order.append(v1_id)
        return self.done[top][0]


def read_legacy(workdir: str) -> list[ArchiveImage]:
    """The images of a legacy archive spooled into ``workdir``, parents before children, each with its tags."""
    repositories = _read_json(os.path.join(workdir, "repositories"), "repositories")
    if not isinstance(repositories, dict):
        raise _bad("repositories: expected a JSON object")
    loader = _Loader(workdir)
    tags: dict[str, list[str]] = {}
    for repo in sorted(repositories):
        tagged = repositories[repo]
        if not isinstance(tagged, dict):
            raise _bad(f"repositories: {repo!r}: expected a JSON object")
        for tag in sorted(tagged):
            v1_id = tagged[tag]
            if not isinstance(v1_id, str):
                raise _bad(f"repositories: {repo}:{tag}: expected a v1 image ID")
            loader.load(v1_id)
            tags.setdefault(v1_id, []).append(f"{repo}:{tag}")
    for v1_id, names in tags.items():
        loader.done[v1_id][0].repo_tags.extend(names)
    return [loader.done[v1_id][0] for v1_id in loader.order]
