"""docker-py's own integration suite run against a private moord (or a private dockerd, for the baseline).

``scripts/docker-py-compat CHECKOUT`` is the entry point; :func:`main` does the work:

1. a private registry (:class:`moor.testing.registry.TestRegistry`) serves as the docker.io mirror, so the
   suite's pulls never leave 127.0.0.1;
2. a private daemon starts with that mirror: moord (:class:`moor.testing.daemon.DaemonProcess`) or, with
   ``--docker``, dockerd (:func:`moor.testing.dockerd.private_dockerd`);
3. busybox (``scripts/busybox-rootfs``, with alpine's ``postgres`` user) is imported into it once for
   every image the suite names (:data:`LOCAL_IMAGES`, :data:`MIRROR_ONLY_IMAGES`: distinct IDs, as the real
   ones), each saved and pushed to the mirror;
4. ``pytest tests/integration`` runs in the checkout with ``DOCKER_HOST`` pointing at the daemon, a private
   ``HOME``/``DOCKER_CONFIG`` and ``DOCKER_TEST_API_VERSION``; swarm-mode, plugin and credential-store
   tests are left out (:data:`EXCLUDED_PATHS`), and so are tests that reach beyond 127.0.0.0/8
   (:data:`EXCLUDED_TESTS`; tests that pull what the mirror lacks fall back to docker.io, which the closed
   network refuses: they fail on Docker too);
5. every test's outcome is read from pytest's JUnit XML and written as ``<outcome> <test id>`` lines.

The suite needs ``paramiko`` and ``websocket-client`` besides docker-py's own requirements: ``--python``
names an interpreter that has them (docker-py itself is imported from the checkout).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field

from moor.testing.daemon import DaemonProcess
from moor.testing.dockerd import private_dockerd
from moor.testing.registry import TestRegistry

#: the images the suite names, each its own image (a test that removes one by ID must not take the others),
#: with the Cmd of the real one; tagged in the daemon before the run (the suite's TEST_IMG is alpine:3.10)
LOCAL_IMAGES = {"busybox:latest": '["sh"]', "alpine:latest": '["/bin/sh"]', "alpine:3.10": '["/bin/sh"]'}
#: served by the mirror only (the suite pulls it after removing it)
MIRROR_ONLY_IMAGES = {"hello-world:latest": '["/hello"]'}
#: left out: swarm mode (a node joins a swarm; moor has none), plugins (installed from Docker Hub), and the
#: client-side credential-store tests (they need docker-credential-pass, and utils_test replaces os.environ,
#: dropping DOCKER_HOST for every later test)
EXCLUDED_PATHS = (
    "api_swarm_test.py", "api_service_test.py", "api_secret_test.py", "api_config_test.py",
    "models_swarm_test.py", "models_services_test.py", "models_nodes_test.py", "api_plugin_test.py",
    "credentials",
)
#: tests left out because they send traffic beyond 127.0.0.0/8 (the network rule): a connect to 192.168.10.2
#: that must time out, and a build whose ADD downloads from the internet
EXCLUDED_TESTS = (
    "tests/integration/api_client_test.py::ConnectionTimeoutTest::test_timeout",
    "tests/integration/api_build_test.py::BuildTest::test_build_streaming",
)
#: what alpine has and busybox lacks that the suite uses (exec as user postgres, workdir /var/opt)
ALPINE_EXTRAS = {"etc/passwd": b"postgres:x:70:70::/var/lib/postgresql:/bin/sh\n", "etc/group": b"postgres:x:70:\n"}
DEFAULT_API_VERSION = "1.41"
DOCKER_CLI = "/usr/local/bin/docker"
OUTCOMES = ("passed", "failed", "error", "skipped")


@dataclass
class SuiteResult:
    """The outcome of every test id (``tests/integration/x_test.py::Class::test``)."""

    outcomes: dict[str, str] = field(default_factory=dict)

    def ids(self, outcome: str) -> list[str]:
        return sorted(test for test, result in self.outcomes.items() if result == outcome)

    def counts(self) -> dict[str, int]:
        return {outcome: len(self.ids(outcome)) for outcome in OUTCOMES}

    def lines(self) -> list[str]:
        return [f"{self.outcomes[test]} {test}" for test in sorted(self.outcomes)]


def repo_root() -> str:
    """The moor repository this module runs from (scripts/ lives there)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def node_id(classname: str, name: str) -> str:
    """A pytest node id from JUnit's ``tests.integration.mod_test.Class`` and ``test_name``."""
    parts = classname.split(".")
    for index in range(len(parts), 0, -1):
        if parts[index - 1].endswith("_test"):
            path = "/".join(parts[:index]) + ".py"
            return "::".join([path, *parts[index:], name])
    return "::".join([classname, name])


