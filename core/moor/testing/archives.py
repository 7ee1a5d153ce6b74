"""Synthetic image archives for tests and benchmarks (docker-save format, random content)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile


def _layer_tar(path: str, index: int, size: int, files: int) -> None:
    """A layer of ``files`` files holding ``size`` random bytes in all."""
    per_file = max(size // max(files, 1), 0)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo(f"layer{index}")
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        tar.addfile(directory)
        for number in range(files):
            info = tarfile.TarInfo(f"layer{index}/file{number}")
            info.size = per_file
            info.mode = 0o644
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(os.urandom(per_file)))


def make_docker_archive(path: str, layer_sizes: list[int], tag: str = "synthetic:latest",
                        files_per_layer: int = 16) -> str:
    """Write a docker-save archive of one image with layers of the given sizes; return its image ID."""
    with tempfile.TemporaryDirectory() as work:
        diff_ids, layer_names = [], []
        for index, size in enumerate(layer_sizes):
            layer_path = os.path.join(work, f"{index}.tar")
            _layer_tar(layer_path, index, size, files_per_layer)
            digest = hashlib.sha256()
            with open(layer_path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            diff_ids.append("sha256:" + digest.hexdigest())
            layer_names.append((layer_path, f"{digest.hexdigest()}/layer.tar"))
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(diff_ids))],
        }, separators=(",", ":")).encode()
        config_hex = hashlib.sha256(config).hexdigest()
        manifest = json.dumps([{"Config": f"{config_hex}.json", "RepoTags": [tag] if tag else [],
                                "Layers": [name for _, name in layer_names]}]).encode()
        with tarfile.open(path, "w") as tar:
            for layer_path, name in layer_names:
                tar.add(layer_path, arcname=name)
            for name, data in ((f"{config_hex}.json", config), ("manifest.json", manifest)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return "sha256:" + config_hex
