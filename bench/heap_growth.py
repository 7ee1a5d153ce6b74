"""What moord keeps per container, in its Python heap and its RSS: a private moord under a small wrapper.

moord runs under a wrapper that, each time a trigger file appears, collects the garbage, hands freed memory back
to the kernel (``malloc_trim``) and, when tracing, writes a tracemalloc snapshot. ``BENCH_HEAP_WARM`` (120)
containers are run first: bounded caches (the event history's 256 events, pyroute2's request caches) fill with
the first hundred or so and would otherwise be counted as kept per container. Then ``BENCH_HEAP_N`` (40) more.

* Default: tracemalloc runs between the triggers; the heap the N containers left alive is printed per container,
  grouped by the innermost line of moor's own code on the allocation's stack (``BENCH_HEAP_GROUP=line``: by the
  allocating line itself; ``BENCH_HEAP_DEEP=1``: with its callers). ``BENCH_HEAP_KEEP=FILE`` keeps the snapshot,
  ``BENCH_HEAP_LOAD=FILE`` reports a kept one again (``BENCH_HEAP_N`` as when it was taken).
* ``BENCH_HEAP_RSS=1``: no tracemalloc (its bookkeeping would drown the figure): moord's RSS per container after
  ``create`` of N containers, then after their ``start``, each read after a full collection.

Nothing is asserted.
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
#: containers run before the first trigger: bounded caches (the event history's 256 events, pyroute2's request
#: caches) fill with the first hundred or so, and would otherwise be counted as kept per container
WARM = int(os.environ.get("BENCH_HEAP_WARM", "120"))
DEEP = os.environ.get("BENCH_HEAP_DEEP") == "1"
GROUP = os.environ.get("BENCH_HEAP_GROUP", "moor")
KEEP = os.environ.get("BENCH_HEAP_KEEP", "")
RSS_ONLY = os.environ.get("BENCH_HEAP_RSS") == "1"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WRAPPER = """
import ctypes, gc, os, runpy, sys, threading, time, tracemalloc
trigger, snapshot, trace = sys.argv.pop(1), sys.argv.pop(1), sys.argv.pop(1) == "1"
libc = ctypes.CDLL(None)
def watch():
    while True:
        time.sleep(0.2)
        if os.path.exists(trigger):
            gc.collect()
            libc.malloc_trim(0)
            if tracemalloc.is_tracing():
                tracemalloc.take_snapshot().dump(snapshot + ".part")
                os.rename(snapshot + ".part", snapshot)
            elif trace:
                tracemalloc.start(25)
            os.unlink(trigger)
