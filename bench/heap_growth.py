"""What grows in moord's Python heap per container: tracemalloc in a private moord, no endpoint of its own.

moord runs under a small wrapper that starts tracemalloc when a trigger file appears and, at the second,
collects the garbage and writes a snapshot: what the ``BENCH_HEAP_N`` (40) ``run -d`` between the two
left alive, per container, grouped by allocating line (its caller chain with ``BENCH_HEAP_DEEP=1``).
moord's RSS and its open descriptors per container are printed beside it. Nothing is asserted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import tracemalloc

from common import import_busybox, moor_cli

from moor.testing.daemon import DaemonProcess

COUNT = int(os.environ.get("BENCH_HEAP_N", "40"))
DEEP = os.environ.get("BENCH_HEAP_DEEP") == "1"

WRAPPER = """
import gc, os, runpy, sys, threading, time, tracemalloc
trigger, snapshot = sys.argv.pop(1), sys.argv.pop(1)
def watch():
    while True:
        time.sleep(0.2)
        if os.path.exists(trigger):
            if tracemalloc.is_tracing():
                gc.collect()
                tracemalloc.take_snapshot().dump(snapshot + ".part")
                os.rename(snapshot + ".part", snapshot)
            else:
                tracemalloc.start(25)
            os.unlink(trigger)
threading.Thread(target=watch, daemon=True).start()
sys.argv[0] = "moord"
runpy.run_module("moor.daemon", run_name="__main__")
"""


class TracedDaemon(DaemonProcess):
    """A private moord under the tracemalloc wrapper."""

    def __init__(self, work: str) -> None:
        self.trigger = os.path.join(work, "trigger")
        self.snapshot = os.path.join(work, "heap.snapshot")
        super().__init__(root=os.path.join(work, "moor"))

    def command(self) -> list[str]:
        plain = super().command()  # python -m moor.daemon ARGS
        return [plain[0], "-c", WRAPPER, self.trigger, self.snapshot, *plain[3:]]

    def pull_trigger(self, wait_for: str | None = None) -> None:
        open(self.trigger, "w").close()
        deadline = time.monotonic() + 120
        while os.path.exists(self.trigger) or (wait_for and not os.path.exists(wait_for)):
            if time.monotonic() > deadline:
                raise RuntimeError("moord's heap wrapper did not answer")
            time.sleep(0.1)


def facts(pid: int) -> tuple[int, int]:
    """The process's RSS (bytes) and its open descriptors."""
    with open(f"/proc/{pid}/status") as handle:
        rss = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:")) * 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main() -> None:
    work = tempfile.mkdtemp(prefix="heap-")
    try:
        snapshot, growth = measure(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rss, fds = growth
    print(f"{COUNT} containers (load {os.getloadavg()[0]:.1f}): RSS {rss / COUNT / 1024:.1f} KiB (tracemalloc's own "
          f"bookkeeping included), descriptors {fds / COUNT:.1f}, Python heap alive "
          f"{sum(s.size for s in snapshot.statistics('filename')) / COUNT / 1024:.1f} KiB per container")
    for stat in snapshot.statistics("traceback" if DEEP else "lineno")[:20]:
        frame = stat.traceback[-1] if DEEP else stat.traceback[0]
        print(f"{stat.size / COUNT / 1024:7.2f} KiB {stat.count / COUNT:6.1f} objects  "
              f"{frame.filename.replace(os.getcwd() + '/', '')}:{frame.lineno}")
        if DEEP:
            for caller in reversed(stat.traceback[:-1]):
                print(f"{'':30}{caller.filename.split('/')[-1]}:{caller.lineno}")


def measure(work: str) -> tuple[tracemalloc.Snapshot, tuple[int, int]]:
    """Run the containers under a traced moord: its heap snapshot, and its RSS and descriptor growth."""
    with TracedDaemon(work) as daemon:
        assert daemon.process is not None
        cli = moor_cli(daemon)
        env = dict(os.environ)

        def moor(*args: str) -> str:
            return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, check=True).stdout

        import_busybox(cli, env)
        moor("network", "create", "--subnet", "10.97.0.0/21", "heap")
        try:
            for _ in range(5):  # warm: first-use caches are not per container
                moor("run", "-d", "--network", "heap", "busybox", "sleep", "1000000")
            daemon.pull_trigger()
            rss0, fds0 = facts(daemon.process.pid)
            for _ in range(COUNT):
                moor("run", "-d", "--network", "heap", "busybox", "sleep", "1000000")
            daemon.pull_trigger(wait_for=daemon.snapshot)
            rss1, fds1 = facts(daemon.process.pid)
        finally:
            ids = moor("ps", "-aq").split()
            if ids:
                subprocess.run([*cli, "rm", "-f", *ids], env=env, capture_output=True)
        return tracemalloc.Snapshot.load(daemon.snapshot), (rss1 - rss0, fds1 - fds0)

if __name__ == "__main__":
    main()
