"""Distribution metadata: which compressed blobs are known to hold a layer, and where they came from.

Pull records, for each layer it brings in, the blob it came as (digest, size, media type) and the
registry domain and repository it came from; push reads it to skip blobs a registry already has
("Layer already exists") or to mount them from another repository of the same registry, and records
what it uploaded. This is moby's ``distribution/metadata`` (v2 metadata service) in one JSON file:

    <image root>/distribution/metadata.json   {"diff_ids": {"sha256:<diff id>": [<source>, ...]}}

Every change re-reads the file and rewrites it whole with :func:`moor.fsutil.atomic_write_json` under
a lock shared by every instance in the process, so a crash leaves the old file or the new one, and
two services holding their own instance never lose each other's entries.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from moor.fsutil import atomic_write_json, read_json

#: At most this many sources are kept per layer (the newest).
MAX_SOURCES = 50

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(os.path.abspath(path), threading.Lock())


@dataclass(frozen=True)
class BlobSource:
    """One compressed blob known to hold a layer."""

    digest: str  # sha256:... of the compressed blob
    size: int
    media_type: str
    registry: str  # the domain as in a reference: docker.io, 127.0.0.1:5000
    repository: str  # the path on that registry: library/busybox


class DistributionMetadata:
    """diff ID -> known compressed blobs, persisted under the image store's root."""

    def __init__(self, image_root: str) -> None:
        self.path = os.path.join(image_root, "distribution", "metadata.json")
        self._lock = _lock_for(self.path)

    def _load(self) -> dict[str, list[BlobSource]]:
        try:
            data = read_json(self.path, {}) or {}
        except ValueError:  # unreadable: start afresh (it is a cache of what registries have)
            data = {}
        if not isinstance(data, dict) or not isinstance(data.get("diff_ids"), dict):
            data = {}
        table: dict[str, list[BlobSource]] = {}
        for diff_id, entries in (data.get("diff_ids") or {}).items():
            sources = []
            for entry in entries if isinstance(entries, list) else []:
                try:
                    sources.append(BlobSource(digest=str(entry["digest"]), size=int(entry["size"]),
                                              media_type=str(entry["media_type"]),
                                              registry=str(entry["registry"]),
                                              repository=str(entry["repository"])))
                except (KeyError, TypeError, ValueError):
                    continue
            table[str(diff_id)] = sources
        return table

    def sources(self, diff_id: str) -> list[BlobSource]:
        """The blobs known to hold the layer ``diff_id``, newest first."""
        with self._lock:
            return list(self._load().get(diff_id, []))

    def diff_id_of(self, digest: str) -> str | None:
        """The layer a compressed blob ``digest`` holds, when known."""
        with self._lock:
            for diff_id, sources in self._load().items():
                if any(source.digest == digest for source in sources):
                    return diff_id
        return None

    def record(self, entries: Iterable[tuple[str, BlobSource]]) -> None:
        """Remember each ``(diff_id, source)``; a known source moves to the front."""
        entries = list(entries)
        if not entries:
            return
        with self._lock:
            table = self._load()
            for diff_id, source in entries:
                sources = [s for s in table.get(diff_id, []) if s != source]
                table[diff_id] = [source, *sources][:MAX_SOURCES]
            atomic_write_json(self.path, {"diff_ids": {k: [asdict(s) for s in v] for k, v in table.items()}})

    def forget(self, diff_id: str, source: BlobSource) -> None:
        """Drop ``source`` of ``diff_id`` (a registry said it no longer has it)."""
        with self._lock:
            table = self._load()
            if source not in table.get(diff_id, []):
                return
            table[diff_id] = [s for s in table[diff_id] if s != source]
            atomic_write_json(self.path, {"diff_ids": {k: [asdict(s) for s in v] for k, v in table.items()}})
