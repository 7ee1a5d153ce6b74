"""Container benchmarks, side by side with Docker when dockerd is installed.

* `run --rm busybox true` latency, median of 20;
* `run -d busybox sleep 600` latency, one after the other, median of 20;
* 20 containers started in parallel with `run -d` (wall time of the batch);
* `ps -a` with 200 containers (median of 5);
* moord's resident memory, and each monitor's (average over the 20 running containers);
  for Docker: dockerd + containerd and each containerd-shim.

Both engines run `--network none` containers of the same busybox image (imported from
Debian's busybox-static), on private daemons with their own data roots.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(__file__))

from common import docker_cli, import_busybox, moor_cli, print_side_by_side, private_daemon

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
PARALLEL = int(os.environ.get("BENCH_PARALLEL", "20"))
CONTAINERS = int(os.environ.get("BENCH_CONTAINERS", "200"))


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pids_matching(text: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if text.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(cli: list[str], env: dict[str, str], daemon_pids: Callable[[], list[int]],
            monitor_pids: Callable[[], list[int]]) -> dict[str, float]:
    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, check=True)

    import_busybox(cli, env)
    run("run", "--rm", "--network", "none", "busybox", "true")  # warm caches
    results = {"run --rm true (median, ms)": 1000 * statistics.median(
        timed(lambda: run("run", "--rm", "--network", "none", "busybox", "true")) for _ in range(RUNS))}
    results["run -d, serial (median, ms)"] = 1000 * statistics.median(
        timed(lambda i=i: run("run", "-d", "--network", "none", "--name", f"ser{i}", "busybox", "sleep", "600"))
        for i in range(RUNS))
    subprocess.run([*cli, "rm", "-f", *[f"ser{i}" for i in range(RUNS)]], env=env, capture_output=True)
    with ThreadPoolExecutor(PARALLEL) as pool:
        start = time.perf_counter()
        list(pool.map(lambda i: run("run", "-d", "--network", "none", "--name", f"par{i}", "busybox",
                                    "sleep", "600"), range(PARALLEL)))
        results[f"{PARALLEL} x run -d in parallel (ms)"] = 1000 * (time.perf_counter() - start)
    time.sleep(1)
    monitors = [rss_kib(p) for p in monitor_pids()]
    results["daemon RSS (MiB)"] = sum(rss_kib(p) for p in daemon_pids()) / 1024
    results["per-container monitor RSS (MiB)"] = (sum(monitors) / len(monitors) / 1024) if monitors else float("nan")
    subprocess.run([*cli, "rm", "-f", *[f"par{i}" for i in range(PARALLEL)]], env=env, capture_output=True)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: run("create", "--network", "none", "busybox", "true"), range(CONTAINERS)))
    results[f"ps -a with {CONTAINERS} containers (median, ms)"] = 1000 * statistics.median(
        timed(lambda: run("ps", "-a")) for _ in range(5))
    return results


def main() -> None:
    with private_daemon() as daemon:
        from moor.testing.daemon import processes_under

        state = os.path.join(daemon.exec_root, "containers")
        moor = measure(moor_cli(daemon), dict(os.environ),
                       lambda: [daemon.process.pid] if daemon.process else [],
                       lambda: [p for p in processes_under(state) if os.readlink(f"/proc/{p}/cwd") != state])
    with docker_cli() as docker_side:
        docker = measure(*docker_side, lambda: pids_matching("dockerd\0") + pids_matching("containerd\0"),
                         lambda: pids_matching("containerd-shim")) if docker_side else None
    print_side_by_side("container benchmark", moor, docker, width=42, precision=1)


if __name__ == "__main__":
    main()
