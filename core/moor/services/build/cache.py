"""The build cache: which image a build step made, by the step's parent image and its cache key.

Docker's classic builder finds its cache among the images themselves (a child of the step's parent with the
same config), so removing the final image loses it. moor keeps one record per step instead, under
``<data_root>/build/cache/<id>.json``: the parent image, the key (what the step ran: its created_by, config,
content checksums and build arguments), the image's config as it was stored (its digest is the image ID) and
its layers' chain IDs. The cache holds those layers (the image service asks :meth:`BuildCache.layer_in_use`
through :class:`CacheAwareImageUsers` before it removes a layer), so after ``rmi`` a hit makes the image again
from its kept config: same config bytes, same layers, the same image ID. ``builder prune`` removes records
and the layers only they held; ``system df`` lists them (and the ``RUN --mount=type=cache`` directories of
:mod:`moor.services.build.cache_mounts`) as Docker's BuildCache.

Records are written whole (temp file and rename, :func:`moor.fsutil.atomic_write_json`) after the image they
name is in the image store; a half-written or inconsistent record (unreadable, its config not matching its
image ID, a layer missing) is ignored and removed when moord starts. A build asks through a
:class:`BuildSession`, which holds what the build found, recorded or started from until it ends (those
records show ``InUse``), so a prune or an ``rmi`` meanwhile does not take layers from under it.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from moor.errors import InvalidParameter, MoorError, NotFound
from moor.fsutil import atomic_write_json, read_json
from moor.images.store import ImageRecord, ImageStore, chain_ids, hex_of, sha256_hex
from moor.services.build.cache_from import CacheSources
from moor.services.build.cache_mounts import CacheMountEntry, CacheMountLease, CacheMounts
from moor.services.images import ImageUser, ImageUsers
from moor.timefmt import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

#: The length of a build-cache ID as the API shows it (BuildKit's IDs have 25 characters).
ID_LENGTH = 25

#: Times and counts in records lie before the year 10000 (what RFC 3339 can write).
_LAST_TIME = 253402300799.0

#: ``builder prune``'s filters (BuildKit's record fields, and the age ones); ``label`` is accepted and ignored
#: as Docker's does.
PRUNE_FILTERS = ("until", "unused-for", "label", "label!", "id", "parent", "type", "description", "inuse",
                 "shared", "private")


@dataclass
class CacheEntry:
    """One step's record."""

    id: str  # the hex digest of parent and key: the record's file name
    parent_id: str  # the image the step ran on ("" for none)
    key: str
    image_id: str
    config: str  # the image config JSON exactly as stored: sha256(config) is image_id
    chains: list[str]  # the chain IDs of the image's layers, base first
    layer: str | None  # the chain ID of the layer the step made (None: the step changed the config only)
    description: str  # the step's created_by
    created: float
    last_used: float
    usage_count: int


def entry_id(parent_id: str, key: str) -> str:
    """The record ID of the step ``key`` on ``parent_id``."""
    return sha256_hex(f"{parent_id}\n{key}".encode())


