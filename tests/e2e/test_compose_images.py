"""``moor compose build|pull|push|images`` and up's pull_policy, --build, --no-build against a private moord and
Debian's docker-registry on 127.0.0.1.

moord mirrors docker.io to the plain registry (seeded with busybox), so that nothing ever leaves the machine.
The shared project is ``tests/compose/images`` (a multi-stage Dockerfile with args, a target, labels, a
.dockerignore; an inline Dockerfile; one outside the context); each test uses a project name of its own.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.composehelpers import COMPOSE_FILES, compose, write_project
from e2e.containerhelpers import import_busybox, moor
from moor.testing.daemon import DaemonProcess
from moor.testing.registry import TestRegistry

pytestmark = pytest.mark.root

PROJECT_DIR = COMPOSE_FILES / "images"
USER, PASSWORD = "builder", "s3cret-pass"


class Setup:
    def __init__(self, daemon: DaemonProcess, plain: TestRegistry, private: TestRegistry, root: Path) -> None:
        self.daemon = daemon
        self.plain = plain
        self.private = private
        self.root = root
        self.docker_config = root / "dockercfg"
        self.docker_config.mkdir()
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        (self.docker_config / "config.json").write_text(json.dumps({"auths": {private.host: {"auth": auth}}}))
        self.empty_config = root / "emptycfg"
        self.empty_config.mkdir()

    def compose(self, project_dir: Path, *args: str, env: dict[str, str] | None = None,
                logged_in: bool = False) -> subprocess.CompletedProcess[str]:
        config = self.docker_config if logged_in else self.empty_config
        return compose(self.daemon, project_dir, *args, env={"DOCKER_CONFIG": str(config), **(env or {})},
                       timeout=300)

    def ok(self, project_dir: Path, *args: str, env: dict[str, str] | None = None,
           logged_in: bool = False) -> subprocess.CompletedProcess[str]:
        result = self.compose(project_dir, *args, env=env, logged_in=logged_in)
        assert result.returncode == 0, f"compose {' '.join(args)}: {result.stderr}\n{self.daemon.log()[-3000:]}"
        return result

    def moor(self, *args: str) -> str:
        result = moor(self.daemon, *args, timeout=120)
        assert result.returncode == 0, f"moor {' '.join(args)}: {result.stderr}"
        return result.stdout

    def image_id(self, name: str) -> str:
        result = moor(self.daemon, "image", "inspect", "--format", "{{.Id}}", name)
        return result.stdout.strip() if result.returncode == 0 else ""

    def run(self, image: str, script: str) -> str:
        return self.moor("run", "--rm", "--pull", "never", image, "sh", "-c", script)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("compose-images")
    with TestRegistry("plain") as plain, TestRegistry("htpasswd", users={USER: PASSWORD}) as private:
        config = f'[registry]\nmirrors = ["{plain.url}"]\n'
        with DaemonProcess(str(root / "moord"), config_text=config) as daemon:
            import_busybox(daemon)
            here = Setup(daemon, plain, private, root)
            # docker.io/library/busybox is on the mirror before any test asks for it
            here.moor("tag", "busybox:latest", f"{plain.host}/library/busybox:latest")
            here.moor("push", "-q", f"{plain.host}/library/busybox:latest")
            here.moor("rmi", f"{plain.host}/library/busybox:latest")
            try:
                yield here
            finally:
                containers = moor(daemon, "ps", "-aq").stdout.split()
                if containers:
                    moor(daemon, "rm", "-f", *containers, timeout=120)


@pytest.fixture
def project() -> Iterator[str]:
    """A project name of the test's own (its images are left to the module's daemon, which goes away)."""
    yield "img" + secrets.token_hex(4)


def labels(setup: Setup, image: str) -> dict[str, Any]:
    return dict(json.loads(setup.moor("image", "inspect", "--format", "{{json .Config.Labels}}", image)))


# ---------------------------------------------------------------------- build


def test_build_with_args_target_labels_tags_and_dockerignore(setup: Setup, project: str) -> None:
    result = setup.ok(PROJECT_DIR, "-p", project, "build", "app",
                      env={"FROM_ENV": "from the environment", "TAG_PROJECT": project})
    assert f" Image {project}-app  Building\n" in result.stderr
    assert f" Image {project}-app  Built\n" in result.stderr
    assert f"Successfully tagged {project}-app:latest\n" in result.stdout  # the classic builder's output
    shown = setup.run(f"{project}-app", "cat /greeting /from-env; ls /context; ls /last-stage 2>&1 || true")
    # args from the file and the environment; the target stage, not the last one; .dockerignore honoured
    assert shown.splitlines() == ["hello from args", "from the environment", "Dockerfile", "kept.txt",
                                  "ls: /last-stage: No such file or directory"]
    found = labels(setup, f"{project}-app")
    assert found["org.example.role"] == "app"
    assert found["com.docker.compose.project"] == project and found["com.docker.compose.service"] == "app"
    assert found["com.docker.compose.image.builder"] == "classic"
    assert setup.image_id(f"{project}-app:extra") == setup.image_id(f"{project}-app")  # build.tags

    quiet = setup.ok(PROJECT_DIR, "-p", project, "build", "-q", "--build-arg", "GREETING=from the flag", "app")
    assert quiet.stdout == "" and quiet.stderr == ""
    assert setup.run(f"{project}-app", "cat /greeting /from-env").splitlines() == ["from the flag", "unset"]


def test_inline_and_outside_dockerfiles(setup: Setup, project: str) -> None:
    setup.ok(PROJECT_DIR, "-p", project, "build", "inline", "outside")
    assert setup.run(f"{project}-inline", "cat /made-by") == "inline\n"
    assert setup.run(f"{project}-outside", "cat /made-by; ls /context") == "outside\nDockerfile\nkept.txt\n"


def test_build_without_services_to_build_and_unknown_services(setup: Setup, project: str) -> None:
    nothing = setup.ok(PROJECT_DIR, "-p", project, "build", "db")
    assert nothing.stderr == "WARN[0000] No services to build\n"
    unknown = setup.compose(PROJECT_DIR, "-p", project, "build", "nope")
    assert unknown.returncode == 1 and unknown.stderr.strip().endswith("no such service: nope")


def test_a_failed_build_and_a_missing_context(setup: Setup, project: str, tmp_path: Path) -> None:
    write_project(tmp_path / "failing", "services:\n  broken:\n    build: .\n",
                  {"Dockerfile": "FROM busybox:latest\nRUN exit 3\n"})
    failed = setup.compose(tmp_path / "failing", "-p", project, "build")
    assert failed.returncode == 3
    assert failed.stderr.splitlines()[-1] == "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    write_project(tmp_path / "absent", "services:\n  web:\n    build: ./nowhere\n")
    missing = setup.compose(tmp_path / "absent", "-p", project, "build")
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[-1] == f'unable to prepare context: path "{tmp_path}/absent/nowhere" not found'


def test_build_secrets_from_files_and_the_environment(setup: Setup, project: str, tmp_path: Path) -> None:
    write_project(tmp_path, "services:\n  web:\n    build:\n      context: .\n      secrets:\n"
                            "        - token\n        - source: fromenv\n          target: renamed\n"
                            "secrets:\n  token:\n    file: ./token.txt\n  fromenv:\n    environment: BUILD_TOKEN\n",
                  {"token.txt": "file secret\n", ".dockerignore": "token.txt\n",
                   "Dockerfile": "FROM busybox:latest\n"
                                 "RUN --mount=type=secret,id=token --mount=type=secret,id=renamed "
                                 "cat /run/secrets/token /run/secrets/renamed > /seen\n"})
    setup.ok(tmp_path, "-p", project, "build", env={"BUILD_TOKEN": "env secret"})
    shown = setup.run(f"{project}-web", "cat /seen; echo; cat /run/secrets/token 2>/dev/null || echo not in the image")
    assert shown == "file secret\nenv secret\nnot in the image\n"


# ---------------------------------------------------------------------- push and pull


def test_push_then_pull_with_credentials(setup: Setup, project: str, tmp_path: Path) -> None:
    image = f"{setup.private.host}/{project}/app:v1"
    write_project(tmp_path, f"services:\n  app:\n    image: {image}\n    build:\n      context: .\n"
                            f"      tags: ['{setup.private.host}/{project}/app:extra']\n"
                            f"  db:\n    image: busybox:latest\n",
                  {"Dockerfile": "FROM busybox:latest\nRUN echo pushed > /made-by\n"})
    build_and_push = setup.ok(tmp_path, "-p", project, "build", "--push", logged_in=True)
    assert f" {image}  Pushed\n" in build_and_push.stderr
    anonymous = setup.compose(tmp_path, "-p", project, "push")
    assert anonymous.returncode == 1, anonymous.stderr
    pushed = setup.ok(tmp_path, "-p", project, "push", logged_in=True)
    assert f" {image}  Pushed\n" in pushed.stderr and " db  Skipped\n" in pushed.stderr
    built = setup.image_id(image)
    assert setup.private.manifest_digest(f"{project}/app:v1") == setup.private.manifest_digest(f"{project}/app:extra")

    setup.moor("rmi", image, f"{setup.private.host}/{project}/app:extra")
    denied = setup.compose(tmp_path, "-p", project, "pull", "app")
    assert denied.returncode == 1  # app can be built: compose says how, and still fails
    assert "WARNING: Some service image(s) must be built from source by running:\n" \
           "    moor compose build app\n" in denied.stderr
    assert setup.image_id(image) == ""
    pulled = setup.ok(tmp_path, "-p", project, "pull", "app", logged_in=True)
    assert f" Image {image}  Pulled\n" in pulled.stderr
    assert setup.image_id(image) == built
    quiet = setup.ok(tmp_path, "-p", project, "pull", "-q", "app", logged_in=True)
    assert quiet.stdout == "" and quiet.stderr == ""


def test_pull_failures_and_policy(setup: Setup, project: str, tmp_path: Path) -> None:
    absent = f"{setup.plain.host}/{project}/absent:v1"
    write_project(tmp_path, f"services:\n  gone:\n    image: {absent}\n  base:\n    image: busybox:latest\n")
    failed = setup.compose(tmp_path, "-p", project, "pull")
    assert failed.returncode == 1
    assert "manifest unknown" in failed.stderr.splitlines()[-1]
    ignored = setup.compose(tmp_path, "-p", project, "pull", "--ignore-pull-failures")
    assert ignored.returncode == 0, ignored.stderr
    assert " Image busybox:latest  Pulled\n" in ignored.stderr  # through the mirror on 127.0.0.1
    only = setup.ok(tmp_path, "-p", project, "pull", "base")
    assert "absent" not in only.stderr
    # --policy missing: busybox is there, but its tag is latest: refreshed; a present pinned tag is skipped
    setup.moor("tag", "busybox:latest", absent)
    policy = setup.ok(tmp_path, "-p", project, "pull", "--policy", "missing")
    assert f" Image {absent}  Skipped Image is already present locally\n" in policy.stderr
    assert " Image busybox:latest  Pulled\n" in policy.stderr


# ---------------------------------------------------------------------- up's pull_policy, --build, --no-build


def _has_up() -> bool:
    from moor.cli.compose import COMMANDS

    return "up" in COMMANDS


needs_up = pytest.mark.skipif(not _has_up(), reason="moor compose up has not landed")


def container_image(setup: Setup, project: str, service: str) -> str:
    return setup.moor("inspect", "--format", "{{.Image}}", f"{project}-{service}-1").strip()


@needs_up
def test_up_pull_policies(setup: Setup, project: str, tmp_path: Path) -> None:
    remote = f"{setup.plain.host}/{project}/base:v1"
    write_project(tmp_path / "seed", "services:\n  seed:\n    image: " + remote + "\n    build: .\n",
                  {"Dockerfile": "FROM busybox:latest\nRUN echo registry > /made-by\n"})
    setup.ok(tmp_path / "seed", "-p", project, "build")
    setup.ok(tmp_path / "seed", "-p", project, "push")
    in_registry = setup.image_id(remote)
    setup.moor("tag", "busybox:latest", remote)  # the local tag now differs from the registry's
    local = setup.image_id(remote)
    assert local != in_registry

    def up(policy: str, *flags: str) -> subprocess.CompletedProcess[str]:
        write_project(tmp_path / policy, f"services:\n  svc:\n    image: {remote}\n    pull_policy: {policy}\n"
                                         "    command: sleep 300\n")
        return setup.compose(tmp_path / policy, "-p", f"{project}{policy}", "up", "-d", *flags)

    try:
        assert up("missing").returncode == 0
        assert container_image(setup, f"{project}missing", "svc") == local  # present: not pulled
        assert up("never").returncode == 0
        assert container_image(setup, f"{project}never", "svc") == local
        assert up("always").returncode == 0
        assert container_image(setup, f"{project}always", "svc") == in_registry  # pulled over the local tag
        setup.moor("tag", "busybox:latest", remote)
        assert up("daily").returncode == 0  # tagged just now: not due
        assert container_image(setup, f"{project}daily", "svc") == local
        setup.moor("rmi", "-f", remote)
        never = up("if_not_present", "--pull", "never")
        assert never.returncode == 1
        assert never.stderr.splitlines()[-1] == f"Error response from daemon: No such image: {remote}"
        made = f"label=com.docker.compose.project={project}if_not_present"
        assert moor(setup.daemon, "ps", "-aq", "--filter", made).stdout == ""  # nothing made
        assert moor(setup.daemon, "network", "ls", "-q", "--filter", made).stdout == ""
        assert up("if_not_present").returncode == 0  # missing: pulled
        assert container_image(setup, f"{project}if_not_present", "svc") == in_registry
    finally:
        for policy in ("missing", "never", "always", "daily", "if_not_present"):
            if (tmp_path / policy).exists():
                setup.compose(tmp_path / policy, "-p", f"{project}{policy}", "down", "-t", "0")


@needs_up
def test_up_build_and_no_build(setup: Setup, project: str, tmp_path: Path) -> None:
    write_project(tmp_path, "services:\n  web:\n    build: .\n    command: sleep 300\n    stop_signal: SIGKILL\n",
                  {"Dockerfile": "FROM busybox:latest\nRUN echo first > /made-by\n"})
    try:
        refused = setup.compose(tmp_path, "-p", project, "up", "-d", "--no-build")
        assert refused.returncode == 1
        assert refused.stderr.splitlines()[-1] == f"Error response from daemon: No such image: {project}-web:latest"
        first = setup.ok(tmp_path, "-p", project, "up", "-d")  # missing: built
        assert f" Image {project}-web  Built\n" in first.stderr
        assert setup.moor("exec", f"{project}-web-1", "cat", "/made-by") == "first\n"
        (tmp_path / "Dockerfile").write_text("FROM busybox:latest\nRUN echo second > /made-by\n")
        again = setup.ok(tmp_path, "-p", project, "up", "-d")  # present: not rebuilt
        assert "Building" not in again.stderr
        assert setup.moor("exec", f"{project}-web-1", "cat", "/made-by") == "first\n"
        setup.ok(tmp_path, "-p", project, "up", "-d", "--build")
        assert setup.moor("exec", f"{project}-web-1", "cat", "/made-by") == "second\n"  # rebuilt, recreated
        (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: .\n    command: sleep 300\n"
                                               "    stop_signal: SIGKILL\n    pull_policy: build\n")
        (tmp_path / "Dockerfile").write_text("FROM busybox:latest\nRUN echo third > /made-by\n")
        setup.ok(tmp_path, "-p", project, "up", "-d")  # pull_policy build: built at every up
        assert setup.moor("exec", f"{project}-web-1", "cat", "/made-by") == "third\n"

        images = setup.ok(tmp_path, "-p", project, "images")
        header, row = images.stdout.splitlines()
        assert header.split() == ["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE", "ID", "SIZE", "CREATED"]
        image_id = setup.image_id(f"{project}-web").removeprefix("sha256:")
        platform = setup.moor("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", image_id).strip()
        assert row.split()[:5] == [f"{project}-web-1", f"{project}-web", "latest", platform, image_id[:12]]
        assert setup.ok(tmp_path, "-p", project, "images", "-q").stdout == image_id + "\n"
        listed = json.loads(setup.ok(tmp_path, "-p", project, "images", "--format", "json").stdout)
        assert [(item["ContainerName"], item["Repository"], item["Tag"], item["ID"]) for item in listed] == [
            (f"{project}-web-1", f"{project}-web", "latest", "sha256:" + image_id)]
    finally:
        setup.compose(tmp_path, "-p", project, "down", "-t", "0")


def test_images_of_containers_made_without_up(setup: Setup, project: str) -> None:
    name = f"{project}-db-1"
    setup.moor("create", "--name", name, "--label", f"com.docker.compose.project={project}",
               "--label", "com.docker.compose.service=db", "--label", "com.docker.compose.oneoff=False",
               "busybox:latest")
    try:
        table = setup.ok(PROJECT_DIR, "-p", project, "images").stdout.splitlines()
        assert table[0] == ("CONTAINER           REPOSITORY          TAG                 PLATFORM            "
                            "IMAGE ID            SIZE                CREATED")
        cells = table[1].split()
        platform = setup.moor("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "busybox").strip()
        assert cells[:5] == [name, "busybox", "latest", platform, setup.image_id("busybox")[7:19]]
        assert setup.ok(PROJECT_DIR, "-p", project, "images", "db", "-q").stdout == setup.image_id("busybox")[7:] + "\n"
        assert setup.ok(PROJECT_DIR, "-p", project, "images", "other").stdout.splitlines()[1:] == []
    finally:
        setup.moor("rm", "-f", name)

