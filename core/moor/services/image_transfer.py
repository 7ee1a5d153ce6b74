"""Moving images in and out of the store: ``load``, ``save`` and ``import``.

Every operation is all-or-nothing for the store: a failure removes the
layers it added, and an image appears only once it is whole.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import IO, Any

from moor.errors import InvalidParameter, MoorError, NotFound
from moor.images import reference
from moor.images.archive import (
    ArchiveImage,
    SaveImage,
    SaveLayer,
    open_layer,
    read_archive,
    spool_archive,
    write_docker_archive,
)
from moor.images.changes import ZERO_CONFIG, apply_changes
from moor.images.compression import open_decompressed
from moor.images.store import ImageRecord, LayerRecord, chain_id, chain_ids
from moor.services.images import ImageService
from moor.timefmt import format_timestamp

log = logging.getLogger(__name__)

#: seconds to connect to (and between reads of) the server of ``docker import URL``
URL_TIMEOUT = 60

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


class ImageTransfer:
    """load / save / import on top of an :class:`ImageService`."""

    def __init__(self, images: ImageService) -> None:
        self.images = images
        self.store = images.store

    # ------------------------------------------------------------------ load

    def load(self, stream: IO[bytes]) -> list[str]:
        """Load every image of a docker-save or OCI archive; return Docker's progress lines."""
        workdir = self.store.temp_dir()
        added: list[str] = []
        try:
            spool_archive(stream, workdir)
            archive_images = read_archive(workdir)
            if not archive_images:
                raise InvalidParameter("invalid archive: it holds no image")
            # a tag Docker cannot parse fails the whole load, as in Docker, before anything is stored
            targets = [[reference.parse(tag) for tag in item.repo_tags] for item in archive_images]
            messages = []
            loaded: list[tuple[ArchiveImage, ImageRecord]] = []
            for item, item_targets in zip(archive_images, targets):
                image = self._add_layers_and_image(item.config, [layer.path for layer in item.layers], added)
                loaded.append((item, image))
                tagged = False
                for target in item_targets:
                    if not target.tag and not target.digest:
                        continue
                    previous = self.store.refs().get(str(target))
                    if previous and previous != image.id:
                        messages.append(f"The image {target.familiar} already exists, renaming the old one "
                                        f"with ID {previous} to empty string\n")
                    self.store.set_ref(str(target), image.id, touch=False)
                    if not item.legacy:  # Docker's legacy load prints only its progress
                        messages.append(f"Loaded image: {target.familiar}\n")
                    tagged = True
                if not tagged and not item.legacy:
                    messages.append(f"Loaded image ID: {image.id}\n")
            self._link_parents(loaded)
            for _item, image in loaded:  # as Docker: one load event an image, its tags set silently
                self.images.events.publish_image(image, "load")
            return messages
        except BaseException:
            self._forget_layers(added)
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _link_parents(self, loaded: list[tuple[ArchiveImage, ImageRecord]]) -> None:
        """Docker keeps the parent of an image whose parent came in the same archive (and whose layers start
        with the parent's)."""
        by_id = {image.id: image for _item, image in loaded}
        for item, child in loaded:
            parent = by_id.get(item.parent)
            if parent is None or parent.id == child.id:
                continue
            if _chains(child)[:len(_chains(parent))] == _chains(parent):
                self.store.set_parent(child.id, parent.id)

    def _add_layers_and_image(self, config_bytes: bytes, layer_paths: list[str], added: list[str]) -> ImageRecord:
        try:
            config = json.loads(config_bytes)
            diff_ids = list(config["rootfs"]["diff_ids"])
        except (ValueError, KeyError, TypeError):
            raise InvalidParameter("invalid archive: image config has no rootfs.diff_ids") from None
        if len(diff_ids) != len(layer_paths):
            raise InvalidParameter(f"invalid archive: config lists {len(diff_ids)} layers, manifest {len(layer_paths)}")
        parent: str | None = None
        for diff_id, path in zip(diff_ids, layer_paths):
            record = self._add_layer(parent, path, diff_id, added)
            parent = record.chain_id
        return self.store.add_image(config_bytes)

    def _add_layer(self, parent: str | None, path: str, diff_id: str, added: list[str]) -> LayerRecord:
        existed = self.store.get_layer(chain_id(parent, diff_id)) is not None
        with open_layer(path) as layer:
            record = self.store.add_layer(parent, layer, diff_id)
        if not existed:
            added.append(record.chain_id)
        return record

    def _forget_layers(self, chains: list[str]) -> None:
        used = {c for image in self.store.images() for c in _chains(image)}
        for chain in reversed(chains):
            if chain not in used:
                try:
                    self.store.remove_layer(chain)
                except Exception:  # cleanup after a failure must not hide the failure
                    log.exception("could not remove layer %s after a failed load", chain)

    # ------------------------------------------------------------------ save

    def save_images(self, names: list[str]) -> list[SaveImage]:
        """Resolve names as ``docker save`` does (a bare repository name means all its tags)."""
        if not names:
            raise InvalidParameter("no image names given")
        chosen: dict[str, SaveImage] = {}
        for name in names:
            for image, tag in self._named(name):
                item = chosen.get(image.id)
                if item is None:
                    layers = [SaveLayer(diff_id=r.diff_id, size=r.size, open=_opener(self.store, r))
                              for r in self.store.layer_chain(image)]
                    item = SaveImage(id=image.id, config=self.store.get_blob(image.id), layers=layers,
                                     repo_tags=[])
                    chosen[image.id] = item
                if tag and tag not in item.repo_tags:
                    item.repo_tags.append(tag)
        for item in chosen.values():  # Docker names the parent when it is saved too
            record = self.store.get(item.id)
            if record is not None and record.parent in chosen:
                item.parent = record.parent
        return list(chosen.values())

    def _named(self, name: str) -> list[tuple[ImageRecord, str]]:
        try:
            ref = reference.parse(name, default_tag=False)
        except InvalidParameter:
            ref = None
        if ref is not None and not ref.tag and not ref.digest:
            tagged = [(self.store.get(i), reference.parse(r).familiar) for r, i in self.store.refs().items()
                      if reference.parse(r).name == ref.name and "@" not in r]
            found = [(image, tag) for image, tag in tagged if image is not None]
            if found:
                return sorted(found, key=lambda pair: pair[1])
        image = self.images.resolve(name)
        if ref is not None and (ref.tag or ref.digest) and self.images.is_reference_to(name, image):
            return [(image, ref.familiar if ref.tag else "")]
        return [(image, "")]

    def save(self, names: list[str], out: IO[bytes]) -> None:
        self._write_archive(out, self.save_images(names))

    def _write_archive(self, out: IO[bytes], items: list[SaveImage]) -> None:
        """The docker-save archive of ``items``, then one ``save`` event an image, as Docker's."""
        write_docker_archive(out, items)
        for item in items:
            record = self.store.get(item.id)
            if record is not None:
                self.images.events.publish_image(record, "save")

    def save_stream(self, names: list[str]) -> Iterator[bytes]:
        """``GET /images/get``: the docker-save archive of ``names``, chunk by chunk as it is written.

        The names are resolved now (a missing image fails before any byte is sent)."""
        items = self.save_images(names)
        return piped(lambda out: self._write_archive(out, items))

    # ------------------------------------------------------------------ import

    def import_tarball(self, stream: IO[bytes], repo: str, tag: str, changes: list[str], message: str,
                       platform_os: str = "") -> ImageRecord:
        """``docker import``: one layer from a root filesystem tar (plain or compressed)."""
        target = reference.parse_repository_and_tag(repo, tag) if repo else None
        container_config = apply_changes(ZERO_CONFIG, changes)  # Docker's: a zero config, changed
        added: list[str] = []
        try:
            with open_decompressed(stream, "import") as tar:
                layer = self.store.add_layer(None, tar)
            added.append(layer.chain_id)
            now = format_timestamp(time.time())
            config: dict[str, Any] = {
                "architecture": ARCH,
                "comment": message or "Imported from -",
                "config": container_config,
                "container_config": dict(ZERO_CONFIG),
                "created": now,
                "history": [{"created": now, "comment": message or "Imported from -"}],
                "os": platform_os or "linux",
                "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
            }
            image = self.store.add_image(json.dumps(config, separators=(",", ":")).encode())
        except BaseException:
            self._forget_layers(added)
            raise
        if target is not None:
            self.store.set_ref(str(target), image.id)
            self.images.events.publish_image(image, "tag", target.familiar)
        self.images.events.publish_image(image, "import")
        return image


    def import_url(self, source: str, repo: str, tag: str, changes: list[str], message: str,
                   platform_os: str = "") -> tuple[str, ImageRecord]:
        """``docker import URL``: moord downloads the tar itself, as Docker does (a source without a scheme is
        ``http://`` + source); returns the URL and the image. The image's comment is "Imported from URL"."""
        if repo:
            reference.parse_repository_and_tag(repo, tag)  # a bad name fails before the download
        url = source if "://" in source else f"http://{source}"
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidParameter(f"import from {source}: only http and https URLs are supported")
        try:
            response = urllib.request.urlopen(url, timeout=URL_TIMEOUT)  # the scheme is checked above
        except urllib.error.HTTPError as err:
            body = err.read(4096).decode(errors="replace")
            text = f"failed to GET {url} with status {err.code} {err.reason}: {body}"
            raise (NotFound(text) if err.code == 404 else MoorError(text)) from None
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, ConnectionRefusedError):
                reason = f"dial tcp {parsed.hostname}:{parsed.port or 80}: connect: connection refused"
            raise MoorError(f'Get "{url}": {reason}') from None
        with response:
            image = self.import_tarball(response, repo, tag, changes, message or f"Imported from {url}", platform_os)
        return url, image


def _chains(image: ImageRecord) -> list[str]:
    return chain_ids(image.diff_ids)


def _opener(store: Any, record: LayerRecord) -> Any:
    return lambda: store.open_layer_tar(record)


def piped(write: Callable[[IO[bytes]], None]) -> Iterator[bytes]:
    """Run ``write(out)`` in a thread and yield what it writes, chunk by chunk; its error is raised at the end."""
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def produce() -> None:
        with os.fdopen(write_fd, "wb") as out:
            try:
                write(out)
            except BaseException as err:  # noqa: BLE001 - reported to the reader below
                errors.append(err)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    with os.fdopen(read_fd, "rb") as source:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            yield chunk
    thread.join()
    if errors:
        raise errors[0]


def stream_lines(messages: list[str]) -> Iterator[bytes]:
    for message in messages:
        yield json.dumps({"stream": message}).encode() + b"\r\n"