class BuildCache:
    """Owns ``<root>/cache`` (step records) and ``<root>/cache-mounts``; ``root`` is ``<data_root>/build``."""

    def __init__(self, store: ImageStore, root: str) -> None:
        self.store = store
        self.root = root
        self.records_dir = os.path.join(root, "cache")
        os.makedirs(self.records_dir, mode=0o700, exist_ok=True)
        self.mounts = CacheMounts(os.path.join(root, "cache-mounts"))
        self._lock = threading.RLock()  # the records; never held while waiting for the image store's lock
        self._holds_lock = threading.Lock()  # the layer holds only: asked from inside the image store's lock
        self._entries: dict[str, CacheEntry] = {}
        self._held: Counter[str] = Counter()  # layer storage key -> records holding it
        self._pinned: Counter[str] = Counter()  # layer storage key -> running builds holding it
        self._pinned_images: Counter[str] = Counter()  # image ID -> running builds using it
        self._used: set[str] = set()  # records whose use (last used, count) is newer in memory than on disk
        self._load()

    # ------------------------------------------------------------------ records on disk

    def _path(self, ident: str) -> str:
        return os.path.join(self.records_dir, ident + ".json")

    def _load(self) -> None:
        present: dict[str, bool] = {}  # chain -> whether its layer is there: records share most layers
        for name in sorted(os.listdir(self.records_dir)):
            path = os.path.join(self.records_dir, name)
            if name.startswith(".tmp-"):
                os.unlink(path)  # a write a crash interrupted
                continue
            if not name.endswith(".json"):
                continue
            entry = self._read(path, name[: -len(".json")], present)
            if entry is None:
                log.warning("removing build cache record %s: it is incomplete or its layers are gone", name)
                os.unlink(path)
                continue
            self._add(entry)

    def _read(self, path: str, ident: str, present: dict[str, bool]) -> CacheEntry | None:
        """The record at ``path`` if it is whole and its image can be made again, else None."""
        try:
            data = read_json(path)
            entry = CacheEntry(**data)
        except (ValueError, TypeError):
            return None
        texts = (entry.id, entry.parent_id, entry.key, entry.image_id, entry.config, entry.description)
        if entry.id != ident or not all(isinstance(t, str) for t in texts) or not isinstance(entry.chains, list) \
                or not all(isinstance(c, str) for c in entry.chains) or not isinstance(entry.layer, (str, type(None))):
            return None
        if entry.image_id != "sha256:" + sha256_hex(entry.config.encode()):
            return None
        try:
            config = json.loads(entry.config)
            if chain_ids((config.get("rootfs") or {}).get("diff_ids") or []) != entry.chains:
                return None
        except (ValueError, AttributeError, TypeError):
            return None
        for number in (entry.created, entry.last_used, entry.usage_count):
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number <= _LAST_TIME:
                return None
        for chain in entry.chains:
            if chain not in present:
                try:
                    present[chain] = self.store.get_layer(chain) is not None
                except (InvalidParameter, ValueError, TypeError):
                    present[chain] = False
            if not present[chain]:
                return None
        return entry

    def _add(self, entry: CacheEntry) -> None:
        """Take ``entry`` into memory with its holds (called with the lock held, or while loading)."""
        old = self._entries.get(entry.id)
        with self._holds_lock:
            if old is not None:
                self._held.subtract(hex_of(c) for c in old.chains)
            self._held.update(hex_of(c) for c in entry.chains)
            self._held = +self._held  # drop counts of zero
        self._entries[entry.id] = entry

    def _drop(self, entry: CacheEntry) -> None:
        """Forget ``entry`` and remove its file (called with the lock held); its layers are no longer held."""
        self._entries.pop(entry.id, None)
        self._used.discard(entry.id)
        try:
            os.unlink(self._path(entry.id))
        except FileNotFoundError:
            pass
        with self._holds_lock:
            self._held.subtract(hex_of(c) for c in entry.chains)
            self._held = +self._held

    def _save(self, entry: CacheEntry) -> None:
        atomic_write_json(self._path(entry.id), asdict(entry))
        self._used.discard(entry.id)

    def flush_usage(self) -> None:
        """Write the records whose use changed since they were saved (a build's session does at its end).

        Without fsync: a record is a cache, and its use only orders ``builder prune``; a crash loses at
        most the last uses (a torn record is dropped when moord starts, as an incomplete one).
        """
        with self._lock:
            used, self._used = self._used, set()
            for ident in sorted(used):
                entry = self._entries.get(ident)
                if entry is not None:
                    _write_unsynced(self.records_dir, self._path(ident), asdict(entry))

    # ------------------------------------------------------------------ the builder's questions

    def session(self) -> BuildSession:
        """One build's use of the cache: what it finds or records keeps its layers (and its record shows in use)
        until the session closes, so a ``builder prune`` or an ``rmi`` meanwhile cannot take them from under
        the build."""
        return BuildSession(self)

    def lookup(self, parent_id: str, key: str, session: BuildSession | None = None) -> ImageRecord | None:
        """The image the step ``key`` made on ``parent_id`` before, made again if it was removed since; None
        on a miss (also when its layers are gone). A ``session`` holds what it finds."""
        with self._lock:
            entry = self._entries.get(entry_id(parent_id, key))
            if entry is not None and session is not None:
                session.pin(entry.image_id, entry.chains)
        if entry is None:
            return None
        image = self.store.get(entry.image_id)
        if image is None:
            image = self._remake(entry)
            if image is None:
                return None
        with self._lock:
            if self._entries.get(entry.id) is entry:
                entry.last_used = time.time()
                entry.usage_count += 1
                self._used.add(entry.id)  # written when the session ends, not on every hit
        return image

    def _remake(self, entry: CacheEntry) -> ImageRecord | None:
        """The image of ``entry`` added to the store again from its kept config; None (and the record goes)
        when a layer is missing."""
        parent = entry.parent_id if entry.parent_id and self.store.get(entry.parent_id) is not None else ""
        try:
            return self.store.add_image(entry.config.encode(), parent=parent)
        except MoorError as err:
            log.warning("build cache record %s cannot make image %s again: %s", entry.id[:ID_LENGTH],
                        entry.image_id, err)
            with self._lock:
                if self._entries.get(entry.id) is entry:
                    self._drop(entry)
            return None

    def record(self, parent_id: str, key: str, image: ImageRecord, session: BuildSession | None = None) -> None:
        """Note that the step ``key`` run on ``parent_id`` made ``image`` (already in the image store); nothing is
        noted when the image or a layer of it was removed meanwhile (a race with ``rmi``). A ``session`` holds
        the image."""
        try:
            config = self.store.get_blob(image.id).decode()
        except NotFound:
            return
        chains = chain_ids(image.diff_ids)
        history = image.config.get("history") or []
        last = history[-1] if history and isinstance(history[-1], dict) else {}
        if last:
            layer = None if last.get("empty_layer") or not chains else chains[-1]
        else:
            parent = self.store.get(parent_id) if parent_id else None
            layer = chains[-1] if len(chains) > (len(parent.diff_ids) if parent is not None else 0) else None
        description = str(last.get("created_by", ""))
        now = time.time()
        ident = entry_id(parent_id, key)
        with self.store.lock:  # no layer goes between the check and the hold
            if not all(self.store.get_layer(chain) is not None for chain in chains):
                log.info("not caching image %s: a layer of it was removed meanwhile", image.id)
                return
            if session is not None:
                session.pin(image.id, chains)
            with self._lock:
                old = self._entries.get(ident)
                entry = CacheEntry(id=ident, parent_id=parent_id, key=key, image_id=image.id, config=config,
                                   chains=chains, layer=layer, description=description,
                                   created=old.created if old is not None and old.image_id == image.id else now,
                                   last_used=now, usage_count=old.usage_count if old is not None else 1)
                self._save(entry)
                self._add(entry)

    def layer_in_use(self, key: str) -> bool:
        """Whether a record or a running build holds the layer whose storage key is ``key`` (the image service
        asks before it removes a layer)."""
        with self._holds_lock:
            return self._held.get(key, 0) > 0 or self._pinned.get(key, 0) > 0

    def pin(self, image_id: str, chains: Sequence[str]) -> None:
        """Hold the layers ``chains`` of the image ``image_id`` for a running build, until :meth:`unpin`."""
        with self._holds_lock:
            self._pinned.update(hex_of(c) for c in chains)
            self._pinned_images[image_id] += 1

    def unpin(self, image_id: str, chains: Sequence[str]) -> None:
        """End one :meth:`pin` (then :meth:`release` what nothing else holds)."""
        with self._holds_lock:
            self._pinned.subtract(hex_of(c) for c in chains)
            self._pinned_images[image_id] -= 1
            self._pinned, self._pinned_images = +self._pinned, +self._pinned_images

    def cache_from(self, images: Sequence[ImageRecord]) -> CacheSources:
        """A build's ``--cache-from`` images, to ask step by step (:meth:`CacheSources.match`)."""
        return CacheSources(self.store, images)

    def mount_dir(self, mount_id: str, sharing: str = "shared", mode: int = 0o755, uid: int = 0, gid: int = 0,
                  cancelled: Callable[[], bool] | None = None) -> CacheMountLease:
        """The directory of ``RUN --mount=type=cache,id=<mount_id>`` for one step: ``lease.path``; release
        the lease (or use it in ``with``) when the step ends. ``sharing`` is ``shared``, ``private`` or
        ``locked`` (waits, until ``cancelled()`` says the build is over)."""
        return self.mounts.acquire(mount_id, sharing, mode, uid, gid, cancelled)

    # ------------------------------------------------------------------ system df, builder prune

    def usage(self) -> builtins.list[dict[str, Any]]:
        """Docker's BuildCache array (API v1.41) for ``GET /system/df``: the step records, then the cache
        mounts."""
        return [row for row, _ in self._rows()]

    def _rows(self) -> builtins.list[tuple[dict[str, Any], CacheEntry | CacheMountEntry]]:
        with self._lock:
            entries = list(self._entries.values())
        with self._holds_lock:
            in_use = set(self._pinned_images)
        images = self.store.images()
        existing = {image.id for image in images}
        used = {chain for image in images for chain in chain_ids(image.diff_ids)}
        by_image: dict[str, str] = {}
        for entry in entries:
            by_image.setdefault(entry.image_id, entry.id[:ID_LENGTH])
        rows: builtins.list[tuple[dict[str, Any], CacheEntry | CacheMountEntry]] = []
        for entry in sorted(entries, key=lambda e: (e.created, e.id)):
            layer = self.store.get_layer(entry.layer) if entry.layer else None
            rows.append(({"ID": entry.id[:ID_LENGTH], "Parent": by_image.get(entry.parent_id, ""),
                          "Type": "regular", "Description": entry.description, "InUse": entry.image_id in in_use,
                          "Shared": entry.image_id in existing or (entry.layer in used),
                          "Size": layer.disk_size if layer is not None else 0,
                          "CreatedAt": format_timestamp(entry.created),
                          "LastUsedAt": format_timestamp(entry.last_used), "UsageCount": entry.usage_count}, entry))
        for mount in self.mounts.entries():
            rows.append(({"ID": mount.name, "Parent": "", "Type": "exec.cachemount",
                          "Description": f"cached mount {mount.mount_id}", "InUse": mount.in_use, "Shared": False,
                          "Size": mount.size, "CreatedAt": format_timestamp(mount.created),
                          "LastUsedAt": format_timestamp(mount.last_used), "UsageCount": mount.usage_count}, mount))
        return rows

    def prune(self, filters: dict[str, builtins.list[str]] | None = None, all: bool = False,
              keep_storage: int = 0) -> dict[str, Any]:
        """``POST /build/prune``: remove the cache nothing uses (without ``all``: only what no image shares),
        least recently used first, until at most ``keep_storage`` bytes remain (0: no such bound); Docker's
        ``{"CachesDeleted": [...], "SpaceReclaimed": n}``."""
        keep = _prune_rule(filters or {})
        rows = self._rows()
        total = sum(row["Size"] for row, _ in rows)
        candidates = [(row, item) for row, item in rows
                      if not row["InUse"] and (all or not row["Shared"]) and keep(row, item)]
        candidates.sort(key=lambda pair: (_last_used(pair[1]), pair[0]["ID"]))
        chosen: builtins.list[tuple[dict[str, Any], CacheEntry | CacheMountEntry]] = []
        for row, item in candidates:
            if keep_storage > 0 and total <= keep_storage:
                break
            chosen.append((row, item))
            total -= row["Size"]
        deleted: builtins.list[str] = []
        reclaimed = 0
        released: builtins.list[builtins.list[str]] = []
        for row, item in chosen:
            if isinstance(item, CacheMountEntry):
                if self.mounts.remove(item.name):
                    deleted.append(row["ID"])
                    reclaimed += item.size
                continue
            with self._lock:
                if self._entries.get(item.id) is not item:
                    continue
                self._drop(item)
            deleted.append(row["ID"])
            released.append(item.chains)
        reclaimed += self.release(released)
        return {"CachesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def release(self, chain_lists: Iterable[Sequence[str]]) -> int:
        """Remove the layers of ``chain_lists`` (each an image's chain IDs, base first) that neither an image, a
        record nor a running build holds, children first; the bytes they took."""
        depth: dict[str, int] = {}
        for chains in chain_lists:
            for index, chain in enumerate(chains):
                if not self.layer_in_use(hex_of(chain)):
                    depth[chain] = max(depth.get(chain, 0), index)
        reclaimed = 0
        for chain in sorted(depth, key=lambda c: (-depth[c], c)):
            layer = self.store.get_layer(chain)
            if layer is None:
                continue
            try:
                gone = self.store.release_layers([chain], self.layer_in_use)
            except MoorError as err:  # the storage driver refuses: a running build made a layer on top of it
                log.warning("build cache keeps layer %s: %s", chain, err)
                continue
            if gone:
                reclaimed += layer.disk_size
        return reclaimed


def _write_unsynced(directory: str, path: str, value: Any) -> None:
    """``value`` as JSON at ``path`` through a temporary file and a rename (no fsync)."""
    fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(value, indent=1, sort_keys=True).encode())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _last_used(item: CacheEntry | CacheMountEntry) -> float:
    return item.last_used


