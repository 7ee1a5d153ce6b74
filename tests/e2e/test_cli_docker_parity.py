"""moor's registry commands side by side with the docker 20.10 CLI (Debian's docker.io, /usr/bin/docker).

Both CLIs talk to the same fake daemon (tests/unit/fakedaemon.py) with the same answers and the same kind of
``$DOCKER_CONFIG``; their exit codes, stdout, stderr, the requests they send (query, X-Registry-Auth, body),
the config.json they leave and what a credential helper saw must be the same. Skipped where no docker 20.10
CLI is installed (the docker CLI on $PATH may be a newer one, whose words differ).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from unit.fakedaemon import Answer, FakeDaemon, error_answer, json_answer, stream_answer
from unit.test_cli_credentials import install_helper

DOCKER_20 = "/usr/bin/docker"
D = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
RESULTS = [
    {"name": "team/tool", "description": "A tool", "star_count": 3, "is_official": False, "is_automated": True},
    {"name": "busybox", "description": "Busybox base image.\nSmall, and a description long enough to be cut",
     "star_count": 2800, "is_official": True, "is_automated": False},
    {"name": "wide", "description": "日本語の説明がここにありますとても長い説明文です。日本語の説明がここにあります",
     "star_count": 10, "is_official": False, "is_automated": False},
]
PUSH = [
    {"status": "The push refers to repository [127.0.0.1:5000/app]"},
    {"status": "Preparing", "progressDetail": {}, "id": "01fb2f3e4a5d"},
    {"status": "Pushing", "progressDetail": {"current": 512, "total": 1024}, "id": "01fb2f3e4a5d"},
    {"status": "Pushed", "progressDetail": {}, "id": "01fb2f3e4a5d"},
    {"status": f"v1: digest: {D} size: 527"},
    {"progressDetail": {}, "aux": {"Tag": "v1", "Digest": D, "Size": 527}},
]
PULL = [
    {"status": "Pulling from library/busybox", "id": "latest"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "abc"},
    {"status": "Downloading", "progressDetail": {"current": 5, "total": 10}, "id": "abc"},
    {"status": "Pull complete", "progressDetail": {}, "id": "abc"},
    {"status": "Status: Downloaded newer image for busybox:latest"},
]
IMAGE = {"ParentId": "", "Created": 1700000000, "Size": 1000, "VirtualSize": 1000, "SharedSize": -1,
         "Containers": -1, "Labels": None}
IMAGES = [
    {**IMAGE, "Id": "sha256:" + "1" * 64, "RepoTags": ["busybox:latest", "busybox:1"], "RepoDigests": [f"busybox@{D}"]},
    {**IMAGE, "Id": "sha256:" + "2" * 64, "RepoTags": None, "RepoDigests": [f"app@{D}", f"app@{OTHER}"]},
    {**IMAGE, "Id": "sha256:" + "3" * 64, "RepoTags": ["<none>:<none>"], "RepoDigests": ["<none>@<none>"]},
]
CONTAINER = {"Id": "c" * 64, "Warnings": []}
LOGGED_IN = {"auths": {"127.0.0.1:5000": {"auth": "bWU6cHc="}, "https://index.docker.io/v1/": {"auth": "bWU6cHc="},
                       "other": {}}, "psFormat": "x"}
HELPER = {"credsStore": "moortest", "auths": {"127.0.0.1:5000": {}}}
OK = json_answer({"Status": "Login Succeeded", "IdentityToken": ""})

Case = tuple[list[str], dict[tuple[str, str], list[Answer]], str | None, dict[str, Any] | None]
CASES: dict[str, Case] = {
    "pull": (["pull", "busybox"], {("POST", "/images/create"): [stream_answer(PULL)]}, None, None),
    "pull-quiet-digest": (["pull", "-q", f"busybox@{D}"], {("POST", "/images/create"): [stream_answer(PULL)]},
                          None, None),
    "pull-all-tags": (["pull", "-a", "--platform", "linux/amd64", "busybox"],
                      {("POST", "/images/create"): [stream_answer(PULL)]}, None, None),
    "pull-stored-login": (["pull", "127.0.0.1:5000/app"], {("POST", "/images/create"): [stream_answer(PULL)]},
                          None, LOGGED_IN),
    "pull-http-error": (["pull", "busybox:nope"], {("POST", "/images/create"): [error_answer(
        404, "manifest for busybox:nope not found: manifest unknown: manifest unknown")]}, None, None),
    "pull-stream-error": (["pull", "busybox"], {("POST", "/images/create"): [stream_answer(
        PULL[:2] + [{"errorDetail": {"message": "boom"}, "error": "boom"}])]}, None, None),
    "pull-bad-reference": (["pull", "Busybox"], {}, None, None),
    "pull-bad-reference-2": (["pull", "a b"], {}, None, None),
    "pull-tag-and-all": (["pull", "-a", "busybox:1"], {}, None, None),
    "push": (["push", "127.0.0.1:5000/app:v1"], {("POST", "/images/127.0.0.1:5000/app/push"): [
        stream_answer(PUSH)]}, None, LOGGED_IN),
    "push-quiet": (["push", "-q", "127.0.0.1:5000/app"], {("POST", "/images/127.0.0.1:5000/app/push"): [
        stream_answer(PUSH)]}, None, None),
    "push-all-tags": (["push", "-a", "127.0.0.1:5000/app"], {("POST", "/images/127.0.0.1:5000/app/push"): [
        stream_answer(PUSH)]}, None, None),
    "push-missing": (["push", "app"], {("POST", "/images/app/push"): [error_answer(
        404, "An image does not exist locally with the tag: app")]}, None, None),
    "login": (["login", "-u", "me", "--password-stdin", "http://127.0.0.1:5000/v2/"], {("POST", "/auth"): [OK]},
              "pw\n", None),
    "login-p-hub": (["login", "-u", "me", "-p", "pw"], {("POST", "/auth"): [OK]}, None, None),
    "login-token": (["login", "-u", "me", "--password-stdin", "127.0.0.1:5000"], {("POST", "/auth"): [
        json_answer({"Status": "Login Succeeded", "IdentityToken": "tok"})]}, "pw\n", None),
    "login-refused": (["login", "-u", "me", "--password-stdin", "127.0.0.1:5000"], {("POST", "/auth"): [
        error_answer(401, 'Get "http://127.0.0.1:5000/v2/": unauthorized: incorrect')]}, "pw\n", None),
    "login-stored": (["login", "127.0.0.1:5000"], {("POST", "/auth"): [OK]}, "", LOGGED_IN),
    "login-stored-refused": (["login", "127.0.0.1:5000"], {("POST", "/auth"): [error_answer(401, "no")]}, "",
                             LOGGED_IN),
    "login-both-passwords": (["login", "-u", "me", "-p", "x", "--password-stdin"], {}, "", None),
    "login-no-user": (["login", "--password-stdin"], {}, "x", None),
    "login-no-tty": (["login", "h:1"], {}, "", None),
    "login-helper": (["login", "-u", "me", "--password-stdin", "127.0.0.1:5000"], {("POST", "/auth"): [OK]},
                     "pw\n", HELPER),
    "login-helper-token": (["login", "-u", "me", "--password-stdin", "127.0.0.1:5000"], {("POST", "/auth"): [
        json_answer({"Status": "Login Succeeded", "IdentityToken": "tok"})]}, "pw\n", HELPER),
    "logout": (["logout", "https://127.0.0.1:5000/v2/"], {}, None, LOGGED_IN),
    "logout-hub": (["logout"], {}, None, LOGGED_IN),
    "logout-helper": (["logout", "127.0.0.1:5000"], {}, None, HELPER),
    "logout-helper-unknown": (["logout", "other:1"], {}, None, HELPER),
    "search": (["search", "busy"], {("GET", "/images/search"): [json_answer(RESULTS)]}, None, None),
    "search-no-trunc": (["search", "--no-trunc", "busy"], {("GET", "/images/search"): [json_answer(RESULTS)]},
                        None, None),
    "search-format": (["search", "--format", "{{.Name}}: {{.IsOfficial}} {{.IsAutomated}}", "--limit", "3", "x"],
                      {("GET", "/images/search"): [json_answer(RESULTS)]}, None, None),
    "search-filters": (["search", "-f", "stars=3", "--filter", " IS-OFFICIAL = true ", "-f", "stars=10", "x"],
                       {("GET", "/images/search"): [json_answer(RESULTS)]}, None, None),
    "search-bad-filter": (["search", "-f", "stars", "x"], {}, None, None),
    "search-json": (["search", "--format", "{{json .}}", "busy"], {("GET", "/images/search"): [
        json_answer(RESULTS)]}, None, None),
    "search-table": (["search", "--format", "table {{.Name}}\t{{json .IsOfficial}}", "busy"],
                     {("GET", "/images/search"): [json_answer(RESULTS)]}, None, None),
    "search-stored-login": (["search", "127.0.0.1:5000/app"], {("GET", "/images/search"): [json_answer([])]},
                            None, LOGGED_IN),
    "images": (["images"], {("GET", "/images/json"): [json_answer(IMAGES)]}, None, None),
    "images-digests": (["images", "--digests"], {("GET", "/images/json"): [json_answer(IMAGES)]}, None, None),
    "images-digest-format": (["images", "--format", "{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}"],
                             {("GET", "/images/json"): [json_answer(IMAGES)]}, None, None),
    "images-digests-table": (["images", "--digests", "--format", "table {{.Repository}}\t{{.ID}}"],
                             {("GET", "/images/json"): [json_answer(IMAGES)]}, None, None),
    "create-pulls": (["create", "busybox"], {
        ("POST", "/containers/create"): [error_answer(404, "No such image: busybox:latest"),
                                         json_answer(CONTAINER, 201)],
        ("POST", "/images/create"): [stream_answer(PULL)]}, None, LOGGED_IN),
    "create-pull-always": (["create", "--pull", "always", "busybox:1"], {
        ("POST", "/containers/create"): [json_answer(CONTAINER, 201)],
        ("POST", "/images/create"): [stream_answer(PULL)]}, None, None),
    "create-digest": (["create", f"busybox@{D}"], {
        ("POST", "/containers/create"): [error_answer(404, f"No such image: busybox@{D}"),
                                         json_answer(CONTAINER, 201)],
        ("POST", "/images/create"): [stream_answer(PULL)]}, None, None),
}


def _docker_20() -> bool:
    try:
        version = subprocess.run([DOCKER_20, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return False
    return version.startswith("Docker version 20.10.")


pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not _docker_20(), reason=f"no docker 20.10 CLI at {DOCKER_20}")]


def _run(cli: list[str], case: Case, root: Path) -> tuple[Any, ...]:
    args, routes, stdin, config = case
    config_dir = root / "cfg"
    config_dir.mkdir(parents=True)
    if config is not None:
        (config_dir / "config.json").write_text(json.dumps(config))
    db = root / "helper.json"
    if config is HELPER:
        db.write_text(json.dumps({"127.0.0.1:5000": ["me", "old"]}))
        install_helper(root / "bin", "moortest")
    with FakeDaemon(str(root)) as fake:
        fake.on("GET", "/_ping", Answer(200, b"OK", {"Api-Version": "1.41"}))
        fake.on("HEAD", "/_ping", Answer(200, b"", {"Api-Version": "1.41"}))
        fake.on("GET", "/info", json_answer({"IndexServerAddress": "https://index.docker.io/v1/"}))
        for (method, path), answers in routes.items():
            fake.on(method, path, *answers)
        env = {**os.environ, "DOCKER_HOST": fake.host, "MOOR_HOST": fake.host, "DOCKER_CONFIG": str(config_dir),
               "HELPER_DB": str(db), "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"}
        env.pop("DOCKER_DEFAULT_PLATFORM", None)
        result = subprocess.run([*cli, *args], input=(stdin or "").encode(), capture_output=True, env=env,
                                timeout=60)
        requests = [(r.method, r.path, r.query, r.headers.get("x-registry-auth"),
                     b"" if r.path.startswith("/containers") else r.body)
                    for r in fake.requests if r.path not in ("/_ping", "/info")]
    files = {name: (config_dir / name).read_text() for name in os.listdir(config_dir)}
    helper = db.read_text() if db.exists() else ""
    helper_log = (root / "helper.json.log").read_text() if (root / "helper.json.log").exists() else ""
    stderr = result.stderr.decode().replace(str(config_dir), "CFG").replace("See 'moor ", "See 'docker ")
    return (result.returncode, result.stdout.decode(), stderr,
            requests, files, helper, helper_log)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_the_docker_20_10_cli(name: str, tmp_path: Path) -> None:
    docker = _run([DOCKER_20], CASES[name], tmp_path / "docker")
    moor = _run([sys.executable, "-m", "moor.cli"], CASES[name], tmp_path / "moor")
    labels = ("exit code", "stdout", "stderr", "requests", "config dir", "helper's store", "helper's calls")
    for label, theirs, ours in zip(labels, docker, moor, strict=True):
        assert ours == theirs, f"{label} differs"
