"""Density: N idle containers on one host, side by side with Docker when dockerd is installed.

``BENCH_DENSITY_N`` containers (default 1000 when the machine has the memory for it, fewer otherwise;
a Linux bridge takes at most 1024 ports) run ``sleep`` (busybox) on a user-defined bridge network of
each engine (a /21 of its own); every ``BENCH_DENSITY_PUBLISH``-th (10th) publishes a port on
127.0.0.1. Printed, always per container where it is a total:

* ``run -d`` latency of the first ``SAMPLE`` (10) containers and of the last ``SAMPLE`` (medians, serial;
  the ones between are started by 4 clients at once to fill the host sooner), and their ratio; each sample
  begins after ``BENCH_DENSITY_SETTLE`` (2) seconds of quiet;
* host memory ``used`` (MemTotal - MemAvailable) per container, the daemon's RSS (moord; dockerd +
  containerd for Docker) and its threads and open files;
* ``ps`` and ``ps -q`` with N running (medians of 5);
* NAT rules: how many rules the engine's network holds (the private dockerd runs ``--iptables=false``:
  it has none, docker-proxy serves its ports);
* the embedded DNS: ``nslookup`` of ``DNS_NAMES`` (20) other containers' names from inside one (answers,
  time per answer), and ``events``: how many ``start`` events a client following the stream from the
  beginning saw;
* moor alone: moord stopped and started again with N running: time to its first answer and until
  ``ps -q`` lists all N (Docker's private dockerd runs without live-restore: its containers would stop);
* ``stop -t 0`` of all N in one command (``BENCH_DENSITY_STOP_TIME`` changes ``-t``), then ``rm`` of all.

``BENCH_DENSITY_DOCKER=0`` leaves Docker out (``BENCH_DENSITY_MOOR=0`` moor); ``BENCH_DENSITY_LOG=PATH``
keeps moord's debug log there and prints the medians of the create and start phases of its trace lines
(:mod:`moor.tracing`: ``runc-create``, ``network``...) for the first and the last containers.
``MOOR_HIDE_ROOTS=0`` (moord's environment) lets ``runc create`` see every container's root, as before
:mod:`moor.monitor.mountns`: a comparison.

The engines run one after the other (moor first, then Docker), each on a fresh ext4 of its own (see
``common.scratch_fs``): at this scale interleaving is not possible; run it twice when a figure matters.
Nothing here is asserted.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(__file__))

from common import import_busybox, moor_cli, print_side_by_side, scratch_fs

from moor import tracing
from moor.testing.daemon import DaemonProcess
from moor.testing.dockerd import private_dockerd

#: host memory one container needs at most, both engines' worst (for the default N)
BUDGET_PER_CONTAINER = 24 << 20
SAMPLE = int(os.environ.get("BENCH_DENSITY_SAMPLE", "10"))
PUBLISH_EVERY = int(os.environ.get("BENCH_DENSITY_PUBLISH", "10"))
STOP_TIME = os.environ.get("BENCH_DENSITY_STOP_TIME", "0")
FILL_CLIENTS = 4
DNS_NAMES = 20
#: seconds of quiet before each ``run -d`` sample (the first containers', the last ones')
SETTLE = float(os.environ.get("BENCH_DENSITY_SETTLE", "2"))
SUBNETS = {"moor": "10.231.0.0/21", "docker": "10.232.0.0/21"}
#: BENCH_DENSITY_DOCKER=0: moor alone (Docker's figures change little from run to run); BENCH_DENSITY_MOOR=0:
#: Docker alone
DOCKER = os.environ.get("BENCH_DENSITY_DOCKER", "1") != "0"
MOOR = os.environ.get("BENCH_DENSITY_MOOR", "1") != "0"
#: BENCH_DENSITY_LOG=PATH: moord runs with --debug (its trace lines time each phase) and its log is kept there
KEEP_LOG = os.environ.get("BENCH_DENSITY_LOG", "")
#: the start phases shown for the first and the last containers (with BENCH_DENSITY_LOG)
TRACED_PHASES = {"create": ("total", "snapshot", "init-layer", "save"),
                 "start": ("total", "mount", "bundle", "monitor", "runc-create", "runc-create-cpu", "network",
                           "network-wait", "ports", "run")}


def meminfo() -> dict[str, int]:
    with open("/proc/meminfo") as handle:
        return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle}


def default_count() -> int:
    """1000, or as many as the available memory holds (at least 10)."""
    fits = meminfo()["MemAvailable"] // BUDGET_PER_CONTAINER
    return max(10, min(1000, int(fits)))


def host_used() -> int:
    info = meminfo()
    return info["MemTotal"] - info["MemAvailable"]


def process_facts(pids: list[int]) -> tuple[int, int, int]:
    """RSS (bytes), threads and open files of ``pids`` together."""
    rss = threads = files = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Threads:"):
                        threads += int(line.split()[1])
            files += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    return rss, threads, files


def pids_named(name: str) -> list[int]:
    """Processes whose command's first word ends in ``name`` (dockerd, containerd)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    first = handle.read().split(b"\0", 1)[0].decode(errors="replace")
            except OSError:
                continue
            if os.path.basename(first) == name:
                found.append(int(entry))
    return found


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


