"""Compose benchmark: ``up -d`` and ``down`` of a project of 20 services on one network with a named volume,
``moor compose`` on moord side by side with Debian's ``docker-compose`` (1.29) on Docker 20.10.

The project (:data:`PROJECT`): 20 services of busybox, each on the project's one network and mounting the
project's named volume, each running a shell that ends at once on SIGTERM (so that ``down`` measures the
engines, not a stop timeout). Measured, median of ``BENCH_RUNS``, the engines taking turns within each run:

- ``up -d`` from nothing: the network, the volume and 20 containers created and started;
- ``down -v``: the 20 containers stopped and removed, then the network and the volume.

moor runs on a private moord driven by this checkout's ``moor compose``; Docker on a private dockerd (own
data root and socket, no iptables, a bridge of its own) driven by ``docker-compose`` through DOCKER_HOST. Both
data roots live on a fresh ext4 file system on a loop device (see :func:`common.scratch_fs`). Nothing is
asserted: ``python bench/compose.py`` prints the table and the ratios (goal: moor at most 0.5 of Docker's
time). ``--profile FILE`` samples moord with py-spy meanwhile, ``--client-profile FILE`` the ``moor compose``
processes (raw collapsed stacks, one line per stack: ``py-spy``'s ``--format raw``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(__file__))

from build import profiled, this_moor
from common import import_busybox, interleaved_runs, print_results, scratch_fs

from moor.testing.daemon import DaemonProcess, UnixHTTPConnection
from moor.testing.dockerd import private_dockerd

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SERVICES = int(os.environ.get("BENCH_COMPOSE_SERVICES", "20"))
NAME = "composebench"
UP = f"up -d ({SERVICES} services, 1 network, 1 volume)"
DOWN = "down -v"
SHORT = {UP: "up", DOWN: "down"}

SERVICE = """\
  s{number:02d}:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
    environment:
      SERVICE_NUMBER: "{number}"
    networks:
      - appnet
    volumes:
      - shared:/data
"""

#: the compose file both tools read
PROJECT = "services:\n" + "".join(SERVICE.format(number=n) for n in range(1, SERVICES + 1)) + """\
networks:
  appnet:
volumes:
  shared:
"""


class Engine:
    """One engine as the benchmark drives it: its compose command (``-p NAME`` given) and environment."""

    def __init__(self, name: str, compose: list[str], env: dict[str, str], directory: str, host: str) -> None:
        self.name, self.compose, self.env, self.directory, self.host = name, compose, env, directory, host
        #: when set, each command runs under ``py-spy record``, its samples in ``<spy>.<n>``
        self.spy: str | None = None
        self.spied = 0

    def run(self, *args: str) -> str:
        command = [*self.compose, *args]
        if self.spy:
            self.spied += 1
            command = [os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "--rate", "500",
                       "--format", "raw", "--output", f"{self.spy}.{self.spied}", "--", *command]
        result = subprocess.run(command, env=self.env, cwd=self.directory, capture_output=True, timeout=900)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"{self.name}: {' '.join(args)}: " + " | ".join(output[-3:]))
        return result.stdout.decode(errors="replace")

    def timed(self, *args: str) -> float:
        start = time.perf_counter()
        self.run(*args)
        return time.perf_counter() - start

    def running(self) -> int:
        """How many containers of the project run (the API without a version prefix: either engine answers)."""
        connection = UnixHTTPConnection(self.host.removeprefix("unix://"), timeout=120)
        filters = quote(json.dumps({"label": [f"com.docker.compose.project={NAME}"]}))
        try:
            connection.request("GET", f"/containers/json?filters={filters}")
            return len(json.loads(connection.getresponse().read()))
        finally:
            connection.close()


def one_run(engine: Engine, samples: dict[str, list[float]]) -> None:
    samples[UP].append(engine.timed("up", "-d"))
    if engine.running() != SERVICES:
        raise RuntimeError(f"{engine.name}: {engine.running()} of {SERVICES} containers run after up -d")
    samples[DOWN].append(engine.timed("down", "-v"))
    if engine.running():
        raise RuntimeError(f"{engine.name}: containers left after down")


@contextlib.contextmanager
def engines(base: str, use_docker: bool, profile: str | None) -> Iterator[list[Engine]]:
    """moor (a private moord, sampled by py-spy into ``profile`` when given) and, when asked and installed,
    Docker (a private dockerd with a bridge) with docker-compose, both with the busybox image, data under
    ``base``, each with the project written in a directory of its own."""
    with DaemonProcess(root=tempfile.mkdtemp(prefix="moor-bench-moord-", dir=base)) as daemon, \
            (private_dockerd(bridge=True, base=base) if use_docker else contextlib.nullcontext()) as docker_host:
        work = tempfile.mkdtemp(prefix="moor-bench-compose-")
        assert daemon.process is not None
        found: list[Engine] = []
        try:
            env = {**os.environ, "DOCKER_CONFIG": work}
            env.pop("COMPOSE_FILE", None)
            env.pop("COMPOSE_PROJECT_NAME", None)
            for name, compose, host in (("moor", [*this_moor(daemon), "compose"], daemon.host),
                                        ("docker", ["docker-compose"], docker_host)):
                if host is None:
                    continue
                directory = os.path.join(work, name)
                os.mkdir(directory)
                with open(os.path.join(directory, "compose.yaml"), "w") as handle:
                    handle.write(PROJECT)
                engine_env = {**env, "DOCKER_HOST": host}
                cli = this_moor(daemon) if name == "moor" else ["docker", "-H", host]
                import_busybox(cli, engine_env, "-c", 'CMD ["sh"]')
                found.append(Engine(name, [*compose, "-p", NAME], engine_env, directory, host))
            with profiled(daemon.process.pid, profile):
                yield found
        finally:
            for engine in found:
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    engine.run("down", "-v", "-t", "1")
            shutil.rmtree(work, ignore_errors=True)


def side_by_side(work: str, use_docker: bool, profile: str | None, client_output: str | None) -> None:
    with scratch_fs(work) as base, engines(base, use_docker, profile) as found:
        for engine in found:
            if engine.name == "moor":
                engine.spy = client_output
        results: dict[str, dict[str, list[float]]] = {engine.name: {UP: [], DOWN: []} for engine in found}
        interleaved_runs(found, RUNS, results, lambda engine, _number: one_run(engine, results[engine.name]), SHORT)
    print_results(f"compose benchmark, median of {RUNS} runs (seconds)", results, RUNS, use_docker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-docker", action="store_true", help="measure moor alone")
    parser.add_argument("--file", action="store_true", help="only print the compose file")
    parser.add_argument("--profile", metavar="FILE",
                        help="sample moord with py-spy meanwhile (raw collapsed stacks into FILE)")
    parser.add_argument("--client-profile", metavar="PREFIX",
                        help="run each moor compose under py-spy (raw collapsed stacks into PREFIX.N)")
    options = parser.parse_args()
    if options.file:
        print(PROJECT, end="")
        return
    use_docker = not options.no_docker and shutil.which("dockerd") is not None and shutil.which(
        "docker-compose") is not None
    work = tempfile.mkdtemp(prefix="moor-bench-compose-")
    try:
        side_by_side(work, use_docker, options.profile and os.path.abspath(options.profile),
                     options.client_profile and os.path.abspath(options.client_profile))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
