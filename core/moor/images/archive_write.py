"""Write images as ``docker save`` (Docker 20.10) writes them, streaming to any writable.

Layout, in the order Go's directory walk gives (names sorted)::

    <v1 id>/VERSION       "1.0"
    <v1 id>/json          the legacy v1 layer config (see :mod:`moor.images.archive_v1`)
    <v1 id>/layer.tar     the uncompressed layer, or a symlink ../<v1 id>/layer.tar to the
                          first directory holding the same diff ID
    <config hex>.json     the exact config bytes
    manifest.json         [{"Config", "RepoTags", "Layers", "Parent"?}], as Go's json.Encoder writes it
    repositories          {"repo": {"tag": "<top v1 id>"}}, only when some image is tagged

Layers with the same v1 ID are written once; a layer with the same diff ID under
another v1 ID (the top layer of one image inside another) is a symlink, as in
Docker's archives. Nothing is seeked: ``out`` may be a pipe or a socket.
Layer streams are checked while they are copied (size and sha256 against the
diff ID); a mismatch raises :class:`InvalidParameter` with the archive cut short.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from moor.errors import InvalidParameter
from moor.images.archive_v1 import go_json, legacy_layers

_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})")


@dataclass
class SaveLayer:
    """One layer to save."""

    diff_id: str                        #: "sha256:..." of the uncompressed layer tar
    size: int                           #: exact byte size of the uncompressed layer tar
    open: Callable[[], IO[bytes]]       #: a stream of exactly ``size`` bytes whose sha256 is ``diff_id``


@dataclass
class SaveImage:
    """One image to save."""

    id: str                             #: "sha256:<config digest>"
    config: bytes                       #: exact config bytes
    layers: list[SaveLayer]             #: bottom first
    repo_tags: list[str] = field(default_factory=list)  #: short names as Docker prints them ("busybox:latest")
    parent: str = ""                    #: the parent image's ID when it is saved in the same archive, as Docker


@dataclass
class _Entry:
    """One member of the archive to write."""

    name: str
    mtime: int
    data: bytes | None = None           # file contents
    layer: SaveLayer | None = None      # streamed file contents
    link: str | None = None             # symlink target
    is_dir: bool = False


class _Checked:
    """Reads a layer stream in full-sized reads (tarfile needs them), hashing and counting it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.hash = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        missing = size
        while missing != 0:
            chunk = self._stream.read(missing if missing > 0 else 1 << 20)
            if not chunk:
                break
            parts.append(chunk)
            missing -= len(chunk) if missing > 0 else 0
        data = b"".join(parts)
        self.hash.update(data)
        self.count += len(data)
        return data


def _created(config: dict[str, Any]) -> int:
    """The config's creation time in whole seconds since the epoch, 0 when absent, invalid or earlier."""
    value = config.get("created")
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return 0
    try:
        when = datetime.fromisoformat(match.group(1) + match.group(2).replace("Z", "+00:00"))
    except ValueError:
        return 0
    return max(0, int(when.timestamp()))


def _split_tag(reference: str) -> tuple[str, str] | None:
    """(repository, tag) of "repo:tag"; None for digest references, which Docker does not list."""
    if "@" in reference:
        return None
    name, colon, tag = reference.rpartition(":")
    if not colon or "/" in tag or not name:
        raise InvalidParameter(f"cannot save {reference!r}: not a repository:tag reference")
    return name, tag


def _merge(images: list[SaveImage]) -> list[SaveImage]:
    """One SaveImage per image ID (tags united), in first-seen order."""
    merged: dict[str, SaveImage] = {}
    for image in images:
        if image.id in merged:
            tags = merged[image.id].repo_tags
            tags.extend(tag for tag in image.repo_tags if tag not in tags)
        else:
            merged[image.id] = SaveImage(image.id, image.config, image.layers, list(image.repo_tags), image.parent)
    return list(merged.values())


