"""What the host's mounts cost ``runc``, and what hiding them from it saves: runc's commands on a prepared bundle.

Every running container leaves its root filesystem (an overlay) mounted in the daemon's mount namespace.
runc reads ``/proc/self/mountinfo`` (some 600 bytes an overlay) again and again, and the kernel copies every
mount into each new container's namespace. This benchmark lays mounts out as moord does
(:mod:`moor.daemon.storagemounts`: ``storage/`` a private mount of its own, the driver's home ``storage/overlay``
another) in a private mount namespace (nothing reaches the host's), with the bundle's root an overlay under
it, and times runc on a busybox bundle in alternating rounds, three ways:

* ``none``: no other overlay mounted;
* ``all``: ``BENCH_RUNC_MOUNTS_N`` (1000) other overlays mounted, runc sees them (moor before the fix);
* ``hidden``: the same, runc started in a namespace of its own without them
  (:func:`moor.monitor.mountns.hide_other_roots`, as the monitors did before ``runc create``);
* ``lent``: the same, but ``runc create`` started in a copy of the namespace without them that moord made once
  (:mod:`moor.containers.runcnamespace`, as the monitors do now): nothing is copied or unmounted per create.

Each run takes a container through ``runc create``, ``start``, ``exec``, ``kill`` and ``delete``, each
timed: wall time and CPU time (runc and its children), medians, and what the namespace set-up alone costs in
the ``hidden`` case (``create`` keeps its own root; ``exec`` and ``delete`` run without any, as the
monitors run them). Nothing here is asserted.

Measured (2 cores, runc 1.1.5): ``runc run`` (create and start) took 23-27 ms wall / 18-20 ms CPU with no
extra mount and 65 ms wall / 49-57 ms CPU with 1000 overlays (load 4-9): runc alone grew 2.5x, the bulk of
``runc create``'s growth in bench/density.py. Per command, CPU ms, none / all / hidden, medians of 10 at load
12 (the load inflates every figure): create 36.0 / 61.6 / 45.3, exec 26.1 / 36.0 / 31.7, delete 15.4 / 25.6
/ 21.9 (start and kill, which moord and the monitors do not hide, 15.0 / 24.7 / 26.8 and 15.0 / 25.6 / 25.1);
the namespace set-up alone 0.2 ms with no other overlay and 2-3 ms with 1000 on a quiet machine (unshare copies
every mount, the lazy unmount releases 1000), 9.5 ms wall at load 12. With the lent namespace (load 1.4, medians
of 15): create 26.6 ms wall / 15.4 CPU against hidden 31.7 / 18.3 and none 22.3 / 13.2; the set-up 0.25 ms
against 2.40.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from moor.containers.runcnamespace import RuncNamespace
from moor.monitor.mountns import hide_other_roots

COUNT = int(os.environ.get("BENCH_RUNC_MOUNTS_N", "1000"))
ROUNDS = int(os.environ.get("BENCH_RUNC_MOUNTS_ROUNDS", "4"))
RUNS = 5
MODES = ("none", "all", "hidden", "lent")


def make_bundle(work: str) -> str:
    """A bundle whose process is busybox ``sleep`` (the host's static busybox); its root is mounted later."""
    bundle = os.path.join(work, "bundle")
    rootfs = os.path.join(work, "image")
    os.makedirs(os.path.join(rootfs, "bin"))
    for name in ("proc", "sys", "dev", "tmp"):
        os.makedirs(os.path.join(rootfs, name))
    busybox = shutil.which("busybox")
    if busybox is None:
        raise SystemExit("runc_mounts: needs a static busybox on the host")
    shutil.copy(busybox, os.path.join(rootfs, "bin", "busybox"))
    os.makedirs(bundle)
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as handle:
        config = json.load(handle)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/busybox", "sleep", "1000"]
    config["root"] = {"path": os.path.join(work, "m", "storage", "overlay", "own", "merged"), "readonly": False}
    with open(path, "w") as handle:
        json.dump(config, handle)
    return bundle


def _mount_overlay(home: str, name: str, lower: str) -> str:
    layer = os.path.join(home, name)
    for part in ("diff", "work", "merged"):
        os.makedirs(os.path.join(layer, part))
    options = f"lowerdir={lower},upperdir={layer}/diff,workdir={layer}/work"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, f"{layer}/merged"], check=True)
    return f"{layer}/merged"


def _bind_private(path: str) -> None:
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "--bind", path, path], check=True)
    subprocess.run(["mount", "--make-private", path], check=True)


