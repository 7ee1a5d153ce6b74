"""Median wall time of the common ``moor`` commands beside the docker CLI's, both talking to the same moord.

Python's own floor on this machine (the interpreter alone, with its site, with click) and each command:
``version``, ``ps``, ``images``, ``inspect``, ``logs``, ``start``, ``stop``, ``rm``, ``exec``, ``run --rm``, the two
CLIs interleaved (their order swapped every repetition). A command that changes something acts on what is set up
for it, untimed, before each repetition (``rm`` removes a fresh container). ``BENCH_RUNS`` repetitions (30).

Run with `make bench` (or `python bench/cli_startup.py`); prints one table. No timing here is asserted by a test:
this is a measurement.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(__file__))

from common import import_busybox, print_side_by_side, private_daemon

RUNS = int(os.environ.get("BENCH_RUNS", "30"))

UP, DOWN = "bench-cli-up", "bench-cli-down"

#: label -> the arguments after the CLI's name (the same for both CLIs)
COMMANDS: dict[str, list[str]] = {
    "version": ["version"],
    "ps": ["ps"],
    "ps -a": ["ps", "-a"],
    "images": ["images"],
    "inspect": ["inspect", UP],
    "logs": ["logs", DOWN],
    "start (running)": ["start", UP],
    "stop (stopped)": ["stop", DOWN],
    "rm": ["rm", "{fresh}"],
    "exec true": ["exec", UP, "true"],
    "run --rm true": ["run", "--rm", "busybox", "true"],
    "--help": ["--help"],
}


def seconds_of(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def floor_probes() -> dict[str, list[str]]:
    """What no CLI written in Python can go under here: the interpreter alone, with its site, with click."""
    python = sys.executable
    return {"python -S -c pass": [python, "-S", "-c", "pass"], "python -c pass": [python, "-c", "pass"],
            "python -c 'import click'": [python, "-c", "import click"]}


def main() -> None:
    docker = shutil.which("docker")
    # the sources byte-compiled as `make install` leaves them: with PYTHONDONTWRITEBYTECODE set, a stale .pyc
    # would be compiled again at every start
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(os.path.dirname(__file__), "..", "core")],
                   stdout=subprocess.DEVNULL, check=True)
    probes = floor_probes()
    floor: dict[str, list[float]] = {name: [] for name in probes}
    with private_daemon() as daemon:
        # this tree's CLI, the one beside the interpreter (not whichever `moor` comes first on PATH)
        moor = [os.path.join(os.path.dirname(sys.executable), "moor"), "-H", daemon.host]
        env = {**os.environ, "DOCKER_HOST": daemon.host, "DOCKER_CONFIG": daemon.root}
        import_busybox(moor, env)
        subprocess.run([*moor, "run", "-d", "--name", UP, "busybox", "sleep", "100000"], env=env,
                       capture_output=True, check=True)
        subprocess.run([*moor, "run", "--name", DOWN, "busybox", "echo", "hello"], env=env, capture_output=True,
                       check=True)

        def fresh() -> str:
            return subprocess.run([*moor, "create", "busybox", "true"], env=env, capture_output=True, text=True,
                                  check=True).stdout.strip()

        clis: dict[str, list[str]] = {"moor": moor}
        if docker:
            clis["docker"] = [docker]
        samples: dict[str, dict[str, list[float]]] = {name: {label: [] for label in COMMANDS} for name in clis}
        for command in COMMANDS.values():  # warm the page cache and the daemon's paths once
            for cli in clis.values():
                run_one(cli, command, env, fresh)
        for number in range(RUNS):
            for name, probe in probes.items():  # in the same loop: the same load as the commands'
                floor[name].append(seconds_of(probe, env))
            for label, command in COMMANDS.items():
                order = list(clis.items()) if number % 2 == 0 else list(reversed(clis.items()))
                for name, cli in order:
                    samples[name][label].append(run_one(cli, command, env, fresh))
        subprocess.run([*moor, "rm", "-f", UP, DOWN], env=env, capture_output=True)
    print("Python's floor on this machine, median (ms)")
    for name, values in floor.items():
        print(f"  {name:<28}{statistics.median(values) * 1000:8.1f}")
    medians = {name: {label: statistics.median(values) * 1000 for label, values in by_label.items()}
               for name, by_label in samples.items()}
    print_side_by_side(f"CLI commands against one moord, median of {RUNS} runs (ms)", medians["moor"],
                       medians.get("docker"), width=20, precision=1)


def run_one(cli: list[str], command: list[str], env: dict[str, str], fresh: Callable[[], str]) -> float:
    """One timed run of ``command`` (``{fresh}``: a container created for it, untimed)."""
    args = [fresh() if part == "{fresh}" else part for part in command]
    return seconds_of([*cli, *args], env)


if __name__ == "__main__":
    main()
