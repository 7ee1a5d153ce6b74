"""Manifests and manifest lists: media types, parsing, platform choice and Docker's schema2 encoding."""

from __future__ import annotations

import hashlib
import json
import platform as host_platform
import re
from dataclasses import dataclass, field

from moor.errors import InvalidParameter, NotFound

# Docker's media types
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_PLUGIN_CONFIG = "application/vnd.docker.plugin.v1+json"
SCHEMA1_MANIFEST = "application/vnd.docker.distribution.manifest.v1+json"
SCHEMA1_SIGNED_MANIFEST = "application/vnd.docker.distribution.manifest.v1+prettyjws"
# OCI's media types
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_NONDIST_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_NONDIST_LAYER_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_NONDIST_LAYER_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

IMAGE_MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
SCHEMA1_TYPES = (SCHEMA1_MANIFEST, SCHEMA1_SIGNED_MANIFEST)
#: Every manifest kind moor understands, best first: the ``Accept`` header of manifest requests.
MANIFEST_ACCEPT = (DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX)
#: Layer media types and the compression of their bytes ("gzip", "zstd" or "" for a plain tar).
LAYER_COMPRESSION = {
    DOCKER_LAYER: "gzip",
    DOCKER_FOREIGN_LAYER: "gzip",
    OCI_LAYER: "",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_NONDIST_LAYER: "",
    OCI_NONDIST_LAYER_GZIP: "gzip",
    OCI_NONDIST_LAYER_ZSTD: "zstd",
}
#: containerd's cap on a manifest's size; a bigger answer is refused before it is parsed.
MAX_MANIFEST_BYTES = 4 << 20

_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})\Z")
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


def is_digest(text: str) -> bool:
    """Whether ``text`` is a well-formed ``algorithm:hex`` digest moor can verify."""
    return bool(_DIGEST.match(text))


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """``sha256:<hex>`` of ``data`` (or the named algorithm's)."""
    return f"{algorithm}:{_HASHES[algorithm](data).hexdigest()}"


def hasher_for(digest: str) -> hashlib._Hash:
    """A fresh hash object for the algorithm of ``digest`` (which must satisfy :func:`is_digest`)."""
    return _HASHES[digest.partition(":")[0]]()


@dataclass(frozen=True)
class Platform:
    """An OCI platform: ``linux/arm64/v8`` is Platform("linux", "arm64", "v8")."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: what a manifest says about a blob or a child manifest."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class ImageManifest:
    """A Docker schema2 or OCI image manifest."""

    media_type: str
    config: Descriptor
    layers: list[Descriptor]


@dataclass(frozen=True)
class ManifestIndex:
    """A Docker manifest list or an OCI image index."""

    media_type: str
    manifests: list[Descriptor]


_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386",
                 "armhf": "arm", "armel": "arm"}


def normalize_platform(value: Platform) -> Platform:
    """containerd's normalisation: lower case, architecture aliases, arm64's default variant v8, arm's v7."""
    os_name = value.os.lower()
    if os_name == "macos":
        os_name = "darwin"
    arch = value.architecture.lower()
    variant = value.variant.lower()
    if arch.startswith("armv") and arch[4:].isdigit():
        arch, variant = "arm", "v" + arch[4:].rstrip("l")
    elif arch == "armv7l":
        arch, variant = "arm", "v7"
    arch = _ARCH_ALIASES.get(arch, arch)
    if arch == "arm64" and variant in ("", "8"):
        variant = "v8"
    elif arch == "arm" and variant == "":
        variant = "v7"
    elif arch == "arm" and variant in ("5", "6", "7", "8"):
        variant = "v" + variant
    elif arch == "amd64" and variant == "v1":
        variant = ""
    return Platform(os_name, arch, variant)


