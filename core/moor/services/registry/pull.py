"""Pulling images from registries: ``POST /images/create?fromImage=...``.

One pull resolves the reference's manifest (a manifest list or OCI index picks this host's platform, or
the one asked for), fetches and verifies the image config, then brings in the layers it lacks:
downloads run in parallel (``max_concurrent_downloads``) into the download directory, each blob
checked against its digest by streaming sha256 before it is used; one applier thread decompresses and
applies the layers strictly in order, each as soon as it and its parent are in. The image becomes
visible only once every layer is in (:meth:`ImageStore.add_image`), then the tag and digest references
are set and the ``pull`` event published.

Progress goes to ``emit`` as Docker's JSON messages (:mod:`moor.services.registry.progress`), always
from the calling thread. Errors raised before the first message (a bad name, an unknown manifest, a
schema 1 manifest, a refused login) come before anything is emitted, so the route can answer with
their status; later ones are raised after the stream started.

**Cancellation**: when ``emit`` raises (the client went away), the pull stops its downloads at the
next chunk, takes back the layers it applied (they belong to no image), keeps every downloaded or
partial blob for the next pull, and re-raises ``emit``'s exception. A failure (a network error after
the retries, a tampered blob) does the same and raises the failure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from moor.errors import InvalidParameter, MoorError, NotFound, RegistryUnreachable
from moor.images import reference
from moor.images.compression import open_decompressed
from moor.images.store import ImageRecord, chain_ids
from moor.registry.authconfig import AuthConfig
from moor.registry.manifests import (
    DOCKER_CONFIG,
    OCI_CONFIG,
    Descriptor,
    ImageManifest,
    ManifestIndex,
    Platform,
    choose_platform,
    is_digest,
    parse_manifest,
    parse_platform,
)
from moor.registry.settings import RegistrySettings
from moor.services.events import EventBus
from moor.services.images import ImageService
from moor.services.registry import progress
from moor.services.registry.clients import ClientFactory, EndpointChain, RegistryAPI, default_client_factory
from moor.services.registry.downloads import BlobDownloads, BlobStream, Cancelled
from moor.services.registry.metadata import BlobSource, DistributionMetadata

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]

#: An image config larger than this is refused (Docker's are a few kB; long histories reach a few MB).
MAX_CONFIG_BYTES = 16 << 20
#: A blob download failing on the network is tried this many times in all ...
DOWNLOAD_ATTEMPTS = 3
#: ... waiting this many seconds times the attempt number in between (Docker: 5, 10, 15, ...).
RETRY_DELAY = 1.0
_CHUNK = 1 << 16
#: The applier's last message: every layer is in (or the pull failed); not for the client.
APPLIER_DONE: dict[str, Any] = {}


@dataclass
class _Layer:
    """One layer of the image being pulled."""

    descriptor: Descriptor
    diff_id: str
    chain: str
    present: bool
    path: str = ""  # the verified blob, once downloaded
    ready: threading.Event = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.ready = threading.Event()

    @property
    def id(self) -> str:
        return progress.short_id(self.descriptor.digest)


class _Run:
    """The shared state of one pull: its messages, its cancel flag, its first failure."""

    def __init__(self) -> None:
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.cancel = threading.Event()
        self.failure: BaseException | None = None
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        self.messages.put(message)

    def fail(self, error: BaseException) -> None:
        with self._lock:
            if self.failure is None:
                self.failure = error
        self.cancel.set()

    def cancelled(self) -> bool:
        return self.cancel.is_set()


class _CountingReader:
    """The compressed blob as the decompressor reads it: counts bytes for "Extracting", stops when cancelled."""

    def __init__(self, raw: IO[bytes], count: Callable[[int], None], cancelled: Callable[[], bool]) -> None:
        self._raw = raw
        self._count = count
        self._cancelled = cancelled

    def read(self, size: int = -1) -> bytes:
        if self._cancelled():
            raise Cancelled("pull cancelled")
        data = self._raw.read(size)
        self._count(len(data))
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()


class PullService:
    """Pulls images into the image service's store.

    ``client_factory`` makes the registry client of one repository on one endpoint (default: moor's
    :class:`~moor.registry.client.RegistryClient`); ``metadata`` records which blobs hold which layer
    (default: the store's own file, shared safely with any other instance).
    """

    def __init__(self, images: ImageService, settings: RegistrySettings, events: EventBus, downloads_dir: str,
                 metadata: DistributionMetadata | None = None, client_factory: ClientFactory | None = None) -> None:
        self.images = images
        self.store = images.store
        self.settings = settings
        self.events = events
        self.downloads = BlobDownloads(downloads_dir)
        self.downloads.expire()  # at every start too: a moord that never pulls again keeps no stale blob
        self.metadata = metadata if metadata is not None else DistributionMetadata(images.store.root)
        self._factory = client_factory if client_factory is not None else default_client_factory(settings)
        #: layer chains each running pull needs: a failing pull takes back only what no other one needs
        self._held: Counter[str] = Counter()
        self._held_lock = threading.Lock()
        #: ``max_concurrent_downloads`` bounds the blobs being downloaded by all pulls together
        self._downloading = threading.BoundedSemaphore(max(settings.max_concurrent_downloads, 1))

    # ------------------------------------------------------------------ entry point

    def pull(self, name: str, tag: str, platform: str, auth: AuthConfig, all_tags: bool, emit: Emit) -> None:
        """Pull ``name`` (``fromImage``) with ``tag`` (a tag, a digest, or "") for ``platform`` ("" = this host's).

        As Docker's API: ``tag`` may be a digest; with no tag or digest in ``name`` nor ``tag``, or with
        ``all_tags``, every tag of the repository is pulled.
        """
        target = self._parse(name, tag)
        wanted_platform = parse_platform(platform)
        chain = EndpointChain(self._factory, self.settings, target.domain, target.path, auth)
        self.downloads.expire()
        try:
            if all_tags or not (target.tag or target.digest):
                references = sorted(chain.first(lambda client: client.tags()))
                if not references:
                    raise NotFound(f"repository {target.familiar_name} has no tags")
                requested = target.familiar_name
            else:
                references = [target.digest or target.tag]
                requested = target.familiar
            updated = False
            for ref in references:
                updated = self._pull_one(target, ref, chain, wanted_platform, emit) or updated
        finally:
            chain.close()
        verb = "Downloaded newer image for" if updated else "Image is up to date for"
        emit(progress.status(f"Status: {verb} {requested}"))
        image = self.images.find(requested)
        labels = (image.config.get("config") or {}).get("Labels") or {} if image is not None else {}
        attributes = {str(k): str(v) for k, v in sorted(labels.items())}
        attributes["name"] = target.familiar_name
        self.events.publish("image", "pull", requested, attributes)

    def _parse(self, name: str, tag: str) -> reference.Reference:
        name = name.removesuffix(":")  # "pull -a" of old clients sends "busybox:"
        parsed = reference.parse(name, default_tag=False)
        if not tag:
            return parsed
        if is_digest(tag):
            return reference.Reference(parsed.domain, parsed.path, "", tag)
        if tag.startswith("sha256:"):
            raise InvalidParameter(f"invalid digest {tag!r}")
        return reference.parse_repository_and_tag(parsed.name, tag) if not parsed.digest else \
            reference.Reference(parsed.domain, parsed.path, tag, parsed.digest)

    # ------------------------------------------------------------------ one tag or digest

    def _resolve(self, target: reference.Reference, ref: str, chain: EndpointChain,
                 platform_wanted: Platform) -> tuple[str, ImageManifest]:
        """The manifest digest to record (a list's own) and the image manifest for the platform."""
        shown = reference.Reference(target.domain, target.path, "" if is_digest(ref) else ref,
                                    ref if is_digest(ref) else "")
        try:
            fetched = chain.first(lambda client: client.get_manifest(ref))
        except NotFound as error:
            raise NotFound(_not_found_text(error, shown)) from None
        document = parse_manifest(fetched.media_type, fetched.data)
        if isinstance(document, ManifestIndex):
            entry = choose_platform(document, platform_wanted)
            child = chain.first(lambda client: client.get_manifest(entry.digest))
            document = parse_manifest(child.media_type, child.data)
            if not isinstance(document, ImageManifest):
                raise InvalidParameter(f"invalid manifest: the entry {entry.digest} of the manifest list is "
                                       "not an image manifest")
        if document.config.media_type not in (DOCKER_CONFIG, OCI_CONFIG, ""):
            raise InvalidParameter(f"encountered remote {document.config.media_type!r} (unknown) when fetching: "
                                   "not an image")
        return fetched.digest, document

    def _pull_one(self, target: reference.Reference, ref: str, chain: EndpointChain, platform_wanted: Platform,
                  emit: Emit) -> bool:
        """Pull the tag or digest ``ref``; return whether a reference changed (a newer image)."""
        manifest_digest, manifest = self._resolve(target, ref, chain, platform_wanted)
        emit(progress.status(f"Pulling from {target.path}", ref))
        image = self.store.get(manifest.config.digest)
        if image is None:  # as Docker: an image already here needs nothing more, not even its config
            image = self._pull_image(manifest, chain, emit)
        emit(progress.status(f"Digest: {manifest_digest}"))
        return self._set_references(target, ref, manifest_digest, image)

    def _pull_image(self, manifest: ImageManifest, chain: EndpointChain, emit: Emit) -> ImageRecord:
        """Fetch the config, bring in the missing layers, make the image."""
        config_bytes = self._fetch_config(chain, manifest.config)
        diff_ids = _diff_ids(config_bytes)
        if len(diff_ids) != len(manifest.layers):
            raise InvalidParameter(f"invalid image: its manifest has {len(manifest.layers)} layers and its config "
                                   f"{len(diff_ids)} diff IDs")
        chains = chain_ids(diff_ids)
        with self._held_lock:
            self._held.update(chains)
        try:
            return self._bring_layers(manifest, diff_ids, chains, config_bytes, chain, emit)
        finally:
            with self._held_lock:
                self._held.subtract(chains)
                self._held = +self._held

    def _fetch_config(self, chain: EndpointChain, descriptor: Descriptor) -> bytes:
        if descriptor.size > MAX_CONFIG_BYTES:
            raise InvalidParameter(f"invalid image: its config of {descriptor.size} bytes is larger than "
                                   f"{MAX_CONFIG_BYTES} bytes")

        def fetch(client: RegistryAPI) -> bytes:
            stream = client.open_blob(descriptor.digest)
            try:
                data = _read_all(stream, MAX_CONFIG_BYTES + 1)
            finally:
                stream.close()
            if len(data) > MAX_CONFIG_BYTES:
                raise InvalidParameter(f"invalid image: its config is larger than {MAX_CONFIG_BYTES} bytes")
            return data

        data = chain.any(fetch)
        found = "sha256:" + hashlib.sha256(data).hexdigest()
        if found != descriptor.digest:
            raise InvalidParameter(f"image config verification failed for digest {descriptor.digest}")
        return data

    def _set_references(self, target: reference.Reference, ref: str, manifest_digest: str,
                        image: ImageRecord) -> bool:
        refs = self.store.refs()
        digest_ref = f"{target.name}@{manifest_digest}"
        if is_digest(ref):
            old = refs.get(digest_ref)
            if old != image.id:
                self.store.set_ref(digest_ref, image.id)
            return old != image.id
        if digest_ref not in refs:
            self.store.set_ref(digest_ref, image.id)
        tag_ref = f"{target.name}:{ref}"
        if refs.get(tag_ref) == image.id:
            return False
        self.store.set_ref(tag_ref, image.id)
        return True

    # ------------------------------------------------------------------ layers

    def _bring_layers(self, manifest: ImageManifest, diff_ids: list[str], chains: list[str], config_bytes: bytes,
                      chain: EndpointChain, emit: Emit) -> ImageRecord:
        layers = [_Layer(descriptor, diff_id, chain_id, self.store.get_layer(chain_id) is not None)
                  for descriptor, diff_id, chain_id in zip(manifest.layers, diff_ids, chains, strict=True)]
        missing = [layer for layer in layers if not layer.present]
        for layer in layers:
            emit(progress.update(layer.id, "Already exists" if layer.present else "Pulling fs layer"))
        for layer in missing[max(self.settings.max_concurrent_downloads, 1):]:
            emit(progress.update(layer.id, "Waiting"))
        run = _Run()
        applied: list[str] = []
        applier = threading.Thread(target=self._apply_all, args=(layers, run, applied), name="pull-apply",
                                   daemon=True)
        pool = ThreadPoolExecutor(max_workers=max(self.settings.max_concurrent_downloads, 1),
                                  thread_name_prefix="pull-download")
        try:
            for layer in missing:
                pool.submit(self._download, layer, chain, run)
            applier.start()
            self._pump(run, applier, emit)
            if run.failure is not None:
                raise run.failure
            image = self.store.add_image(config_bytes)
        except BaseException:
            run.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            if applier.is_alive():
                applier.join()
            self._take_back(applied)
            raise
        pool.shutdown(wait=True)
        self._record(layers, chain)
        for layer in missing:
            self.downloads.discard(layer.descriptor.digest)
        return image

    def _pump(self, run: _Run, applier: threading.Thread, emit: Emit) -> None:
        """Emit the workers' messages from this thread until the layers are in or the pull failed."""
        while True:
            try:
                message = run.messages.get(timeout=0.2)
            except queue.Empty:
                if not applier.is_alive() and run.messages.empty():
                    return
                continue
            if message is APPLIER_DONE:
                return
            emit(message)  # raises when the client went away: the caller cancels

    def _download(self, layer: _Layer, chain: EndpointChain, run: _Run) -> None:
        try:
            while not self._downloading.acquire(timeout=0.2):  # a slot shared by every pull, as Docker's
                if run.cancelled():
                    return
            try:
                self._fetch_layer(layer, chain, run)
            finally:
                self._downloading.release()
        except BaseException as error:  # noqa: BLE001  (handed to the pulling thread, which raises it)
            run.fail(error)

    def _fetch_layer(self, layer: _Layer, chain: EndpointChain, run: _Run) -> None:
        """Download and verify one layer's blob (retried on network errors), then mark it ready."""
        descriptor = layer.descriptor
        tracker = progress.ProgressTracker(run.send, layer.id, "Downloading", descriptor.size)

        def on_bytes(count: int, offset: int) -> None:
            if count == 0:
                tracker.current = offset
            else:
                tracker.add(count)

        def opener(offset: int) -> BlobStream:
            return chain.any(lambda client: client.open_blob(descriptor.digest, offset))

        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            try:
                layer.path = self.downloads.fetch(descriptor.digest, descriptor.size, opener, on_bytes,
                                                  run.cancelled)
                break
            except RegistryUnreachable as error:
                if attempt == DOWNLOAD_ATTEMPTS or run.cancelled():
                    raise RegistryUnreachable(f"downloading {descriptor.digest}: {error}") from None
                delay = int(RETRY_DELAY * attempt) or 1
                log.info("download of %s failed (%s): retrying in %s s", descriptor.digest, error, delay)
                run.send(progress.update(layer.id, f"Retrying in {delay} second{'s' if delay != 1 else ''}"))
                if run.cancel.wait(RETRY_DELAY * attempt):
                    raise Cancelled("pull cancelled") from None
        run.send(progress.update(layer.id, "Verifying Checksum"))
        run.send(progress.update(layer.id, "Download complete"))
        layer.ready.set()

    def _apply_all(self, layers: list[_Layer], run: _Run, applied: list[str]) -> None:
        """Apply each missing layer in order, as soon as it is downloaded."""
        try:
            parent: str | None = None
            for layer in layers:
                if not layer.present:
                    while not layer.ready.wait(0.2):
                        if run.cancelled():
                            return
                    self._apply(layer, parent, run, applied)
                parent = layer.chain
        except BaseException as error:  # noqa: BLE001  (handed to the pulling thread, which raises it)
            run.fail(error)
        finally:
            run.send(APPLIER_DONE)  # the pump stops now, not at its next 0.2 s timeout

    def _apply(self, layer: _Layer, parent: str | None, run: _Run, applied: list[str]) -> None:
        tracker = progress.ProgressTracker(run.send, layer.id, "Extracting", layer.descriptor.size)
        try:
            if self.store.get_layer(layer.chain) is not None:
                raise FileExistsError  # a pull of another image brought it in meanwhile
            raw = open(layer.path, "rb")
        except (FileExistsError, FileNotFoundError):
            if self.store.get_layer(layer.chain) is None:  # the blob went without its layer coming in
                raise InvalidParameter(f"layer {layer.descriptor.digest} vanished from the downloads") from None
            run.send(progress.update(layer.id, "Pull complete"))  # (another pull's, done with its blob)
            return
        with raw:
            reader = _CountingReader(raw, tracker.add, run.cancelled)
            # decompressed in a thread of its own, ahead of the apply (the reader is a file's: any thread may read)
            stream = open_decompressed(reader, f"layer {layer.descriptor.digest}",  # type: ignore[arg-type]
                                       ahead=True)
            try:
                record_before = self.store.get_layer(layer.chain)
                self.store.add_layer(parent, stream, layer.diff_id)
            finally:
                stream.close()
        if record_before is None:
            applied.append(layer.chain)
        run.send(progress.update(layer.id, "Pull complete"))

    def _take_back(self, applied: list[str]) -> None:
        """Remove the layers this pull applied that nothing else needs (the pull failed)."""
        if not applied:
            return
        with self._held_lock:
            held = {c for c, n in self._held.items() if n > 1}
        held_keys = {c.split(":", 1)[1] for c in held}

        def in_use(key: str) -> bool:
            return key in held_keys or self.images.usage.layer_in_use(key)

        try:
            self.store.release_layers(list(reversed(applied)), in_use)
        except (OSError, MoorError) as error:  # the next start's garbage collection finishes it
            log.warning("could not take back the layers of a failed pull: %s", error)

    def _record(self, layers: list[_Layer], chain: EndpointChain) -> None:
        """Remember which blob held each downloaded layer (push skips what a registry has)."""
        domain, repository = chain.domain, chain.repository
        self.metadata.record(
            (layer.diff_id, BlobSource(layer.descriptor.digest, layer.descriptor.size, layer.descriptor.media_type,
                                       domain, repository))
            for layer in layers if not layer.present)


def _read_all(stream: BlobStream, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < limit:
        data = stream.read(min(_CHUNK * 16, limit - size))
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)


def _diff_ids(config_bytes: bytes) -> list[str]:
    try:
        config = json.loads(config_bytes)
    except ValueError:
        raise InvalidParameter("invalid image config: not JSON") from None
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) and is_digest(d) for d in diff_ids):
        raise InvalidParameter("invalid image config: rootfs.diff_ids is missing or malformed")
    return diff_ids


def _not_found_text(error: NotFound, shown: reference.Reference) -> str:
    """Docker's words for what the registry does not have."""
    text = str(error)
    if text.startswith(("manifest for ", "repository ", "pull access denied ")):
        return text  # the client's words already
    if "manifest unknown" in text:
        return f"manifest for {shown.familiar} not found: {text}"
    if "name unknown" in text or "repository" in text:
        return f"repository {shown.familiar_name} not found: {text}"
    return text