def parse_junit(path: str) -> SuiteResult:
    """Every test case of a JUnit XML report and its outcome."""
    result = SuiteResult()
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                break
        result.outcomes[node_id(case.get("classname", ""), case.get("name", ""))] = outcome
    return result


def read_results(path: str) -> SuiteResult:
    """A result written by :meth:`SuiteResult.lines`."""
    result = SuiteResult()
    with open(path) as handle:
        for line in handle:
            outcome, _, test = line.strip().partition(" ")
            if test:
                result.outcomes[test] = outcome
    return result


def docker_cli(host: str, *args: str, stdin: bytes | None = None, timeout: float = 300) -> bytes:
    """Run the docker CLI against ``host``; raises with its stderr on failure."""
    done = subprocess.run([DOCKER_CLI, "-H", host, *args], input=stdin, capture_output=True, timeout=timeout,
                          env={**os.environ, "DOCKER_CONFIG": tempfile.gettempdir() + "/moor-dpy-seed-config"})
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def rewrite_rootfs(rootfs: bytes, appended: dict[str, bytes], added: dict[str, tuple[int, bytes | None]]) -> bytes:
    """A copy of a rootfs tar with bytes appended to some files and ``added`` entries (path: (mode, data);
    data None makes a directory)."""
    source = tarfile.open(fileobj=io.BytesIO(rootfs))
    output = io.BytesIO()
    with tarfile.open(fileobj=output, mode="w", format=tarfile.PAX_FORMAT) as target:
        for member in source.getmembers():
            name = member.name.removeprefix("./")
            data = source.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if data is not None and name in appended:
                data += appended[name]
                member.size = len(data)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
        for path, (mode, content) in added.items():
            entry = tarfile.TarInfo(f"./{path}")
            entry.mode = mode
            if content is None:
                entry.type = tarfile.DIRTYPE
            else:
                entry.size = len(content)
            target.addfile(entry, io.BytesIO(content) if content is not None else None)
    return output.getvalue()


def seed(host: str, registry: TestRegistry, workdir: str) -> None:
    """Each image the suite names, imported into the daemon at ``host`` and pushed to the mirror.

    :data:`LOCAL_IMAGES` stay in the daemon; :data:`MIRROR_ONLY_IMAGES` are removed after the push.
    """
    busybox = subprocess.run([os.path.join(repo_root(), "scripts", "busybox-rootfs")], check=True,
                             capture_output=True).stdout
    rootfs = rewrite_rootfs(busybox, ALPINE_EXTRAS, {"var/opt": (0o755, None)})
    # hello-world has a layer of its own (pruning it reclaims space) and its /hello
    hello = rewrite_rootfs(busybox, {}, {"hello": (0o755, b"#!/bin/sh\necho 'Hello from Docker!'\n")})
    for index, (name, cmd) in enumerate({**LOCAL_IMAGES, **MIRROR_ONLY_IMAGES}.items()):
        docker_cli(host, "import", "--change", f"CMD {cmd}", "-", name,
                   stdin=hello if name in MIRROR_ONLY_IMAGES else rootfs)
        archive = os.path.join(workdir, f"image-{index}.tar")
        docker_cli(host, "save", "-o", archive, name)
        registry.seed(archive, f"library/{name}")
        if name in MIRROR_ONLY_IMAGES:
            docker_cli(host, "rmi", name)


@contextlib.contextmanager
def moor_daemon(mirror: str, workdir: str) -> Iterator[str]:
    """A private moord using ``mirror`` for docker.io; yields its DOCKER_HOST."""
    config = f'[registry]\nmirrors = ["{mirror}"]\n'
    with DaemonProcess(os.path.join(workdir, "moord"), config_text=config) as daemon:
        yield daemon.host


@contextlib.contextmanager
def docker_daemon(mirror: str, workdir: str) -> Iterator[str]:
    """A private dockerd (with its own bridge) using ``mirror``; yields its DOCKER_HOST."""
    with private_dockerd(bridge=True, base=workdir, extra_args=(f"--registry-mirror={mirror}",)) as host:
        if host is None:
            raise RuntimeError("dockerd is not installed")
        yield host


