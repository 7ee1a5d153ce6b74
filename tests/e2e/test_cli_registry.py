"""The moor CLI's registry commands against a private moord and Debian's docker-registry on 127.0.0.1.

One moord has ``docker.io`` mirrored to a plain registry, so that ``moor pull busybox`` and ``moor run`` of
a missing docker.io image stay on this machine. Credentials go through ``$DOCKER_CONFIG/config.json`` as the
docker CLI keeps them. The terminal rendering is compared with the docker CLI's own, byte for byte.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from unit.fakedaemon import Answer, FakeDaemon, json_answer, stream_answer
from unit.test_cli_credentials import install_helper

from e2e.containerhelpers import REPO
from moor.testing.daemon import DaemonProcess
from moor.testing.registry import TestRegistry

pytestmark = pytest.mark.root


class Setup:
    """A plain registry mirroring docker.io, an htpasswd one, and a moord that knows both."""

    def __init__(self, root: Path, plain: TestRegistry, private: TestRegistry, daemon: DaemonProcess) -> None:
        self.root = root
        self.plain = plain
        self.private = private
        self.daemon = daemon
        self.docker_config = root / "dockercfg"

    def moor(self, *args: str, stdin: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKER_CONFIG": str(self.docker_config)}
        env.pop("DOCKER_DEFAULT_PLATFORM", None)
        return subprocess.run([sys.executable, "-m", "moor.cli", "-H", self.daemon.host, *args], input=stdin,
                              capture_output=True, text=True, timeout=timeout, env=env)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.moor(*args, stdin=stdin)
        assert result.returncode == 0, f"moor {' '.join(args)}: {result.stderr}\n{self.daemon.log()[-3000:]}"
        return result.stdout


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("cli-registry")
    with TestRegistry("plain") as plain, TestRegistry("htpasswd", users={"alice": "wonder1and"}) as private:
        config = f'[registry]\nmirrors = ["{plain.url}"]\n'
        with DaemonProcess(str(root / "moord"), config_text=config) as daemon:
            here = Setup(root, plain, private, daemon)
            rootfs = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True,
                                    check=True).stdout
            imported = subprocess.run(
                [sys.executable, "-m", "moor.cli", "-H", daemon.host, "import", "-c", 'CMD ["sh"]', "-",
                 f"{plain.host}/library/busybox:latest"], input=rootfs, capture_output=True, timeout=120)
            assert imported.returncode == 0, imported.stderr
            # docker.io/library/busybox is on the mirror before any test asks for it: a name the mirror lacks
            # would send moord on to registry-1.docker.io, as Docker does
            assert here.ok("push", "-q", f"{plain.host}/library/busybox:latest")
            here.ok("rmi", f"{plain.host}/library/busybox:latest")
            yield here


def test_pull_through_the_docker_io_mirror_then_push(setup: Setup) -> None:
    digest = setup.plain.manifest_digest("library/busybox:latest")
    pulled = setup.ok("pull", "busybox")
    assert pulled.startswith("Using default tag: latest\nlatest: Pulling from library/busybox\n")
    assert f"Digest: {digest}\n" in pulled
    assert pulled.endswith("Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n")
    assert "Downloading" not in pulled  # no bars off a terminal
    again = setup.ok("pull", "-q", "busybox:latest")
    assert again == "docker.io/library/busybox:latest\n"
    rows = setup.ok("images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}", "busybox")
    assert rows == f"busybox:latest {digest}\n"

    name = f"{setup.plain.host}/team/pushed:v1"
    setup.ok("tag", "busybox", name)
    lines = setup.ok("push", name).splitlines()
    assert lines[0] == f"The push refers to repository [{setup.plain.host}/team/pushed]"
    assert all(line.endswith((": Preparing", ": Waiting", ": Pushed", ": Layer already exists"))
               or ": Mounted from " in line for line in lines[1:-1]), lines
    assert lines[-1] == f"v1: digest: {digest} size: {lines[-1].split()[-1]}"
    assert setup.plain.manifest_digest("team/pushed:v1") == digest


def test_pull_and_push_all_tags(setup: Setup) -> None:
    repo = f"{setup.plain.host}/team/multi"
    setup.ok("pull", "-q", "busybox")
    for tag in ("one", "two"):
        setup.ok("tag", "busybox", f"{repo}:{tag}")
    pushed = setup.ok("push", "--all-tags", repo)
    assert "Using default tag" not in pushed
    assert [line.split(":")[0] for line in pushed.splitlines() if ": digest: " in line] == ["one", "two"]
    setup.ok("rmi", f"{repo}:one", f"{repo}:two")
    pulled = setup.ok("pull", "-a", repo)
    assert pulled.endswith(f"Status: Downloaded newer image for {repo}\n{repo}\n")
    tags = setup.ok("images", "--format", "{{.Tag}}", repo).split()
    assert sorted(tags) == ["one", "two"]


def test_run_pulls_a_missing_image(setup: Setup) -> None:
    setup.ok("pull", "-q", "busybox")
    setup.moor("rmi", "-f", "busybox:latest")
    result = setup.moor("run", "--rm", "busybox", "echo", "pulled and ran")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "pulled and ran\n"
    assert result.stderr.startswith("Unable to find image 'busybox:latest' locally\n"
                                    "latest: Pulling from library/busybox\n")
    assert "Status: Downloaded newer image for busybox:latest\n" in result.stderr
    never = setup.moor("run", "--rm", "--pull", "never", "busybox:absent", "true")
    assert never.returncode == 125 and "Unable to find" not in never.stderr
    # a tag the mirror lacks would send moord on to registry-1.docker.io (as Docker does): ask the registry
    absent = f"{setup.plain.host}/library/busybox:absent"
    missing = setup.moor("create", absent)
    assert missing.returncode == 1  # docker create: 1, docker run: 125
    assert missing.stderr.startswith(f"Unable to find image '{absent}' locally\nError response from daemon: ")
    assert "manifest unknown" in missing.stderr


def test_login_push_pull_logout_against_basic_auth(setup: Setup) -> None:
    host = setup.private.host
    setup.ok("pull", "-q", "busybox")
    setup.ok("tag", "busybox", f"{host}/team/app:v1")
    refused = setup.moor("login", "-u", "alice", "--password-stdin", host, stdin="wrong\n")
    assert refused.returncode == 1 and refused.stderr.startswith("Error response from daemon: ")
    assert "unauthorized" in refused.stderr.lower()
    assert not (setup.docker_config / "config.json").exists()

    anonymous = setup.moor("push", f"{host}/team/app:v1")
    assert anonymous.returncode == 1

    login = setup.moor("login", "-u", "alice", "--password-stdin", host, stdin="wonder1and\n")
    assert login.returncode == 0, login.stderr
    assert login.stdout == "Login Succeeded\n"
    assert "WARNING! Your password will be stored unencrypted in" in login.stderr
    stored = json.loads((setup.docker_config / "config.json").read_text())
    assert stored == {"auths": {host: {"auth": base64.b64encode(b"alice:wonder1and").decode()}}}

    pushed = setup.ok("push", "-q", f"{host}/team/app:v1")
    assert pushed == f"{host}/team/app:v1\n"
    setup.ok("rmi", f"{host}/team/app:v1")
    pulled = setup.ok("pull", f"{host}/team/app:v1")
    assert pulled.endswith(f"Status: Downloaded newer image for {host}/team/app:v1\n{host}/team/app:v1\n")

    found = setup.moor("search", f"{host}/team")
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"]
    assert any(line.split()[0].endswith("team/app") for line in found.stdout.splitlines()[1:])
    assert found.stderr.startswith(f"Note: {host} has no search API")

    logout = setup.ok("logout", host)
    assert logout == f"Removing login credentials for {host}\n"
    assert json.loads((setup.docker_config / "config.json").read_text()) == {"auths": {}}
    setup.ok("rmi", f"{host}/team/app:v1")
    denied = setup.moor("pull", f"{host}/team/app:v1")
    assert denied.returncode == 1 and denied.stderr.startswith("Error response from daemon: ")


def test_docker_cli_pulls_and_logs_in_with_the_same_config(setup: Setup, docker_cli: str) -> None:
    """What moor's login stored, the docker CLI reads (and the other way round)."""
    host = setup.private.host
    env = {**os.environ, "DOCKER_HOST": setup.daemon.host, "DOCKER_CONFIG": str(setup.root / "docker-side")}
    login = subprocess.run([docker_cli, "login", "-u", "alice", "--password-stdin", host], input="wonder1and",
                           capture_output=True, text=True, timeout=120, env=env)
    assert login.returncode == 0, login.stderr
    written_by_docker = (setup.root / "docker-side" / "config.json").read_text()
    setup.docker_config.mkdir(exist_ok=True)
    (setup.docker_config / "config.json").write_text(written_by_docker)
    setup.ok("pull", "-q", "busybox")
    setup.ok("tag", "busybox", f"{host}/team/shared:v1")
    assert setup.ok("push", "-q", f"{host}/team/shared:v1") == f"{host}/team/shared:v1\n"
    setup.ok("logout", host)
    setup.ok("login", "-u", "alice", "--password-stdin", host, stdin="wonder1and")
    ours = json.loads((setup.docker_config / "config.json").read_text())
    assert ours["auths"][host] == json.loads(written_by_docker)["auths"][host]