def _prune_rule(filters: dict[str, builtins.list[str]]) -> Callable[[dict[str, Any], Any], bool]:
    """The test a cache row must pass to be pruned, from ``builder prune``'s filters (Docker's checks)."""
    for name in filters:
        if name not in PRUNE_FILTERS:
            raise InvalidParameter(f"invalid filter '{name}'")
    if filters.get("until") and filters.get("unused-for"):
        raise InvalidParameter('conflicting filters: "until" and "unused-for"')
    for name, values in filters.items():
        if len(values) > 1 and name not in ("label", "label!"):
            raise InvalidParameter("filters expect only one value")
    cutoff: float | None = None
    for name in ("until", "unused-for"):
        for value in filters.get(name, []):
            try:
                cutoff = parse_timestamp(value)  # a duration means that long before now
            except InvalidParameter:
                raise InvalidParameter(
                    f'"{name}" filter expects a duration (e.g., \'24h\') or a timestamp') from None
    wanted: dict[str, str] = {name: values[0] for name, values in filters.items()
                              if values and name in ("id", "parent", "type", "description")}
    flags: dict[str, bool] = {}
    for name in ("inuse", "shared"):  # "private" (a BuildKit record's own flag) is accepted, as "label" is
        for value in filters.get(name, []):
            if value.lower() not in ("", "true", "false", "1", "0"):
                raise InvalidParameter(f"invalid value {value!r} for filter '{name}'")
            flags[name] = value.lower() in ("", "true", "1")
    id_pattern: re.Pattern[str] | None = None
    if "id" in wanted:
        try:
            id_pattern = re.compile(wanted["id"])
        except re.error:
            raise InvalidParameter(f"invalid id filter {wanted['id']!r}") from None

    def keep(row: dict[str, Any], item: Any) -> bool:
        if cutoff is not None and _last_used(item) > cutoff:
            return False
        if id_pattern is not None and not id_pattern.search(row["ID"]):
            return False
        for name, field in (("parent", "Parent"), ("type", "Type"), ("description", "Description")):
            if name in wanted and row[field] != wanted[name]:
                return False
        for name, field in (("inuse", "InUse"), ("shared", "Shared")):
            if name in flags and bool(row[field]) != flags[name]:
                return False
        return True

    return keep


