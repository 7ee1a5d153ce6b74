"""Crash-point testing: kill -9 moord in the middle of an operation, start it again, check what is left.

Each point picks an operation (image load, import, pull from a local docker-registry, commit,
container create, start, run, stop, remove, or moord's own start-up and recovery after an earlier
kill), sends it, waits a random delay (0 to a little more than the operation's measured duration)
and SIGKILLs moord, only moord: its monitors and containers live on, as they would. moord then
starts again on the same data root, and the point checks that

* it starts and answers;
* the store is whole (:mod:`moor.testing.storecheck`): images list and inspect, their layers exist, no
  temporary, spool or ``.pending`` leftovers, no container directory without a record, no snapshot
  without an owner;
* nothing leaked (:mod:`moor.testing.leaks`): no mount, process, cgroup, veth, endpoint or runc
  state beyond what the running containers hold;
* the containers that ran before the kill (the survivors) are re-adopted: still running, their process
  and their monitor alive, and they stop when asked at the end;
* the container the operation was working on is whole or gone: inspect answers 200 or 404, and
  ``rm -f`` removes it completely (checked again once it is gone);
* a pull that was killed succeeds when it is asked again (resuming what the first one kept).

A build killed half-way leaves whole intermediate images or none, its step container (a container like any
other: whole or gone) and no temp directory once moord is up again; the same build then succeeds. A pull
killed half-way keeps its verified and partial
downloads (under ``image/downloads``, where they are no leftover): the next pull resumes them.

Each point's operation and delay come from ``random.Random(f"{seed}-{index}")``: a failing point is
replayed with the same seed and ``--first INDEX --points 1``. ``scripts/crash-points`` runs this
module; ``tests/e2e/test_crash_points.py`` runs a bounded sample.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moor.client import Client, ConnectError, DaemonError
from moor.testing.archives import make_docker_archive
from moor.testing.daemon import DaemonProcess, processes_under
from moor.testing.leaks import frozen, leaks
from moor.testing.registry import TestRegistry
from moor.testing.storecheck import check_store, listdir_sorted

OPERATIONS = ("load", "import", "pull", "commit", "build", "create", "start", "run", "stop", "remove", "recover")
#: operations Docker has that moor does not do yet: no point can kill moord in them
NOT_AVAILABLE: dict[str, str] = {}
#: what ``build`` builds: a RUN (a container and its diff), a COPY (a layer without one), config steps
BUILD_DOCKERFILE = ("FROM busybox\nRUN echo {tag} > /f && sleep 0.1\nCOPY a /a\nENV POINT={tag}\n"
                    "RUN cat /a /f > /g\n")
SURVIVORS = ("cp-survivor-bridge", "cp-survivor-net")
COMMIT_SOURCE = "cp-commit-source"
NETWORK = "cp-net"
SLEEP = ["sleep", "1000000"]
REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class PointResult:
    """One crash point: what ran, when moord died, what the checks found."""

    index: int
    operation: str
    delay_ms: int
    killed_during: bool  # False: the operation had answered before the kill
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        when = "during" if self.killed_during else "after"
        verdict = "ok" if not self.problems else f"{len(self.problems)} problem(s)"
        return f"point {self.index:4d} {self.operation:7s} kill at {self.delay_ms:5d} ms ({when}): {verdict}"


def busybox_rootfs() -> bytes:
    """The busybox root filesystem tar that ``scripts/busybox-rootfs`` writes."""
    return subprocess.run([str(REPO_ROOT / "scripts" / "busybox-rootfs")], capture_output=True,
                          check=True).stdout


class CrashBench:
    """A private moord with busybox, a network, running survivors and a committable container."""

    def __init__(self, root: str | None = None, seed: int = 0, log: Callable[[str], None] | None = None) -> None:
        self.root = root or tempfile.mkdtemp(prefix="moor-crash-")
        self.seed = seed
        self.log = log or (lambda _text: None)
        self.daemon = DaemonProcess(os.path.join(self.root, "daemon"))
        self.registry = TestRegistry("plain")  # what ``pull`` pulls from (the load archive's image)
        self.client: Client = self.daemon.client()
        self.archive = os.path.join(self.root, "load.tar")
        self.rootfs = b""
        self.survivors: dict[str, str] = {}  # name -> ID
        self.known: set[str] = set()  # every container ID the run made
        self.durations: dict[str, float] = {}
        self.dead = False  # moord did not start again: no further point can run

    # ------------------------------------------------------------------ set-up and tear-down

    def setup(self) -> None:
        make_docker_archive(self.archive, [1_500_000, 1_500_000, 1_500_000], tag="cp-load:latest",
                            files_per_layer=64)
        self.registry.start()
        self.registry.seed(self.archive, "cp-pull:latest")
        self.rootfs = busybox_rootfs()
        self.daemon.start()
        self.client.call("POST", "/images/create", {"fromSrc": "-", "repo": "busybox", "tag": "latest"},
                         body=self.rootfs)
        self.client.call("POST", "/networks/create", body={"Name": NETWORK})
        self.survivors = {
            SURVIVORS[0]: self._run(SURVIVORS[0], {}),
            SURVIVORS[1]: self._run(SURVIVORS[1], {"NetworkMode": NETWORK}, volumes={"/data": {}}),
            COMMIT_SOURCE: self._run(COMMIT_SOURCE, {}),
        }
        for operation in OPERATIONS:  # each operation once without a kill: how long it takes
            self._prepare(operation, "measure")
            started = time.monotonic()
            self._operation(operation, "measure")()
            self.durations[operation] = time.monotonic() - started
            self._clean_up("measure", [])
        self.log("measured: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in self.durations.items()))

    def close(self) -> None:
        self.daemon.cleanup()
        self.registry.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> CrashBench:
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, name: str, host_config: dict[str, Any], volumes: dict[str, Any] | None = None) -> str:
        container_id = self._create(name, host_config, volumes)
        self.client.call("POST", f"/containers/{container_id}/start")
        return container_id

    def _create(self, name: str, host_config: dict[str, Any], volumes: dict[str, Any] | None = None) -> str:
        body = {"Image": "busybox", "Cmd": SLEEP, "HostConfig": host_config, "Volumes": volumes or {}}
        container_id = str(self.client.call("POST", "/containers/create", {"name": name}, body=body)["Id"])
        self.known.add(container_id)
        return container_id

    # ------------------------------------------------------------------ operations

    def _prepare(self, operation: str, tag: str) -> None:
        """What the operation needs first: a created or a running container named ``cp-<tag>``; for
        ``recover`` (moord's start-up is the operation) a running one, another one's start cut short by
        a kill (work for the recovery), and a new moord on its way up."""
        if operation == "start":
            self._create(f"cp-{tag}", {"NetworkMode": NETWORK})
        elif operation in ("stop", "remove"):
            self._run(f"cp-{tag}", {"NetworkMode": NETWORK}, volumes={"/v": {}})
        elif operation == "recover":
            self._run(f"cp-{tag}", {"NetworkMode": NETWORK}, volumes={"/v": {}})
            cut_short = self._create(f"cp-{tag}x", {"NetworkMode": NETWORK})
            starting = threading.Thread(target=self._quietly, args=(f"/containers/{cut_short}/start",), daemon=True)
            starting.start()
            time.sleep(self.durations.get("start", 0.1) / 2)
            self._kill()
            starting.join(60)
            self._spawn()

    def _quietly(self, path: str) -> None:
        try:
            self.client.call("POST", path)
        except (OSError, ConnectError, DaemonError):
            pass

    def _spawn(self) -> None:
        """Start moord again without waiting for it (its start-up is what a point may kill)."""
        with open(self.daemon.log_file, "ab") as log:
            self.daemon.process = subprocess.Popen(self.daemon.command(), stdout=log, stderr=subprocess.STDOUT,
                                                   stdin=subprocess.DEVNULL, start_new_session=True)

    def _answering(self) -> None:
        """Wait until the moord on its way up answers (its recovery is done)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            process = self.daemon.process
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"moord exited with {process.returncode} before it answered")
            try:
                self.client.get("/_ping")
                return
            except (OSError, ConnectError, DaemonError):
                time.sleep(0.02)
        raise RuntimeError("moord did not answer within 60 s")

    def _operation(self, operation: str, tag: str) -> Callable[[], Any]:
        """The request (or two) of the operation, as a callable."""
        client, name = self.client, f"cp-{tag}"
        if operation == "load":
            def load() -> Any:
                with open(self.archive, "rb") as archive:
                    return client.call("POST", "/images/load", {"quiet": "1"}, body=archive)
            return load
        if operation == "import":
            return lambda: client.call("POST", "/images/create", {"fromSrc": "-", "repo": "cp-import", "tag": tag},
                                       body=io.BytesIO(self.rootfs))
        if operation == "pull":
            return self._pull
        if operation == "build":
            return lambda: self._build(tag)
        if operation == "commit":
            return lambda: client.call("POST", "/commit", {"container": COMMIT_SOURCE, "repo": "cp-commit",
                                                            "tag": tag})
        if operation == "create":
            return lambda: self._create(name, {"NetworkMode": NETWORK}, volumes={"/v": {}})
        if operation == "start":
            return lambda: client.call("POST", f"/containers/{name}/start")
        if operation == "run":
            return lambda: self._run(name, {}, volumes={"/v": {}})
        if operation == "stop":
            return lambda: client.call("POST", f"/containers/{name}/stop", {"t": "1"})
        if operation == "remove":
            return lambda: client.call("DELETE", f"/containers/{name}", {"force": "1", "v": "1"})
        if operation == "recover":
            return self._answering
        raise ValueError(f"unknown operation {operation!r}")

    def _pull(self) -> None:
        """Pull the seeded image; an error line in the stream fails the operation as an error status would."""
        messages = list(self.client.stream("POST", "/images/create",
                                           {"fromImage": f"{self.registry.host}/cp-pull", "tag": "latest"}))
        failed = [m["error"] for m in messages if "error" in m]
        if failed:
            raise RuntimeError(f"pull failed: {failed[0]}")

    def _build(self, tag: str) -> None:
        """Build ``cp-build:<tag>`` (no cache); an error line fails the operation as an error status would."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for name, data in (("Dockerfile", BUILD_DOCKERFILE.format(tag=tag).encode()), ("a", b"content\n")):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        response = self.client.open("POST", "/build", {"t": f"cp-build:{tag}", "nocache": "1", "rm": "1"},
                                    buffer.getvalue(), {"Content-Type": "application/x-tar"})
        messages = list(self.client.stream_json(response))
        failed = [m["error"] for m in messages if "error" in m]
        if failed:
            raise RuntimeError(f"build failed: {failed[0]}")

    def _clean_up(self, tag: str, problems: list[str]) -> None:
        """Remove what the operation made (its container, its images); a failure there is a problem."""
        for name in (f"cp-{tag}", f"cp-{tag}x"):
            try:
                self.client.call("DELETE", f"/containers/{name}", {"force": "1", "v": "1"})
            except DaemonError as err:
                if err.status != 404:
                    problems.append(f"rm -f {name}: {err.status} {err.message}")
        survivors = set(self.survivors.values())
        for container in self.client.get("/containers/json", all="1") or []:  # a killed build's step
            if container["Id"] not in survivors:
                try:
                    self.client.call("DELETE", f"/containers/{container['Id']}", {"force": "1", "v": "1"})
                except DaemonError as err:
                    if err.status != 404:
                        problems.append(f"rm -f {container['Id'][:12]}: {err.status} {err.message}")
        for image in ("cp-load:latest", f"cp-import:{tag}", f"cp-commit:{tag}", f"{self.registry.host}/cp-pull:latest",
                      f"cp-build:{tag}"):
            try:
                self.client.call("DELETE", f"/images/{image}")
            except DaemonError as err:
                if err.status != 404:
                    problems.append(f"rmi {image}: {err.status} {err.message}")

    # ------------------------------------------------------------------ one point

    def plan(self, index: int, operation: str | None = None) -> tuple[str, int]:
        """The operation (unless given) and the kill delay (ms) of point ``index``."""
        chooser = random.Random(f"{self.seed}-{index}")
        chosen = chooser.choice(OPERATIONS)
        operation = operation or chosen
        longest = max(self.durations.get(operation, 0.5) * 1.2, 0.02)
        return operation, int(chooser.uniform(0, longest) * 1000)

    def point(self, index: int, operation: str | None = None, delay_ms: int | None = None) -> PointResult:
        operation, planned_delay = self.plan(index, operation)
        delay_ms = planned_delay if delay_ms is None else delay_ms
        tag = f"p{index}"
        started = time.monotonic()
        result = PointResult(index, operation, delay_ms, killed_during=True)
        self._prepare(operation, tag)
        outcome: list[BaseException | None] = []

        def work() -> None:
            try:
                self._operation(operation, tag)()
                outcome.append(None)
            except BaseException as err:  # noqa: BLE001  (the kill makes the request fail: recorded, judged below)
                outcome.append(err)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        time.sleep(delay_ms / 1000)
        if outcome:
            result.killed_during = False
            if outcome[0] is not None:
                result.problems.append(f"{operation} failed before any kill: {outcome[0]!r}")
        self._kill()
        thread.join(60)
        self._track_ids()
        try:
            self.daemon.start(timeout=60)
        except RuntimeError as err:
            self.dead = True
            result.problems.append(f"moord did not start again: {err}")
            result.seconds = time.monotonic() - started
            return result
        result.problems += self.check(f"after the kill in {operation}", tag)
        if operation == "pull":
            try:
                self._pull()
            except (OSError, RuntimeError, DaemonError) as err:
                result.problems.append(f"the pull after the kill failed: {err}")
        if operation == "build":
            try:
                self._build(tag)
            except (OSError, RuntimeError, DaemonError) as err:
                result.problems.append(f"the build after the kill failed: {err}")
            build_tmp = os.path.join(self.daemon.data_root, "build", "tmp")
            result.problems += [f"build leftover build/tmp/{name}" for name in listdir_sorted(build_tmp)]
        self._clean_up(tag, result.problems)
        result.problems += self.check(f"after removing what {operation} made", None)
        result.seconds = time.monotonic() - started
        return result

    def _kill(self) -> None:
        """SIGKILL moord alone (not its monitors, not its containers), as a crash would."""
        process = self.daemon.process
        assert process is not None
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def _track_ids(self) -> None:
        for sub in (os.path.join(self.daemon.data_root, "containers"),
                    os.path.join(self.daemon.exec_root, "containers"), os.path.join(self.daemon.exec_root, "runc")):
            if os.path.isdir(sub):
                self.known.update(n for n in os.listdir(sub) if len(n) == 64)

    # ------------------------------------------------------------------ checks

    def check(self, when: str, tag: str | None) -> list[str]:
        """Everything a restarted moord must satisfy; one line per problem, prefixed with ``when``."""
        problems: list[str] = []
        try:
            self.client.get("/_ping")
        except (OSError, DaemonError) as err:
            return [f"{when}: moord does not answer: {err}"]
        problems += check_store(self.client, self.daemon.data_root)
        problems += self._check_survivors()
        if tag is not None:
            problems += self._check_whole_or_gone(f"cp-{tag}") + self._check_whole_or_gone(f"cp-{tag}x")
        self._track_ids()
        running = {c["Id"] for c in self.client.get("/containers/json")}
        problems += leaks(self.daemon, running, self.known)
        return [f"{when}: {problem}" for problem in problems]

    def _check_survivors(self) -> list[str]:
        problems = []
        monitors = {os.readlink(f"/proc/{pid}/cwd") for pid in processes_under(self.daemon.exec_root)
                    if os.path.exists(f"/proc/{pid}/cwd")}
        for name, container_id in self.survivors.items():
            try:
                state = self.client.get(f"/containers/{container_id}/json")["State"]
            except DaemonError as err:
                problems.append(f"survivor {name}: inspect answers {err.status} {err.message}")
                continue
            if not state["Running"]:
                problems.append(f"survivor {name} is no longer running: {state}")
                continue
            if not _alive(int(state["Pid"])):
                problems.append(f"survivor {name}: its process {state['Pid']} is gone but it shows running")
            if frozen(container_id) and not state["Paused"]:
                problems.append(f"survivor {name} is frozen but shows running (a commit's pause left behind?)")
            if os.path.join(self.daemon.exec_root, "containers", container_id) not in monitors:
                problems.append(f"survivor {name}: no monitor process")
        return problems

    def _check_whole_or_gone(self, name: str) -> list[str]:
        try:
            container = self.client.get(f"/containers/{name}/json")
        except DaemonError as err:
            return [] if err.status == 404 else [f"inspect {name}: {err.status} {err.message}"]
        state = container["State"]
        if state["Running"] and not _alive(int(state["Pid"])):
            return [f"{name} shows running but its process {state['Pid']} is gone"]
        return []

    def finish(self) -> list[str]:
        """At the end: the survivors stop when asked (their monitors were re-adopted) and go."""
        problems = []
        for name in self.survivors:
            try:
                self.client.call("POST", f"/containers/{name}/stop", {"t": "1"})
                state = self.client.get(f"/containers/{name}/json")["State"]
                if state["Running"]:
                    problems.append(f"survivor {name} still runs after stop")
                self.client.call("DELETE", f"/containers/{name}", {"force": "1", "v": "1"})
            except (OSError, DaemonError) as err:
                problems.append(f"stopping survivor {name}: {err}")
        self.client.call("DELETE", f"/networks/{NETWORK}")
        problems += check_store(self.client, self.daemon.data_root)
        problems += leaks(self.daemon, set(), self.known)
        return [f"at the end: {problem}" for problem in problems]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_points(bench: CrashBench, first: int, count: int, out: Callable[[str], None],
               operation: str | None = None, delay_ms: int | None = None) -> list[PointResult]:
    """``count`` points from index ``first``; each result printed as it comes."""
    results = []
    for index in range(first, first + count):
        result = bench.point(index, operation, delay_ms)
        results.append(result)
        out(f"{result.line()} [{result.seconds:.1f}s]")
        for problem in result.problems:
            out(f"    {problem}")
        if bench.dead:
            break
    return results


def summary(results: list[PointResult], final: list[str], seed: int) -> str:
    """Points per operation, how many were killed during it, the failing points and how to replay them."""
    lines = [f"crash points: {len(results)} (seed {seed})"]
    for operation in OPERATIONS:
        mine = [r for r in results if r.operation == operation]
        if mine:
            during = sum(1 for r in mine if r.killed_during)
            broken = sum(1 for r in mine if r.problems)
            lines.append(f"  {operation:7s} {len(mine):4d} points, {during:4d} killed during, {broken:4d} failed")
    for name, why in NOT_AVAILABLE.items():
        lines.append(f"  {name:7s}    - not tested: {why}")
    failed = [r for r in results if r.problems]
    for result in failed:
        lines.append(f"  FAILED point {result.index} ({result.operation}, {result.delay_ms} ms): replay with "
                     f"--seed {seed} --first {result.index} --points 1")
    lines += [f"  {problem}" for problem in final]
    lines.append("RESULT: " + ("clean" if not failed and not final else "PROBLEMS FOUND"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crash-points", description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200, help="how many crash points (default 200)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random; printed)")
    parser.add_argument("--first", type=int, default=0, help="index of the first point (to replay one)")
    parser.add_argument("--operation", choices=OPERATIONS, help="only this operation")
    parser.add_argument("--delay-ms", type=int, help="kill this many ms after the operation starts")
    parser.add_argument("--keep", action="store_true", help="keep the daemon's root on failure")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)

    def out(text: str) -> None:
        print(text, flush=True)

    out(f"crash points: seed {seed}, {args.points} points from {args.first}")
    bench = CrashBench(seed=seed, log=out)
    results: list[PointResult] = []
    final: list[str] = []
    try:
        bench.setup()
        results = run_points(bench, args.first, args.points, out, args.operation, args.delay_ms)
        final = bench.finish()
    except KeyboardInterrupt:
        final = ["interrupted"]
    finally:
        failed = final or any(r.problems for r in results)
        if args.keep and failed:
            bench.daemon.stop()
            out(f"kept {bench.root} (moord log: {bench.daemon.log_file})")
        else:
            bench.close()
    out(summary(results, final, seed))
    return 1 if final or any(r.problems for r in results) or not results else 0


if __name__ == "__main__":
    sys.exit(main())