def test_a_credential_helper_keeps_the_secret(setup: Setup, docker_cli: str) -> None:
    """credsStore: moor's login goes to the helper (no warning, an empty entry in the file); pushes use it;
    the docker CLI finds the same login through the same helper; logout erases it there."""
    host = setup.private.host
    config_dir = setup.root / "helper-side"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps({"credsStore": "moortest", "psFormat": "{{.ID}}"}))
    install_helper(setup.root / "bin", "moortest")
    db = setup.root / "helper.json"
    env = {**os.environ, "DOCKER_CONFIG": str(config_dir), "HELPER_DB": str(db),
           "PATH": f"{setup.root / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    def moor(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "moor.cli", "-H", setup.daemon.host, *args], input=stdin,
                              capture_output=True, text=True, timeout=180, env=env)

    login = moor("login", "-u", "alice", "--password-stdin", host, stdin="wonder1and")
    assert (login.returncode, login.stdout, login.stderr) == (0, "Login Succeeded\n", "")
    assert json.loads(db.read_text()) == {host: ["alice", "wonder1and"]}
    assert json.loads((config_dir / "config.json").read_text()) == {
        "credsStore": "moortest", "psFormat": "{{.ID}}", "auths": {host: {}}}
    assert moor("pull", "-q", "busybox").returncode == 0
    assert moor("tag", "busybox", f"{host}/team/helped:v1").returncode == 0
    pushed = moor("push", "-q", f"{host}/team/helped:v1")
    assert (pushed.returncode, pushed.stdout) == (0, f"{host}/team/helped:v1\n"), pushed.stderr
    docker = subprocess.run([docker_cli, "pull", "-q", f"{host}/team/helped:v1"], capture_output=True, text=True,
                            timeout=180, env={**env, "DOCKER_HOST": setup.daemon.host})
    assert docker.returncode == 0, docker.stderr
    logout = moor("logout", host)
    assert (logout.returncode, logout.stdout) == (0, f"Removing login credentials for {host}\n")
    assert json.loads(db.read_text()) == {}
    assert json.loads((config_dir / "config.json").read_text())["auths"] == {}


