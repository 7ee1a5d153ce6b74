"""Sequential write and read throughput (1 GB) in a container: named volume, bind mount, container layer.

Each engine: a private daemon, the busybox image, one container started with a named volume on /vol
and a host directory bound on /bind; busybox ``dd`` run by ``exec`` writes a file of BENCH_VOLUME_MB
MiB (``bs=1M conv=fsync``: the time includes flushing the data to disk) into /vol, /bind and the
container's own layer (/layer), then reads it back (``of=/dev/null``). Before each read the host's page
cache is dropped (``sync; echo 3 > /proc/sys/vm/drop_caches``, from the host: a container cannot), so
reads come from the disk; on a machine shared with other work this also slows them. busybox's dd
reports no timing, so each dd is timed around its ``exec`` and the median time of an empty ``exec``
(``true``) is subtracted: container start is not counted, exec's own cost almost not. Median of
BENCH_RUNS runs, in MB/s (10^6 bytes per second); a higher figure is better.
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
SIZE_MB = int(os.environ.get("BENCH_VOLUME_MB", "1024"))
TARGETS = {"named volume": "/vol", "bind mount": "/bind", "container layer": "/layer"}


def drop_caches() -> None:
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as handle:
        handle.write("3\n")


def throughput(seconds: float, overhead: float) -> float:
    """MB/s for SIZE_MB MiB moved in ``seconds``, less the cost of an empty exec."""
    return SIZE_MB * 1024 * 1024 / max(seconds - overhead, 1e-3) / 1e6


def measure(cli: list[str], env: dict[str, str], work: str) -> dict[str, float]:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, check=True, timeout=900)

    import_busybox(cli, env)
    bind = os.path.join(work, f"bind-{os.getpid()}-{len(cli)}")
    os.makedirs(bind, exist_ok=True)
    run("volume", "create", "benchvol")
    run("run", "-d", "--network", "none", "--name", "volbench", "-v", "benchvol:/vol", "-v", f"{bind}:/bind",
        "busybox", "sh", "-c", "mkdir -p /layer && exec sleep 100000")
    results: dict[str, float] = {}

    def timed(*args: str) -> float:
        start = time.perf_counter()
        run(*args)
        return time.perf_counter() - start

    try:
        overhead = statistics.median(timed("exec", "volbench", "true") for _ in range(5))
        for label, directory in TARGETS.items():
            writes, reads = [], []
            for _ in range(RUNS):
                path = f"{directory}/blob"
                run("exec", "volbench", "rm", "-f", path)
                drop_caches()
                written = timed("exec", "volbench", "dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={SIZE_MB}",
                                "conv=fsync")
                writes.append(throughput(written, overhead))
                drop_caches()
                read = timed("exec", "volbench", "dd", f"if={path}", "of=/dev/null", "bs=1M")
                reads.append(throughput(read, overhead))
            run("exec", "volbench", "rm", "-f", f"{directory}/blob")
            results[f"write {label} (MB/s)"] = statistics.median(writes)
            results[f"read {label}, cold (MB/s)"] = statistics.median(reads)
    finally:
        subprocess.run([*cli, "rm", "-f", "volbench"], env=env, capture_output=True, timeout=120)
        subprocess.run([*cli, "volume", "rm", "-f", "benchvol"], env=env, capture_output=True, timeout=120)
    return results


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench/volumes.py runs containers and drops the page cache: run it as root")
    work = tempfile.mkdtemp(prefix="moor-bench-volumes-")
    try:
        with private_daemon() as daemon:
            moor = measure(moor_cli(daemon), dict(os.environ), work)
        with docker_cli() as docker_side:
            docker = measure(*docker_side, work) if docker_side else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_side_by_side(f"volume throughput, {SIZE_MB} MiB sequential, dd bs=1M, median of {RUNS} runs (MB/s)",
                       moor, docker, width=36, precision=1)


if __name__ == "__main__":
    main()
