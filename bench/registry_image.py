"""The registry benchmark's image: about 150 MB in 6 layers, realistic content, the same bytes for a seed.

Like a distribution image with a language runtime on top, each layer holds many small text-like
files (configuration, documentation, scripts: compress about 3x), fewer medium binary-like files
(libraries, executables: about 2x) and a few incompressible ones (already-compressed archives,
images), with directories, symbolic links, a hard link and, above the base, whiteouts. Layers are
uneven, as real ones are (the base is the biggest).

:func:`write_bench_archive` writes a docker-save archive holding two images over the same layers:
``bench:1`` and ``bench:2`` differ only in their configuration, so pulling the second after the
first is a pull where every layer is already present.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
import string
import tarfile

#: Uncompressed size of each layer in MB (about 150 MB in all).
LAYER_MB = (57, 33, 24, 14, 9, 5)
MB = 1_000_000
MTIME = 1_700_000_000
#: Shares of a layer's bytes: small text-like files, medium binary-like files, incompressible files.
TEXT_SHARE, BINARY_SHARE = 0.35, 0.45


class _Content:
    """Deterministic generators of text-like, binary-like and random bytes."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.rng = rng
        words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(2000)]
        weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(words))]  # Zipf-like, as in prose and code
        stream = iter(rng.choices(words, weights, k=400_000))
        lines = []
        for length in rng.choices(range(3, 14), k=50_000):
            line = " ".join(next(stream) for _ in range(length))
            if length % 4 == 0:
                line = "    " + line.replace(" ", "_", 2) + " = " + str(length * 7919 % 1000)
            lines.append(line)
        self.text = ("\n".join(lines) + "\n").encode()
        # binary-like: bytes drawn with a skewed distribution (about 4 bits of entropy per byte)
        table = bytearray(256)
        for value in range(256):
            table[value] = 0 if value < 112 else (value % 16 if value < 200 else rng.randrange(256))
        self.table = bytes(table)

    def reseed(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text_bytes(self, size: int) -> bytes:
        start = self.rng.randrange(len(self.text) - size) if size < len(self.text) else 0
        return self.text[start:start + size]

    def binary_bytes(self, size: int) -> bytes:
        parts, left = [], size
        while left > 0:
            block = min(left, 4096)
            choice = self.rng.random()
            if choice < 0.45:
                parts.append(self.rng.randbytes(block).translate(self.table))
            elif choice < 0.8:
                parts.append(self.text_bytes(block))
            elif choice < 0.95:
                parts.append(bytes(block))
            else:
                parts.append(self.rng.randbytes(block))
            left -= block
        return b"".join(parts)

    def random_bytes(self, size: int) -> bytes:
        return self.rng.randbytes(size)


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None, *, kind: bytes = tarfile.REGTYPE,
         mode: int = 0o644, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = MTIME
    info.uname = info.gname = "root"
    info.linkname = link
    info.size = len(data) if data is not None else 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def write_layer(path: str, index: int, size: int, content: _Content, seed: int) -> None:
    """Write layer ``index`` of about ``size`` bytes to ``path`` (an uncompressed tar)."""
    rng = random.Random(seed * 1009 + index)
    content.reseed(seed * 1013 + index)
    top = f"usr/lib/bench{index}"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for directory in ("etc", "usr", "usr/lib", "usr/share", top, f"{top}/bin", f"usr/share/doc{index}",
                          f"etc/bench{index}"):
            _add(tar, directory + "/", kind=tarfile.DIRTYPE, mode=0o755)
        small: list[str] = []
        budget = int(size * TEXT_SHARE)
        package = 0
        while budget > 0:
            package += 1
            folder = f"usr/share/doc{index}/pkg{package}"
            _add(tar, folder + "/", kind=tarfile.DIRTYPE, mode=0o755)
            for number in range(rng.randint(3, 25)):
                length = min(_log_uniform(rng, 200, 24_000), max(budget, 1))
                name = f"{folder}/f{number}.{rng.choice(('txt', 'conf', 'py', 'sh', 'md', 'json'))}"
                _add(tar, name, content.text_bytes(length), mode=0o755 if name.endswith(".sh") else 0o644)
                small.append(name)
                budget -= length
                if budget <= 0:
                    break
        for number in range(len(small) // 20):  # symbolic links, as /etc/alternatives has
            _add(tar, f"etc/bench{index}/link{number}", kind=tarfile.SYMTYPE, link="/" + rng.choice(small))
        budget, number = int(size * BINARY_SHARE), 0
        while budget > 0:
            length = min(_log_uniform(rng, 32_000, 2_000_000), budget)
            folder = f"{top}/bin" if number % 4 == 0 else top
            _add(tar, f"{folder}/lib{number}.so", content.binary_bytes(length), mode=0o755)
            budget -= length
            number += 1
        _add(tar, f"{top}/bin/alias", kind=tarfile.LNKTYPE, link=f"{top}/bin/lib0.so")
        budget, number = size - int(size * TEXT_SHARE) - int(size * BINARY_SHARE), 0
        while budget > 0:
            length = min(_log_uniform(rng, 256_000, 4_000_000), budget)
            _add(tar, f"{top}/asset{number}.gz", content.random_bytes(length))
            budget -= length
            number += 1
        if index:  # an upper layer deletes a few files of the base
            for number in range(1, 4):
                _add(tar, f"usr/share/doc0/pkg{number}/.wh.f0.txt")


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_layers(work: str, seed: int, layer_mb: tuple[int, ...] = LAYER_MB) -> list[str]:
    """Write the layers under ``work``; return their paths, base first."""
    paths, content = [], _Content(seed)
    for index, size in enumerate(layer_mb):
        path = os.path.join(work, f"layer{index}.tar")
        write_layer(path, index, size * MB, content, seed)
        paths.append(path)
    return paths


def write_bench_archive(path: str, layers: list[str], tags: tuple[str, ...] = ("bench:1", "bench:2")) -> None:
    """A docker-save archive of one image per tag, all over ``layers``; their configs differ by a label."""
    diff_ids = [_sha256_file(layer) for layer in layers]
    entries, configs = [], []
    for tag in tags:
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin"], "Labels": {"bench.tag": tag}},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(layers))],
        }, separators=(",", ":")).encode()
        name = hashlib.sha256(config).hexdigest() + ".json"
        configs.append((name, config))
        entries.append({"Config": name, "RepoTags": [tag], "Layers": [f"{d}/layer.tar" for d in diff_ids]})
    with tarfile.open(path, "w") as tar:
        for layer, digest in zip(layers, diff_ids, strict=True):
            tar.add(layer, arcname=f"{digest}/layer.tar")
        for name, data in [*configs, ("manifest.json", json.dumps(entries).encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = MTIME
            tar.addfile(info, io.BytesIO(data))
