"""What the host's mounts cost ``runc``: one ``runc run`` of a prepared bundle with N overlay mounts present.

Every running container leaves its root filesystem (an overlay) mounted in the daemon's mount namespace,
which runc (and its init) inherit: the kernel copies them all into each new container's namespace, and
runc reads ``/proc/self/mountinfo`` (some 600 bytes an overlay) again and again. This benchmark makes
``BENCH_RUNC_MOUNTS_N`` (1000) overlays in a private mount namespace (nothing reaches the host's) and
times ``runc run`` of a busybox ``true`` bundle beside the same with none, in alternating rounds:
wall time and CPU time (runc and its children) per run, medians. Nothing here is asserted.

Measured (2 cores, load 4-9, runc 1.1.5, 20 runs): 23-27 ms wall / 18-20 ms CPU with no extra mount,
65 ms wall / 49-57 ms CPU with 1000 overlays: runc alone grows 2.5x, the bulk of ``runc create``'s growth
in bench/density.py (100 -> 150-350 ms between the 1st and the 1000th container). A mount namespace of
the monitor's own for ``runc create``, without the other containers' roots, would remove it; detaching
1000 mounts one by one costs 30-70 ms (as much as it saves), so the roots must sit under one mount
(e.g. the overlay directory bound on itself by moord) that one lazy unmount takes away, the container's
own root bound back in its place first.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

COUNT = int(os.environ.get("BENCH_RUNC_MOUNTS_N", "1000"))
ROUNDS = int(os.environ.get("BENCH_RUNC_MOUNTS_ROUNDS", "4"))
RUNS = 5


def make_bundle(work: str) -> str:
    """A bundle whose process is busybox ``true`` (the host's static busybox)."""
    bundle = os.path.join(work, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    for name in ("proc", "sys", "dev", "tmp"):
        os.makedirs(os.path.join(rootfs, name))
    busybox = shutil.which("busybox")
    if busybox is None:
        raise SystemExit("runc_mounts: needs a static busybox on the host")
    shutil.copy(busybox, os.path.join(rootfs, "bin", "busybox"))
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as handle:
        config = json.load(handle)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/busybox", "true"]
    with open(path, "w") as handle:
        json.dump(config, handle)
    return bundle


def inner(work: str, count: int) -> None:
    """In a private mount namespace: ``count`` overlays, then RUNS timed ``runc run``; print wall/cpu ms."""
    base = os.path.join(work, "m")
    os.makedirs(base, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "none", base], check=True)
    lower = os.path.join(base, "lower")
    os.makedirs(lower)
    for number in range(count):
        layer = os.path.join(base, "overlay", f"{number:064x}")
        for part in ("diff", "work", "merged"):
            os.makedirs(os.path.join(layer, part))
        options = f"lowerdir={lower},upperdir={layer}/diff,workdir={layer}/work"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, f"{layer}/merged"], check=True)
    bundle = os.path.join(work, "bundle")
    for run in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        subprocess.run(["runc", "--root", os.path.join(work, "state"), "run", f"bench-mounts-{os.getpid()}-{run}"],
                       cwd=bundle, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(f"{wall * 1e3:.2f} {cpu * 1e3:.2f}")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--inner":
        inner(sys.argv[2], int(sys.argv[3]))
        return
    work = tempfile.mkdtemp(prefix="runc-mounts-")
    try:
        make_bundle(work)
        results: dict[int, tuple[list[float], list[float]]] = {0: ([], []), COUNT: ([], [])}
        for _ in range(ROUNDS):
            for count in results:
                output = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, __file__,
                                         "--inner", work, str(count)], check=True, capture_output=True, text=True)
                for line in output.stdout.split("\n"):
                    if line:
                        wall, cpu = (float(value) for value in line.split())
                        results[count][0].append(wall)
                        results[count][1].append(cpu)
        print(f"runc run of a busybox bundle, medians of {ROUNDS * RUNS} (load {os.getloadavg()[0]:.1f})")
        for count, (walls, cpus) in results.items():
            print(f"  {count:5d} overlays mounted: wall {statistics.median(walls):7.1f} ms, "
                  f"cpu {statistics.median(cpus):6.1f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
