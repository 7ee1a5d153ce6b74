"""Memory of idle container monitors: PSS per idle container, moor's monitors beside Docker's containerd-shim.

N idle containers (``BENCH_MONITORS``, default 50: ``run -d --network none busybox sleep 600``) on a private
engine; then, from ``/proc/PID/smaps_rollup`` of each monitor process, the mean PSS (proportional set size:
shared pages divided among the processes sharing them), private dirty memory and RSS per container.

* moor with the compiled monitor (``moor-shim``, core/moor/monitor/shim/) where it applies, and with the
  Python monitor forked from the zygote (``MOOR_MONITOR=python`` for moord): before and after;
* Docker: each container's ``containerd-shim-runc-v2``, when dockerd is installed;
* the alternatives that were weighed, measured without containers (``BENCH_ALTERNATIVES=0`` skips them): a
  zygote-like Python process that imports what the monitor imports and forks N children that idle as a monitor
  does (three threads blocked in accept/read/waitpid), with and without ``gc.freeze()`` before the fork, and
  with no threads at all.

Nothing is asserted; the machine is shared, so the load average is printed with the figures.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(__file__))

from common import docker_cli, import_busybox, moor_cli, private_daemon

from moor.containers.launch import SHIM_PATH

N = int(os.environ.get("BENCH_MONITORS", "50"))
ALTERNATIVES = os.environ.get("BENCH_ALTERNATIVES", "1") != "0"


def rollup(pid: int) -> dict[str, int]:
    """The KiB figures of ``/proc/PID/smaps_rollup`` (Rss, Pss, Private_Dirty...); empty when it is gone."""
    figures: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    figures[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        pass
    return figures


def per_process(pids: list[int]) -> dict[str, float]:
    """Mean PSS, private dirty and RSS (MiB) over ``pids``, read together (PSS depends on who shares)."""
    rolls = [r for r in (rollup(pid) for pid in pids) if r]
    if not rolls:
        return {}
    return {f"{key} per container (MiB)": statistics.mean(r.get(field, 0) for r in rolls) / 1024
            for key, field in (("PSS", "Pss"), ("private dirty", "Private_Dirty"), ("RSS", "Rss"))}


def pids_where(test: Callable[[int], bool]) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if test(int(entry)):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read()


def start_idle(cli: list[str], env: dict[str, str]) -> list[str]:
    names = [f"idle{i}" for i in range(N)]
    for name in names:
        subprocess.run([*cli, "run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "600"], env=env,
                       capture_output=True, check=True)
    time.sleep(2)  # idle: past start-up
    return names


def measure_moor(mode: str) -> dict[str, float]:
    """N idle containers on a private moord whose monitors are ``mode`` (``python`` or ``auto``)."""
    os.environ["MOOR_MONITOR"] = mode
    try:
        with private_daemon() as daemon:
            cli, env = moor_cli(daemon), dict(os.environ)
            import_busybox(cli, env)
            names = start_idle(cli, env)
            try:
                states = os.path.join(daemon.exec_root, "containers")
                monitors = pids_where(lambda pid: os.path.dirname(os.readlink(f"/proc/{pid}/cwd")) == states)
                figures = per_process(monitors)
                figures["monitor processes"] = len(monitors)
                moord = daemon.process.pid if daemon.process is not None else -1
                zygotes = pids_where(lambda pid: b"moor.monitor.zygote" in cmdline(pid) and _parent_of(pid) == moord)
                zygote_pss = sum(rollup(pid).get("Pss", 0) for pid in zygotes) / 1024
                figures["zygote PSS, shared (MiB)"] = zygote_pss
                if figures.get("PSS per container (MiB)") is not None:
                    figures["PSS with the zygote's share (MiB)"] = figures["PSS per container (MiB)"] + zygote_pss / N
            finally:
                subprocess.run([*cli, "rm", "-f", *names], env=env, capture_output=True)
    finally:
        del os.environ["MOOR_MONITOR"]
    return figures


def measure_docker() -> dict[str, float] | None:
    with docker_cli() as docker:
        if docker is None:
            return None
        cli, env = docker
        import_busybox(cli, env)
        names = start_idle(cli, env)
        try:
            ids = subprocess.run([*cli, "inspect", "-f", "{{.Id}}", *names], env=env, capture_output=True,
                                 check=True).stdout.split()
            # this dockerd's shims only (others may run on the machine): each names its container's ID
            shims = pids_where(lambda pid: b"containerd-shim" in cmdline(pid)
                               and any(b"\0" + ident + b"\0" in cmdline(pid) + b"\0" for ident in ids))
            figures = per_process(shims)
            figures["monitor processes"] = len(shims)
        finally:
            subprocess.run([*cli, "rm", "-f", *names], env=env, capture_output=True)
        return figures


def _idle_child(threads: bool) -> None:
    """What an idle Python monitor does: block in accept (control socket), read (output) and waitpid, after the
    full collection that its start-up's allocations bring about."""
    gc.collect()
    if threads:
        read_end, _write_end = os.pipe()
        for target in (lambda: os.read(read_end, 1), lambda: time.sleep(3600), lambda: time.sleep(3600)):
            threading.Thread(target=target, daemon=True).start()
    time.sleep(3600)


