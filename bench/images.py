"""Image benchmarks: load and save of a 150 MB, 6-layer image, and `images` with 500 tags.

moor runs on a private moord. When Debian's dockerd is installed, a private dockerd (own data
root and socket, no iptables, no bridge) runs the same operations through the docker CLI, and
the ratios are printed. Timings are wall-clock medians of a few runs; nothing here is asserted.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(__file__))

from common import docker_cli, moor_cli, print_side_by_side, private_daemon

from moor.testing.archives import make_docker_archive

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
TAGS = int(os.environ.get("BENCH_TAGS", "500"))
LAYER_BYTES = 25_000_000  # 6 x 25 MB = 150 MB


def median(action: Callable[[], None], before: Callable[[], None] | None = None) -> float:
    samples = []
    for _ in range(RUNS):
        if before:
            before()
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def measure(cli: list[str], env: dict[str, str], archive: str, work: str) -> dict[str, float]:
    image = "bench:big"
    remove = lambda: subprocess.run([*cli, "rmi", "-f", image], env=env, capture_output=True)  # noqa: E731
    results = {"load 150MB/6 layers": median(lambda: run([*cli, "load", "-i", archive], env), before=remove)}
    run([*cli, "load", "-i", archive], env)
    out = os.path.join(work, "saved.tar")
    results["save 150MB/6 layers"] = median(lambda: run([*cli, "save", "-o", out, image], env))
    for index in range(TAGS):
        run([*cli, "tag", image, f"bench/many:{index}"], env)
    results[f"images ({TAGS} tags)"] = median(lambda: run([*cli, "images"], env))
    return results


def main() -> None:
    work = tempfile.mkdtemp(prefix="moor-bench-")
    try:
        archive = os.path.join(work, "big.tar")
        make_docker_archive(archive, [LAYER_BYTES] * 6, tag="bench:big", files_per_layer=50)
        with private_daemon() as daemon:
            moor = measure(moor_cli(daemon), dict(os.environ), archive, work)
        with docker_cli() as docker_side:
            docker = measure(*docker_side, archive, work) if docker_side else None
        print_side_by_side(f"images benchmark, median of {RUNS} runs (seconds)", moor, docker, width=24, precision=3)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
