"""``--cache-from``: images (pulled, or built elsewhere) whose history can stand in for a build's steps.

Docker's classic builder trusts such an image step by step: a step hits when the image's history starts
with the whole history (and layers) of the step's parent image and the next history entry was made by the
same command (its ``created_by``: the command with its build arguments, or the ``#(nop)`` form with a
content checksum for COPY and ADD). The image for a hit that is not the source's last step is made again
from the parent's history and layers plus that entry and its layer (no layer is copied: the source holds
them), so the next step has a parent to match against.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

from moor.errors import InvalidParameter, MoorError
from moor.images.store import ImageRecord, ImageStore
from moor.timefmt import parse_timestamp

log = logging.getLogger(__name__)


class CacheSources:
    """One build's ``--cache-from`` images, asked step by step; thread-safe (stages run in parallel)."""

    def __init__(self, store: ImageStore, images: Sequence[ImageRecord]) -> None:
        self.store = store
        self.images = list(images)
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.images)

    def vouches_for(self, image_id: str) -> bool:
        """Whether the local cache's ``image_id`` may serve this build: with ``--cache-from``, Docker's
        classic builder takes a local hit only when it is an ancestor (by parent) of one of the sources."""
        for source in self.images:
            seen: set[str] = set()
            current = self.store.get(source.parent) if source.parent else None
            while current is not None and current.id not in seen:
                if current.id == image_id:
                    return True
                seen.add(current.id)
                current = self.store.get(current.parent) if current.parent else None
        return False

    def match(self, parent_id: str, created_by: str, config: dict[str, Any]) -> ImageRecord | None:
        """The image of a step run on ``parent_id`` ("" for none, as after ``FROM scratch``) by the command
        ``created_by``, with the resulting ``config`` (the image config's ``config`` section), if a source's
        history holds that step; None otherwise."""
        parent = self.store.get(parent_id) if parent_id else None
        if parent_id and parent is None:
            return None
        parent_history = list(parent.config.get("history") or []) if parent is not None else []
        for source in self.images:
            history = list(source.config.get("history") or [])
            if not valid_parent(source, parent) or len(history) <= len(parent_history):
                continue
            entry = history[len(parent_history)]
            if not isinstance(entry, dict) or entry.get("created_by", "") != created_by:
                continue
            if len(history) == len(parent_history) + 1:
                return source
            restored = self._restore(parent, source, entry, config)
            if restored is not None:
                return restored
        return None

    def _restore(self, parent: ImageRecord | None, source: ImageRecord, entry: dict[str, Any],
                 config: dict[str, Any]) -> ImageRecord | None:
        """The image of ``parent`` plus the step ``entry`` of ``source`` (its layer, if it made one)."""
        parent_history = list(parent.config.get("history") or []) if parent is not None else []
        diff_ids = parent.diff_ids if parent is not None else []
        layer = layer_for_history_index(source, len(parent_history))
        if layer is None:
            return None
        if layer:
            diff_ids = diff_ids + [layer]
        document: dict[str, Any] = {}
        for field in ("architecture", "os", "variant", "author", "os.version", "os.features"):
            if field in source.config:
                document[field] = source.config[field]
        document.update({"config": config, "created": entry.get("created", source.config.get("created")),
                         "history": parent_history + [entry], "rootfs": {"type": "layers", "diff_ids": diff_ids}})
        data = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        try:
            with self._lock:
                return self.store.add_image(data, parent=parent.id if parent is not None else "")
        except MoorError as err:  # a source whose history and layers disagree: no cache, not a failed build
            log.warning("--cache-from %s cannot stand in for a step: %s", source.id, err)
            return None


def valid_parent(image: ImageRecord, parent: ImageRecord | None) -> bool:
    """Docker's test: ``image``'s history and layers begin with all of ``parent``'s."""
    history = image.config.get("history") or []
    if not history:
        return False
    if parent is None:
        return True
    parent_history = parent.config.get("history") or []
    if not parent_history and not parent.diff_ids:
        return True
    if sum(1 for entry in parent_history if not entry.get("empty_layer")) != len(parent.diff_ids):
        return False  # a history that does not tell which step made which layer cannot be matched
    if len(parent_history) >= len(history) or len(parent.diff_ids) > len(image.diff_ids):
        return False
    return all(same_entry(mine, theirs) for mine, theirs in zip(parent_history, history)) and \
        parent.diff_ids == image.diff_ids[: len(parent.diff_ids)]


def same_entry(one: Any, other: Any) -> bool:
    """Whether two history entries say the same, as Go compares the parsed structs: the same instant however
    it is written (``.120Z`` and ``.12Z``), an absent field as an empty one."""
    return _entry_value(one) == _entry_value(other)


def _entry_value(entry: Any) -> tuple[Any, ...]:
    if not isinstance(entry, dict):
        return (entry,)
    created = entry.get("created")
    try:
        instant: Any = parse_timestamp(created) if isinstance(created, str) and created else None
    except InvalidParameter:
        instant = created
    return (instant, entry.get("author") or "", entry.get("created_by") or "", entry.get("comment") or "",
            bool(entry.get("empty_layer")))


def layer_for_history_index(image: ImageRecord, index: int) -> str | None:
    """The diff ID of the layer the step ``index`` of ``image``'s history made; "" when it made none
    (``empty_layer``); None when history and layers disagree."""
    history = image.config.get("history") or []
    if history[index].get("empty_layer"):
        return ""
    layer_index = sum(1 for entry in history[:index] if not entry.get("empty_layer"))
    diff_ids = image.diff_ids
    return diff_ids[layer_index] if layer_index < len(diff_ids) else None
