"""An in-memory registry and client with :class:`moor.services.registry.clients.RegistryAPI`'s methods.

Unit tests of pull and distribution inspect build images in it (:meth:`FakeRegistry.add_image`), then
make it misbehave: serve tampered bytes, ignore Range requests, fail, or hold a blob until released.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import zstandard

from moor.errors import NotFound, RegistryUnreachable
from moor.registry.authconfig import AuthConfig
from moor.registry.endpoints import Endpoint
from moor.registry.manifests import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_LAYER,
    OCI_LAYER_ZSTD,
    Descriptor,
)
from moor.testing.fakes import layer_tar


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Fetched:
    media_type: str
    data: bytes
    digest: str


@dataclass
class BuiltImage:
    """What :meth:`FakeRegistry.add_image` made."""

    manifest_digest: str
    config_digest: str
    layer_digests: list[str]
    diff_ids: list[str]
    layer_tars: list[bytes] = field(repr=False)


class FakeBlob:
    """A blob stream from ``offset`` (``offset`` is 0 when the registry ignored the Range)."""

    def __init__(self, data: bytes, offset: int, total: int, gate: threading.Event | None = None,
                 fail_at: int | None = None) -> None:
        self._data = io.BytesIO(data)
        self.offset = offset
        self.total: int | None = total
        self._gate = gate
        self._fail_at = fail_at
        self._sent = offset
        self.closed = False
        self.on_close: Any = None

    def read(self, size: int) -> bytes:
        if self._gate is not None:
            assert self._gate.wait(30), "the test never released this blob"
        if self._fail_at is not None and self._sent >= self._fail_at:
            raise RegistryUnreachable("connection reset by peer")
        if self._fail_at is not None:
            size = min(size, self._fail_at - self._sent)
        data = self._data.read(min(size, 4096))
        self._sent += len(data)
        return data

    def close(self) -> None:
        if not self.closed and self.on_close is not None:
            self.on_close()
        self.closed = True


class FakeRegistry:
    """One repository's manifests and blobs; counts and records what clients asked."""

    def __init__(self) -> None:
        self.manifests: dict[str, tuple[str, bytes]] = {}  # tag or digest -> (media type, bytes)
        self.blobs: dict[str, bytes] = {}
        self.tampered: dict[str, bytes] = {}  # digest -> what is served instead
        self.gates: dict[str, threading.Event] = {}  # digest -> released when the test says
        self.fail_at: dict[str, int] = {}  # digest -> byte at which the connection drops (once)
        self.ignore_range = False
        self.down = False  # every call fails as an unreachable registry does
        self.blob_requests: list[tuple[str, int]] = []
        self.configs: set[str] = set()
        self.open_layers = 0  # layer blobs being read right now ...
        self.most_open_layers = 0  # ... and the most at once
        self.manifest_requests: list[str] = []
        self.lock = threading.Lock()

    # -------------------------------------------------------------- building

    def put_blob(self, data: bytes) -> str:
        digest = digest_of(data)
        self.blobs[digest] = data
        return digest

    def add_image(self, tag: str, layers: list[dict[str, bytes | str]], compression: str = "gzip",
                  architecture: str = "amd64", labels: dict[str, str] | None = None) -> BuiltImage:
        tars = [layer_tar(files) for files in layers]
        blobs, media_types = [], []
        for tar in tars:
            if compression == "gzip":
                blobs.append(gzip.compress(tar, mtime=0))
                media_types.append(DOCKER_LAYER)
            elif compression == "zstd":
                blobs.append(zstandard.ZstdCompressor().compress(tar))
                media_types.append(OCI_LAYER_ZSTD)
            else:
                blobs.append(tar)
                media_types.append(OCI_LAYER)
        diff_ids = [digest_of(tar) for tar in tars]
        config = {"architecture": architecture, "os": "linux", "created": "2026-01-01T00:00:00Z",
                  "config": {"Cmd": ["sh"], **({"Labels": labels} if labels else {})},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        config_bytes = json.dumps(config).encode()
        config_digest = self.put_blob(config_bytes)
        self.configs.add(config_digest)
        layer_digests = [self.put_blob(blob) for blob in blobs]
        manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                    "config": {"mediaType": DOCKER_CONFIG, "size": len(config_bytes), "digest": config_digest},
                    "layers": [{"mediaType": m, "size": len(b), "digest": d}
                               for m, b, d in zip(media_types, blobs, layer_digests, strict=True)]}
        data = json.dumps(manifest, indent=3).encode()
        manifest_digest = digest_of(data)
        self.manifests[manifest_digest] = (DOCKER_MANIFEST, data)
        if tag:
            self.manifests[tag] = (DOCKER_MANIFEST, data)
        return BuiltImage(manifest_digest, config_digest, layer_digests, diff_ids, tars)

    def add_list(self, tag: str, entries: list[tuple[BuiltImage, str, str, str]]) -> str:
        """A manifest list of (image, os, architecture, variant)."""
        manifests = []
        for image, os_name, arch, variant in entries:
            platform = {"architecture": arch, "os": os_name, **({"variant": variant} if variant else {})}
            size = len(self.manifests[image.manifest_digest][1])
            manifests.append({"mediaType": DOCKER_MANIFEST, "size": size, "digest": image.manifest_digest,
                              "platform": platform})
        data = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST_LIST, "manifests": manifests}).encode()
        digest = digest_of(data)
        self.manifests[digest] = (DOCKER_MANIFEST_LIST, data)
        self.manifests[tag] = (DOCKER_MANIFEST_LIST, data)
        return digest

    # -------------------------------------------------------------- serving

    def get_manifest(self, ref: str) -> Fetched:
        self._check()
        self.manifest_requests.append(ref)
        if ref not in self.manifests:
            raise NotFound("manifest unknown: manifest unknown")
        media_type, data = self.manifests[ref]
        return Fetched(media_type, data, digest_of(data))

    def head_manifest(self, ref: str) -> Descriptor | None:
        self._check()
        if ref not in self.manifests:
            return None
        media_type, data = self.manifests[ref]
        return Descriptor(media_type, digest_of(data), len(data))

    def open_blob(self, digest: str, offset: int = 0) -> FakeBlob:
        self._check()
        with self.lock:
            self.blob_requests.append((digest, offset))
        if digest not in self.blobs:
            raise NotFound("blob unknown: blob unknown to registry")
        data = self.tampered.get(digest, self.blobs[digest])
        if self.ignore_range:
            offset = 0
        fail_at = self.fail_at.pop(digest, None)
        blob = FakeBlob(data[offset:], offset, len(data), self.gates.get(digest), fail_at)
        if digest not in self.configs:
            with self.lock:
                self.open_layers += 1
                self.most_open_layers = max(self.most_open_layers, self.open_layers)
            blob.on_close = self._layer_closed
        return blob

    def _layer_closed(self) -> None:
        with self.lock:
            self.open_layers -= 1

    def tags(self) -> list[str]:
        self._check()
        return sorted(ref for ref in self.manifests if not ref.startswith("sha256:"))

    def _check(self) -> None:
        if self.down:
            raise RegistryUnreachable("dial tcp 127.0.0.1:1: connect: connection refused")


