"""Registry benchmark: pull and push of a 150 MB, 6-layer image, side by side with Docker 20.10.

Both engines talk to the same local registry (Debian's docker-registry on 127.0.0.1, through
:class:`moor.testing.registry.TestRegistry`), seeded with skopeo from the image that
``registry_image.py`` generates (the same bytes for a seed). Measured, median of ``BENCH_RUNS``:

- pull after ``rmi`` (nothing present);
- pull of a second tag over the same layers (every layer present, a new config);
- push to an empty registry (a new one each run).

moor runs on a private moord; Docker on a private dockerd (own data root and socket, no
iptables, no bridge), when installed. Both data roots live on a fresh ext4 file system (a sparse
image on a loop device), as on a disk: this VM's root file system is ext4 without a journal, where
each new inode costs a scan past every inode freed in the last minutes (``recently_deleted`` in
the kernel's inode allocator), which after a few ``rmi`` makes file creation cost milliseconds
and drowns both engines' times. The engines take turns within each run. Nothing here is
asserted: ``python bench/registry.py`` prints the table and the ratios. ``--parts`` measures
instead the pieces a pull and a push are made of, one core each, on the same layers:
decompression (stdlib zlib, zlib-ng, zstd), sha256, gzip compression for a push, and the
overlay driver's layer apply.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, cast

sys.path.insert(0, os.path.dirname(__file__))

import zstandard
from common import interleaved_runs, medians_of, moor_cli, print_side_by_side, scratch_fs
from registry_image import write_bench_archive, write_layers
from zlib_ng import zlib_ng

from moor.images.compression import open_decompressed
from moor.testing.conformance import load_driver
from moor.testing.daemon import DaemonProcess, unmount_under
from moor.testing.dockerd import private_dockerd
from moor.testing.registry import TestRegistry

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SEED = int(os.environ.get("BENCH_SEED", "1"))
PULL_COLD = "pull 150MB/6 layers (after rmi)"
PULL_WARM = "pull, every layer present"
PUSH = "push to an empty registry"
SHORT = {PULL_COLD: "pull", PULL_WARM: "pull (layers present)", PUSH: "push"}
MOOR_CONFIG = "[registry]\nmax_concurrent_downloads = 3\nmax_concurrent_uploads = 5\n"


class Engine:
    """One engine as the benchmark drives it: a CLI command and its environment."""

    def __init__(self, name: str, cli: list[str], env: dict[str, str]) -> None:
        self.name, self.cli, self.env = name, cli, env

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run([*self.cli, *args], env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, timeout=900)
        if check and result.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(args)}: {result.stderr.decode(errors='replace').strip()}")
        return result

    def timed(self, *args: str) -> float:
        start = time.perf_counter()
        self.run(*args)
        return time.perf_counter() - start

    def image_id(self, reference: str) -> str:
        result = subprocess.run([*self.cli, "image", "inspect", "--format", "{{.Id}}", reference], env=self.env,
                                capture_output=True, text=True, timeout=60)
        return result.stdout.strip()


def one_run(engine: Engine, source: TestRegistry, samples: dict[str, list[float]]) -> str:
    """Cold pull, warm pull and push for ``engine``; returns the pulled image's ID."""
    first, second = f"{source.host}/bench:1", f"{source.host}/bench:2"
    engine.run("rmi", "-f", first, second, check=False)
    samples[PULL_COLD].append(engine.timed("pull", first))
    samples[PULL_WARM].append(engine.timed("pull", second))
    image = engine.image_id(first)
    with TestRegistry() as target:
        pushed = f"{target.host}/bench:1"
        engine.run("tag", first, pushed)
        samples[PUSH].append(engine.timed("push", pushed))
        engine.run("rmi", pushed)
    return image


@contextlib.contextmanager
def engines(base: str, use_docker: bool, moor_client: str) -> Iterator[list[Engine]]:
    """moor (a private moord) and, when asked and installed, Docker (a private dockerd), data under ``base``."""
    with DaemonProcess(root=tempfile.mkdtemp(prefix="moor-bench-moord-", dir=base), config_text=MOOR_CONFIG) \
            as daemon, (private_dockerd(base=base) if use_docker else contextlib.nullcontext()) as docker_host:
        work = tempfile.mkdtemp(prefix="moor-bench-cli-")
        try:
            env = {**os.environ, "DOCKER_CONFIG": work}
            if moor_client == "docker":  # the docker CLI against moord: what docker users see
                moor = Engine("moor", ["docker", "-H", daemon.host], env)
            else:
                moor = Engine("moor", moor_cli(daemon), env)
            found = [moor]
            if docker_host is not None:
                found.append(Engine("docker", ["docker", "-H", docker_host], env))
            yield found
        finally:
            shutil.rmtree(work, ignore_errors=True)


