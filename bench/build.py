"""Build benchmark: a 10-step Dockerfile adding about 150 MB and 2000 files, side by side with Docker 20.10's
classic builder (``DOCKER_BUILDKIT=0``).

The context is generated from a seed (the same bytes every time): a source tree of 2000 text files
(about 45 MB) and a Dockerfile whose steps are a mix of what real ones do: ENV, WORKDIR, LABEL,
EXPOSE, CMD (config only), a RUN that writes a 60 MB file and 100 small ones, a COPY of the source
tree, a RUN that reads every source file into a 45 MB bundle and writes listings, a RUN that edits,
deletes and chmods some source files (copy-ups and whiteouts). Both engines build FROM the same busybox
image, imported from ``scripts/busybox-rootfs``. Measured, median of ``BENCH_RUNS``, the engines taking
turns within each run:

- a build with ``--no-cache``;
- the same build again, every step cached;
- a build after one source file changed (the COPY and every step after it run again).

moor runs on a private moord, Docker on a private dockerd (own data root and socket, no iptables, a
bridge of its own); both data roots live on a fresh ext4 file system on a loop device (see
:func:`common.scratch_fs`: this VM's root file system has no journal and slows down after many
deletions). Nothing is asserted: ``python bench/build.py`` prints the table and the ratios (goal:
moor at most 0.7 of Docker's time without cache, 0.5 with it). ``--parts`` measures instead the
piece of a RUN step that is moor's own work: a container's diff exported as a tar, spooled and
hashed, and applied as a layer of the image store (the commit path).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

sys.path.insert(0, os.path.dirname(__file__))

from common import import_busybox, interleaved_runs, moor_cli, print_results, scratch_fs

from moor.images.store import ImageStore
from moor.testing.conformance import load_driver
from moor.testing.daemon import DaemonProcess, unmount_under
from moor.testing.dockerd import private_dockerd

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SEED = int(os.environ.get("BENCH_SEED", "1"))
SOURCE_DIRS, FILES_PER_DIR = 40, 50  # 2000 source files
SOURCE_BYTES = 45_000_000
TAG = "bench/build:latest"
NO_CACHE = "build, no cache (10 steps, 150 MB)"
CACHED = "rebuild, every step cached"
CHANGED = "rebuild after one source file changed"
SHORT = {NO_CACHE: "no cache", CACHED: "cached", CHANGED: "one change"}
#: the file each "one change" run edits
CHANGED_FILE = os.path.join("src", "pkg07", "mod_0012.txt")

DOCKERFILE = """\
FROM busybox
ENV APP_HOME=/app BENCH_SEED={seed}
WORKDIR /app
RUN mkdir -p /opt/deps && yes 'moor build bench: dependency bytes' | head -c 60000000 > /opt/deps/big.bin \\
    && for i in $(seq 1 100); do echo "dependency $i" > /opt/deps/dep$i.txt; done
