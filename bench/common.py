"""Helpers shared by the benchmarks: a private moord, a dockerd when asked for, and the CLIs to drive them."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol, TypeVar

from moor.testing.daemon import DaemonProcess, unmount_under
from moor.testing.dockerd import private_dockerd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def moor_cli(daemon: DaemonProcess) -> list[str]:
    """The ``moor`` command talking to ``daemon``: this tree's, beside the interpreter (a ``moor`` earlier on PATH
    may be another checkout's), else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "moor")
    return [beside if os.access(beside, os.X_OK) else shutil.which("moor") or "moor", "-H", daemon.host]


def import_busybox(cli: list[str], env: dict[str, str], *changes: str) -> None:
    """Import the same busybox image into either engine (``changes``: ``-c`` options of ``import``)."""
    rootfs = subprocess.run([os.path.join(REPO, "scripts", "busybox-rootfs")], capture_output=True, check=True).stdout
    subprocess.run([*cli, "import", *changes, "-", "busybox:latest"], input=rootfs, env=env, capture_output=True,
                   check=True)


@contextlib.contextmanager
def docker_cli(bridge: bool = False) -> Iterator[tuple[list[str], dict[str, str]] | None]:
    """The docker CLI and its environment for a private dockerd (see :func:`private_dockerd`); None without Docker."""
    with private_dockerd(bridge) as host:
        if host is None:
            yield None
            return
        work = tempfile.mkdtemp(prefix="moor-bench-docker-cli-")
        try:
            yield ["docker"], {**os.environ, "DOCKER_HOST": host, "DOCKER_CONFIG": work}
        finally:
            shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def private_daemon(config_text: str = "") -> Iterator[DaemonProcess]:
    with DaemonProcess(config_text=config_text) as daemon:
        yield daemon


@contextlib.contextmanager
def scratch_fs(work: str, size: str = "8G") -> Iterator[str]:
    """A fresh ext4 file system (sparse image, loop device) mounted under ``work``; gone afterwards.

    Benchmarks keep their engines' data roots on it: this VM's root file system is ext4 without a journal, where
    each new inode costs a scan past every inode freed in the last minutes, which drowns the engines' times."""
    image, mountpoint = os.path.join(work, "fs.img"), os.path.join(work, "fs")
    os.mkdir(mountpoint)
    subprocess.run(["truncate", "-s", size, image], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", image], check=True)
    subprocess.run(["mount", "-o", "loop", image, mountpoint], check=True)
    try:
        yield mountpoint
    finally:
        unmount_under(mountpoint)  # what the engines left mounted, then the file system (its loop device goes too)
        os.unlink(image)


def print_side_by_side(title: str, moor: dict[str, float], docker: dict[str, float] | None, width: int = 42,
                       precision: int = 3) -> None:
    """One table: each measure for moor, Docker (when measured) and their ratio."""
    print(title)
    print(f"  {'measure':<{width}}{'moor':>10}{'docker':>10}{'moor/docker':>14}")
    for name, value in moor.items():
        other = docker.get(name) if docker else None
        ratio = f"{value / other:14.2f}" if other else f"{'-':>14}"
        shown = f"{other:10.{precision}f}" if other is not None else f"{'-':>10}"
        print(f"  {name:<{width}}{value:10.{precision}f}{shown}{ratio}")
    if docker is None:
        print("  (dockerd not installed: `apt-get install docker.io` for the side-by-side figures)")


class Named(Protocol):
    """An engine of a side-by-side benchmark (moor or docker)."""

    name: str


EngineT = TypeVar("EngineT", bound=Named)


def interleaved_runs(engines: Sequence[EngineT], runs: int, results: dict[str, dict[str, list[float]]],
                     one_run: Callable[[EngineT, int], object], short: Mapping[str, str]) -> None:
    """``one_run(engine, number)`` ``runs`` times for each engine, their order swapped every run so that
    neither always gets the warmer machine. An engine whose run fails (RuntimeError) is dropped, its figures
    with it; after each run, one line per engine with its latest figures (``short``: measure -> label)."""
    found = list(engines)
    for number in range(runs):
        order = found if number % 2 == 0 else list(reversed(found))
        for engine in order:
            try:
                one_run(engine, number)
            except RuntimeError as error:
                print(f"  run {number + 1}: {error}", flush=True)
                results[engine.name] = {}
                found = [e for e in found if e is not engine]
        for engine in order:
            shown = ", ".join(f"{short[k]} {v[-1]:.2f}s" for k, v in results[engine.name].items() if v)
            print(f"  run {number + 1} {engine.name}: {shown}", flush=True)


def medians_of(results: Mapping[str, Mapping[str, list[float]]]) -> dict[str, dict[str, float]]:
    """Each engine's median of each measure it has figures for."""
    return {name: {k: statistics.median(v) for k, v in measures.items() if v} for name, measures in results.items()}


def print_results(title: str, results: Mapping[str, Mapping[str, list[float]]], runs: int, use_docker: bool,
                  width: int = 40) -> None:
    """The medians side by side under ``title``, then the best run of each when there were several (on a busy
    machine the medians wander); Docker's alone when moor failed (they still tell what the goal is)."""
    medians = medians_of(results)
    if medians.get("moor"):
        print_side_by_side(title, medians["moor"], medians.get("docker") if use_docker else None, width=width,
                           precision=2)
        if runs > 1:
            best = {name: {k: min(v) for k, v in measures.items() if v} for name, measures in results.items()}
            print_side_by_side(f"the same, best of {runs} runs (seconds)", best["moor"],
                               best.get("docker") if use_docker else None, width=width, precision=2)
    elif medians.get("docker"):
        print(f"{title}, Docker alone")
        for name, value in medians["docker"].items():
            print(f"  {name:<{width}}{value:10.2f}")
