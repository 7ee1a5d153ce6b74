"""Median wall time of `moor version` against `docker version`, both talking to the same moord.

Run with `make bench` (or `python bench/cli_startup.py`); prints one table. No timing here is
asserted by a test: this is a measurement.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from common import private_daemon

RUNS = int(os.environ.get("BENCH_RUNS", "30"))


def median_seconds(command: list[str], env: dict[str, str]) -> float:
    samples = []
    subprocess.run(command, env=env, capture_output=True, check=True)  # warm the page cache
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    moor = shutil.which("moor") or os.path.join(os.path.dirname(sys.executable), "moor")
    docker = shutil.which("docker")
    with private_daemon() as daemon:
        env = {**os.environ, "MOOR_HOST": daemon.host, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": daemon.root}
        rows = [("moor version", median_seconds([moor, "version"], env))]
        if docker:
            rows.append(("docker version", median_seconds([docker, "version"], env)))
    print(f"CLI start-up, median of {RUNS} runs against one moord")
    for name, seconds in rows:
        print(f"  {name:<16} {seconds * 1000:8.1f} ms")
    if len(rows) == 2:
        print(f"  ratio moor/docker {rows[0][1] / rows[1][1]:8.2f}")


if __name__ == "__main__":
    main()
