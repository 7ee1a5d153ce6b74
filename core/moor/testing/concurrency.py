"""Concurrency testing: many clients creating, starting, stopping and removing at once against one moord.

Each client loops until the deadline, picking at random among: create a container (on the default
bridge or a network, with a volume), start, stop, kill, remove it, connect or disconnect it, create
and remove networks and volumes. Half of the names come from small shared pools, so clients race on
the same objects: a 404 (removed meanwhile), 409 (conflict, in use) or 304 (already started or
stopped) is what Docker answers to such races and is fine; any other error status, a dropped
connection or a 5xx is a finding.

A watchdog pings ``/_ping`` every second and watches the requests in flight: when the daemon stops
answering for ``stall_seconds`` (or one request takes longer than ``request_seconds``) it dumps
moord's thread stacks (SIGUSR1 when moord handles it, else ``py-spy dump`` when installed, else the
kernel stacks of its threads) and the run fails with that output.

At the end everything is removed and nothing may be left: no container, network, volume, mount,
process, cgroup, veth, bridge, endpoint, runc state, and no more sockets in moord than before (the
embedded DNS server's listeners). ``scripts/concurrency`` runs this module (50 clients, minutes);
``tests/e2e/test_concurrency.py`` runs a bounded sample.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moor.client import ConnectError, DaemonError
from moor.testing.crashpoints import busybox_rootfs
from moor.testing.daemon import DaemonProcess, UnixHTTPConnection
from moor.testing.leaks import leaks, link_exists, socket_count
from moor.testing.storecheck import check_store

#: statuses Docker answers to genuine races between clients: not modified, gone, conflict
RACE_STATUSES = {304, 404, 409}
#: and per action: Docker forbids (403) removing a network with endpoints and a second endpoint of a name
ACTION_STATUSES = {"network rm": {403}, "connect": {403}}
SHARED_POOL = 4  # shared names per kind: clients race on these
PREDEFINED_NETWORKS = {"bridge", "host", "none"}


@dataclass
class Findings:
    """What a run saw: every status per action, the errors that count, a stall report."""

    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    stall: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, action: str, status: int | str, message: str = "") -> None:
        with self.lock:
            self.statuses[f"{action} {status}"] += 1
            allowed = RACE_STATUSES | ACTION_STATUSES.get(action, set())
            if not (isinstance(status, int) and (status < 300 or status in allowed)):
                self.errors.append(f"{action}: {status} {message}")


class Watchdog(threading.Thread):
    """Pings moord every second; on a stall it records moord's thread stacks and sets :attr:`tripped`."""

    def __init__(self, daemon: DaemonProcess, findings: Findings, in_flight: dict[int, tuple[str, float]],
                 stall_seconds: float, request_seconds: float) -> None:
        super().__init__(name="watchdog", daemon=True)
        self.daemon_process = daemon
        self.findings = findings
        self.in_flight = in_flight
        self.stall_seconds = stall_seconds
        self.request_seconds = request_seconds
        self.stopping = threading.Event()
        self.tripped = threading.Event()

    def run(self) -> None:
        last_answer = time.monotonic()
        while not self.stopping.wait(1.0):
            if self._ping():
                last_answer = time.monotonic()
            now = time.monotonic()
            slow = [(what, now - since) for what, since in list(self.in_flight.values())
                    if now - since > self.request_seconds]
            if now - last_answer > self.stall_seconds or slow:
                reason = (f"moord did not answer /_ping for {now - last_answer:.0f}s" if not slow else
                          "requests in flight for too long: " + ", ".join(f"{w} ({s:.0f}s)" for w, s in slow[:5]))
                self.findings.stall = f"{reason}\n{dump_stacks(self.daemon_process)}"
                self.tripped.set()
                return

    def _ping(self) -> bool:
        connection = UnixHTTPConnection(self.daemon_process.socket, timeout=5)
        try:
            connection.request("GET", "/_ping")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()