def suite_env(host: str, home: str, api_version: str) -> dict[str, str]:
    """The environment docker-py's suite runs in: the daemon, a private home, the API version to test."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("DOCKER_") and key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(DOCKER_HOST=host, DOCKER_TEST_API_VERSION=api_version, HOME=home,
               DOCKER_CONFIG=os.path.join(home, ".docker"), PYTHONDONTWRITEBYTECODE="1")
    return env


def run_suite(checkout: str, host: str, python: str, workdir: str, api_version: str, timeout: int,
              pytest_args: list[str]) -> SuiteResult:
    """``pytest tests/integration`` in ``checkout`` against ``host``; every test's outcome."""
    home = os.path.join(workdir, "home")
    os.makedirs(os.path.join(home, ".docker"), exist_ok=True)
    with open(os.path.join(home, ".docker", "config.json"), "w") as handle:
        handle.write("{}\n")  # docker-py keeps contexts beside it (without it: in the checkout, shared by runs)
    junit = os.path.join(workdir, "junit.xml")
    ignores = [f"--ignore=tests/integration/{path}" for path in EXCLUDED_PATHS]
    ignores += [f"--deselect={test}" for test in EXCLUDED_TESTS]
    targets = [] if any(arg.startswith("tests/") for arg in pytest_args) else ["tests/integration"]
    command = [python, "-m", "pytest", *targets, "-p", "no:cacheprovider", "-q", "-rN",
               f"--timeout={timeout}", f"--junitxml={junit}", *ignores, *pytest_args]
    with open(os.path.join(workdir, "pytest.log"), "wb") as log:
        subprocess.run(command, cwd=checkout, env=suite_env(host, home, api_version), stdout=log,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if not os.path.exists(junit):
        raise RuntimeError(f"pytest wrote no report; see {workdir}/pytest.log")
    return parse_junit(junit)


def summary(result: SuiteResult, baseline: SuiteResult | None = None) -> str:
    """``passed N, failed N, ...`` and, given a baseline, how much of its passing set passes here."""
    counts = result.counts()
    text = ", ".join(f"{outcome} {counts[outcome]}" for outcome in OUTCOMES)
    if baseline is not None:
        wanted = set(baseline.ids("passed"))
        kept = wanted & set(result.ids("passed"))
        share = 100.0 * len(kept) / len(wanted) if wanted else 0.0
        text += f"; {len(kept)} of the baseline's {len(wanted)} passing tests pass ({share:.1f} %)"
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="docker-py-compat", description=__doc__.split("\n")[0])
    parser.add_argument("checkout", help="a checkout of docker-py (its tests/integration is run)")
    parser.add_argument("--docker", action="store_true", help="run against a private dockerd (the baseline)")
    parser.add_argument("--output", "-o", help="write '<outcome> <test id>' lines here")
    parser.add_argument("--baseline", help="an --output file of another run: report the share of its passes")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter that runs pytest (needs pytest-timeout, paramiko, websocket-client)")
    parser.add_argument("--api-version", default=DEFAULT_API_VERSION, help="DOCKER_TEST_API_VERSION")
    parser.add_argument("--timeout", type=int, default=180, help="per-test timeout in seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, junit.xml)")
    parser.epilog = "Arguments after -- go to pytest (-k EXPR, test ids: then only those run)."
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:len(argv) - len(extra) - (1 if "--" in argv else 0)])
    args.pytest_args = extra
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    checkout = os.path.abspath(args.checkout)
    if not os.path.isdir(os.path.join(checkout, "tests", "integration")):
        print(f"docker-py-compat: {checkout} has no tests/integration", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="moor-dpy-")
    daemon = docker_daemon if args.docker else moor_daemon
    try:
        with TestRegistry("plain") as registry, daemon(registry.url, workdir) as host:
            seed(host, registry, workdir)
            result = run_suite(checkout, host, args.python, workdir, args.api_version, args.timeout,
                               args.pytest_args)
    finally:
        if args.keep:
            print(f"work directory: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write("\n".join(result.lines()) + "\n")
    baseline = read_results(args.baseline) if args.baseline else None
    print(f"{'docker' if args.docker else 'moor'}: {summary(result, baseline)}")
    return 0 if result.counts()["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
