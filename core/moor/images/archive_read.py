"""Parse a spooled image archive: ``docker save`` format or an OCI image layout.

:func:`read_archive` turns the files :func:`~moor.images.archive_spool.spool_archive`
wrote into :class:`ArchiveImage` values. Every blob whose digest is known is
verified (size first, then sha256); any problem is one :class:`InvalidParameter`
with a one-line message naming the file. Layer *contents* are not compared
with the config's diff IDs here: the store does that while it applies them.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import dataclass
from typing import Any

from moor.errors import InvalidParameter
from moor.images import configcheck

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"})
LAYER_TYPES = frozenset({
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
})
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
#: JSON documents (manifests, configs, indexes) larger than this are refused.
MAX_JSON_BYTES = 64 << 20

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HEX_NAME = re.compile(r"blobs/sha256/([0-9a-f]{64})|([0-9a-f]{64})\.json")
_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
             "armv6l": "arm", "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x",
             "riscv64": "riscv64"}


@dataclass
class ArchiveLayer:
    """One layer file of a spooled archive."""

    path: str            #: absolute path of the layer file inside the work dir (compressed or plain tar)
    digest: str | None   #: "sha256:..." of the file as stored (verified), None when the archive does not say
    media_type: str      #: as the manifest says, "" for docker-save archives


@dataclass
class ArchiveImage:
    """One image of a spooled archive."""

    config: bytes                #: the exact config JSON bytes (verified against its digest when known)
    layers: list[ArchiveLayer]   #: bottom first; as many as the config's rootfs.diff_ids
    repo_tags: list[str]         #: names as written in the archive ("busybox:latest", or a bare "latest"), [] if none
    parent: str = ""             #: manifest.json's ``Parent`` (an image ID of the same archive), "" if none
    legacy: bool = False         #: from a legacy v1 archive (no manifest.json): Docker prints no "Loaded image"


def _bad(message: str) -> InvalidParameter:
    return InvalidParameter(f"invalid archive: {message}")


def _path(workdir: str, rel: str, where: str) -> str:
    """The absolute path of ``rel`` inside ``workdir``, refusing names that leave it."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in rel.split("/") or "\0" in rel:
        raise _bad(f"{where}: invalid path {rel!r}")
    root = os.path.realpath(workdir)
    if not os.path.realpath(os.path.join(root, rel)).startswith(root + os.sep):
        raise _bad(f"{where}: path {rel!r} leaves the archive")
    return os.path.join(os.path.abspath(workdir), os.path.normpath(rel))


def _existing_file(workdir: str, rel: str, where: str) -> str:
    path = _path(workdir, rel, where)
    if not os.path.isfile(path):
        raise _bad(f"{where}: {rel} is missing from the archive")
    return path


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _verify(path: str, rel: str, digest: str, size: int | None) -> None:
    """Refuse the file at ``path`` unless it has ``size`` bytes (when given) and sha256 ``digest``."""
    if size is not None and os.path.getsize(path) != size:
        raise _bad(f"size mismatch for {rel}: expected {size} bytes, got {os.path.getsize(path)}")
    actual = _sha256_file(path)
    if actual != digest:
        raise _bad(f"digest mismatch for {rel}: got {actual}")


def _read_small(path: str, rel: str) -> bytes:
    if os.path.getsize(path) > MAX_JSON_BYTES:
        raise _bad(f"{rel}: larger than {MAX_JSON_BYTES} bytes")
    with open(path, "rb") as file:
        return file.read()


