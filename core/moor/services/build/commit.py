"""Each build step ends in an image: a layer (from a container's changes or a copy) and a config with one more
history entry, as Docker's classic builder commits them (intermediate images with ``Parent`` set)."""

from __future__ import annotations

import hashlib
import os
import platform
import tarfile
import tempfile
import time
from collections.abc import Iterable
from typing import IO, Any

from moor.build.history import new_image_config
from moor.driverapi import StorageDriver
from moor.errors import InvalidParameter, MoorError
from moor.images.store import ImageRecord, ImageStore, LayerRecord
from moor.services.build.layerfilter import ENGINE_MOUNTS, filter_layer
from moor.services.build.state import StageState
from moor.timefmt import rfc3339_nano

#: sha256 of a tar of nothing but its end blocks: a step that changed nothing adds no layer
EMPTY_TAR_DIGEST = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
#: A filtered RUN layer up to this size stays in memory (as the image store's spools: no disk write for it)
FILTERED_IN_MEMORY = 64 << 20
#: The deepest image the overlay driver can mount with a container on top (its limit: 127 layers + 1).
MAX_LAYERS = 127


def check_depth(state: StageState) -> None:
    """Refuse a step that would make the image deeper than the storage driver can mount."""
    if len(state.diff_ids) >= MAX_LAYERS:
        raise InvalidParameter("max depth exceeded")


def host_architecture() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


class StepCommitter:
    """Makes the image of one step in the image store."""

    def __init__(self, store: ImageStore, storage: StorageDriver) -> None:
        self.store = store
        self.storage = storage

    def layer_from_snapshot(self, state: StageState, key: str, mounts: Iterable[str] = ()) -> LayerRecord | None:
        """The changes of the snapshot ``key`` (a RUN's container) as a layer on top of the stage's image,
        without the engine's mount points and ``mounts`` (the step's); None when it changed nothing else."""
        stream = self.storage.diff(key=key)
        try:
            with self.store.spooled(stream) as (spool, diff_id):
                if diff_id == EMPTY_TAR_DIGEST:
                    return None
                with tempfile.SpooledTemporaryFile(max_size=FILTERED_IN_MEMORY,
                                                   dir=os.path.join(self.store.root, "tmp")) as filtered:
                    hashing = _HashingWriter(filtered)
                    try:
                        kept = filter_layer(spool, hashing, [*ENGINE_MOUNTS, *mounts])
                    except (tarfile.TarError, OSError) as err:
                        raise MoorError(f"cannot read the changes of the build step: {err}") from None
                    if kept is False:
                        return None
                    check_depth(state)
                    if kept is None:
                        spool.seek(0)
                        return self.store.add_layer(state.top_layer, spool, diff_id)
                    filtered.seek(0)
                    return self.store.add_layer(state.top_layer, filtered, hashing.digest)
        finally:
            stream.close()

    def layer_from_tar(self, state: StageState, stream: IO[bytes]) -> LayerRecord | None:
        """An uncompressed layer tar as a layer on top of the stage's image; None when it holds nothing."""
        with self.store.spooled(stream) as (spool, diff_id):
            if diff_id == EMPTY_TAR_DIGEST:
                return None
            check_depth(state)
            return self.store.add_layer(state.top_layer, spool, diff_id)

    def commit(self, state: StageState, config: dict[str, Any], container_config: dict[str, Any],
               layer: LayerRecord | None, container_id: str) -> ImageRecord:
        """The stage's next image: ``config``, one more history entry (``container_config``'s Cmd joined, as
        Docker's ``created_by``), ``layer`` (if any) on top of the stage's image."""
        created = rfc3339_nano(time.time_ns())
        document = new_image_config(state.image_config or None, {**config, "Image": state.image_id},
                                    {**container_config, "Image": state.image_id}, created,
                                    layer.diff_id if layer is not None else None, author=state.author,
                                    container=container_id, host_arch=host_architecture())
        return self.store.add_image(document, parent=state.image_id)


class _HashingWriter:
    """A file's ``write`` that also hashes what passes (the filtered layer's diff ID, without reading it again)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()
