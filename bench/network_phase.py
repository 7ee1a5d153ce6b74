"""The network phase of a container's start as the host fills up: its median at several counts of running ones.

A private moord (``--debug``: its trace lines time each phase, see :mod:`moor.tracing`) on a fresh ext4 of its
own; ``busybox sleep`` containers on a user-defined bridge network (a /21, as ``bench/density.py``;
``BENCH_NETWORK=bridge`` for the default bridge instead). At each count of ``BENCH_NETPHASE_AT`` (default
``0,300``: running containers already there) ``BENCH_NETPHASE_SAMPLE`` (10) containers are started one after
the other with ``run -d``; the host is filled in between by 4 clients at once. Every ``BENCH_NETPHASE_PUBLISH``-th
(10th) container publishes a port on 127.0.0.1, as in ``bench/density.py``.

Printed per count: the medians of the sampled starts' phases (``network``; ``network-wait``, the part of it not
hidden behind ``runc create`` when the network is set up meanwhile; ``ports``, ``runc-create``, the whole
``start``, and the sub-phases of the network phase: ``net.*``, ``bridge.*``), and the ``run -d`` wall time.
``BENCH_NETPHASE_PROFILE=DIR``: py-spy records moord (wall clock, idle threads too) during each count's sample;
its collapsed stacks go to ``DIR/<count>.txt``. With N >= 500 take ``flock /tmp/moor-density.lock`` around it
(one density run at a time on the machine). Nothing is asserted.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(__file__))

from common import import_busybox, moor_cli, scratch_fs

from moor import tracing
from moor.testing.daemon import DaemonProcess

COUNTS = sorted({int(c) for c in os.environ.get("BENCH_NETPHASE_AT", "0,300").split(",") if c.strip()})
SAMPLE = int(os.environ.get("BENCH_NETPHASE_SAMPLE", "10"))
PUBLISH_EVERY = int(os.environ.get("BENCH_NETPHASE_PUBLISH", "10"))
NETWORK = os.environ.get("BENCH_NETWORK", "user")
PROFILE = os.environ.get("BENCH_NETPHASE_PROFILE", "")
FILL_CLIENTS = 4
SUBNET = "10.233.0.0/21"
SHOWN = ("total", "monitor", "runc-create", "network", "network-wait", "ports", "run")


class Runner:
    """The CLI against the private moord."""

    def __init__(self, cli: list[str]) -> None:
        self.cli = cli
        self.network = "netphase" if NETWORK == "user" else "bridge"

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.cli, *args], capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"moor {' '.join(args[:4])}...: {done.stderr.strip()}")
        return done

    def start(self, name: str, number: int) -> tuple[str, float]:
        """``run -d`` one container; its ID and the command's wall time."""
        ports = ["-p", "127.0.0.1::80"] if PUBLISH_EVERY and number % PUBLISH_EVERY == 0 else []
        began = time.perf_counter()
        done = self.run("run", "-d", "--network", self.network, "--name", name, *ports, "busybox", "sleep", "1000000")
        return done.stdout.strip(), time.perf_counter() - began


def start_traces(log_text: str) -> dict[str, dict[str, float]]:
    """Short container ID -> the phases of its (last) start trace line."""
    found: dict[str, dict[str, float]] = {}
    for line in log_text.splitlines():
        parsed = tracing.parse(line)
        if parsed is not None and parsed[0] == "start":
            found[parsed[1]] = parsed[2]
    return found


def profiler(pid: int, path: str) -> subprocess.Popen[bytes] | None:
    """py-spy recording ``pid`` into ``path`` (collapsed stacks) until stopped; None without py-spy."""
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(spy):
        print("  (no py-spy: no profile)")
        return None
    process = subprocess.Popen([spy, "record", "--pid", str(pid), "--idle", "--threads", "--rate", "500",
                                "--format", "raw", "--output", path, "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached
    return process


def main() -> None:
    print(f"network phase: counts {COUNTS}, {SAMPLE} sampled starts each, network {NETWORK}, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    if PROFILE:
        os.makedirs(PROFILE, exist_ok=True)
    work = tempfile.mkdtemp(prefix="netph-")
    results: dict[int, tuple[dict[str, float], float]] = {}
    try:
        with scratch_fs(work, "16G") as root, \
                DaemonProcess(root=os.path.join(root, "moor"), extra_args=("--debug",)) as daemon:
            runner = Runner(moor_cli(daemon))
            import_busybox(runner.cli, dict(os.environ))
            if NETWORK == "user":
                runner.run("network", "create", "--subnet", SUBNET, "netphase")
            runner.run("run", "--rm", "--network", runner.network, "busybox", "true")  # warm caches
            running = 0
            try:
                for count in COUNTS:
                    if count > running:
                        with ThreadPoolExecutor(FILL_CLIENTS) as pool:
                            list(pool.map(lambda n: runner.start(f"f{n}", n), range(running, count)))
                        running = count
                    time.sleep(2)  # the host settled
                    load = os.getloadavg()[0]
                    spy = profiler(daemon.process.pid, os.path.join(PROFILE, f"{count}.txt")) \
                        if PROFILE and daemon.process else None
                    sampled = [runner.start(f"s{count}-{i}", running + i) for i in range(SAMPLE)]
                    running += SAMPLE
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)
                        spy.wait(60)
                    traces = start_traces(daemon.log())
                    phases: dict[str, list[float]] = defaultdict(list)
                    for container_id, _ in sampled:
                        for phase, value in traces.get(container_id[:12], {}).items():
                            phases[phase].append(value)
                    medians = {phase: statistics.median(values) for phase, values in phases.items()}
                    publishing = [traces.get(container_id[:12], {}).get("ports", 0.0)
                                  for number, (container_id, _) in enumerate(sampled, start=running - SAMPLE)
                                  if PUBLISH_EVERY and number % PUBLISH_EVERY == 0]
                    if publishing:
                        medians["ports, publishing"] = statistics.median(publishing)
                    medians["run -d wall"] = 1000 * statistics.median(seconds for _, seconds in sampled)
                    results[count] = (medians, load)
                    print(f"  {count} running (load {load:.1f}): " + ", ".join(
                        f"{phase} {medians[phase]:.1f}" for phase in ("network", "network-wait", "runc-create")
                        if phase in medians), flush=True)
            finally:
                names = runner.run("ps", "-aq", check=False).stdout.split()
                if names:
                    runner.run("rm", "-f", *names, check=False, timeout=3600)
                if NETWORK == "user":
                    runner.run("network", "rm", "netphase", check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    found = {p for medians, _ in results.values() for p in medians}
    phases = [p for p in (*SHOWN, "ports, publishing", "run -d wall") if p in found] + sorted(
        p for p in found if p.startswith(("net.", "bridge.")))
    print("\nmedian ms of the sampled starts (a nested phase counts in its parent too)")
    print(f"  {'phase':<22}" + "".join(f"{count:>10}" for count in results))
    for phase in phases:
        print(f"  {phase:<22}" + "".join(f"{results[c][0].get(phase, float('nan')):>10.1f}" for c in results))
    print(f"  {'load':<22}" + "".join(f"{results[c][1]:>10.1f}" for c in results))


if __name__ == "__main__":
    main()
