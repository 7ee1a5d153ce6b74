"""`commit` of a container with a 100 MB change and `cp` of a 100 MB file, side by side with Docker.

Each engine: a private daemon, the busybox image, a container that wrote 100 MB of random data into
/data; then commit it (median of 3), cp the file out to the host, and cp a 100 MB host file in.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

from common import docker_cli, import_busybox, moor_cli, print_side_by_side, private_daemon

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SIZE_MB = int(os.environ.get("BENCH_FILE_MB", "100"))


def measure(cli: list[str], env: dict[str, str], work: str) -> dict[str, float]:
    def run(*args: str) -> None:
        subprocess.run([*cli, *args], env=env, capture_output=True, check=True)

    def timed(*args: str) -> float:
        start = time.perf_counter()
        run(*args)
        return time.perf_counter() - start

    import_busybox(cli, env)
    run("run", "--network", "none", "--name", "writer", "busybox", "sh", "-c",
        f"mkdir /data && head -c {SIZE_MB * 1024 * 1024} /dev/urandom > /data/blob")
    results = {f"commit ({SIZE_MB} MB change)": statistics.median(
        timed("commit", "writer", f"bench/commit:{i}") for i in range(RUNS))}
    out = os.path.join(work, "out")
    results[f"cp out ({SIZE_MB} MB file)"] = statistics.median(
        timed("cp", "writer:/data/blob", out) for _ in range(RUNS))
    source = os.path.join(work, "in.bin")
    with open(source, "wb") as handle:
        handle.write(os.urandom(SIZE_MB * 1024 * 1024))
    results[f"cp in ({SIZE_MB} MB file)"] = statistics.median(
        timed("cp", source, "writer:/in.bin") for _ in range(RUNS))
    return results


def main() -> None:
    work = tempfile.mkdtemp(prefix="moor-bench-files-")
    try:
        with private_daemon() as daemon:
            moor = measure(moor_cli(daemon), dict(os.environ), work)
        with docker_cli() as docker_side:
            docker = measure(*docker_side, work) if docker_side else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_side_by_side(f"container file benchmark, median of {RUNS} runs (seconds)", moor, docker, width=28,
                       precision=3)


if __name__ == "__main__":
    main()
