"""moor pull/push/login/logout/search and run's auto-pull against a fake daemon: what the CLI sends and prints.

The daemon side is faked (tests/unit/fakedaemon.py); the words and exit codes are the docker 20.10 CLI's.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from moor.cli.main import cli
from unit.fakedaemon import FakeDaemon, error_answer, json_answer, stream_answer

DIGEST = "sha256:" + "ab" * 32
PULL_STREAM = [
    {"status": "Pulling from library/busybox", "id": "latest"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "5cc84ad355aa"},
    {"status": "Downloading", "progressDetail": {"current": 100, "total": 200}, "progress": "[==>]",
     "id": "5cc84ad355aa"},
    {"status": "Verifying Checksum", "progressDetail": {}, "id": "5cc84ad355aa"},
    {"status": "Download complete", "progressDetail": {}, "id": "5cc84ad355aa"},
    {"status": "Extracting", "progressDetail": {"current": 200, "total": 200}, "id": "5cc84ad355aa"},
    {"status": "Pull complete", "progressDetail": {}, "id": "5cc84ad355aa"},
    {"status": f"Digest: {DIGEST}"},
    {"status": "Status: Downloaded newer image for busybox:latest"},
]
PULL_TEXT = (
    "latest: Pulling from library/busybox\n"
    "5cc84ad355aa: Pulling fs layer\n"
    "5cc84ad355aa: Verifying Checksum\n"
    "5cc84ad355aa: Download complete\n"
    "5cc84ad355aa: Pull complete\n"
    f"Digest: {DIGEST}\n"
    "Status: Downloaded newer image for busybox:latest\n"
)
PUSH_STREAM = [
    {"status": "The push refers to repository [127.0.0.1:5000/app]"},
    {"status": "Preparing", "progressDetail": {}, "id": "01fb2f3e4a5d"},
    {"status": "Pushing", "progressDetail": {"current": 512, "total": 1024}, "id": "01fb2f3e4a5d"},
    {"status": "Pushed", "progressDetail": {}, "id": "01fb2f3e4a5d"},
    {"status": f"v1: digest: {DIGEST} size: 527"},
    {"progressDetail": {}, "aux": {"Tag": "v1", "Digest": DIGEST, "Size": 527}},
]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDaemon]:
    with FakeDaemon(str(tmp_path)) as daemon:
        yield daemon


@pytest.fixture
def docker_config(tmp_path: Path) -> Path:
    return tmp_path / "dockercfg"


def moor(fake: FakeDaemon, docker_config: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["-H", fake.host, *args], input=stdin,
                              env={"DOCKER_CONFIG": str(docker_config), "DOCKER_DEFAULT_PLATFORM": None})


def _login_file(docker_config: Path, auths: dict[str, tuple[str, str]]) -> None:
    docker_config.mkdir(exist_ok=True)
    entries = {key: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()} for key, (u, p) in auths.items()}
    (docker_config / "config.json").write_text(json.dumps({"auths": entries}))


def _auth_header(request: object) -> dict[str, str]:
    header = request.headers["x-registry-auth"]  # type: ignore[attr-defined]
    return json.loads(base64.urlsafe_b64decode(header))


# ---------------------------------------------------------------------- pull


def test_pull_prints_dockers_lines_then_the_reference(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/images/create", stream_answer(PULL_STREAM))
    result = moor(fake, docker_config, "pull", "busybox")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "Using default tag: latest\n" + PULL_TEXT + "docker.io/library/busybox:latest\n"
    request = fake.calls("POST", "/images/create")[0]
    assert request.query == {"fromImage": ["busybox"], "tag": ["latest"]}
    assert request.headers["x-registry-auth"] == "e30="


def test_pull_sends_the_stored_credentials_of_the_registry(fake: FakeDaemon, docker_config: Path) -> None:
    _login_file(docker_config, {"127.0.0.1:5000": ("me", "pw"), "https://index.docker.io/v1/": ("hub", "h")})
    fake.on("POST", "/images/create", stream_answer([]))
    assert moor(fake, docker_config, "pull", "127.0.0.1:5000/team/app:v1").exit_code == 0
    assert moor(fake, docker_config, "image", "pull", "user/app").exit_code == 0
    first, second = fake.calls("POST", "/images/create")
    assert first.query == {"fromImage": ["127.0.0.1:5000/team/app"], "tag": ["v1"]}
    assert _auth_header(first) == {"username": "me", "password": "pw", "serveraddress": "127.0.0.1:5000"}
    assert _auth_header(second) == {"username": "hub", "password": "h",
                                    "serveraddress": "https://index.docker.io/v1/"}


def test_pull_quiet_digest_all_tags_and_platform(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/images/create", stream_answer(PULL_STREAM))
    quiet = moor(fake, docker_config, "pull", "-q", f"busybox@{DIGEST}")
    assert (quiet.exit_code, quiet.stdout) == (0, f"docker.io/library/busybox@{DIGEST}\n")
    every = moor(fake, docker_config, "pull", "--all-tags", "--platform", "Linux/ARM64", "busybox")
    assert every.stdout.endswith("\ndocker.io/library/busybox\n") and "Using default tag" not in every.stdout
    digest, tags = fake.calls("POST", "/images/create")
    assert digest.query == {"fromImage": ["busybox"], "tag": [DIGEST]}
    assert tags.query == {"fromImage": ["busybox"], "platform": ["linux/arm64"]}
    tagged = moor(fake, docker_config, "pull", "-a", "busybox:1")
    assert (tagged.exit_code, tagged.stderr) == (1, "tag can't be used with --all-tags/-a\n")


def test_pull_errors(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/images/create", stream_answer(PULL_STREAM[:3] + [
        {"errorDetail": {"message": "unexpected EOF"}, "error": "unexpected EOF"}]))
    broken = moor(fake, docker_config, "pull", "busybox")
    assert (broken.exit_code, broken.stderr) == (1, "unexpected EOF\n")
    assert "docker.io/library/busybox" not in broken.stdout
    fake.on("POST", "/images/create", error_answer(404, "manifest for busybox:nope not found: manifest unknown"))
    missing = moor(fake, docker_config, "pull", "busybox:nope")
    assert (missing.exit_code, missing.stderr) == (
        1, "Error response from daemon: manifest for busybox:nope not found: manifest unknown\n")
    for name, message in (("Busybox", "invalid reference format: repository name must be lowercase"),
                          ("a b", "invalid reference format"),
                          ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte "
                                     "hexadecimal strings")):
        bad = moor(fake, docker_config, "pull", name)
        assert (bad.exit_code, bad.stderr) == (1, message + "\n")
    assert len(fake.calls("POST", "/images/create")) == 2


def test_a_401_off_a_terminal_is_the_daemons_error(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/images/create", error_answer(401, 'Head "http://127.0.0.1:5000/v2/private/manifests/latest"'
                                                        ": no basic auth credentials"))
    result = moor(fake, docker_config, "pull", "127.0.0.1:5000/private")
    assert result.exit_code == 1
    assert result.stdout == "Using default tag: latest\n"
    assert result.stderr == ('Error response from daemon: Head "http://127.0.0.1:5000/v2/private/manifests/latest"'
                             ": no basic auth credentials\n")
    assert len(fake.calls("POST", "/images/create")) == 1


# ---------------------------------------------------------------------- push


def test_push_shows_progress_and_skips_aux(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/images/127.0.0.1:5000/app/push", stream_answer(PUSH_STREAM))
    _login_file(docker_config, {"127.0.0.1:5000": ("me", "pw")})
    result = moor(fake, docker_config, "push", "127.0.0.1:5000/app:v1")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == ("The push refers to repository [127.0.0.1:5000/app]\n01fb2f3e4a5d: Preparing\n"
                             f"01fb2f3e4a5d: Pushed\nv1: digest: {DIGEST} size: 527\n")
    request = fake.calls("POST", "/images/127.0.0.1:5000/app/push")[0]
    assert request.query == {"tag": ["v1"]}
    assert _auth_header(request)["username"] == "me"


def test_push_quiet_all_tags_default_tag_and_digest(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/images/127.0.0.1:5000/app/push", stream_answer(PUSH_STREAM))
    quiet = moor(fake, docker_config, "push", "-q", "127.0.0.1:5000/app")
    assert (quiet.exit_code, quiet.stdout) == (0, "127.0.0.1:5000/app:latest\n")
    every = moor(fake, docker_config, "image", "push", "--all-tags", "127.0.0.1:5000/app")
    assert every.exit_code == 0 and not every.stdout.startswith("Using default tag")
    default = moor(fake, docker_config, "push", "127.0.0.1:5000/app")
    assert default.stdout.startswith("Using default tag: latest\nThe push refers to")
    assert [r.query for r in fake.calls("POST", "/images/127.0.0.1:5000/app/push")] == [
        {"tag": ["latest"]}, {}, {"tag": ["latest"]}]
    digest = moor(fake, docker_config, "push", f"127.0.0.1:5000/app@{DIGEST}")
    assert (digest.exit_code, digest.stderr) == (1, "cannot push a digest reference\n")
    tagged = moor(fake, docker_config, "push", "-a", "127.0.0.1:5000/app:v1")
    assert (tagged.exit_code, tagged.stderr) == (1, "tag can't be used with --all-tags/-a\n")


def test_push_stream_error_exits_1(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/images/app/push", stream_answer(PUSH_STREAM[:2] + [
        {"errorDetail": {"message": "denied: requested access to the resource is denied"},
         "error": "denied: requested access to the resource is denied"}]))
    result = moor(fake, docker_config, "push", "app:v1")
    assert (result.exit_code, result.stderr) == (1, "denied: requested access to the resource is denied\n")


# ---------------------------------------------------------------------- login / logout


def test_login_with_password_stdin_stores_and_warns(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/auth", json_answer({"Status": "Login Succeeded", "IdentityToken": ""}))
    result = moor(fake, docker_config, "login", "-u", "me", "--password-stdin", "http://127.0.0.1:5000/v2/",
                  stdin="pw\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Login Succeeded\n"
    path = docker_config / "config.json"
    assert result.stderr == (
        f"WARNING! Your password will be stored unencrypted in {path}.\n"
        "Configure a credential helper to remove this warning. See\n"
        "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n")
    assert fake.calls("POST", "/auth")[0].json() == {"username": "me", "password": "pw",
                                                     "serveraddress": "127.0.0.1:5000"}
    assert json.loads(path.read_text()) == {"auths": {"127.0.0.1:5000": {"auth": base64.b64encode(b"me:pw")
                                                                         .decode()}}}


def test_login_with_p_warns_and_uses_docker_hubs_key(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/auth", json_answer({"Status": "Login Succeeded"}))
    result = moor(fake, docker_config, "login", "-u", "me", "-p", "pw")
    assert result.exit_code == 0
    assert result.stderr.startswith("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    assert fake.calls("POST", "/auth")[0].json()["serveraddress"] == "https://index.docker.io/v1/"
    assert list(json.loads((docker_config / "config.json").read_text())["auths"]) == [
        "https://index.docker.io/v1/"]


def test_login_flag_errors(fake: FakeDaemon, docker_config: Path) -> None:
    both = moor(fake, docker_config, "login", "-u", "me", "-p", "pw", "--password-stdin")
    assert both.exit_code == 1 and both.stderr.endswith("\n--password and --password-stdin are mutually exclusive\n")
    no_user = moor(fake, docker_config, "login", "--password-stdin", stdin="pw")
    assert (no_user.exit_code, no_user.stderr) == (1, "Must provide --username with --password-stdin\n")
    no_tty = moor(fake, docker_config, "login", "h:1")
    assert (no_tty.exit_code, no_tty.stderr) == (1, "Error: Cannot perform an interactive login from a non TTY "
                                                    "device\n")
    assert fake.calls("POST", "/auth") == [] and not docker_config.exists()


def test_a_refused_login_stores_nothing(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/auth", error_answer(401, 'Get "http://127.0.0.1:5000/v2/": unauthorized: '
                                               "incorrect username or password"))
    result = moor(fake, docker_config, "login", "-u", "me", "--password-stdin", "127.0.0.1:5000", stdin="bad")
    assert result.exit_code == 1
    assert result.stderr == ('Error response from daemon: Get "http://127.0.0.1:5000/v2/": unauthorized: '
                             "incorrect username or password\n")
    assert not (docker_config / "config.json").exists()


def test_login_reuses_stored_credentials_and_keeps_identity_tokens(fake: FakeDaemon, docker_config: Path) -> None:
    _login_file(docker_config, {"h:1": ("me", "old")})
    fake.on("POST", "/auth", json_answer({"Status": "Login Succeeded", "IdentityToken": "refresh-me"}))
    result = moor(fake, docker_config, "login", "h:1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Authenticating with existing credentials...\nLogin Succeeded\n"
    assert result.stderr == ""  # a token, not a password, is stored: no warning
    assert fake.calls("POST", "/auth")[0].json() == {"username": "me", "password": "old", "serveraddress": "h:1"}
    assert json.loads((docker_config / "config.json").read_text())["auths"]["h:1"] == {
        "auth": base64.b64encode(b"me:").decode(), "identitytoken": "refresh-me"}


def test_stored_credentials_refused_fall_back_to_asking(fake: FakeDaemon, docker_config: Path) -> None:
    _login_file(docker_config, {"h:1": ("me", "old")})
    fake.on("POST", "/auth", error_answer(401, "unauthorized"))
    result = moor(fake, docker_config, "login", "h:1")
    assert result.exit_code == 1
    assert result.stdout == "Authenticating with existing credentials...\n"
    assert result.stderr == ("Stored credentials invalid or expired\n"
                             "Error: Cannot perform an interactive login from a non TTY device\n")


def test_logout_removes_every_form_of_the_key(fake: FakeDaemon, docker_config: Path) -> None:
    _login_file(docker_config, {"h:1": ("a", "b"), "https://h:1": ("c", "d"), "other:2": ("e", "f")})
    result = moor(fake, docker_config, "logout", "https://h:1/v2/")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "Removing login credentials for h:1\n", "")
    assert list(json.loads((docker_config / "config.json").read_text())["auths"]) == ["other:2"]
    hub = moor(fake, docker_config, "logout")
    assert hub.stdout == "Removing login credentials for https://index.docker.io/v1/\n"


# ---------------------------------------------------------------------- search

RESULTS = [
    {"name": "team/tool", "description": "A tool", "star_count": 3, "is_official": False, "is_automated": True},
    {"name": "busybox", "description": "Busybox base image.\nSmall, and a description long enough to be cut",
     "star_count": 2800, "is_official": True, "is_automated": False},
]


def test_search_table_sorted_by_stars_and_truncated(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("GET", "/images/search", json_answer(RESULTS))
    result = moor(fake, docker_config, "search", "busy")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "NAME        DESCRIPTION                                     STARS     OFFICIAL   AUTOMATED\n"
        "busybox     Busybox base image. Small, and a description…   2800      [OK]       \n"
        "team/tool   A tool                                          3                    [OK]\n")
    request = fake.calls("GET", "/images/search")[0]
    assert request.query == {"term": ["busy"], "limit": ["25"]}
    assert request.headers["x-registry-auth"] == "e30="


def test_search_flags(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("GET", "/images/search", json_answer(RESULTS))
    result = moor(fake, docker_config, "search", "--no-trunc", "--limit", "5", "-f", "is-official=true",
                  "--filter", "stars=3", "--format", "{{.Name}}|{{.Description}}|{{.StarCount}}|{{.IsOfficial}}",
                  "busy")
    assert result.stdout == ("busybox|Busybox base image. Small, and a description long enough to be cut|2800|[OK]\n"
                             "team/tool|A tool|3|\n")
    request = fake.calls("GET", "/images/search")[0]
    assert request.arg("limit") == "5"
    assert request.arg("filters") == '{"is-official":{"true":true},"stars":{"3":true}}'  # as the docker CLI
    bad = moor(fake, docker_config, "search", "-f", "nonsense", "x")
    assert bad.exit_code != 0 and "bad format of filter (expected name=value)" in bad.stderr  # 125 via main()


def test_search_from_a_catalog_says_so(fake: FakeDaemon, docker_config: Path) -> None:
    _login_file(docker_config, {"127.0.0.1:5000": ("me", "pw")})
    fake.on("GET", "/images/search", json_answer([{"name": "127.0.0.1:5000/app", "description": "",
                                                   "star_count": 0, "is_official": False, "is_automated": False}],
                                                 headers={"X-Moor-Search-Source": "catalog"}))
    result = moor(fake, docker_config, "search", "127.0.0.1:5000/ap")
    assert result.stdout.splitlines()[1].split() == ["127.0.0.1:5000/app", "0"]
    assert result.stderr == ("Note: 127.0.0.1:5000 has no search API: these are the repositories of its catalog "
                             "whose name contains 'ap'\n")
    assert _auth_header(fake.calls("GET", "/images/search")[0])["username"] == "me"


# ---------------------------------------------------------------------- run / create


def test_run_pulls_a_missing_image_then_creates(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/containers/create", error_answer(404, "No such image: busybox:latest"),
            json_answer({"Id": "c" * 64, "Warnings": []}, 201))
    fake.on("POST", "/images/create", stream_answer(PULL_STREAM))
    fake.on("POST", f"/containers/{'c' * 64}/start", json_answer(None, 204))
    result = moor(fake, docker_config, "run", "-d", "busybox", "true")
    assert (result.exit_code, result.stdout) == (0, "c" * 64 + "\n")
    assert result.stderr == "Unable to find image 'busybox:latest' locally\n" + PULL_TEXT
    assert fake.calls("POST", "/images/create")[0].query == {"fromImage": ["busybox"], "tag": ["latest"]}
    assert len(fake.calls("POST", "/containers/create")) == 2


def test_create_pull_policies(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/containers/create", error_answer(404, "No such image: busybox:latest"))
    never = moor(fake, docker_config, "create", "--pull", "never", "busybox")
    assert (never.exit_code, never.stderr) == (1, "Error response from daemon: No such image: busybox:latest\n")
    assert fake.calls("POST", "/images/create") == []
    bogus = moor(fake, docker_config, "create", "--pull", "sometimes", "busybox")
    assert (bogus.exit_code, bogus.stderr) == (
        125, "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\"\n")
    by_id = moor(fake, docker_config, "create", "a" * 64)
    assert by_id.exit_code == 1 and "Unable to find" not in by_id.stderr  # docker create: 1, docker run: 125
    fake.on("POST", "/containers/create", json_answer({"Id": "d" * 64}, 201))
    fake.on("POST", "/images/create", stream_answer(PULL_STREAM))
    always = moor(fake, docker_config, "create", "--pull", "always", "--platform", "linux/amd64", "busybox:1.36")
    assert (always.exit_code, always.stdout) == (0, "d" * 64 + "\n")
    assert "Unable to find" not in always.stderr and "Pull complete" in always.stderr
    assert fake.calls("POST", "/images/create")[0].query == {"fromImage": ["busybox"], "tag": ["1.36"],
                                                             "platform": ["linux/amd64"]}
    assert fake.calls("POST", "/containers/create")[-1].query["platform"] == ["linux/amd64"]


def test_a_failed_auto_pull_exits_125(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("POST", "/containers/create", error_answer(404, "No such image: nope:latest"))
    fake.on("POST", "/images/create", error_answer(404, "pull access denied for nope, repository does not "
                                                        "exist or may require 'docker login'"))
    result = moor(fake, docker_config, "run", "nope")
    assert result.exit_code == 125
    assert result.stderr == ("Unable to find image 'nope:latest' locally\nError response from daemon: pull access "
                             "denied for nope, repository does not exist or may require 'docker login'\n")


# ---------------------------------------------------------------------- images --digests


def test_images_digests(fake: FakeDaemon, docker_config: Path) -> None:
    other = "sha256:" + "cd" * 32
    fake.on("GET", "/images/json", json_answer([
        {"Id": "sha256:" + "1" * 64, "Created": 0, "Size": 1000, "RepoTags": ["busybox:latest", "busybox:1"],
         "RepoDigests": [f"busybox@{DIGEST}"]},
        {"Id": "sha256:" + "2" * 64, "Created": 0, "Size": 1000, "RepoTags": [],
         "RepoDigests": [f"app@{DIGEST}", f"app@{other}"]},
        {"Id": "sha256:" + "3" * 64, "Created": 0, "Size": 1000, "RepoTags": ["<none>:<none>"],
         "RepoDigests": ["<none>@<none>"]},
    ]))
    rows = moor(fake, docker_config, "images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}")
    assert rows.stdout.splitlines() == [f"busybox latest {DIGEST}", f"busybox 1 {DIGEST}", f"app <none> {DIGEST}",
                                        f"app <none> {other}", "<none> <none> <none>"]
    plain = moor(fake, docker_config, "images", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}")
    # a format naming {{.Digest}} shows the digests of tagged rows even without --digests (needDigest)
    assert plain.stdout.splitlines() == [f"busybox latest {DIGEST}", f"busybox 1 {DIGEST}", "app <none> ",
                                         "<none> <none> <none>"]
    without = moor(fake, docker_config, "images", "--format", "{{.Repository}} {{.Tag}}")
    assert without.stdout.splitlines() == ["busybox latest", "busybox 1", "app <none>", "<none> <none>"]
    table = moor(fake, docker_config, "images", "--digests")
    assert table.stdout.splitlines()[0].split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    assert table.stdout.splitlines()[1].split()[:3] == ["busybox", "latest", DIGEST]


def test_no_registry_machinery_is_imported_by_the_cli(fake: FakeDaemon, docker_config: Path) -> None:
    import subprocess
    import sys

    code = "\n".join([
        "import sys",
        "from moor.cli.main import main",
        f"sys.argv = ['moor', '-H', {fake.host!r}, 'pull', '-q', 'busybox']",
        "try:",
        "    main()",
        "except SystemExit:",
        "    pass",
        "print([m for m in ('urllib3', 'zlib_ng', 'moor.registry') if m in sys.modules])",
    ])
    fake.on("POST", "/images/create", stream_answer(PULL_STREAM))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DOCKER_CONFIG": str(docker_config)})
    assert result.stdout.splitlines()[-1] == "[]", result.stderr


def test_a_garbled_stream_is_one_line(fake: FakeDaemon, docker_config: Path) -> None:
    from unit.fakedaemon import Answer

    fake.on("POST", "/images/create", Answer(200, b'{"status":"Pulling from library/busybox","id":"latest"}\r\n'
                                                  b"<html>oops</html>\r\n", {"Content-Type": "application/json"}))
    result = moor(fake, docker_config, "pull", "busybox")
    assert result.exit_code == 1
    assert result.stderr.startswith("invalid character in the daemon's answer: ")
    assert result.stderr.count("\n") == 1


def test_search_json_and_table_headers_as_docker(fake: FakeDaemon, docker_config: Path) -> None:
    fake.on("GET", "/images/search", json_answer(RESULTS[:1]))
    whole = moor(fake, docker_config, "search", "--format", "{{json .}}", "tool")
    assert whole.stdout == ('{"Description":"A tool","IsAutomated":"true","IsOfficial":"false","Name":"team/tool",'
                            '"StarCount":"3"}\n')
    table = moor(fake, docker_config, "search", "--format", "table {{.Name}}\t{{json .IsAutomated}}", "tool")
    assert table.stdout == 'NAME        AUTOMATED\nteam/tool   "[OK]"\n'


@pytest.mark.parametrize("cut", ["in a chunk", "between chunks", "short of its length"])
def test_a_stream_cut_short_is_unexpected_eof(fake: FakeDaemon, docker_config: Path, cut: str) -> None:
    from unit.fakedaemon import Answer

    line = b'{"status":"Pulling from library/busybox","id":"latest"}\r\n'
    if cut == "short of its length":
        answer = Answer(200, line, {"Content-Type": "application/json", "Content-Length": "500"}, raw=True)
    else:
        chunk = b"%x\r\n%s\r\n" % (len(line), line)
        body = chunk + (b"40\r\n{\"status\":\"Pull" if cut == "in a chunk" else b"")
        answer = Answer(200, body, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, raw=True)
    fake.on("POST", "/images/create", answer)
    result = moor(fake, docker_config, "pull", "busybox")
    assert (result.exit_code, result.stderr) == (1, "unexpected EOF\n")
    assert result.stdout == "Using default tag: latest\nlatest: Pulling from library/busybox\n"


def test_pull_always_needs_a_name(fake: FakeDaemon, docker_config: Path) -> None:
    result = moor(fake, docker_config, "run", "--pull", "always", "a" * 64)
    assert (result.exit_code, result.stderr) == (
        125, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings\n")
    assert fake.requests == []