class Engine:
    """One engine under test: its CLI, environment and how to find its daemon's processes."""

    def __init__(self, name: str, cli: list[str], env: dict[str, str], daemon_pids: Callable[[], list[int]]) -> None:
        self.name = name
        self.cli = cli
        self.env = env
        self.daemon_pids = daemon_pids
        self.ids: dict[int, str] = {}  # container number -> ID

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.cli, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args[:4])}...: {done.stderr.strip()}")
        return done

    def start_one(self, number: int) -> float:
        ports = ["-p", "127.0.0.1::80"] if PUBLISH_EVERY and number % PUBLISH_EVERY == 0 else []
        began = time.perf_counter()
        done = self.run("run", "-d", "--network", "density", "--name", f"d{number}", *ports, "busybox", "sleep",
                        "1000000")
        seconds = time.perf_counter() - began
        self.ids[number] = done.stdout.strip()
        return seconds


@contextmanager
def following_events(engine: Engine) -> Iterator[Callable[[], int]]:
    """``events`` followed from now on; yields a function counting the ``start`` events seen so far."""
    output = tempfile.TemporaryFile("w+")
    process = subprocess.Popen([*engine.cli, "events", "--filter", "event=start", "--format", "{{.Status}}"],
                               env=engine.env, stdout=output, stderr=subprocess.DEVNULL)

    def count() -> int:
        output.seek(0)
        return sum(1 for line in output if line.strip() == "start")
    try:
        yield count
    finally:
        process.terminate()
        process.wait(10)
        output.close()


def nat_rules() -> int:
    """Rules of moor's bridge networks in the filter and nat tables (their comments say ``moor bridge``)."""
    total = 0
    for table in ("filter", "nat"):
        saved = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True).stdout
        total += sum(1 for line in saved.splitlines() if line.startswith("-A ") and "moor bridge" in line)
    return total


def dns_check(engine: Engine, count: int) -> tuple[float, float]:
    """From inside ``d1``: how many of ``DNS_NAMES`` other containers' names resolve, and seconds per answer."""
    names = [f"d{count - 1 - i * max(1, (count - 2) // DNS_NAMES)}" for i in range(min(DNS_NAMES, count - 2))]
    script = "; ".join(f"nslookup {n} >/dev/null 2>&1 && echo ok" for n in names)
    start = time.perf_counter()
    done = engine.run("exec", "d1", "sh", "-c", script, check=False, timeout=300)
    seconds = time.perf_counter() - start
    answered = done.stdout.split().count("ok")
    return answered / max(1, len(names)), seconds / max(1, len(names))


def measure(engine: Engine, count: int, restart: Callable[[], float] | None) -> dict[str, float]:
    results: dict[str, float] = {}
    import_busybox(engine.cli, engine.env)
    engine.run("network", "create", "--subnet", SUBNETS[engine.name], "density")
    engine.run("run", "--rm", "--network", "density", "busybox", "true")  # warm caches
    time.sleep(SETTLE)
    used_before = host_used()
    with following_events(engine) as started_events:
        first = [engine.start_one(n) for n in range(SAMPLE)]
        middle = range(SAMPLE, count - SAMPLE)
        with ThreadPoolExecutor(FILL_CLIENTS) as pool:
            for number, _ in enumerate(pool.map(engine.start_one, middle), start=SAMPLE):
                if number % 100 == 0:
                    print(f"  {engine.name}: {number} running", flush=True)
        # as before the first sample: both start on a quiet host, so that the growth is the count's, not the
        # aftermath of the parallel fill (its writeback and deferred work; BENCH_DENSITY_SETTLE=0: none)
        time.sleep(SETTLE)
        last = [engine.start_one(n) for n in range(count - SAMPLE, count)]
        time.sleep(5)  # events delivered, the host settled
        results["start events seen / expected"] = started_events() / count
    results["run -d, first containers (median, ms)"] = 1000 * statistics.median(first)
    results[f"run -d, containers {count - SAMPLE + 1}-{count} (median, ms)"] = 1000 * statistics.median(last)
    results["run -d latency growth (last/first)"] = statistics.median(last) / statistics.median(first)
    results["host used per container (MiB)"] = (host_used() - used_before) / count / (1 << 20)
    rss, threads, files = process_facts(engine.daemon_pids())
    results["daemon RSS (MiB)"] = rss / (1 << 20)
    results["daemon threads"] = threads
    results["daemon open files"] = files
    results[f"ps with {count} running (median, ms)"] = 1000 * statistics.median(
        timed(lambda: engine.run("ps")) for _ in range(5))
    results[f"ps -q with {count} running (median, ms)"] = 1000 * statistics.median(
        timed(lambda: engine.run("ps", "-q")) for _ in range(5))
    if engine.name == "moor":
        results["NAT and filter rules of the network"] = nat_rules()
    answered, per_answer = dns_check(engine, count)
    results["DNS names answered (fraction)"] = answered
    results["DNS time per answer (ms)"] = 1000 * per_answer
    if restart is not None:
        results["daemon restart: first answer (s)"] = restart()
        start = time.perf_counter()
        while len(engine.run("ps", "-q").stdout.split()) < count and time.perf_counter() - start < 120:
            time.sleep(0.1)
        results["daemon restart: all listed again (s)"] = results["daemon restart: first answer (s)"] + \
            time.perf_counter() - start
        rss, threads, files = process_facts(engine.daemon_pids())
        results["daemon RSS after restart (MiB)"] = rss / (1 << 20)
    names = engine.run("ps", "-q").stdout.split()
    results[f"stop -t {STOP_TIME} of all (s)"] = timed(lambda: engine.run("stop", "-t", STOP_TIME, *names,
                                                                           timeout=3600))
    results["stop, per container (ms)"] = 1000 * results[f"stop -t {STOP_TIME} of all (s)"] / max(1, len(names))
    everything = engine.run("ps", "-aq").stdout.split()
    results["rm of all (s)"] = timed(lambda: engine.run("rm", *everything, timeout=3600))
    engine.run("network", "rm", "density", check=False)
    return results