# ---------------------------------------------------------------------- the same drawing as the docker CLI

STREAM: list[dict[str, Any]] = [{"status": "Pulling from library/busybox", "id": "latest"}]
STREAM += [{"status": "Pulling fs layer", "progressDetail": {}, "id": layer} for layer in ("a1" * 6, "b2" * 6)]
STREAM += [
    {"status": "Downloading", "progressDetail": {"current": 1_200_000, "total": 3_400_000}, "id": "a1" * 6},
    {"status": "Downloading", "progressDetail": {"current": 700, "total": 1400}, "id": "b2" * 6},
    {"status": "Download complete", "progressDetail": {}, "id": "b2" * 6},
    {"status": "Extracting", "progressDetail": {"current": 32768, "total": 3_400_000}, "id": "a1" * 6},
    {"status": "Pull complete", "progressDetail": {}, "id": "a1" * 6},
    {"status": "Pull complete", "progressDetail": {}, "id": "b2" * 6},
    {"status": "Digest: sha256:" + "ab" * 32},
    {"status": "Status: Downloaded newer image for busybox:latest"},
]


@pytest.mark.parametrize("columns", [150, 80, 0])
def test_progress_drawn_as_the_docker_cli_draws_it(tmp_path: Path, docker_cli: str, columns: int) -> None:
    """Both CLIs pull from the same fake daemon; under a terminal of ``columns`` (0: no terminal) their
    output must be the same bytes."""
    outputs = []
    with FakeDaemon(str(tmp_path)) as fake:
        fake.on("GET", "/_ping", Answer(200, b"OK", {"Api-Version": "1.41"}))
        fake.on("HEAD", "/_ping", Answer(200, b"", {"Api-Version": "1.41"}))
        fake.on("GET", "/info", json_answer({"IndexServerAddress": "https://index.docker.io/v1/"}))
        fake.on("POST", "/images/create", stream_answer(STREAM))
        env = {**os.environ, "DOCKER_HOST": fake.host, "MOOR_HOST": fake.host, "DOCKER_CONFIG": str(tmp_path)}
        for command in ([docker_cli, "pull", "busybox"], [sys.executable, "-m", "moor.cli", "pull", "busybox"]):
            if columns:
                line = f"stty cols {columns} rows 40; " + " ".join(command)
                argv = ["script", "-q", "-e", "-c", line, "/dev/null"]
            else:
                argv = command
            result = subprocess.run(argv, capture_output=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
            assert result.returncode == 0, result.stderr
            outputs.append(result.stdout)
    docker, moor = outputs
    assert b"Pull complete" in docker
    assert moor == docker