LABEL org.example.bench="build" org.example.seed="{seed}"
COPY src/ ./src/
RUN cat src/*/*.txt > bundle.txt && mkdir gen && for d in src/*; do ls -l $d > gen/${{d##*/}}.list; done
RUN sed -i 's/a/A/g' src/pkg00/*.txt && rm -f src/pkg01/* && chmod -R go-w src/pkg02 \\
    && echo edited >> /opt/deps/dep1.txt
EXPOSE 8080
CMD ["sh", "-c", "ls /app"]
"""

#: printable bytes a generated source file is made of (bytes.translate of random bytes)
_PRINTABLE = bytes(b"abcdefghijklmnopqrstuvwxyz0123456789 _=()\n"[i % 42] for i in range(256))


def write_context(directory: str, seed: int = SEED) -> None:
    """The build context: the Dockerfile and a source tree of 2000 text files of about 45 MB, from ``seed``."""
    generator = random.Random(seed)
    weights = [generator.lognormvariate(0, 1) for _ in range(SOURCE_DIRS * FILES_PER_DIR)]
    scale = SOURCE_BYTES / sum(weights)
    with open(os.path.join(directory, "Dockerfile"), "w") as handle:
        handle.write(DOCKERFILE.format(seed=seed))
    with open(os.path.join(directory, ".dockerignore"), "w") as handle:
        handle.write("*.tmp\n")
    for index, weight in enumerate(weights):
        package = os.path.join(directory, "src", f"pkg{index // FILES_PER_DIR:02d}")
        os.makedirs(package, exist_ok=True)
        with open(os.path.join(package, f"mod_{index % FILES_PER_DIR:04d}.txt"), "wb") as handle:
            handle.write(generator.randbytes(max(1, int(weight * scale))).translate(_PRINTABLE))


class Engine:
    """One engine as the benchmark drives it: a CLI command (``build`` as each engine's users run it)."""

    def __init__(self, name: str, cli: list[str], env: dict[str, str]) -> None:
        self.name, self.cli, self.env = name, cli, env

    def run(self, *args: str) -> str:
        result = subprocess.run([*self.cli, *args], env=self.env, capture_output=True, timeout=1800)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"{self.name}: {' '.join(args[:2])}: " + " | ".join(output[-3:]))
        return result.stdout.decode(errors="replace")

    def timed_build(self, context: str, *flags: str) -> tuple[float, str, dict[str, float]]:
        """Seconds the build took, its output and how long each phase took (see :func:`phases`)."""
        start = time.perf_counter()
        marks: list[tuple[float, str]] = []
        with subprocess.Popen([*self.cli, "build", *flags, "-t", TAG, context], env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) as process:
            assert process.stdout is not None
            for line in process.stdout:
                marks.append((time.perf_counter() - start, line.decode(errors="replace").rstrip("\n")))
            code = process.wait(1800)
        seconds = time.perf_counter() - start
        output = "\n".join(line for _, line in marks)
        if code != 0:
            raise RuntimeError(f"{self.name}: build {' '.join(flags)}: " + " | ".join(output.splitlines()[-3:]))
        return seconds, output, phases(marks, seconds)


def phases(marks: list[tuple[float, str]], total: float) -> dict[str, float]:
    """Seconds from the start to the first step (the context sent), each step, and from the last step's end
    to the command's exit, from the times the output lines arrived."""
    starts = [(at, line.split(":", 1)[1].split()[0]) for at, line in marks if line.startswith("Step ")]
    if not starts:
        return {}
    result = {"0 context": starts[0][0]}
    for index, (at, keyword) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else next(
            (t for t, line in marks if line.startswith("Successfully built")), total)
        result[f"{index + 1} {keyword}"] = end - at
    return result


def one_run(engine: Engine, context: str, number: int, samples: dict[str, list[float]],
            steps: dict[str, list[float]]) -> None:
    """No-cache build, cached rebuild and a rebuild after one change, for ``engine``; the no-cache build's phases
    into ``steps``."""
    seconds, _, timed = engine.timed_build(context, "--no-cache")
    samples[NO_CACHE].append(seconds)
    for name, value in timed.items():
        steps.setdefault(name, []).append(value)
    seconds, output, _ = engine.timed_build(context)
    if output.count("Using cache") < 8:
        raise RuntimeError(f"{engine.name}: the rebuild did not use the cache for every step:\n{output}")
    samples[CACHED].append(seconds)
    with open(os.path.join(context, CHANGED_FILE), "a") as handle:
        handle.write(f"changed for {engine.name} in run {number}\n")
    seconds, _, _ = engine.timed_build(context)
    samples[CHANGED].append(seconds)


def this_moor(daemon: DaemonProcess) -> list[str]:
    """The ``moor`` command of this checkout (next to the running Python) talking to ``daemon``."""
    beside = os.path.join(os.path.dirname(sys.executable), "moor")
    return [beside, "-H", daemon.host] if os.path.exists(beside) else moor_cli(daemon)


@contextlib.contextmanager
def profiled(pid: int, output: str | None) -> Iterator[None]:
    """py-spy samples the process ``pid`` (idle threads too) into ``output`` (raw, collapsed stacks) meanwhile."""
    if output is None:
        yield
        return
    spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    recorder = subprocess.Popen([spy, "record", "--idle", "--rate", "200", "--format", "raw", "--output", output,
                                 "--pid", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(60)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()


@contextlib.contextmanager
def engines(base: str, use_docker: bool, moor_client: str, profile: str | None = None) -> Iterator[list[Engine]]:
    """moor (a private moord, sampled by py-spy into ``profile`` when given) and, when asked and installed,
    Docker (a private dockerd with a bridge), both with the busybox image, data under ``base``."""
    with DaemonProcess(root=tempfile.mkdtemp(prefix="moor-bench-moord-", dir=base)) as daemon, \
            (private_dockerd(bridge=True, base=base) if use_docker else contextlib.nullcontext()) as docker_host:
        work = tempfile.mkdtemp(prefix="moor-bench-cli-")
        assert daemon.process is not None
        try:
            env = {**os.environ, "DOCKER_CONFIG": work, "DOCKER_BUILDKIT": "0"}
            cli = ["docker", "-H", daemon.host] if moor_client == "docker" else this_moor(daemon)
            found = [Engine("moor", cli, env)]
            if docker_host is not None:
                found.append(Engine("docker", ["docker", "-H", docker_host], env))
            for engine in found:
                import_busybox(engine.cli, env)
            with profiled(daemon.process.pid, profile):
                yield found
        finally:
            shutil.rmtree(work, ignore_errors=True)


def side_by_side(work: str, use_docker: bool, moor_client: str, profile: str | None) -> None:
    with scratch_fs(work, "16G") as base, engines(base, use_docker, moor_client, profile) as found:
        results: dict[str, dict[str, list[float]]] = {
            engine.name: {NO_CACHE: [], CACHED: [], CHANGED: []} for engine in found}
        steps: dict[str, dict[str, list[float]]] = {engine.name: {} for engine in found}
        contexts = {}
        for engine in found:  # one context each: the "one change" runs edit it
            contexts[engine.name] = tempfile.mkdtemp(prefix=f"context-{engine.name}-", dir=work)
            write_context(contexts[engine.name])
        interleaved_runs(found, RUNS, results, lambda engine, number: one_run(
            engine, contexts[engine.name], number, results[engine.name], steps[engine.name]), SHORT)
    step_medians = {name: {k: statistics.median(v) for k, v in measures.items()} for name, measures in steps.items()
                    if results[name]}
    if step_medians:
        print(f"no-cache build by phase (when each step's first output line arrived), median of {RUNS} runs")
        names = list(step_medians)
        print(f"  {'phase':<14}" + "".join(f"{name:>10}" for name in names))
        for phase in next(iter(step_medians.values())):
            print(f"  {phase:<14}" + "".join(f"{step_medians[name].get(phase, float('nan')):10.2f}" for name in names))
    print_results(f"build benchmark, median of {RUNS} runs (seconds)", results, RUNS, use_docker)


# ---------------------------------------------------------------------- the commit path on its own

PART_FILES, PART_BYTES = 1000, 50_000_000


def write_run_output(directory: str, seed: int) -> None:
    """What a RUN step writes: 1000 files, 50 MB, in 20 directories."""
    generator = random.Random(seed)
    for index in range(PART_FILES):
        sub = os.path.join(directory, "gen", f"d{index // 50:02d}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{index:04d}"), "wb") as handle:
            handle.write(generator.randbytes(PART_BYTES // PART_FILES))


def parts(work: str, on_tmpfs: bool) -> None:
    rootfs = os.path.join(work, "busybox.tar")
    with open(rootfs, "wb") as handle:
        subprocess.run([os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts",
                                     "busybox-rootfs")], stdout=handle, check=True)
    where = contextlib.nullcontext("/dev/shm") if on_tmpfs else scratch_fs(work)
    with where as disk:
        root = tempfile.mkdtemp(prefix="moor-bench-commit-", dir=disk)
        try:
            driver = load_driver("storage", "overlay", root)
            store = ImageStore(os.path.join(root, "image"), driver)
            with open(rootfs, "rb") as stream:
                base = store.add_layer(None, stream)
            times: dict[str, list[float]] = {"export (diff -> tar, drained)": [], "spool (export + sha256 + file)": [],
                                             "add_layer (apply + tar-split + syncfs)": [], "commit path, total": []}
            for number in range(RUNS):
                key = f"container{number}"
                driver.prepare(key=key, parent=base.key)
                merged = driver.mount(key=key)
                write_run_output(merged, number)  # not synced: a RUN's files are still dirty at its commit
                start = time.perf_counter()
                with driver.diff(key=key) as stream:
                    while stream.read(1 << 20):
                        pass
                times["export (diff -> tar, drained)"].append(time.perf_counter() - start)
                start = time.perf_counter()
                with driver.diff(key=key) as stream, store.spooled(stream) as (spool, diff_id):
                    spooled = time.perf_counter()
                    store.add_layer(base.chain_id, spool, diff_id)
                    done = time.perf_counter()
                times["spool (export + sha256 + file)"].append(spooled - start)
                times["add_layer (apply + tar-split + syncfs)"].append(done - spooled)
                times["commit path, total"].append(done - start)
                driver.unmount(key=key)
                driver.remove(key=key)
            print(f"commit path of a RUN step writing {PART_FILES} files, {PART_BYTES // 1_000_000} MB, on "
                  f"{'tmpfs' if on_tmpfs else 'a fresh ext4'}; median of {RUNS} (seconds)")
            for name, samples in times.items():
                value = statistics.median(samples)
                print(f"  {name:<44}{value:8.3f}{PART_BYTES / value / 1e6:8.0f} MB/s", flush=True)
        finally:
            unmount_under(root)
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", action="store_true", help="measure moor's commit path on its own instead")
    parser.add_argument("--tmpfs", action="store_true", help="with --parts: on /dev/shm, not a fresh ext4")
    parser.add_argument("--no-docker", action="store_true", help="measure moor alone")
    parser.add_argument("--moor-client", choices=("moor", "docker"), default="moor",
                        help="the CLI that drives moord (default: moor)")
    parser.add_argument("--context", metavar="DIR", help="only write the build context into DIR")
    parser.add_argument("--profile", metavar="FILE",
                        help="sample moord with py-spy while it builds (raw collapsed stacks into FILE)")
    options = parser.parse_args()
    if options.context:
        os.makedirs(options.context, exist_ok=True)
        write_context(options.context)
        return
    work = tempfile.mkdtemp(prefix="moor-bench-build-")
    try:
        if options.parts:
            parts(work, options.tmpfs)
        else:
            side_by_side(work, not options.no_docker and shutil.which("dockerd") is not None, options.moor_client,
                         options.profile and os.path.abspath(options.profile))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
