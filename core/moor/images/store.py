"""The image store: config blobs, layer records, image records and references on disk.

Layout under ``<data_root>/image/``::

    blobs/sha256/<hex>        image configs, verified against their digest
    layers/<chain hex>.json   one record per layer (diff ID, parent chain ID, sizes)
    images/<id hex>.json      one record per image (visible iff this file exists)
    references.json           {"refs": {"docker.io/library/busybox:latest": "sha256:..."}}
    distribution/             what registries hold each layer (moor.services.registry.metadata)
    downloads/                blobs being pulled, kept across restarts (moor.services.registry.downloads)

The content of layers lives in the storage driver under the chain ID's hex.
An image becomes visible in one step (its record is renamed into place) only
after its layers and its config are on disk, so killing moord at any moment
leaves either no image or a whole one; :meth:`ImageStore.collect_garbage`
removes what interrupted work left (temp files, layers no image or container
uses).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any, cast

from moor.driverapi import StorageDriver
from moor.errors import InvalidParameter, MoorError, NotFound
from moor.fsutil import atomic_write, atomic_write_json, read_json
from moor.images import configcheck

log = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20
#: A spooled layer stays in memory up to this size, then goes to a temp file: a file on the data root's file
#: system would be written to disk by the apply's syncfs (its dirty pages), which is most of a commit's time.
_SPOOL_IN_MEMORY = 64 << 20


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chain_id(parent: str | None, diff_id: str) -> str:
    """The OCI chain ID: ``diff_id`` for a base layer, else sha256 of "<parent> <diff_id>"."""
    if parent is None:
        return diff_id
    return "sha256:" + sha256_hex(f"{parent} {diff_id}".encode())


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    result: list[str] = []
    parent: str | None = None
    for diff_id in diff_ids:
        parent = chain_id(parent, diff_id)
        result.append(parent)
    return result


def hex_of(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise InvalidParameter(f"invalid digest {digest!r}")
    return value


class DigestingReader:
    """Wraps a stream, counting bytes and hashing them as they are read."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        self.size += len(data)
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(_HASH_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


@dataclass
class LayerRecord:
    chain_id: str
    diff_id: str
    parent: str | None
    size: int  # bytes of the uncompressed tar
    disk_size: int  # bytes the layer's own content uses in the storage driver

    @property
    def key(self) -> str:
        return hex_of(self.chain_id)


@dataclass
class ImageRecord:
    id: str
    created: float  # when it entered this store
    parent: str = ""
    last_tag_time: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def top_layer(self) -> str | None:
        ids = chain_ids(self.diff_ids)
        return ids[-1] if ids else None


#: Times in image records lie before the year 10000 (what RFC 3339 can write).
_LAST_TIME = 253402300799.0


def _number(value: Any) -> float:
    """A time stamp of an image record: a number from 0 to :data:`_LAST_TIME`, else 0."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok and 0 <= value <= _LAST_TIME else 0.0


class ImageStore:
    """Owns ``<data_root>/image``; thread-safe."""

    def __init__(self, root: str, storage: StorageDriver) -> None:
        self.root = root
        self.storage = storage
        self.lock = threading.RLock()
        for sub in ("blobs/sha256", "layers", "images", "tmp"):
            os.makedirs(os.path.join(root, sub), mode=0o700, exist_ok=True)
        self._refs: dict[str, str] = (read_json(self._refs_path, {}) or {}).get("refs", {})
        self._images: dict[str, ImageRecord] = {}
        self._chain_locks: dict[str, threading.Lock] = {}
        self._spools: dict[int, tuple[str, int]] = {}  # id of a spool :meth:`spooled` made -> its digest and size
        self._load_images()

    def _applying(self, chain: str) -> threading.Lock:
        """The lock held while the layer ``chain`` is applied (one apply of a chain at a time)."""
        with self.lock:
            return self._chain_locks.setdefault(chain, threading.Lock())

    # ------------------------------------------------------------------ paths

    @property
    def _refs_path(self) -> str:
        return os.path.join(self.root, "references.json")

    def _blob_path(self, digest: str) -> str:
        return os.path.join(self.root, "blobs", "sha256", hex_of(digest))

    def _layer_path(self, chain: str) -> str:
        return os.path.join(self.root, "layers", hex_of(chain) + ".json")

    def _image_path(self, image_id: str) -> str:
        return os.path.join(self.root, "images", hex_of(image_id) + ".json")

    def temp_dir(self) -> str:
        """A directory for spooling (archives being loaded); removed at the next start if left."""
        return tempfile.mkdtemp(prefix="spool-", dir=os.path.join(self.root, "tmp"))

    # ------------------------------------------------------------------ blobs

    def put_blob(self, data: bytes, expected: str | None = None) -> str:
        digest = "sha256:" + sha256_hex(data)
        if expected is not None and expected != digest:
            raise InvalidParameter(f"digest mismatch: expected {expected}, got {digest}")
        path = self._blob_path(digest)
        if not os.path.exists(path):
            atomic_write(path, data, mode=0o600)
        return digest

    def get_blob(self, digest: str) -> bytes:
        try:
            with open(self._blob_path(digest), "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None
        if "sha256:" + sha256_hex(data) != digest:
            raise MoorError(f"blob {digest} is corrupt on disk")
        return data

    # ------------------------------------------------------------------ layers

    def get_layer(self, chain: str) -> LayerRecord | None:
        data = read_json(self._layer_path(chain))
        if data is None or not self.storage.exists(key=hex_of(chain)):
            return None
        return LayerRecord(**data)

    def add_layer(self, parent: str | None, stream: IO[bytes], diff_id: str | None = None) -> LayerRecord:
        """Apply an uncompressed layer tar on top of chain ``parent`` and record it.

        With ``diff_id`` known (load, pull) the tar goes straight into the
        storage driver and is verified as it passes; a mismatch removes the
        layer again. Without it (import, commit) the tar is first spooled to
        a temp file to learn its digest. An existing layer is reused. The
        store's lock is not held meanwhile (listing images does not wait for a
        pull); applies of different layers may run at once.
        """
        if diff_id is None:
            with self.spooled(stream) as (spool, digest):
                return self.add_layer(parent, spool, digest)
        chain = chain_id(parent, diff_id)
        spool = self._spools.get(id(stream))  # the store's own spool was hashed as it was written
        own_size = spool[1] if spool is not None and spool[0] == diff_id and stream.tell() == 0 else None
        with self._applying(chain):  # not the store's lock: listing images must not wait for an apply
            existing = self.get_layer(chain)
            if existing is not None:
                if own_size is None:
                    DigestingReader(stream).drain()
                return existing
            key = hex_of(chain)
            if self.storage.exists(key=key):
                self.storage.remove(key=key)  # content without a record: left by a crash
            pending = self._layer_path(chain)[: -len(".json")] + ".pending"
            atomic_write(pending, b"")  # so a crash before the record is written can be undone
            reader = DigestingReader(stream)
            try:  # a layer the driver refuses half-way goes as a bad digest does: content and marker both
                # the reader is read like a file (all a driver may do with the stream); the store's own spool
                # goes as it is
                disk_size = self.storage.apply_layer(key=key, parent=hex_of(parent) if parent else None,
                                                     diff=cast(IO[bytes], reader) if own_size is None else stream)
                size = own_size
                if size is None:
                    reader.drain()
                    if reader.digest != diff_id:
                        raise InvalidParameter(f"layer digest mismatch: expected {diff_id}, got {reader.digest}")
                    size = reader.size
                record = LayerRecord(chain_id=chain, diff_id=diff_id, parent=parent, size=size,
                                     disk_size=int(disk_size or 0))
                atomic_write_json(self._layer_path(chain), record.__dict__)
            except BaseException:
                self.storage.remove(key=key)
                os.unlink(pending)
                raise
            os.unlink(pending)
            return record

    def spooled(self, stream: IO[bytes]) -> Any:
        """Copy a stream to a temp file, learning its digest: (file, digest) in a context manager.

        :meth:`add_layer` applies such a file (unread, with its digest) without hashing it again."""
        @contextlib.contextmanager
        def spool() -> Any:
            with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, dir=os.path.join(self.root, "tmp")) as handle:
                reader = DigestingReader(stream)
                while True:
                    data = reader.read(_HASH_CHUNK)
                    if not data:
                        break
                    handle.write(data)
                handle.seek(0)
                self._spools[id(handle)] = (reader.digest, reader.size)
                try:
                    yield handle, reader.digest
                finally:
                    del self._spools[id(handle)]

        return spool()

    def layer_chain(self, image: ImageRecord) -> list[LayerRecord]:
        records = []
        for chain in chain_ids(image.diff_ids):
            record = self.get_layer(chain)
            if record is None:
                raise MoorError(f"layer {chain} of image {image.id} is missing")
            records.append(record)
        return records

    def open_layer_tar(self, record: LayerRecord) -> IO[bytes]:
        """The layer's tar, byte-identical to what was applied."""
        return self.storage.diff(key=record.key)

    def remove_layer(self, chain: str) -> None:
        """Drop the layer ``chain``: its record and its snapshot (the caller knows that nothing uses it)."""
        key = hex_of(chain)
        try:
            os.unlink(self._layer_path(chain))
        except FileNotFoundError:
            pass
        self.storage.remove(key=key)

    # ------------------------------------------------------------------ images

    def _load_images(self) -> None:
        directory = os.path.join(self.root, "images")
        for name in os.listdir(directory):
            if not name.endswith(".json") or name.startswith("."):
                continue
            data = read_json(os.path.join(directory, name))
            image_id = "sha256:" + name[:-5]
            try:
                config = json.loads(self.get_blob(image_id))
            except (NotFound, MoorError, ValueError):
                log.warning("dropping image %s: its config is missing or corrupt", image_id)
                os.unlink(os.path.join(directory, name))
                continue
            if not isinstance(config, dict) or not isinstance(config.get("rootfs"), dict):
                log.warning("dropping image %s: its config is not an image config", image_id)
                os.unlink(os.path.join(directory, name))
                continue
            wrong = configcheck.problems(config)
            if wrong:  # stored by an older moor that did not check: listed with the bad fields left out
                log.warning("image %s has an invalid config (%s): its bad fields are ignored", image_id,
                            "; ".join(wrong))
                config = configcheck.sanitized(config)
            data = data if isinstance(data, dict) else {}
            self._images[image_id] = ImageRecord(id=image_id, created=_number(data.get("created")),
                                                 parent=str(data.get("parent") or ""),
                                                 last_tag_time=_number(data.get("last_tag_time")),
                                                 config=configcheck.normalized(config))

    def add_image(self, config_bytes: bytes, parent: str = "") -> ImageRecord:
        """Make the image of ``config_bytes`` visible; its layers must be recorded already."""
        try:
            config = json.loads(config_bytes)
        except ValueError:
            raise InvalidParameter("invalid image config: not JSON") from None
        if not isinstance(config, dict) or not isinstance(config.get("rootfs"), dict):
            raise InvalidParameter("invalid image config: rootfs is missing")
        wrong = configcheck.problems(config)
        if wrong:
            raise InvalidParameter(f"invalid image config: {wrong[0]}")
        config = configcheck.normalized(config)
        with self.lock:
            image_id = self.put_blob(config_bytes)
            record = ImageRecord(id=image_id, created=time.time(), parent=parent, config=config)
            self.layer_chain(record)  # every layer must be there
            existing = self._images.get(image_id)
            if existing is not None:
                return existing
            self._write_image(record)
            self._images[image_id] = record
            return record

    def _write_image(self, record: ImageRecord) -> None:
        atomic_write_json(self._image_path(record.id), {"created": record.created, "parent": record.parent,
                                                        "last_tag_time": record.last_tag_time})

    def images(self) -> list[ImageRecord]:
        with self.lock:
            return list(self._images.values())

    def get(self, image_id: str) -> ImageRecord | None:
        return self._images.get(image_id)

    def delete_image(self, image_id: str, layer_in_use: Callable[[str], bool]) -> list[str]:
        """Remove the image and the layers nothing else uses; return the removed chain IDs."""
        with self.lock:
            record = self._images.pop(image_id, None)
            if record is None:
                return []
            os.unlink(self._image_path(image_id))
            for ref in [r for r, i in self._refs.items() if i == image_id]:
                del self._refs[ref]
            self._save_refs()
            try:
                os.unlink(self._blob_path(image_id))
            except FileNotFoundError:
                pass
            return self._release_layers(list(reversed(chain_ids(record.diff_ids))), layer_in_use)

    def release_layers(self, chains: list[str], layer_in_use: Callable[[str], bool]) -> list[str]:
        """Remove the layers ``chains`` (top first) that no image uses, stopping at the first one still used.

        What a failed pull calls to take back the layers it applied; returns the removed chain IDs.
        """
        with self.lock:
            return self._release_layers(chains, layer_in_use)

    def _release_layers(self, chains: list[str], layer_in_use: Callable[[str], bool]) -> list[str]:
        used = {c for image in self._images.values() for c in chain_ids(image.diff_ids)}
        removed = []
        for chain in chains:  # top first: a parent can only go once its children have
            if chain in used or layer_in_use(hex_of(chain)):
                break
            self.remove_layer(chain)
            removed.append(chain)
        return removed

    # ------------------------------------------------------------------ references

    def _save_refs(self) -> None:
        atomic_write_json(self._refs_path, {"refs": self._refs})

    def refs(self) -> dict[str, str]:
        with self.lock:
            return dict(self._refs)

    def set_ref(self, ref: str, image_id: str, touch: bool = True) -> None:
        """Point ``ref`` at the image; ``touch`` sets its LastTagTime (``docker load`` does not, as Docker)."""
        with self.lock:
            if image_id not in self._images:
                raise NotFound(f"No such image: {image_id}")
            self._refs[ref] = image_id
            if touch:
                record = self._images[image_id]
                record.last_tag_time = time.time()
                self._write_image(record)
            self._save_refs()

    def set_parent(self, image_id: str, parent: str) -> None:
        """Record ``parent`` as the image's parent (``docker load`` of an archive that names it)."""
        with self.lock:
            record = self._images[image_id]
            if record.parent != parent:
                record.parent = parent
                self._write_image(record)

    def remove_ref(self, ref: str) -> str | None:
        with self.lock:
            image_id = self._refs.pop(ref, None)
            if image_id is not None:
                self._save_refs()
            return image_id

    # ------------------------------------------------------------------ recovery

    def collect_garbage(self, layer_in_use: Callable[[str], bool]) -> None:
        """Remove what interrupted work left: spool dirs, temp files, unrecorded or unused layers."""
        with self.lock:
            tmp = os.path.join(self.root, "tmp")
            for name in os.listdir(tmp):
                path = os.path.join(tmp, name)
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
            for sub in ("blobs/sha256", "layers", "images", "distribution", ""):
                directory = os.path.join(self.root, sub)
                for name in os.listdir(directory) if os.path.isdir(directory) else []:
                    if name.startswith(".tmp-"):
                        os.unlink(os.path.join(directory, name))
            dangling_refs = [r for r, i in self._refs.items() if i not in self._images]
            for ref in dangling_refs:
                del self._refs[ref]
            if dangling_refs:
                self._save_refs()
            layers_dir = os.path.join(self.root, "layers")
            for name in os.listdir(layers_dir):
                if name.endswith(".pending"):
                    key = name[: -len(".pending")]
                    if not os.path.exists(os.path.join(layers_dir, key + ".json")):
                        log.info("removing layer %s whose apply was interrupted", key)
                        self.storage.remove(key=key)
                    os.unlink(os.path.join(layers_dir, name))
            used = {c for image in self._images.values() for c in chain_ids(image.diff_ids)}
            records = {}
            for name in os.listdir(os.path.join(self.root, "layers")):
                if name.endswith(".json"):
                    data = read_json(os.path.join(self.root, "layers", name))
                    records["sha256:" + name[:-5]] = data
            # children before parents: sort by chain depth, deepest first
            def depth(chain: str) -> int:
                count, current = 0, chain
                while current in records and records[current].get("parent"):
                    current = records[current]["parent"]
                    count += 1
                return count

            for chain in sorted(records, key=depth, reverse=True):
                if chain not in used and not layer_in_use(hex_of(chain)):
                    log.info("removing unused layer %s left by interrupted work", chain)
                    self.remove_layer(chain)
