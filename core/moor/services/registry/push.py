"""``docker push``: send an image's layers, config and schema2 manifest to a registry, as Docker 20.10 does.

For each layer (top first, as Docker lists them) the push says ``Preparing``, then ``Waiting`` when every
upload slot (``max_concurrent_uploads``) is taken, and ends in one of:

* ``Layer already exists``: a blob known to hold the layer (distribution metadata, or this push's earlier
  tags) answers a HEAD in the target repository;
* ``Mounted from <repository>``: the registry mounted a blob known from another repository of itself;
* ``Pushed``: the layer was gzipped with zlib-ng into a temp file (in parallel with the other layers'),
  then uploaded (``Pushing`` with progress), monolithic or, for big blobs, in chunks.

Then the config blob (when the registry lacks it), the schema2 manifest under the tag, the line
``<tag>: digest: sha256:... size: N`` and the ``aux`` message; the digest reference ``repo@sha256:...`` is
set (RepoDigests), the blobs are recorded in the distribution metadata and ``push`` is published.
Whatever happens, no temp file stays: each compressed layer is removed after its upload, and the push's
spool directory when the push ends.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from moor.errors import InvalidParameter, NotFound, RegistryUnreachable
from moor.images import reference
from moor.images.store import LayerRecord, sha256_hex
from moor.registry.authconfig import AuthConfig
from moor.registry.client import RegistryClient
from moor.registry.endpoints import Endpoint, push_endpoints
from moor.registry.manifests import DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, Descriptor, schema2_manifest
from moor.registry.settings import RegistrySettings
from moor.services.events import EventBus
from moor.services.images import ImageService
from moor.services.registry import progress
from moor.services.registry.compress import compressed_layer
from moor.services.registry.inflight import KeyedLocks
from moor.services.registry.metadata import BlobSource, DistributionMetadata

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]

#: Blobs bigger than this go up in chunks of :data:`CHUNK_SIZE` (PATCH each, then PUT); smaller ones in one PUT.
CHUNKED_ABOVE = 256 << 20
CHUNK_SIZE = 64 << 20
#: moby's size classes: how many mounts and HEADs a layer of each size is worth (small, middle, big).
SMALL_LAYER = 100 << 10
MIDDLE_LAYER = 10 << 20


class PushClient(Protocol):
    """What a push asks of a registry client (:class:`moor.registry.client.RegistryClient`)."""

    def ping(self) -> None: ...

    def blob_size(self, digest: str) -> int | None: ...

    def mount_blob(self, digest: str, from_repository: str) -> bool: ...

    def upload_blob(self, digest: str, source: IO[bytes], size: int, progress: Callable[[int], None] | None = None,
                    chunk_size: int | None = None) -> None: ...

    def put_manifest(self, reference: str, media_type: str, data: bytes) -> str: ...


#: Builds the client of one endpoint for a repository path with the credentials given.
Connector = Callable[[Endpoint, str, AuthConfig | None], PushClient]


class Cancelled(Exception):
    """Another layer's upload failed: this one stops (never reaches the caller)."""