def measure_alternative(freeze: bool, threads: bool) -> dict[str, float]:
    """N children forked from a parent that imported the monitor's modules (as the zygote does)."""
    code = ("import gc, os, sys, time\n"
            "sys.path.insert(0, sys.argv[1])\n"
            "from monitor_memory import _idle_child\n"
            "import moor.monitor.zygote  # the monitor and the core log drivers, as the zygote has them\n"
            f"freeze, threads, n = {freeze}, {threads}, {N}\n"
            "gc.collect()\n"
            "if freeze: gc.freeze()\n"
            "children = []\n"
            "for _ in range(n):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        _idle_child(threads)\n"
            "        os._exit(0)\n"
            "    children.append(pid)\n"
            "print(' '.join(map(str, children)), flush=True)\n"
            "time.sleep(3600)\n")
    parent = subprocess.Popen([sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__))],
                              stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        children = [int(pid) for pid in parent.stdout.readline().split()]
        time.sleep(2)
        gc.collect()
        return per_process(children)
    finally:
        for pid in pids_where(lambda pid: _parent_of(pid) == parent.pid):
            os.kill(pid, 9)
        parent.kill()
        parent.wait()


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def show(title: str, figures: dict[str, float] | None) -> None:
    print(title)
    if not figures:
        print("  (not measured)")
        return
    for name, value in figures.items():
        print(f"  {name:<40}{value:10.2f}")


def main() -> None:
    print(f"{N} idle containers per engine; load average {os.getloadavg()[0]:.2f}", flush=True)
    shim = os.access(SHIM_PATH, os.X_OK)
    after = measure_moor("auto") if shim else None
    before = measure_moor("python")
    docker = measure_docker()
    show("moor, compiled monitor (moor-shim)" if shim else "moor-shim not built (make install): skipped", after)
    show("moor, Python monitor forked from the zygote (before)", before)
    show("Docker, containerd-shim-runc-v2", docker)
    key = "PSS per container (MiB)"
    if docker and docker.get(key):
        for label, figures in (("moor-shim", after), ("Python monitor", before)):
            if figures and figures.get(key):
                print(f"  PSS ratio {label}/containerd-shim: {figures[key] / docker[key]:.2f}")
    if ALTERNATIVES:
        for label, freeze, threads in (("alternative: Python monitor as today (3 threads)", False, True),
                                       ("alternative: gc.freeze() before the fork", True, True),
                                       ("alternative: gc.freeze(), no threads", True, False)):
            show(f"{label}, no container", measure_alternative(freeze, threads))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
