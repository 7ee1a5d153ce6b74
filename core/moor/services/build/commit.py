"""Each build step ends in an image: a layer (from a container's changes or a copy) and a config with one more
history entry, as Docker's classic builder commits them (intermediate images with ``Parent`` set)."""

from __future__ import annotations

import copy
import json
import platform
import time
from typing import IO, Any

from moor.driverapi import StorageDriver
from moor.errors import InvalidParameter
from moor.images.store import ImageRecord, ImageStore, LayerRecord
from moor.services.build.state import StageState
from moor.timefmt import format_timestamp

#: sha256 of a tar of nothing but its end blocks: a step that changed nothing adds no layer
EMPTY_TAR_DIGEST = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
#: The deepest image the overlay driver can mount with a container on top (its limit: 127 layers + 1).
MAX_LAYERS = 127
#: The container config fields Docker's classic builder writes, in its order.
CONFIG_FIELDS = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "ExposedPorts",
                 "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Image", "Volumes",
                 "WorkingDir", "Entrypoint", "NetworkDisabled", "MacAddress", "OnBuild", "Labels", "StopSignal",
                 "StopTimeout", "Shell")
_ALWAYS = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin",
           "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels")
_DEFAULTS: dict[str, Any] = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
                             "AttachStdout": False, "AttachStderr": False, "Tty": False, "OpenStdin": False,
                             "StdinOnce": False, "Env": None, "Cmd": None, "Image": "", "Volumes": None,
                             "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}


def check_depth(state: StageState) -> None:
    """Refuse a step that would make the image deeper than the storage driver can mount."""
    if len(state.diff_ids) >= MAX_LAYERS:
        raise InvalidParameter("max depth exceeded")


def docker_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with Docker's fields in Docker's order (the always-written ones filled in)."""
    result: dict[str, Any] = {}
    for key in CONFIG_FIELDS:
        if key in _ALWAYS:
            result[key] = config.get(key, _DEFAULTS.get(key))
        elif config.get(key) not in (None, "", [], {}, False, 0):
            result[key] = config[key]
    for key, value in config.items():
        if key not in result and key not in CONFIG_FIELDS:
            result[key] = value
    return result


def host_architecture() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


class StepCommitter:
    """Makes the image of one step in the image store."""

    def __init__(self, store: ImageStore, storage: StorageDriver) -> None:
        self.store = store
        self.storage = storage

    def layer_from_snapshot(self, state: StageState, key: str) -> LayerRecord | None:
        """The changes of the snapshot ``key`` (a RUN's container) as a layer on top of the stage's image; None
        when it changed nothing."""
        stream = self.storage.diff(key=key)
        try:
            return self.layer_from_tar(state, stream)
        finally:
            stream.close()

    def layer_from_tar(self, state: StageState, stream: IO[bytes]) -> LayerRecord | None:
        """An uncompressed layer tar as a layer on top of the stage's image; None when it holds nothing."""
        with self.store.spooled(stream) as (spool, diff_id):
            if diff_id == EMPTY_TAR_DIGEST:
                return None
            check_depth(state)
            return self.store.add_layer(state.top_layer, spool, diff_id)

    def commit(self, state: StageState, created_by: str, container_cmd: list[str], layer: LayerRecord | None,
               container_id: str) -> ImageRecord:
        """The stage's next image: its config, one more history entry, ``layer`` (if any) on top; the stage's
        state moves to it."""
        now = format_timestamp(time.time())
        base = state.image_config
        config = docker_config({**state.config, "Image": state.image_id})
        history = list(base.get("history") or [])
        entry: dict[str, Any] = {"created": now, "created_by": created_by}
        if layer is None:
            entry["empty_layer"] = True
        history.append(entry)
        diff_ids = state.diff_ids + ([layer.diff_id] if layer is not None else [])
        container_config = docker_config({**state.config, "Image": state.image_id, "Cmd": container_cmd,
                                          "Hostname": container_id[:12]})
        document: dict[str, Any] = {
            "architecture": base.get("architecture") or host_architecture(),
            "config": config,
            "container": container_id,
            "container_config": container_config,
            "created": now,
            "docker_version": "moor",
            "history": history,
            "os": base.get("os") or "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        for key in ("variant", "os.version"):
            if base.get(key):
                document[key] = base[key]
        if state.author:
            document["author"] = state.author
        record = self.store.add_image(json.dumps(document, separators=(",", ":")).encode(), parent=state.image_id)
        state.image = record
        state.image_config = copy.deepcopy(record.config)
        return record