@dataclass
class _Session:
    """One ``push`` call: where it goes, what it learnt, and how it talks back."""

    ref: reference.Reference  # the repository (no tag)
    client: PushClient
    emit: Emit
    spool: str
    #: diff ID -> the descriptor of a blob the registry is known to have in this repository
    remote: dict[str, Descriptor] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failed: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)

    def say(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.emit(message)

    def check(self) -> None:
        if self.failed.is_set():
            raise Cancelled()


class PushService:
    """``POST /images/{name}/push``: pushes one tag, or every tag of a repository."""

    def __init__(self, images: ImageService, settings: RegistrySettings, events: EventBus,
                 metadata: DistributionMetadata, client_factory: Connector | None = None) -> None:
        self.images = images
        self.settings = settings
        self.events = events
        self.metadata = metadata
        self.connect: Connector = client_factory if client_factory is not None else self._registry_client
        #: (registry, repository, digest) -> the lock its upload holds, shared by concurrent pushes
        self.uploads = KeyedLocks()

    def _registry_client(self, endpoint: Endpoint, repository: str, credentials: AuthConfig | None) -> PushClient:
        return RegistryClient(endpoint, repository, credentials, actions=("pull", "push"), settings=self.settings)

    def push(self, name: str, tag: str, auth: AuthConfig, emit: Emit) -> None:
        """Push ``name:tag``, or with ``tag`` "" every tag of the repository ``name`` (``push -a``)."""
        if reference.HEX64.match(name):
            raise InvalidParameter(f"invalid repository name ({name}), cannot specify 64-byte hexadecimal strings")
        ref = reference.parse(name, default_tag=False)
        if tag:
            ref = reference.parse_repository_and_tag(ref.name, tag) if not ref.digest else ref
        repository = reference.Reference(ref.domain, ref.path)
        emit(progress.status(f"The push refers to repository [{repository.name}]"))
        refs = self.images.store.refs()
        prefix = repository.name
        owned = sorted(r for r in refs if r.startswith(prefix + ":") or r.startswith(prefix + "@"))
        if not owned:
            raise NotFound(f"An image does not exist locally with the tag: {repository.familiar_name}")
        if ref.tag:
            if str(ref) not in refs:
                raise NotFound(f"tag does not exist: {ref.familiar}")
            tags = [ref.tag]
        elif ref.digest:
            raise InvalidParameter("cannot push a digest reference")
        else:
            tags = [r[len(prefix) + 1:] for r in owned if r[len(prefix)] == ":"]
            if not tags:
                raise NotFound(f"no tags to push for {repository.familiar_name}")
        client = self._reach(repository, auth)
        spool = self.images.store.temp_dir()
        try:
            session = _Session(repository, client, emit, spool)
            for each in tags:
                self._push_tag(session, each, refs[f"{prefix}:{each}"])
        finally:
            shutil.rmtree(spool, ignore_errors=True)
        self._publish(ref, repository)

    def _publish(self, ref: reference.Reference, repository: reference.Reference) -> None:
        """The ``push`` event: the image's labels and the repository's name, as Docker's (keys sorted)."""
        image = self.images.find(ref.familiar)
        labels = (image.config.get("config") or {}).get("Labels") or {} if image is not None else {}
        attributes = {str(k): str(v) for k, v in labels.items()}
        attributes["name"] = repository.familiar_name
        self.events.publish("image", "push", ref.familiar, dict(sorted(attributes.items())))

    def _reach(self, repository: reference.Reference, auth: AuthConfig) -> PushClient:
        """The client of the first endpoint of the registry that answers (https, then http if insecure)."""
        endpoints = push_endpoints(self.settings, repository.domain)
        credentials = None if auth.empty else auth
        for number, endpoint in enumerate(endpoints):
            client = self.connect(endpoint, repository.path, credentials)
            try:
                client.ping()
            except RegistryUnreachable:
                if number == len(endpoints) - 1:
                    raise
                log.info("push: %s does not answer, trying the next endpoint", endpoint.base_url)
                continue
            return client
        raise RegistryUnreachable(f"no endpoint for registry {repository.domain}")

    # ------------------------------------------------------------------ one tag

    def _push_tag(self, session: _Session, tag: str, image_id: str) -> None:
        image = self.images.resolve(image_id)
        layers = self.images.store.layer_chain(image)
        descriptors = self._push_layers(session, list(reversed(layers)))
        config = self.images.store.get_blob(image.id)
        with self.uploads.hold(session.ref.domain, session.ref.path, image.id):
            if session.client.blob_size(image.id) is None:
                session.client.upload_blob(image.id, io.BytesIO(config), len(config))
        manifest = schema2_manifest(Descriptor(DOCKER_CONFIG, image.id, len(config)),
                                    [descriptors[layer.diff_id] for layer in layers])
        session.client.put_manifest(tag, DOCKER_MANIFEST, manifest)
        digest = "sha256:" + sha256_hex(manifest)
        session.say(progress.status(f"{tag}: digest: {digest} size: {len(manifest)}"))
        self.images.store.set_ref(f"{session.ref.name}@{digest}", image.id)
        session.say(progress.aux({"Tag": tag, "Digest": digest, "Size": len(manifest)}))

    def _push_layers(self, session: _Session, layers: list[LayerRecord]) -> dict[str, Descriptor]:
        """Push ``layers`` (top first) in parallel; their descriptors by diff ID."""
        unique: dict[str, LayerRecord] = {}
        slots = max(1, self.settings.max_concurrent_uploads)
        futures: list[Future[Descriptor]] = []
        with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="moord-push") as pool:
            try:
                for layer in layers:
                    session.say(progress.update(progress.short_id(layer.diff_id), "Preparing"))
                    if layer.diff_id in unique:
                        continue
                    unique[layer.diff_id] = layer
                    if len(unique) > slots:
                        session.say(progress.update(progress.short_id(layer.diff_id), "Waiting"))
                    futures.append(pool.submit(self._push_layer, session, layer))
            except BaseException:
                session.failed.set()
                raise
            for future in futures:
                future.exception()  # wait for each: a failed one set session.failed, the others stop soon
        if session.errors:
            raise session.errors[0]  # the first failure in time, as Docker reports it
        return {diff_id: future.result() for diff_id, future in zip(unique, futures, strict=True)}

    def _push_layer(self, session: _Session, layer: LayerRecord) -> Descriptor:
        try:
            return self._send_layer(session, layer)
        except Cancelled:
            raise
        except BaseException as err:
            with session.lock:
                session.errors.append(err)
            session.failed.set()  # the others stop at their next step
            raise

    def _send_layer(self, session: _Session, layer: LayerRecord) -> Descriptor:
        session.check()
        short = progress.short_id(layer.diff_id)
        with session.lock:
            known = session.remote.get(layer.diff_id)
        if known is not None:
            session.say(progress.update(short, "Layer already exists"))
            return known
        sources = self.metadata.sources(layer.diff_id)
        mounts, checks, other_repositories = _attempts(layer.size)
        checked: set[str] = set()
        found = self._existing(session, layer, sources, checked, 1, other_repositories=False)
        if found is not None:
            return found
        for source in _mount_candidates(session.ref, sources)[:mounts]:
            session.check()
            if session.client.mount_blob(source.digest, source.repository):
                session.say(progress.update(short, f"Mounted from {source.repository}"))
                return self._remember(session, layer, source.digest, source.size)
        if checks - len(checked) > 0:
            found = self._existing(session, layer, sources, checked, checks - len(checked), other_repositories)
            if found is not None:
                return found
        session.check()
        with contextlib.closing(self.images.store.open_layer_tar(layer)) as tar, \
                compressed_layer(_Guarded(tar, session), session.spool, layer.diff_id) as blob:
            session.check()
            with self.uploads.hold(session.ref.domain, session.ref.path, blob.digest):
                if session.client.blob_size(blob.digest) == blob.size:
                    # the same tar gzips to the same bytes: pushed before (or just now, by a concurrent push)
                    session.say(progress.update(short, "Layer already exists"))
                    return self._remember(session, layer, blob.digest, blob.size)
                tracker = progress.ProgressTracker(_guarded_say(session), short, "Pushing", blob.size)
                with blob.open() as stream:
                    session.client.upload_blob(blob.digest, stream, blob.size, progress=tracker.add,
                                               chunk_size=CHUNK_SIZE if blob.size > CHUNKED_ABOVE else None)
        session.say(progress.update(short, "Pushed"))
        return self._remember(session, layer, blob.digest, blob.size)

    def _existing(self, session: _Session, layer: LayerRecord, sources: list[BlobSource], checked: set[str],
                  attempts: int, other_repositories: bool) -> Descriptor | None:
        """moby's ``layerAlreadyExists``: HEAD up to ``attempts`` known digests in the target repository."""
        here = [s for s in sources if s.registry == session.ref.domain and s.repository == session.ref.path]
        candidates = here + ([s for s in sources if s not in here] if other_repositories else [])
        digests: list[BlobSource] = []
        for source in candidates:
            if len(digests) >= attempts:
                break
            if source.digest in checked or any(d.digest == source.digest for d in digests):
                continue
            digests.append(source)
        for source in digests:
            session.check()
            size = session.client.blob_size(source.digest)
            checked.add(source.digest)
            if size is not None:
                session.say(progress.update(progress.short_id(layer.diff_id), "Layer already exists"))
                return self._remember(session, layer, source.digest, size)
            if source in here:
                self.metadata.forget(layer.diff_id, source)
        return None

    def _remember(self, session: _Session, layer: LayerRecord, digest: str, size: int) -> Descriptor:
        """The registry holds ``digest`` for ``layer`` in the target repository: note it here and on disk."""
        descriptor = Descriptor(DOCKER_LAYER, digest, size)
        with session.lock:
            session.remote[layer.diff_id] = descriptor
        self.metadata.record([(layer.diff_id, BlobSource(digest, size, DOCKER_LAYER, session.ref.domain,
                                                         session.ref.path))])
        return descriptor