def handles_signal(pid: int, signum: int) -> bool:
    """Whether ``pid`` catches ``signum`` (its SigCgt mask): sending an uncaught SIGUSR1 would kill it."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    except OSError:
        pass
    return False


def dump_stacks(daemon: DaemonProcess) -> str:
    """moord's thread stacks, by whatever means this host offers."""
    process = daemon.process
    if process is None or process.poll() is not None:
        return "(moord is not running)"
    pid = process.pid
    if handles_signal(pid, signal.SIGUSR1):
        size = os.path.getsize(daemon.log_file)
        os.kill(pid, signal.SIGUSR1)
        time.sleep(2)
        with open(daemon.log_file, errors="replace") as handle:
            handle.seek(size)
            return "thread stacks (SIGUSR1):\n" + handle.read()
    py_spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if os.path.exists(py_spy):
        result = subprocess.run([py_spy, "dump", "--nonblocking", "--pid", str(pid)], capture_output=True, text=True,
                                timeout=60)
        if result.returncode == 0:
            return "thread stacks (py-spy):\n" + result.stdout
    stacks = []
    for task in sorted(os.listdir(f"/proc/{pid}/task")):
        try:
            with open(f"/proc/{pid}/task/{task}/stack") as handle:
                stacks.append(f"thread {task}:\n{handle.read()}")
        except OSError:
            continue
    return "kernel stacks (no SIGUSR1 handler in moord, no py-spy):\n" + "\n".join(stacks)


class Worker:
    """One client: random actions on its own objects and on the shared pools until told to stop."""

    def __init__(self, number: int, bench: ConcurrencyBench, seed: int) -> None:
        self.name = f"client-{number}"
        self.thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self.number = number
        self.bench = bench
        self.random = random.Random(seed)
        self.client = bench.daemon.client()

    def name_of(self, kind: str) -> str:
        if self.random.random() < 0.5:
            return f"cc-shared-{kind}-{self.random.randrange(SHARED_POOL)}"
        return f"cc-{self.number}-{kind}-{self.random.randrange(3)}"

    def call(self, action: str, method: str, path: str, params: dict[str, Any] | None = None,
             body: Any = None) -> Any:
        key = threading.get_ident()
        self.bench.in_flight[key] = (f"{self.name} {method} {path}", time.monotonic())
        try:
            answer = self.client.call(method, path, params, body=body)
        except DaemonError as err:
            self.bench.findings.record(action, err.status, err.message)
            return None
        except (ConnectError, OSError) as err:
            if not self.bench.stopping.is_set():
                self.bench.findings.record(action, "connection", str(err))
            return None
        finally:
            self.bench.in_flight.pop(key, None)
        self.bench.findings.record(action, 200)
        return answer

    def run(self) -> None:
        actions: list[Callable[[], None]] = [
            self.create, self.create, self.start, self.start, self.stop, self.kill, self.remove, self.remove,
            self.connect, self.disconnect, self.network_create, self.network_remove, self.volume_create,
            self.volume_remove, self.restart, self.pause, self.unpause, self.inspect, self.listing,
        ]
        while not self.bench.stopping.is_set():
            self.random.choice(actions)()

    # ------------------------------------------------------------------ actions

    def create(self) -> None:
        name = self.name_of("c")
        host_config: dict[str, Any] = {}
        if self.random.random() < 0.5:
            host_config["NetworkMode"] = self.name_of("n")
        if self.random.random() < 0.5:
            host_config["Binds"] = [f"{self.name_of('v')}:/data"]
        body = {"Image": "busybox", "Cmd": ["sleep", "1000000"], "HostConfig": host_config, "StopTimeout": 1}
        answer = self.call("create", "POST", "/containers/create", {"name": name}, body)
        if answer:
            self.bench.known.add(answer["Id"])

    def start(self) -> None:
        self.call("start", "POST", f"/containers/{self.name_of('c')}/start")

    def stop(self) -> None:
        self.call("stop", "POST", f"/containers/{self.name_of('c')}/stop", {"t": "1"})

    def kill(self) -> None:
        self.call("kill", "POST", f"/containers/{self.name_of('c')}/kill")

    def restart(self) -> None:
        self.call("restart", "POST", f"/containers/{self.name_of('c')}/restart", {"t": "1"})

    def pause(self) -> None:
        self.call("pause", "POST", f"/containers/{self.name_of('c')}/pause")

    def unpause(self) -> None:
        self.call("unpause", "POST", f"/containers/{self.name_of('c')}/unpause")

    def inspect(self) -> None:
        kind = self.random.choice(("c", "n", "v"))
        path = {"c": "/containers/{}/json", "n": "/networks/{}", "v": "/volumes/{}"}[kind]
        self.call("inspect", "GET", path.format(self.name_of(kind)))

    def listing(self) -> None:
        self.call("list", "GET", self.random.choice(("/containers/json?all=1", "/networks", "/volumes",
                                                     "/system/df", "/info")))

    def remove(self) -> None:
        self.call("remove", "DELETE", f"/containers/{self.name_of('c')}", {"force": "1", "v": "1"})

    def connect(self) -> None:
        self.call("connect", "POST", f"/networks/{self.name_of('n')}/connect", body={"Container": self.name_of("c")})

    def disconnect(self) -> None:
        self.call("disconnect", "POST", f"/networks/{self.name_of('n')}/disconnect",
                  body={"Container": self.name_of("c"), "Force": self.random.random() < 0.5})

    def network_create(self) -> None:
        answer = self.call("network create", "POST", "/networks/create",
                           body={"Name": self.name_of("n"), "CheckDuplicate": True})
        if answer:
            self.bench.networks.add(answer["Id"])

    def network_remove(self) -> None:
        self.call("network rm", "DELETE", f"/networks/{self.name_of('n')}")

    def volume_create(self) -> None:
        self.call("volume create", "POST", "/volumes/create", body={"Name": self.name_of("v")})

    def volume_remove(self) -> None:
        self.call("volume rm", "DELETE", f"/volumes/{self.name_of('v')}")