def _parse_json(data: bytes, rel: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise _bad(f"{rel}: not valid JSON ({error})") from None


def _check_config(config: bytes, layer_count: int, rel: str) -> None:
    """Refuse a config that is not a JSON object with rootfs.diff_ids matching ``layer_count``."""
    document = _parse_json(config, rel)
    rootfs = document.get("rootfs") if isinstance(document, dict) else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if isinstance(rootfs, dict) and diff_ids is None:
        diff_ids = []  # an image of no layers (FROM scratch and config steps): Docker leaves the key out
    if not isinstance(diff_ids, list):
        raise _bad(f"{rel}: image config has no rootfs.diff_ids")
    for diff_id in diff_ids:
        if not isinstance(diff_id, str) or not _DIGEST.fullmatch(diff_id):
            raise _bad(f"{rel}: invalid diff ID {diff_id!r}")
    if len(diff_ids) != layer_count:
        raise _bad(f"{rel}: layers length mismatch: the config has {len(diff_ids)} diff IDs, "
                   f"the manifest {layer_count} layers")
    wrong = configcheck.problems(document)
    if wrong:  # refused before any layer is applied: nothing of the archive is written
        raise _bad(f"{rel}: invalid image config: {wrong[0]}")


def _digest_in_name(rel: str) -> str | None:
    """The digest a docker-save file name carries ("<hex>.json", "blobs/sha256/<hex>"), if any."""
    match = _HEX_NAME.fullmatch(rel)
    if match is None:
        return None
    return "sha256:" + (match.group(1) or match.group(2))


def _string_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad(f"{where}: expected a list of strings")
    return list(value)


def _read_docker(workdir: str) -> list[ArchiveImage]:
    rel = "manifest.json"
    manifest = _parse_json(_read_small(_existing_file(workdir, rel, rel), rel), rel)
    if not isinstance(manifest, list):
        raise _bad("manifest.json: expected a JSON array")
    images = []
    for number, item in enumerate(manifest):
        where = f"manifest.json: entry {number}"
        if not isinstance(item, dict):
            raise _bad(f"{where}: expected a JSON object")
        config_rel = item.get("Config")
        if not isinstance(config_rel, str) or not config_rel:
            raise _bad(f"{where}: missing Config")
        if not isinstance(item.get("Layers"), list):
            raise _bad(f"{where}: missing Layers")
        layer_rels = _string_list(item["Layers"], f"{where}: Layers")
        repo_tags = _string_list(item.get("RepoTags"), f"{where}: RepoTags")
        config_path = _existing_file(workdir, config_rel, where)
        config_digest = _digest_in_name(config_rel)
        if config_digest:
            _verify(config_path, config_rel, config_digest, None)
        config = _read_small(config_path, config_rel)
        _check_config(config, len(layer_rels), config_rel)
        layers = []
        for layer_rel in layer_rels:
            path = _existing_file(workdir, layer_rel, where)
            digest = _digest_in_name(layer_rel)
            if digest:
                _verify(path, layer_rel, digest, None)
            layers.append(ArchiveLayer(path=path, digest=digest, media_type=""))
        parent = item.get("Parent")
        images.append(ArchiveImage(config=config, layers=layers, repo_tags=repo_tags,
                                   parent=parent if isinstance(parent, str) else ""))
    return images


def _descriptor(value: Any, where: str) -> tuple[str, str, int | None, dict[str, Any]]:
    """(media type, digest, size, annotations) of an OCI descriptor, validated."""
    if not isinstance(value, dict):
        raise _bad(f"{where}: descriptor is not a JSON object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str):
        raise _bad(f"{where}: descriptor without mediaType")
    if not isinstance(digest, str) or not digest:
        raise _bad(f"{where}: descriptor without digest")
    if not _DIGEST.fullmatch(digest):
        raise _bad(f"{where}: unsupported or invalid digest {digest!r}")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise _bad(f"{where}: invalid size {size!r}")
    annotations = value.get("annotations")
    return media_type, digest, size, annotations if isinstance(annotations, dict) else {}


def _blob(workdir: str, digest: str, size: int | None, where: str) -> tuple[str, str]:
    """(absolute path, relative name) of a verified blob."""
    rel = "blobs/sha256/" + digest.split(":", 1)[1]
    path = _existing_file(workdir, rel, where)
    _verify(path, rel, digest, size)
    return path, rel


def _blob_json(workdir: str, digest: str, size: int | None, where: str) -> tuple[bytes, Any, str]:
    path, rel = _blob(workdir, digest, size, where)
    data = _read_small(path, rel)
    return data, _parse_json(data, rel), rel


def host_platform() -> tuple[str, str]:
    """(os, architecture) of this machine in OCI terms."""
    machine = platform.machine().lower()
    return "linux", _MACHINES.get(machine, machine)


def _choose(index: Any, rel: str) -> tuple[str, str, int | None]:
    """The manifest descriptor of an image index for the host platform, else linux/amd64."""
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise _bad(f"{rel}: image index without manifests")
    wanted = [host_platform(), ("linux", "amd64")]
    best: tuple[int, tuple[str, str, int | None]] | None = None
    for number, entry in enumerate(manifests):
        media_type, digest, size, _ = _descriptor(entry, f"{rel}: manifests[{number}]")
        if media_type not in MANIFEST_TYPES:
            continue
        found = entry.get("platform")
        key = (found.get("os"), found.get("architecture")) if isinstance(found, dict) else None
        rank = wanted.index(key) if key in wanted else (len(wanted) if key is None else None)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, (media_type, digest, size))
    if best is None:
        raise _bad(f"{rel}: no image manifest for {'/'.join(wanted[0])} or linux/amd64")
    return best[1]


def _oci_image(workdir: str, digest: str, size: int | None, repo_tags: list[str]) -> ArchiveImage:
    _, manifest, rel = _blob_json(workdir, digest, size, "index.json")
    if not isinstance(manifest, dict) or manifest.get("schemaVersion") != 2:
        raise _bad(f"{rel}: not an image manifest (schemaVersion 2)")
    media_type = manifest.get("mediaType", OCI_MANIFEST)
    if media_type not in MANIFEST_TYPES:
        raise _bad(f"{rel}: unsupported media type {media_type!r}")
    config_type, config_digest, config_size, _ = _descriptor(manifest.get("config"), f"{rel}: config")
    if config_type not in CONFIG_TYPES:
        raise _bad(f"{rel}: unsupported config media type {config_type!r}")
    layer_list = manifest.get("layers")
    if not isinstance(layer_list, list):
        raise _bad(f"{rel}: missing layers")
    config_path, config_rel = _blob(workdir, config_digest, config_size, rel)
    config = _read_small(config_path, config_rel)
    _check_config(config, len(layer_list), config_rel)
    layers = []
    for number, value in enumerate(layer_list):
        layer_type, layer_digest, layer_size, _ = _descriptor(value, f"{rel}: layers[{number}]")
        if layer_type not in LAYER_TYPES:
            raise _bad(f"{rel}: unsupported layer media type {layer_type!r}")
        path, _ = _blob(workdir, layer_digest, layer_size, rel)
        layers.append(ArchiveLayer(path=path, digest=layer_digest, media_type=layer_type))
    return ArchiveImage(config=config, layers=layers, repo_tags=repo_tags)


def _read_oci(workdir: str) -> list[ArchiveImage]:
    layout = _parse_json(_read_small(_existing_file(workdir, "oci-layout", "oci-layout"), "oci-layout"),
                         "oci-layout")
    version = layout.get("imageLayoutVersion") if isinstance(layout, dict) else None
    if not isinstance(version, str) or not version.startswith("1."):
        raise _bad(f"oci-layout: unsupported imageLayoutVersion {version!r}")
    index = _parse_json(_read_small(_existing_file(workdir, "index.json", "index.json"), "index.json"),
                        "index.json")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise _bad("index.json: missing manifests")
    chosen: dict[str, tuple[str, int | None, list[str]]] = {}
    for number, entry in enumerate(manifests):
        where = f"index.json: manifests[{number}]"
        media_type, digest, size, annotations = _descriptor(entry, where)
        name = annotations.get(CONTAINERD_NAME) or annotations.get(REF_NAME)
        if media_type in INDEX_TYPES:
            _, nested, nested_rel = _blob_json(workdir, digest, size, where)
            media_type, digest, size = _choose(nested, nested_rel)
        elif media_type not in MANIFEST_TYPES:
            raise _bad(f"{where}: unsupported media type {media_type!r}")
        tags = chosen.setdefault(digest, (digest, size, []))[2]
        if isinstance(name, str) and name and name not in tags:
            tags.append(name)
    return [_oci_image(workdir, digest, size, tags) for digest, size, tags in chosen.values()]


def archive_kind(workdir: str) -> str:
    """``"docker"`` when ``workdir`` holds manifest.json, ``"oci"`` for index.json + oci-layout."""
    if os.path.isfile(os.path.join(workdir, "manifest.json")):
        return "docker"
    if os.path.isfile(os.path.join(workdir, "index.json")) and os.path.isfile(os.path.join(workdir, "oci-layout")):
        return "oci"
    raise _bad("neither manifest.json (docker save) nor index.json and oci-layout (OCI layout) found")


def read_archive(workdir: str) -> list[ArchiveImage]:
    """Parse the archive spooled into ``workdir`` into its images (see the module docstring).

    docker-save archives (manifest.json) win over an OCI layout in the same tar
    (Docker 25 writes both). Raises InvalidParameter for any malformed or
    unsupported content.
    """
    if archive_kind(workdir) == "docker":
        return _read_docker(workdir)
    return _read_oci(workdir)
