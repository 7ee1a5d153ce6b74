"""Where the time of `run --rm busybox true` goes: the CLI's requests and moord's phases, beside Docker.

Runs `run --rm --network none busybox true` N times (``BENCH_RUNS``, default 20; ``BENCH_NETWORK=bridge``
for the default bridge instead of none) against a private moord
started with ``--debug`` and, when dockerd is installed, a private dockerd; the two interleaved. Prints
the median of:

* the totals, each CLI talking straight to its daemon (the figure the issue's goal is about);
* the CLI's side, measured on a relay between the CLI and its daemon (each request from its first byte
  to the first byte of its answer; the relay adds a little to each): the CLI's start (until its first
  request), each request, the container's run seen from the CLI (start answered -> wait answered), the
  CLI's exit after its last answer;
* moord's phases, from the trace lines of its debug log (:mod:`moor.tracing`): create, start, exit
  (recording the exit; with ``--rm`` the removal inside it) and remove, each with its phases.

Nothing is asserted; figures only.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(__file__))

from common import docker_cli, import_busybox, moor_cli

from moor import tracing
from moor.testing.daemon import DaemonProcess

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
NETWORK = os.environ.get("BENCH_NETWORK", "none")
COMMAND = ["run", "--rm", "--network", NETWORK, "busybox", "true"]

REQUEST_LINE = re.compile(rb"^(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]\r\n")
VERSION = re.compile(r"^/v[0-9.]+")


@dataclass
class Exchange:
    """One request on a relayed connection: when it went out, when its answer began and last sent bytes."""

    name: str
    sent: float
    answered: float = 0.0
    last: float = 0.0


@dataclass
class Connection:
    exchanges: list[Exchange] = field(default_factory=list)


def request_name(method: bytes, target: bytes) -> str:
    """``POST /v1.41/containers/<id>/start`` -> ``start``; ``POST /containers/create`` -> ``create``;
    ``DELETE /containers/<id>`` -> ``delete``; ``HEAD /_ping`` -> ``ping``."""
    path = VERSION.sub("", target.decode(errors="replace").split("?", 1)[0])
    if method == b"DELETE":
        return "delete"
    return path.rstrip("/").rsplit("/", 1)[-1].lstrip("_") or path


class Relay:
    """A Unix socket relaying every connection to ``target`` (a daemon's socket) and timing its requests."""

    def __init__(self, target: str, path: str) -> None:
        self.target = target
        self.path = path
        self.lock = threading.Lock()
        self.connections: list[Connection] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def take(self) -> list[Connection]:
        """The connections relayed since the last call (then forgotten)."""
        with self.lock:
            taken, self.connections = self.connections, []
        return taken

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            connection = Connection()
            with self.lock:
                self.connections.append(connection)
            threading.Thread(target=self._pump, args=(client, upstream, connection, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, connection, False), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, connection: Connection, outgoing: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            now = time.perf_counter()
            if not data:
                try:
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if outgoing:
                head = REQUEST_LINE.match(data)
                if head is not None:
                    connection.exchanges.append(Exchange(request_name(head.group(1), head.group(2)), now))
            elif connection.exchanges:
                exchange = connection.exchanges[-1]
                if data.startswith(b"HTTP/1.") and not exchange.answered:
                    exchange.answered = now
                exchange.last = now
            try:
                sink.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        os.unlink(self.path)


def cli_phases(began: float, ended: float, connections: list[Connection]) -> dict[str, float]:
    """The CLI's side of one run (milliseconds): its start, each request, the run, its exit."""
    exchanges = sorted((e for c in connections for e in c.exchanges), key=lambda e: e.sent)
    phases: dict[str, float] = {}
    if not exchanges:
        return phases
    phases["cli start (to its 1st request)"] = exchanges[0].sent - began
    for exchange in exchanges:
        if exchange.answered:
            key = f"request {exchange.name}"
            phases[key] = phases.get(key, 0.0) + exchange.answered - exchange.sent
    start = next((e for e in exchanges if e.name == "start" and e.answered), None)
    wait = next((e for e in exchanges if e.name == "wait" and e.last), None)
    if start is not None and wait is not None:
        phases["container run (start answered -> wait ends)"] = wait.last - start.answered
    phases["cli exit (after its last answer)"] = ended - max(max(e.last, e.answered) for e in exchanges)
    phases["total"] = ended - began
    return {name: 1000 * seconds for name, seconds in phases.items()}


def one_run(cli: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    result = subprocess.run([*cli, *COMMAND], env=env, capture_output=True)
    ended = time.perf_counter()
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode(errors="replace").strip())
    return ended - began


def relayed_run(cli: list[str], env: dict[str, str], relay: Relay, host_flag: bool) -> dict[str, float]:
    relay.take()
    env = dict(env)
    if host_flag:
        cli = [*cli[:-1], f"unix://{relay.path}"]
    else:
        env["DOCKER_HOST"] = f"unix://{relay.path}"
    began = time.perf_counter()
    result = subprocess.run([*cli, *COMMAND], env=env, capture_output=True)
    ended = time.perf_counter()
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode(errors="replace").strip())
    time.sleep(0.05)  # the relay's last bytes
    return cli_phases(began, ended, relay.take())


def daemon_phases(log_text: str) -> dict[str, dict[str, list[float]]]:
    """operation -> phase -> every figure of moord's trace lines."""
    found: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for line in log_text.splitlines():
        parsed = tracing.parse(line)
        if parsed is not None:
            for phase, value in parsed[2].items():
                found[parsed[0]][phase].append(value)
    return found


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_cli(moor: dict[str, list[float]], docker: dict[str, list[float]] | None) -> None:
    print(f"  {'CLI side, through a relay (median ms)':<52}{'moor':>10}{'docker':>10}")
    names = list(moor) + [name for name in (docker or {}) if name not in moor]
    for name in sorted(names, key=lambda n: (n == "total", n.startswith("cli exit"))):
        other = f"{median(docker[name]):10.1f}" if docker and name in docker else f"{'-':>10}"
        mine = f"{median(moor[name]):10.1f}" if name in moor else f"{'-':>10}"
        print(f"  {name:<52}{mine}{other}")


def main() -> None:
    work = tempfile.mkdtemp(prefix="moor-bench-trace-")
    totals: dict[str, list[float]] = defaultdict(list)
    cli: dict[str, dict[str, list[float]]] = {"moor": defaultdict(list), "docker": defaultdict(list)}
    with DaemonProcess(extra_args=("--debug",)) as daemon, docker_cli(bridge=NETWORK == "bridge") as docker_side:
        moor = moor_cli(daemon)
        env = dict(os.environ)
        import_busybox(moor, env)
        engines: list[tuple[str, list[str], dict[str, str], Relay]] = [
            ("moor", moor, env, Relay(daemon.socket, os.path.join(work, "moor.sock")))]
        if docker_side is not None:
            docker_cmd, docker_env = docker_side
            import_busybox(docker_cmd, docker_env)
            engines.append(("docker", docker_cmd, docker_env,
                            Relay(docker_env["DOCKER_HOST"].removeprefix("unix://"), os.path.join(work, "d.sock"))))
        for _name, command, environment, _relay in engines:  # warm caches
            one_run(command, environment)
        log_start = len(daemon.log())
        for number in range(RUNS):
            order = engines if number % 2 == 0 else list(reversed(engines))
            for name, command, environment, relay in order:
                totals[name].append(1000 * one_run(command, environment))
                for phase, value in relayed_run(command, environment, relay, name == "moor").items():
                    cli[name][phase].append(value)
        time.sleep(0.5)
        traced = daemon_phases(daemon.log()[log_start:])
        for *_, relay in engines:
            relay.close()
    os.rmdir(work)
    print(f"run --rm --network {NETWORK} busybox true, {RUNS} runs each, interleaved (load: {os.getloadavg()[0]:.2f})")
    moor_total, docker_total = median(totals["moor"]), median(totals.get("docker", []))
    print(f"  {'total, straight to the daemon (median ms)':<52}{moor_total:10.1f}{docker_total:10.1f}"
          + (f"   moor/docker {moor_total / docker_total:.2f}" if totals.get("docker") else ""))
    print_cli(cli["moor"], cli["docker"] if totals.get("docker") else None)
    print("  moord's phases (its debug log, median ms; a phase nested in another counts in both)")
    for operation in ("create", "start", "exit", "remove"):
        phases = traced.get(operation, {})
        shown = ", ".join(f"{phase} {median(values):.1f}" for phase, values in phases.items())
        print(f"    {operation:<8}{shown}")


if __name__ == "__main__":
    main()