class ConcurrencyBench:
    """A private moord with busybox, driven by ``clients`` workers for ``seconds``."""

    def __init__(self, clients: int, seconds: float, seed: int = 0, root: str | None = None,
                 stall_seconds: float = 30, request_seconds: float = 120) -> None:
        self.clients = clients
        self.seconds = seconds
        self.seed = seed
        self.daemon = DaemonProcess(root)
        self.findings = Findings()
        self.in_flight: dict[int, tuple[str, float]] = {}
        self.stopping = threading.Event()
        self.known: set[str] = set()
        self.networks: set[str] = set()
        self.stall_seconds = stall_seconds
        self.request_seconds = request_seconds
        self.baseline_sockets = 0

    def setup(self) -> None:
        self.daemon.start(timeout=60)
        self.daemon.client().call("POST", "/images/create", {"fromSrc": "-", "repo": "busybox", "tag": "latest"},
                                  body=busybox_rootfs())
        # warm up: the embedded DNS server keeps a wake-up socket pair once the first container used it
        client = self.daemon.client()
        client.call("POST", "/networks/create", body={"Name": "cc-warm-up"})
        body = {"Image": "busybox", "Cmd": ["sleep", "1000000"], "HostConfig": {"NetworkMode": "cc-warm-up"}}
        warm = client.call("POST", "/containers/create", body=body)["Id"]
        self.known.add(warm)
        client.call("POST", f"/containers/{warm}/start")
        client.call("DELETE", f"/containers/{warm}", {"force": "1"})
        client.call("DELETE", "/networks/cc-warm-up")
        assert self.daemon.process is not None
        self.baseline_sockets = socket_count(self.daemon.process.pid)

    def run(self) -> list[str]:
        """Drive the clients, then tidy up and check; every finding, one line each (empty: clean)."""
        watchdog = Watchdog(self.daemon, self.findings, self.in_flight, self.stall_seconds, self.request_seconds)
        watchdog.start()
        workers = [Worker(n, self, self.seed * 1000 + n) for n in range(self.clients)]
        for worker in workers:
            worker.thread.start()
        watchdog.tripped.wait(self.seconds)
        self.stopping.set()
        deadline = time.monotonic() + self.request_seconds + 30
        for worker in workers:
            worker.thread.join(max(0.1, deadline - time.monotonic()))
        watchdog.stopping.set()
        watchdog.join(10)
        problems = list(self.findings.errors)
        if self.findings.stall:
            return problems + [f"deadlock: {self.findings.stall}"]
        stuck = [w.name for w in workers if w.thread.is_alive()]
        if stuck:
            return problems + [f"clients still waiting for an answer: {', '.join(stuck)}\n"
                               f"{dump_stacks(self.daemon)}"]
        return problems + self.tidy_and_check()

    def tidy_and_check(self) -> list[str]:
        """Remove every container, network and volume; then nothing may be left."""
        client, problems = self.daemon.client(), []
        try:
            for container in client.get("/containers/json", all="1"):
                self.known.add(container["Id"])
                client.call("DELETE", f"/containers/{container['Id']}", {"force": "1", "v": "1"})
            for network in client.get("/networks"):
                if network["Name"] not in PREDEFINED_NETWORKS:
                    client.call("DELETE", f"/networks/{network['Id']}")
            for volume in client.get("/volumes")["Volumes"] or []:
                client.call("DELETE", f"/volumes/{volume['Name']}")
            left = (client.get("/containers/json", all="1"),
                    [n["Name"] for n in client.get("/networks") if n["Name"] not in PREDEFINED_NETWORKS],
                    client.get("/volumes")["Volumes"])
        except (DaemonError, ConnectError, OSError) as err:
            return [f"tidying up at the end: {err}"]
        if any(left):
            problems.append(f"left after removing everything: {left}")
        problems += check_store(client, self.daemon.data_root)
        problems += leaks(self.daemon, set(), self.known)
        problems += [f"bridge br-{n[:12]} of a removed network" for n in self.networks if link_exists(f"br-{n[:12]}")]
        assert self.daemon.process is not None
        sockets = socket_count(self.daemon.process.pid)
        if sockets > self.baseline_sockets + 2:  # our own connection or two
            problems.append(f"moord holds {sockets} sockets, {self.baseline_sockets} before the run "
                            "(embedded DNS listeners of removed containers?)")
        return problems

    def close(self, keep_log: str = "") -> None:
        """Stop moord and remove everything; ``keep_log``: copy moord's log there first."""
        self.stopping.set()
        self.daemon.stop()
        if keep_log:
            shutil.copyfile(self.daemon.log_file, keep_log)
        self.daemon.cleanup()

    def summary(self, problems: list[str]) -> str:
        lines = [f"concurrency: {self.clients} clients, {self.seconds:.0f}s (seed {self.seed})"]
        lines += [f"  {key}: {count}" for key, count in sorted(self.findings.statuses.items())]
        distinct = Counter(problems)
        lines += [f"  PROBLEM ({count}x): {problem}" for problem, count in distinct.most_common()]
        lines.append("RESULT: " + ("clean" if not problems else "PROBLEMS FOUND"))
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="concurrency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="parallel clients (default 50)")
    parser.add_argument("--seconds", type=float, default=180, help="how long they run (default 180)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random; printed)")
    parser.add_argument("--stall-seconds", type=float, default=30, help="no /_ping answer for this long: deadlock")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    bench = ConcurrencyBench(args.clients, args.seconds, seed, stall_seconds=args.stall_seconds)
    print(f"concurrency: seed {seed}", flush=True)
    problems = ["interrupted"]
    keep_log = f"/tmp/moor-concurrency-{seed}.log"
    try:
        bench.setup()
        problems = bench.run()
    finally:
        bench.close(keep_log)
    print(bench.summary(problems), flush=True)
    print(f"moord's log: {keep_log}", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