def _plan(images: list[SaveImage]) -> list[_Entry]:
    """Every archive member, in write order."""
    if not images:
        raise InvalidParameter("no images to save")
    top_level: dict[str, list[_Entry]] = {}
    diff_paths: dict[str, str] = {}
    manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    for image in _merge(images):
        hex_id = image.id.removeprefix("sha256:")
        if "sha256:" + hashlib.sha256(image.config).hexdigest() != image.id:
            raise InvalidParameter(f"cannot save {image.id}: its config does not hash to the image ID")
        try:
            config = json.loads(image.config)
            diff_ids = config["rootfs"]["diff_ids"]
        except (ValueError, KeyError, TypeError):
            raise InvalidParameter(f"cannot save {image.id}: the config has no rootfs.diff_ids") from None
        if not image.layers:
            raise InvalidParameter(f"cannot save {image.id}: empty export - not implemented")
        if diff_ids != [layer.diff_id for layer in image.layers]:
            raise InvalidParameter(f"cannot save {image.id}: its layers do not match the config's diff IDs")
        mtime = _created(config)
        legacy = legacy_layers(config, diff_ids)
        for layer, v1 in zip(image.layers, legacy):
            if v1.v1_id in top_level:
                continue
            entries = [_Entry(v1.v1_id, mtime, is_dir=True), _Entry(f"{v1.v1_id}/VERSION", mtime, data=b"1.0"),
                       _Entry(f"{v1.v1_id}/json", mtime, data=v1.json)]
            if layer.diff_id in diff_paths:
                entries.append(_Entry(f"{v1.v1_id}/layer.tar", mtime, link=f"../{diff_paths[layer.diff_id]}"))
            else:
                diff_paths[layer.diff_id] = f"{v1.v1_id}/layer.tar"
                entries.append(_Entry(f"{v1.v1_id}/layer.tar", mtime, layer=layer))
            top_level[v1.v1_id] = entries
        top_level[f"{hex_id}.json"] = [_Entry(f"{hex_id}.json", mtime, data=image.config)]
        tags = []
        for reference in image.repo_tags:
            split = _split_tag(reference)
            if split is not None:
                repositories.setdefault(split[0], {})[split[1]] = legacy[-1].v1_id
                tags.append(reference)
        manifest.append({"Config": f"{hex_id}.json", "RepoTags": tags or None,
                         "Layers": [f"{v1.v1_id}/layer.tar" for v1 in legacy],
                         **({"Parent": image.parent} if image.parent else {})})
    top_level["manifest.json"] = [_Entry("manifest.json", 0, data=(go_json(manifest) + "\n").encode())]
    if repositories:
        sorted_repos = {repo: dict(sorted(tags.items())) for repo, tags in sorted(repositories.items())}
        top_level["repositories"] = [_Entry("repositories", 0, data=(go_json(sorted_repos) + "\n").encode())]
    return [entry for name in sorted(top_level) for entry in top_level[name]]


def _write_layer(tar: tarfile.TarFile, info: tarfile.TarInfo, layer: SaveLayer) -> None:
    info.size = layer.size
    stream = layer.open()
    try:
        checked = _Checked(stream)
        try:
            tar.addfile(info, checked)
        except OSError as error:
            if checked.count >= layer.size:
                raise
            raise InvalidParameter(f"layer {layer.diff_id}: stream ended after {checked.count} of "
                                   f"{layer.size} bytes") from error
        if stream.read(1):
            raise InvalidParameter(f"layer {layer.diff_id}: stream is longer than {layer.size} bytes")
        digest = "sha256:" + checked.hash.hexdigest()
        if digest != layer.diff_id:
            raise InvalidParameter(f"layer {layer.diff_id}: stream hashes to {digest}")
    finally:
        stream.close()


def write_docker_archive(out: IO[bytes], images: list[SaveImage]) -> None:
    """Write ``images`` to ``out`` as a docker-save archive (see the module docstring).

    ``out`` is written sequentially and never closed. Raises InvalidParameter when
    an image is inconsistent (config not hashing to its ID, layers not matching
    the diff IDs, no layers) before anything is written, or when a layer stream
    is not what its SaveLayer promises (the archive is then incomplete).
    """
    entries = _plan(images)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.mtime = entry.mtime
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if entry.is_dir:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif entry.link is not None:
                info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, entry.link
                tar.addfile(info)
            elif entry.layer is not None:
                info.mode = 0o644
                _write_layer(tar, info, entry.layer)
            else:
                assert entry.data is not None
                info.mode, info.size = 0o644, len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