def _attempts(size: int) -> tuple[int, int, bool]:
    """moby's budget per layer size: (mount attempts, existence checks, check other repositories' digests)."""
    if size > MIDDLE_LAYER:
        return 4, 3, True
    if size > SMALL_LAYER:
        return 3, 1, False
    return 1, 1, False


def _mount_candidates(target: reference.Reference, sources: list[BlobSource]) -> list[BlobSource]:
    """Blobs of the same registry in other repositories, the most alike repository first, then the newest."""
    candidates = [s for s in sources if s.registry == target.domain and s.repository != target.path]
    parts = target.path.split("/")

    def likeness(source: BlobSource) -> int:
        count = 0
        for mine, theirs in zip(parts, source.repository.split("/"), strict=False):
            if mine != theirs:
                break
            count += 1
        return count

    unique: list[BlobSource] = []
    for source in sorted(candidates, key=likeness, reverse=True):  # stable: newest first among equals
        if all(u.digest != source.digest or u.repository != source.repository for u in unique):
            unique.append(source)
    return unique


def _guarded_say(session: _Session) -> Emit:
    def say(message: dict[str, Any]) -> None:
        session.check()
        session.say(message)

    return say


class _Guarded:
    """A layer tar that stops being readable once the push failed elsewhere (so compression stops too)."""

    def __init__(self, stream: IO[bytes], session: _Session) -> None:
        self._stream = stream
        self._session = session

    def read(self, size: int = -1) -> bytes:
        self._session.check()
        return self._stream.read(size)