#: the runc commands a container's life runs, timed one by one (start: the monitor opens exec.fifo instead)
COMMANDS = ("create", "start", "exec", "kill", "delete")
#: the commands a monitor runs hidden (create keeps its own root; exec and delete need none)
HIDDEN = {"create", "exec", "delete"}


def inner(work: str, mode: str) -> None:
    """In a private mount namespace: the layout, the overlays, then RUNS containers through create, start, exec,
    kill and delete, each timed; print ``command wall cpu`` in ms per command, and ``setup <ms>`` per run (the
    namespace dance alone) in the hidden and lent modes."""
    base = os.path.join(work, "m")
    os.makedirs(base, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "none", base], check=True)
    storage = os.path.join(base, "storage")
    home = os.path.join(storage, "overlay")
    _bind_private(storage)
    _bind_private(home)
    lower = os.path.join(base, "lower")
    os.makedirs(lower)
    for number in range(COUNT if mode != "none" else 0):
        _mount_overlay(home, f"{number:064x}", lower)
    rootfs = _mount_overlay(home, "own", os.path.join(work, "image"))
    bundle = os.path.join(work, "bundle")
    runc = ["runc", "--root", os.path.join(work, "state")]
    namespace = RuncNamespace.watching(home) if mode == "lent" else None
    if mode == "lent" and namespace is None:
        raise SystemExit("runc_mounts: this kernel reports no mount events: nothing can be lent")
    for run in range(RUNS):
        lent = namespace.lend() if namespace is not None else None
        lent_fd = -1 if lent is None else lent
        if mode in ("hidden", "lent"):
            print(f"setup {_time_setup(home, rootfs, lent_fd) * 1e3:.3f}")
        name = f"bench-mounts-{os.getpid()}-{run}"
        steps = {"create": ["create", name], "start": ["start", name], "exec": ["exec", name, "/bin/busybox", "true"],
                 "kill": ["kill", name, "KILL"], "delete": ["delete", "--force", name]}
        for command in COMMANDS:
            keep = rootfs if command == "create" else ""
            preexec = functools.partial(hide_other_roots, home, keep, lent_fd) \
                if mode in ("hidden", "lent") and command in HIDDEN else None
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            subprocess.run([*runc, *steps[command]], cwd=bundle, check=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=preexec)
            wall = time.perf_counter() - began
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            print(f"{command} {wall * 1e3:.2f} {cpu * 1e3:.2f}")
        if lent is not None:
            os.close(lent)


def _time_setup(home: str, rootfs: str, lent: int = -1) -> float:
    """The namespace dance alone, in a child that leaves at once: seconds (the child's own clock)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        began = time.perf_counter()
        hidden = hide_other_roots(home, rootfs, lent)
        took = time.perf_counter() - began
        os.write(write_end, f"{took if hidden else -1.0}".encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as handle:
        value = float(handle.read())
    os.waitpid(pid, 0)
    if value < 0:
        raise SystemExit("runc_mounts: the roots could not be hidden")
    return value


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--inner":
        inner(sys.argv[2], sys.argv[3])
        return
    work = tempfile.mkdtemp(prefix="runc-mounts-")
    try:
        make_bundle(work)
        # mode -> command -> (walls, cpus); "setup" -> ([times], [])
        results: dict[str, dict[str, tuple[list[float], list[float]]]] = {mode: {} for mode in MODES}
        for _ in range(ROUNDS):
            for mode in MODES:
                output = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, __file__,
                                         "--inner", work, mode], check=True, capture_output=True, text=True)
                for line in output.stdout.split("\n"):
                    if line:
                        command, *values = line.split()
                        walls, cpus = results[mode].setdefault(command, ([], []))
                        walls.append(float(values[0]))
                        if len(values) > 1:
                            cpus.append(float(values[1]))
        print(f"runc commands on a busybox bundle, medians of {ROUNDS * RUNS} (load {os.getloadavg()[0]:.1f}), "
              f"{COUNT} other overlays in 'all', 'hidden' and 'lent'; wall / cpu ms")
        print(f"  {'':8}" + "".join(f"{mode:>20}" for mode in MODES))
        for command in COMMANDS:
            cells = []
            for mode in MODES:
                walls, cpus = results[mode][command]
                cells.append(f"{statistics.median(walls):9.1f} /{statistics.median(cpus):6.1f}")
            print(f"  {command:8}" + "".join(f"{cell:>20}" for cell in cells))
        for mode in ("hidden", "lent"):
            setups = results[mode]["setup"][0]
            print(f"  the namespace set-up alone ({mode}): {statistics.median(setups):.2f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