threading.Thread(target=watch, daemon=True).start()
sys.argv[0] = "moord"
runpy.run_module("moor.daemon", run_name="__main__")
"""


class TracedDaemon(DaemonProcess):
    """A private moord under the wrapper."""

    def __init__(self, work: str, trace: bool) -> None:
        self.trigger = os.path.join(work, "trigger")
        self.snapshot = os.path.join(work, "heap.snapshot")
        self.trace = trace
        super().__init__(root=os.path.join(work, "moor"))

    def command(self) -> list[str]:
        plain = super().command()  # python -m moor.daemon ARGS
        return [plain[0], "-c", WRAPPER, self.trigger, self.snapshot, "1" if self.trace else "0", *plain[3:]]

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


def ours(filename: str) -> bool:
    return filename.startswith(REPO) and "/.venv/" not in filename


def main() -> None:
    if os.environ.get("BENCH_HEAP_LOAD"):  # report a kept snapshot again, grouped otherwise
        report(tracemalloc.Snapshot.load(os.environ["BENCH_HEAP_LOAD"]), (0, 0))
        return
    work = tempfile.mkdtemp(prefix="heap-")
    try:
        if RSS_ONLY:
            rss_only(work)
            return
        snapshot, growth = measure(work)
        if KEEP:
            snapshot.dump(KEEP)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(snapshot, growth)


def report(snapshot: tracemalloc.Snapshot, growth: tuple[int, int]) -> None:
    """Print what the snapshot holds per container, grouped as asked."""
    rss, fds = growth
    print(f"{COUNT} containers (load {os.getloadavg()[0]:.1f}): RSS {rss / COUNT / 1024:.1f} KiB (tracemalloc's own "
          f"bookkeeping included), descriptors {fds / COUNT:.1f}, Python heap alive "
          f"{sum(s.size for s in snapshot.statistics('filename')) / COUNT / 1024:.1f} KiB per container")
    if DEEP:
        for stat in snapshot.statistics("traceback")[:20]:
            print(f"{stat.size / COUNT / 1024:7.2f} KiB {stat.count / COUNT:6.1f} objects  {where(stat.traceback[-1])}")
            for caller in reversed(stat.traceback[:-1]):
                print(f"{'':30}{caller.filename.split('/')[-1]}:{caller.lineno}")
        return
    sizes: dict[str, list[int]] = {}
    for trace in snapshot.traces:
        frames = list(reversed(trace.traceback))  # most recent first
        frame = next((f for f in frames if ours(f.filename)), frames[0]) if GROUP == "moor" else frames[0]
        entry = sizes.setdefault(where(frame), [0, 0])
        entry[0] += trace.size
        entry[1] += 1
    for line, (size, count) in sorted(sizes.items(), key=lambda item: -item[1][0])[:25]:
        print(f"{size / COUNT / 1024:7.2f} KiB {count / COUNT:6.1f} objects  {line}")


def where(frame: tracemalloc.Frame) -> str:
    return f"{frame.filename.replace(REPO + '/', '')}:{frame.lineno}"


def containers(daemon: DaemonProcess) -> tuple[list[str], dict[str, str]]:
    return moor_cli(daemon), dict(os.environ)


def measure(work: str) -> tuple[tracemalloc.Snapshot, tuple[int, int]]:
    """Run the containers under a traced moord: its heap snapshot, and its RSS and descriptor growth."""
    with TracedDaemon(work, trace=True) as daemon:
        assert daemon.process is not None
        cli, env = containers(daemon)

        def moor(*args: str) -> str:
            return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, check=True).stdout

        import_busybox(cli, env)
        moor("network", "create", "--subnet", "10.97.0.0/20", "heap")
        try:
            for _ in range(WARM):  # warm: first-use caches are not per container
                moor("run", "-d", "--network", "heap", "busybox", "sleep", "1000000")
            daemon.pull_trigger()
            rss0, fds0 = facts(daemon.process.pid)
            for _ in range(COUNT):
                moor("run", "-d", "--network", "heap", "busybox", "sleep", "1000000")
            daemon.pull_trigger(wait_for=daemon.snapshot)
            rss1, fds1 = facts(daemon.process.pid)
        finally:
            remove_all(moor, cli, env)
        return tracemalloc.Snapshot.load(daemon.snapshot), (rss1 - rss0, fds1 - fds0)


def remove_all(moor: object, cli: list[str], env: dict[str, str]) -> None:
    ids = subprocess.run([*cli, "ps", "-aq"], env=env, capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run([*cli, "rm", "-f", *ids], env=env, capture_output=True)


def rss_only(work: str) -> None:
    """moord's RSS per container, created then running, without tracemalloc."""
    with TracedDaemon(work, trace=False) as daemon:
        assert daemon.process is not None
        cli, env = containers(daemon)

        def moor(*args: str) -> str:
            return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, check=True).stdout

        def rss() -> int:
            daemon.pull_trigger()
            assert daemon.process is not None
            return facts(daemon.process.pid)[0]

        import_busybox(cli, env)
        moor("network", "create", "--subnet", "10.97.0.0/20", "heap")
        try:
            for _ in range(WARM):  # warm: first-use caches are not per container
                moor("run", "-d", "--network", "heap", "busybox", "sleep", "1000000")
            before = rss()
            ids = [moor("create", "--network", "heap", "busybox", "sleep", "1000000").strip() for _ in range(COUNT)]
            created = rss()
            for start in range(0, len(ids), 50):
                moor("start", *ids[start:start + 50])
            running = rss()
        finally:
            remove_all(moor, cli, env)
    print(f"{COUNT} containers (load {os.getloadavg()[0]:.1f}): moord RSS {before / 2**20:.1f} MiB with {WARM} "
          "running; "
          f"per container: created {(created - before) / COUNT / 1024:.1f} KiB, "
          f"started +{(running - created) / COUNT / 1024:.1f} KiB; {running / 2**20:.1f} MiB in all")


if __name__ == "__main__":
    main()