class BuildSession:
    """One build's use of the build cache (:meth:`BuildCache.session`), with the cache's questions: the images
    it finds, records or is told to hold keep their layers until :meth:`close` (or the end of its ``with``
    block); thread-safe (a build's stages run in parallel)."""

    def __init__(self, cache: BuildCache) -> None:
        self.cache = cache
        self._lock = threading.Lock()
        self._pins: builtins.list[tuple[str, builtins.list[str]]] = []

    def lookup(self, parent_id: str, key: str) -> ImageRecord | None:
        """:meth:`BuildCache.lookup`, the image held."""
        return self.cache.lookup(parent_id, key, self)

    def record(self, parent_id: str, key: str, image: ImageRecord) -> None:
        """:meth:`BuildCache.record`, the image held."""
        self.cache.record(parent_id, key, image, self)

    def hold(self, image: ImageRecord) -> None:
        """Keep the layers of ``image`` (a base image, an earlier stage's) until the session ends."""
        self.pin(image.id, chain_ids(image.diff_ids))

    def pin(self, image_id: str, chains: Sequence[str]) -> None:
        """Keep the layers ``chains`` of ``image_id`` until the session ends (the cache calls this)."""
        with self._lock:
            self.cache.pin(image_id, chains)
            self._pins.append((image_id, list(chains)))

    def cache_from(self, images: Sequence[ImageRecord]) -> CacheSources:
        """:meth:`BuildCache.cache_from`."""
        return self.cache.cache_from(images)

    def mount_dir(self, mount_id: str, sharing: str = "shared", mode: int = 0o755, uid: int = 0, gid: int = 0,
                  cancelled: Callable[[], bool] | None = None) -> CacheMountLease:
        """:meth:`BuildCache.mount_dir`."""
        return self.cache.mount_dir(mount_id, sharing, mode, uid, gid, cancelled)

    def close(self) -> None:
        """Let go of everything the session held (idempotent); the layers nothing else holds any more (a record
        pruned, an image removed meanwhile) go."""
        with self._lock:
            pins, self._pins = self._pins, []
            for image_id, chains in pins:
                self.cache.unpin(image_id, chains)
        self.cache.release(chains for _, chains in pins)
        self.cache.flush_usage()

    def __enter__(self) -> BuildSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CacheAwareImageUsers:
    """The image service's :class:`~moor.services.images.ImageUsers`: the containers (an image they use stays)
    and the build cache (a layer it holds stays, so its images can be made again)."""

    def __init__(self, containers: ImageUsers, cache: BuildCache) -> None:
        self.containers = containers
        self.cache = cache

    def image_users(self, image_id: str) -> builtins.list[ImageUser]:
        return self.containers.image_users(image_id)

    def layer_in_use(self, key: str) -> bool:
        return self.containers.layer_in_use(key) or self.cache.layer_in_use(key)