def traced_phases(log_text: str, ids: dict[int, str], count: int) -> dict[str, float]:
    """Medians of the create and start phases (moord's trace lines) of the first and of the last ``SAMPLE``
    containers."""
    traced: dict[str, dict[str, dict[str, float]]] = {kind: {} for kind in TRACED_PHASES}
    for line in log_text.splitlines():
        parsed = tracing.parse(line)
        if parsed is not None and parsed[0] in traced:
            # the first of each (not a start after moord's restart)
            traced[parsed[0]].setdefault(parsed[1], parsed[2])
    groups = {"first": range(SAMPLE), "last": range(count - SAMPLE, count)}
    found: dict[str, float] = {}
    for kind, phases in TRACED_PHASES.items():
        for phase in phases:
            for group, numbers in groups.items():
                values = [traced[kind][ids[n][:12]][phase] for n in numbers if ids.get(n, "")[:12] in traced[kind]
                          and phase in traced[kind][ids[n][:12]]]
                if values:
                    found[f"{kind} {phase}, {group} (median, ms)"] = statistics.median(values)
    return found


def moor_side(count: int, work: str) -> dict[str, float]:
    os.makedirs(work)
    extra = ("--debug",) if KEEP_LOG else ()
    with scratch_fs(work, "16G") as root, DaemonProcess(root=os.path.join(root, "moor"), extra_args=extra) as daemon:
        engine = Engine("moor", moor_cli(daemon), dict(os.environ),
                        lambda: [daemon.process.pid] if daemon.process else [])

        def restart() -> float:
            daemon.stop()
            return timed(lambda: daemon.start(timeout=120))
        try:
            results = measure(engine, count, restart)
            if KEEP_LOG:
                results.update(traced_phases(daemon.log(), engine.ids, count))
            return results
        finally:
            engine.run("rm", "-f", *engine.run("ps", "-aq", check=False).stdout.split(), check=False, timeout=3600)
            if KEEP_LOG:
                shutil.copyfile(daemon.log_file, KEEP_LOG)


def docker_side(count: int, work: str) -> dict[str, float] | None:
    os.makedirs(work)
    with scratch_fs(work, "16G") as root, private_dockerd(base=root) as host:
        if host is None:
            return None
        config = tempfile.mkdtemp(prefix="moor-bench-docker-cli-")
        try:
            engine = Engine("docker", ["docker"], {**os.environ, "DOCKER_HOST": host, "DOCKER_CONFIG": config},
                            lambda: pids_named("dockerd") + pids_named("containerd"))
            return measure(engine, count, None)
        finally:
            os.rmdir(config) if not os.listdir(config) else None


def main() -> None:
    count = int(os.environ.get("BENCH_DENSITY_N", "0")) or default_count()
    print(f"density: {count} containers per engine (host memory available "
          f"{meminfo()['MemAvailable'] >> 30} GiB, load {os.getloadavg()[0]:.1f})", flush=True)
    work = tempfile.mkdtemp(prefix="dens-")  # short: dockerd's and containerd's socket paths are below it
    try:
        moor = moor_side(count, os.path.join(work, "m")) if MOOR else {}
        docker = docker_side(count, os.path.join(work, "d")) if shutil.which("dockerd") and DOCKER else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if moor:
        print_side_by_side(f"density, {count} idle containers", moor, docker, width=48, precision=2)
    elif docker:
        print_side_by_side(f"density, {count} idle containers (Docker alone, in the moor column)", docker, None,
                           width=48, precision=2)


if __name__ == "__main__":
    main()
