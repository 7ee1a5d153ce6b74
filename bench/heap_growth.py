"""What moord keeps per container, in its Python heap and its RSS: a private moord under a small wrapper.

moord runs under a wrapper that, each time a trigger file appears, collects the garbage, hands freed memory back
to the kernel (``malloc_trim``) and, when tracing, writes a tracemalloc snapshot. ``BENCH_HEAP_WARM`` (120)
containers are run first, then ``BENCH_HEAP_N`` (40) more; what the N left is the difference between a snapshot
before and one after them. Bounded caches (the event history's 256 events, pyroute2's request caches) fill with
the first hundred or so containers; from then on what they replace cancels what they add.

* Default: tracemalloc runs from the start of the warm-up; the heap the N containers left alive is printed per
  container, grouped by the innermost line of moor's own code on the allocation's stack (``BENCH_HEAP_GROUP=line``:
  by the allocating line itself). ``BENCH_HEAP_KEEP=PREFIX`` keeps the two snapshots (``PREFIX.before``,
  ``PREFIX.after``), ``BENCH_HEAP_LOAD=PREFIX`` reports kept ones again (``BENCH_HEAP_N`` as when taken).
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
from collections.abc import Callable

from common import import_busybox, moor_cli

from moor.testing.daemon import DaemonProcess

COUNT = int(os.environ.get("BENCH_HEAP_N", "40"))
WARM = int(os.environ.get("BENCH_HEAP_WARM", "120"))
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
            with open(trigger) as handle:
                name = handle.read()
            gc.collect()
            libc.malloc_trim(0)
            if name and tracemalloc.is_tracing():
                tracemalloc.take_snapshot().dump(snapshot + ".part")
                os.rename(snapshot + ".part", snapshot + "." + name)
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

    def pull_trigger(self, snapshot: str = "") -> None:
        """Collect the garbage (and start tracing, the first time); with ``snapshot``, dump one by that name."""
        with open(self.trigger, "w") as handle:
            handle.write(snapshot)
        deadline = time.monotonic() + 300
        while os.path.exists(self.trigger) or (snapshot and not os.path.exists(f"{self.snapshot}.{snapshot}")):
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
    if os.environ.get("BENCH_HEAP_LOAD"):  # report kept snapshots again, grouped otherwise
        prefix = os.environ["BENCH_HEAP_LOAD"]
        report(tracemalloc.Snapshot.load(prefix + ".before"), tracemalloc.Snapshot.load(prefix + ".after"), (0, 0))
        return
    work = tempfile.mkdtemp(prefix="heap-")
    try:
        if RSS_ONLY:
            rss_only(work)
            return
        before, after, growth = measure(work)
        if KEEP:
            before.dump(KEEP + ".before")
            after.dump(KEEP + ".after")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(before, after, growth)


def grouped(snapshot: tracemalloc.Snapshot) -> dict[str, list[int]]:
    """Size and count of the snapshot's live blocks per line, grouped as asked."""
    sizes: dict[str, list[int]] = {}
    for trace in snapshot.traces:
        frames = list(reversed(trace.traceback))  # most recent first
        frame = next((f for f in frames if ours(f.filename)), frames[0]) if GROUP == "moor" else frames[0]
        entry = sizes.setdefault(where(frame), [0, 0])
        entry[0] += trace.size
        entry[1] += 1
    return sizes


def report(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, growth: tuple[int, int]) -> None:
    """Print what the N containers left per container, grouped as asked."""
    rss, fds = growth
    old, new = grouped(before), grouped(after)
    diff = {line: (size - old.get(line, [0, 0])[0], count - old.get(line, [0, 0])[1])
            for line, (size, count) in new.items()}
    diff.update({line: (-size, -count) for line, (size, count) in old.items() if line not in new})
    print(f"{COUNT} containers after {WARM} (load {os.getloadavg()[0]:.1f}): RSS {rss / COUNT / 1024:.1f} KiB "
          f"(tracemalloc's own bookkeeping included), descriptors {fds / COUNT:.1f}, Python heap alive "
          f"{sum(size for size, _ in diff.values()) / COUNT / 1024:.2f} KiB per container")
    for line, (size, count) in sorted(diff.items(), key=lambda item: -abs(item[1][0]))[:25]:
        print(f"{size / COUNT / 1024:7.2f} KiB {count / COUNT:6.1f} objects  {line}")


def where(frame: tracemalloc.Frame) -> str:
    return f"{frame.filename.replace(REPO + '/', '')}:{frame.lineno}"


def driver(daemon: DaemonProcess) -> tuple[Callable[..., str], list[str], dict[str, str]]:
    """``moor(*args)`` against ``daemon`` (its output), the CLI and its environment."""
    cli, env = moor_cli(daemon), dict(os.environ)

    def moor(*args: str) -> str:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, check=True).stdout

    import_busybox(cli, env)
    moor("network", "create", "--subnet", "10.97.0.0/20", "heap")
    return moor, cli, env


def remove_all(cli: list[str], env: dict[str, str]) -> None:
    ids = subprocess.run([*cli, "ps", "-aq"], env=env, capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run([*cli, "rm", "-f", *ids], env=env, capture_output=True)


def run_detached(moor: Callable[..., str], count: int) -> None:
    for _ in range(count):
        moor("run", "-d", "--network", "heap", "busybox", "sleep", "1000000")


def measure(work: str) -> tuple[tracemalloc.Snapshot, tracemalloc.Snapshot, tuple[int, int]]:
    """Run the containers under a traced moord: its heap snapshots before and after, its RSS and descriptor growth."""
    with TracedDaemon(work, trace=True) as daemon:
        assert daemon.process is not None
        moor, cli, env = driver(daemon)
        try:
            daemon.pull_trigger()  # tracing from here
            run_detached(moor, WARM)
            daemon.pull_trigger("before")
            rss0, fds0 = facts(daemon.process.pid)
            run_detached(moor, COUNT)
            daemon.pull_trigger("after")
            rss1, fds1 = facts(daemon.process.pid)
        finally:
            remove_all(cli, env)
        return (tracemalloc.Snapshot.load(daemon.snapshot + ".before"),
                tracemalloc.Snapshot.load(daemon.snapshot + ".after"), (rss1 - rss0, fds1 - fds0))


def rss_only(work: str) -> None:
    """moord's RSS per container, created then running, without tracemalloc."""
    with TracedDaemon(work, trace=False) as daemon:
        assert daemon.process is not None
        pid = daemon.process.pid
        moor, cli, env = driver(daemon)

        def rss() -> int:
            daemon.pull_trigger()
            return facts(pid)[0]

        try:
            run_detached(moor, WARM)
            before = rss()
            ids = [moor("create", "--network", "heap", "busybox", "sleep", "1000000").strip() for _ in range(COUNT)]
            created = rss()
            for start in range(0, len(ids), 50):
                moor("start", *ids[start:start + 50])
            running = rss()
        finally:
            remove_all(cli, env)
    print(f"{COUNT} containers after {WARM} (load {os.getloadavg()[0]:.1f}): moord RSS {before / 2**20:.1f} MiB "
          f"before them; per container: created {(created - before) / COUNT / 1024:.1f} KiB, started "
          f"+{(running - created) / COUNT / 1024:.1f} KiB; {running / 2**20:.1f} MiB in all")


if __name__ == "__main__":
    main()