def side_by_side(work: str, use_docker: bool, moor_client: str) -> None:
    archive = os.path.join(work, "bench.tar")
    write_bench_archive(archive, write_layers(work, SEED))
    with TestRegistry() as source:
        source.seed(f"{archive}:bench:1", "bench:1")
        source.seed(f"{archive}:bench:2", "bench:2")
        with scratch_fs(work) as base, engines(base, use_docker, moor_client) as found:
            results: dict[str, dict[str, list[float]]] = {
                engine.name: {PULL_COLD: [], PULL_WARM: [], PUSH: []} for engine in found}
            ids: dict[str, str] = {}

            def run(engine: Engine, _number: int) -> None:
                ids[engine.name] = one_run(engine, source, results[engine.name])

            interleaved_runs(found, RUNS, results, run, SHORT)
    medians = medians_of(results)
    print_side_by_side(f"registry benchmark, median of {RUNS} runs (seconds)", medians.get("moor", {}),
                       medians.get("docker") if "docker" in results else None, width=34, precision=2)
    if len(set(ids.values())) > 1:
        print(f"  image IDs differ: {ids}")
    elif ids:
        print(f"  same image ID on both sides: {next(iter(ids.values()))[:19]}")


# ---------------------------------------------------------------------- the parts, one core each

def best_of(action: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def drain(stream: IO[bytes]) -> int:
    """Read ``stream`` to its end; return how many bytes it gave."""
    total = 0
    while piece := stream.read(1 << 16):
        total += len(piece)
    return total


def parts(work: str) -> None:
    layers = write_layers(work, SEED)
    data = [open(path, "rb").read() for path in layers]
    size = sum(len(d) for d in data)
    gz = [gzip.compress(d, 6) for d in data]
    zs = [zstandard.ZstdCompressor(level=3, write_checksum=True).compress(d) for d in data]
    print(f"bench layers: {size / 1e6:.0f} MB in {len(data)} layers; gzip -6 {sum(map(len, gz)) / 1e6:.0f} MB, "
          f"zstd -3 {sum(map(len, zs)) / 1e6:.0f} MB; one core each, best of 3")

    def rate(name: str, action: Callable[[], object]) -> None:
        print(f"  {name:<56}{size / best_of(action) / 1e6:8.0f} MB/s", flush=True)

    rate("gunzip, stdlib zlib (of output)", lambda: [zlib.decompress(g, 31) for g in gz])
    rate("gunzip, zlib-ng (of output)", lambda: [zlib_ng.decompress(g, 31) for g in gz])
    rate("gunzip, moor.images.compression stream (of output)",
         lambda: [drain(open_decompressed(io.BytesIO(g), "x")) for g in gz])
    rate("unzstd, moor.images.compression stream (of output)",
         lambda: [drain(open_decompressed(io.BytesIO(z), "x")) for z in zs])
    rate("sha256", lambda: [hashlib.sha256(d).digest() for d in data])
    rate("gzip, stdlib zlib -6 (of input; Docker's push level)",
         lambda: [zlib.compressobj(6, zlib.DEFLATED, 31).compress(d) for d in data])
    rate("gzip, zlib-ng -1 (of input; moor's push level)",
         lambda: [zlib_ng.compressobj(1, zlib.DEFLATED, 31).compress(d) for d in data])
    with scratch_fs(work) as disk:
        rate("apply_layer, overlay driver, on tmpfs", lambda: apply_all("/dev/shm", layers))
        rate("apply_layer, overlay driver, on a fresh ext4", lambda: apply_all(disk, layers))
        rate("gunzip + sha256 + apply_layer, on a fresh ext4", lambda: apply_all(disk, layers, gz))
        rate("the same, decompressing ahead in a thread", lambda: apply_all(disk, layers, gz, ahead=True))


class Hashing(io.RawIOBase):
    """Hashes what passes (as the image store does while a layer is applied)."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__()
        self.source = source
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(len(buffer))
        buffer[: len(data)] = data
        self.digest.update(data)
        return len(data)


def apply_all(base: str, layers: list[str], packed: list[bytes] | None = None, ahead: bool = False) -> None:
    """Apply the layers in order with the overlay driver under a fresh directory in ``base``; from
    ``packed`` (their gzip blobs), decompressed and hashed on the way, when given."""
    root = tempfile.mkdtemp(prefix="moor-bench-apply-", dir=base)
    try:
        driver = load_driver("storage", "overlay", root)
        parent = None
        for index, path in enumerate(layers):
            if packed is None:
                with open(path, "rb") as stream:
                    driver.apply_layer(key=f"layer{index}", parent=parent, diff=stream)
            else:
                with open_decompressed(io.BytesIO(packed[index]), "layer", ahead=ahead) as plain:
                    hashed = cast("IO[bytes]", io.BufferedReader(Hashing(plain), 1 << 16))
                    driver.apply_layer(key=f"layer{index}", parent=parent, diff=hashed)
            parent = f"layer{index}"
    finally:
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", action="store_true", help="measure the pieces of a pull and a push instead")
    parser.add_argument("--no-docker", action="store_true", help="measure moor alone")
    parser.add_argument("--moor-client", choices=("moor", "docker"), default="moor",
                        help="the CLI that drives moord (default: moor)")
    options = parser.parse_args()
    work = tempfile.mkdtemp(prefix="moor-bench-registry-")
    try:
        if options.parts:
            parts(work)
        else:
            side_by_side(work, not options.no_docker and shutil.which("dockerd") is not None, options.moor_client)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