class FakeClient:
    """A client of ``registry`` (one per endpoint and repository, as the real one)."""

    def __init__(self, registry: FakeRegistry, endpoint: Endpoint, repository: str,
                 credentials: AuthConfig | None, name: str = "") -> None:
        self.name = name
        self.closed = False
        self.registry = registry
        self.endpoint = endpoint
        self.repository = repository
        self.credentials = credentials

    def get_manifest(self, reference: str) -> Fetched:
        return self.registry.get_manifest(reference)

    def head_manifest(self, reference: str) -> Descriptor | None:
        return self.registry.head_manifest(reference)

    def open_blob(self, digest: str, offset: int = 0) -> FakeBlob:
        return self.registry.open_blob(digest, offset)

    def tags(self) -> list[str]:
        return self.registry.tags()

    def close(self) -> None:
        self.closed = True


def factory_for(registry: FakeRegistry, mirrors: dict[str, FakeRegistry] | None = None,
                made: list[FakeClient] | None = None) -> Any:
    """A client factory: endpoints whose base URL is a key of ``mirrors`` reach that registry instead."""

    def make(endpoint: Endpoint, repository: str, credentials: AuthConfig | None, name: str) -> FakeClient:
        target = (mirrors or {}).get(endpoint.base_url, registry)
        client = FakeClient(target, endpoint, repository, credentials, name)
        if made is not None:
            made.append(client)
        return client

    return make