def host_platform_of() -> Platform:
    """This machine's platform (``linux/amd64``, ``linux/arm64/v8``, ...)."""
    machine = host_platform.machine().lower()
    if machine.startswith("armv7"):
        return normalize_platform(Platform("linux", "arm", "v7"))
    if machine.startswith("armv6"):
        return normalize_platform(Platform("linux", "arm", "v6"))
    return normalize_platform(Platform("linux", machine))


def parse_platform(text: str) -> Platform:
    """``linux/arm64/v8``, ``linux/amd64``, ``arm64`` (os linux) or "" (this host's) -> :class:`Platform`.

    A malformed text is :class:`InvalidParameter` with containerd's wording.
    """
    text = text.strip()
    if not text:
        return host_platform_of()
    parts = text.split("/")
    if len(parts) > 3 or any(not re.fullmatch(r"[A-Za-z0-9_-]+", part) for part in parts):
        raise InvalidParameter(f'"{text}": unknown operating system or architecture: invalid argument')
    if len(parts) == 1:
        # containerd: a lone word is an OS when it names one, else an architecture of this host's OS
        if parts[0].lower() in ("linux", "windows", "darwin", "freebsd"):
            return Platform(parts[0].lower(), host_platform_of().architecture, host_platform_of().variant)
        return normalize_platform(Platform("linux", parts[0]))
    return normalize_platform(Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else ""))


def _compatible(wanted: Platform) -> list[Platform]:
    """The platforms a host of ``wanted`` runs, best first (containerd's ``platforms.Only``)."""
    wanted = normalize_platform(wanted)
    found = [wanted]
    if wanted.architecture == "arm64":
        found += [Platform(wanted.os, "arm", v) for v in ("v8", "v7", "v6", "v5")]
    elif wanted.architecture == "arm" and wanted.variant[1:].isdigit():
        found += [Platform(wanted.os, "arm", f"v{n}") for n in range(int(wanted.variant[1:]) - 1, 4, -1)]
    return found


def choose_platform(index: ManifestIndex, platform: Platform) -> Descriptor:
    """The entry of ``index`` that best matches ``platform``; the first one when several match as well.

    None matching is :class:`moor.errors.NotFound` with Docker's wording.
    """
    best: tuple[int, int] | None = None
    chosen: Descriptor | None = None
    ranking = _compatible(platform)
    for position, entry in enumerate(index.manifests):
        if entry.platform is None or entry.media_type not in (*IMAGE_MANIFEST_TYPES, *INDEX_TYPES):
            continue
        candidate = normalize_platform(entry.platform)
        if candidate not in ranking:
            continue
        score = (ranking.index(candidate), position)
        if best is None or score < best:
            best, chosen = score, entry
    if chosen is None:
        raise NotFound(f"no matching manifest for {normalize_platform(platform)} in the manifest list entries")
    return chosen


def _field(data: dict[str, object], key: str, kind: type, where: str, required: bool = True) -> object:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidParameter(f"invalid manifest: {where}{key} is missing or not a {kind.__name__}")
    return value


def _descriptor(data: object, where: str) -> Descriptor:
    if not isinstance(data, dict):
        raise InvalidParameter(f"invalid manifest: {where} is not an object")
    media_type = _field(data, "mediaType", str, where + ".", required=False) or ""
    digest = _field(data, "digest", str, where + ".")
    size = _field(data, "size", int, where + ".")
    assert isinstance(digest, str) and isinstance(size, int) and isinstance(media_type, str)
    if not is_digest(digest):
        raise InvalidParameter(f"invalid manifest: {where}.digest {digest[:80]!r} is not a valid digest")
    if size < 0:
        raise InvalidParameter(f"invalid manifest: {where}.size is negative")
    urls = data.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
        raise InvalidParameter(f"invalid manifest: {where}.urls is not a list of strings")
    annotations = data.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise InvalidParameter(f"invalid manifest: {where}.annotations is not an object")
    found_platform = None
    raw_platform = data.get("platform")
    if raw_platform is not None:
        if not isinstance(raw_platform, dict):
            raise InvalidParameter(f"invalid manifest: {where}.platform is not an object")
        os_name = _field(raw_platform, "os", str, where + ".platform.")
        arch = _field(raw_platform, "architecture", str, where + ".platform.")
        variant = _field(raw_platform, "variant", str, where + ".platform.", required=False) or ""
        assert isinstance(os_name, str) and isinstance(arch, str) and isinstance(variant, str)
        found_platform = Platform(os_name, arch, variant)
    return Descriptor(media_type, digest, size, found_platform, tuple(urls),
                      {str(k): str(v) for k, v in annotations.items()})


def manifest_kind(media_type: str, document: dict[str, object]) -> str:
    """The media type a manifest really has: the body's ``mediaType``, else the Content-Type, else guessed."""
    body_type = document.get("mediaType")
    if isinstance(body_type, str) and body_type:
        return body_type
    if document.get("schemaVersion") == 1:
        return SCHEMA1_MANIFEST
    media_type = media_type.split(";")[0].strip()
    if media_type in (*IMAGE_MANIFEST_TYPES, *INDEX_TYPES, *SCHEMA1_TYPES):
        return media_type
    if "manifests" in document:
        return OCI_INDEX
    if "config" in document:
        return OCI_MANIFEST
    return media_type


def parse_manifest(media_type: str, data: bytes) -> ImageManifest | ManifestIndex:
    """Parse a manifest or index fetched with Content-Type ``media_type``.

    Schema 1 manifests, oversized or malformed documents are :class:`InvalidParameter`, one line each.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise InvalidParameter(f"invalid manifest: {len(data)} bytes is larger than the {MAX_MANIFEST_BYTES} "
                               "bytes a manifest may have")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidParameter("invalid manifest: the registry's answer is not JSON") from None
    if not isinstance(document, dict):
        raise InvalidParameter("invalid manifest: the registry's answer is not a JSON object")
    kind = manifest_kind(media_type, document)
    if kind in SCHEMA1_TYPES:
        raise InvalidParameter("unsupported manifest: Docker Image manifest version 2, schema 1 is deprecated "
                               "and moor does not pull it; push the image again with a current client")
    if document.get("schemaVersion") != 2:
        raise InvalidParameter(f"invalid manifest: schemaVersion {document.get('schemaVersion')!r} "
                               "is not supported (want 2)")
    if kind in INDEX_TYPES:
        entries = document.get("manifests")
        if not isinstance(entries, list):
            raise InvalidParameter("invalid manifest: manifests is missing or not a list")
        return ManifestIndex(kind, [_descriptor(entry, f"manifests[{n}]") for n, entry in enumerate(entries)])
    if kind in IMAGE_MANIFEST_TYPES:
        layers = document.get("layers")
        if not isinstance(layers, list):
            raise InvalidParameter("invalid manifest: layers is missing or not a list")
        return ImageManifest(kind, _descriptor(document.get("config"), "config"),
                             [_descriptor(layer, f"layers[{n}]") for n, layer in enumerate(layers)])
    raise InvalidParameter(f"unsupported manifest media type {kind[:120]!r}")


def _descriptor_json(descriptor: Descriptor) -> dict[str, object]:
    result: dict[str, object] = {"mediaType": descriptor.media_type, "size": descriptor.size,
                                 "digest": descriptor.digest}
    if descriptor.urls:
        result["urls"] = list(descriptor.urls)
    return result


def schema2_manifest(config: Descriptor, layers: list[Descriptor]) -> bytes:
    """A Docker schema2 manifest, byte for byte as Docker's push writes it (Go's MarshalIndent, 3 spaces)."""
    document = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": _descriptor_json(config),
        "layers": [_descriptor_json(layer) for layer in layers],
    }
    text = json.dumps(document, indent=3, ensure_ascii=False)
    # Go's encoder escapes HTML-sensitive characters and the two JavaScript line separators
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode()
