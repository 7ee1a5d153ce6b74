"""``moor build`` and ``moor builder prune`` against a fake daemon: the context tar the CLI streams
(``.dockerignore`` applied, the Dockerfile and ignore file always sent, a Dockerfile from stdin or from
outside the context under a random name), the query and headers it sends as the docker CLI does, and how
it prints the daemon's answer (Docker's bytes, ``-q``, ``--iidfile``, a failed RUN's exit code)."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from moor.build.sendcontext import ContextError, prepare_context
from moor.cli.main import cli
from tests.unit.fakedaemon import FakeDaemon, error_answer, json_answer, stream_answer

IMAGE_ID = "sha256:" + "2c5ae" * 12 + "abcd"
SUCCESS = [
    {"stream": "Step 1/2 : FROM busybox"}, {"stream": "\n"}, {"stream": " ---> 1a4b92256449\n"},
    {"stream": "Step 2/2 : RUN echo hi"}, {"stream": "\n"}, {"stream": " ---> Running in 0123456789ab\n"},
    {"stream": "hi\n"}, {"stream": "Removing intermediate container 0123456789ab\n"},
    {"stream": " ---> 2c5ae2c5ae2c\n"}, {"aux": {"ID": IMAGE_ID}},
    {"stream": "Successfully built 2c5ae2c5ae2c\n"}, {"stream": "Successfully tagged app:latest\n"},
]
PRINTED = ("Step 1/2 : FROM busybox\n ---> 1a4b92256449\nStep 2/2 : RUN echo hi\n ---> Running in 0123456789ab\n"
           "hi\nRemoving intermediate container 0123456789ab\n ---> 2c5ae2c5ae2c\n"
           "Successfully built 2c5ae2c5ae2c\nSuccessfully tagged app:latest\n")
FAILURE = [
    {"stream": "Step 1/1 : RUN exit 3"}, {"stream": "\n"}, {"stream": " ---> Running in 0123456789ab\n"},
    {"errorDetail": {"code": 3, "message": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"},
     "error": "The command '/bin/sh -c exit 3' returned a non-zero code: 3"},
]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDaemon]:
    with FakeDaemon(str(tmp_path)) as daemon:
        yield daemon


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "sub").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM busybox\nRUN echo hi\n")
    (root / "a.txt").write_text("a")
    (root / "notes.md").write_text("ignored")
    (root / "sub" / "b.txt").write_text("b")
    (root / "sub" / "keep.md").write_text("kept by an exception")
    (root / ".dockerignore").write_text("*.md\n!sub/keep.md\nDockerfile\n.dockerignore\n")
    return root


def moor(fake: FakeDaemon, tmp_path: Path, *args: str, stdin: bytes | None = None,
         env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, ["-H", fake.host, *args], input=stdin, prog_name="moor",
                              env={"DOCKER_CONFIG": str(tmp_path / "dockercfg"), "DOCKER_DEFAULT_PLATFORM": None,
                                   **(env or {})})


def tar_names(body: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
                for m in tar.getmembers()}


def test_a_directory_context_is_sent_with_dockerignore_applied_and_docker_output(
        fake: FakeDaemon, tmp_path: Path, context: Path) -> None:
    fake.on("POST", "/build", stream_answer(SUCCESS))
    result = moor(fake, tmp_path, "build", "-t", "app", str(context))
    assert result.exit_code == 0, result.output
    request = fake.calls("POST", "/build")[0]
    files = tar_names(request.body)
    assert set(files) == {"Dockerfile", ".dockerignore", "a.txt", "sub", "sub/b.txt", "sub/keep.md"}
    size = len(request.body)
    assert size == 512 * 11 + 1024  # Go's tar: five files, a directory, two zero blocks, no record padding
    sending = f"Sending build context to Docker daemon  {size / 1000:.3f}kB\r\r\n"
    assert result.stdout_bytes.decode() == sending + PRINTED  # Docker's bytes, \r then \r\n after the size
    assert request.headers["content-type"] == "application/x-tar"
    assert request.arg("dockerfile") == "Dockerfile" and request.query["t"] == ["app"]
    assert (request.arg("rm"), request.arg("version"), request.arg("networkmode")) == ("1", "1", "default")
    assert json.loads(request.arg("buildargs") or "") == {} and request.arg("q") is None


def test_flags_become_dockers_query(fake: FakeDaemon, tmp_path: Path, context: Path) -> None:
    fake.on("POST", "/build", stream_answer(SUCCESS))
    result = moor(fake, tmp_path, "build", "--build-arg", "A=1", "--build-arg", "FROM_ENV", "--build-arg", "UNSET",
                  "--label", "l=v", "--target", "t", "--no-cache", "--pull", "--rm=false", "--force-rm",
                  "--network", "host", "--add-host", "h:127.0.0.1", "--platform", "Linux/AMD64", "-m", "16m",
                  "--shm-size", "1g", "--cache-from", "a,b", "--cpu-shares", "5", str(context),
                  env={"FROM_ENV": "env value"})
    assert result.exit_code == 0, result.output
    request = fake.calls("POST", "/build")[0]
    assert json.loads(request.arg("buildargs") or "") == {"A": "1", "FROM_ENV": "env value", "UNSET": None}
    assert json.loads(request.arg("labels") or "") == {"l": "v"}
    assert json.loads(request.arg("cachefrom") or "") == ["a", "b"]
    assert (request.arg("target"), request.arg("nocache"), request.arg("pull"), request.arg("rm"),
            request.arg("forcerm")) == ("t", "1", "1", "0", "1")
    assert (request.arg("networkmode"), request.query["extrahosts"], request.arg("platform")) == (
        "host", ["h:127.0.0.1"], "linux/amd64")
    assert (request.arg("memory"), request.arg("shmsize"), request.arg("cpushares")) == (
        str(16 << 20), str(1 << 30), "5")


@pytest.mark.parametrize(("args", "message"), [
    (["-t", "UPPER"], 'invalid argument "UPPER" for "-t, --tag" flag: invalid reference format: repository name '
                      "must be lowercase"),
    (["--add-host", "bad"], 'invalid argument "bad" for "--add-host" flag: bad format for add-host: "bad"'),
    (["-m", "abc"], """invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'"""),
    (["--rm=maybe"], 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax'),
])
def test_bad_flags_are_refused_before_anything_is_sent(fake: FakeDaemon, tmp_path: Path, context: Path,
                                                      args: list[str], message: str) -> None:
    result = moor(fake, tmp_path, "build", *args, str(context))
    assert result.exit_code != 0 and message in result.output
    assert not fake.calls("POST", "/build")


def test_context_errors_are_dockers(fake: FakeDaemon, tmp_path: Path, context: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    result = moor(fake, tmp_path, "build", str(tmp_path / "missing"))
    assert result.exit_code == 1 and f'unable to prepare context: path "{tmp_path / "missing"}" not found' in \
        result.output
    monkeypatch.chdir(tmp_path)
    result = moor(fake, tmp_path, "build", "-f", "nope", str(context))
    assert ("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat "
            f"{tmp_path / 'nope'}: no such file or directory") in result.output
    result = moor(fake, tmp_path, "build")
    assert result.exit_code == 1 and '"moor build" requires exactly 1 argument.' in result.output
    result = moor(fake, tmp_path, "build", "-f", "-", "-", stdin=b"FROM scratch\n")
    assert "can't use stdin for both build context and dockerfile" in result.output


def test_a_dockerfile_outside_the_context_travels_under_a_random_name(fake: FakeDaemon, tmp_path: Path,
                                                                       context: Path) -> None:
    outside = tmp_path / "other.Dockerfile"
    outside.write_text("FROM scratch\n")
    fake.on("POST", "/build", stream_answer(SUCCESS))
    assert moor(fake, tmp_path, "build", "-f", str(outside), str(context)).exit_code == 0
    request = fake.calls("POST", "/build")[0]
    name = request.arg("dockerfile") or ""
    assert name.startswith(".dockerfile.") and len(name) == len(".dockerfile.") + 20
    files = tar_names(request.body)
    assert files[name] == b"FROM scratch\n"
    assert files[".dockerignore"].endswith(f"\n{name}\n".encode())
    assert files[".dockerignore"].startswith(b"*.md\n")


def test_a_dockerfile_from_stdin(fake: FakeDaemon, tmp_path: Path, context: Path) -> None:
    fake.on("POST", "/build", stream_answer(SUCCESS))
    assert moor(fake, tmp_path, "build", "-f", "-", str(context), stdin=b"FROM stdin\n").exit_code == 0
    request = fake.calls("POST", "/build")[0]
    assert tar_names(request.body)[request.arg("dockerfile") or ""] == b"FROM stdin\n"


def test_a_context_on_stdin_tar_or_dockerfile(fake: FakeDaemon, tmp_path: Path) -> None:
    fake.on("POST", "/build", stream_answer(SUCCESS))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = 13
        tar.addfile(info, io.BytesIO(b"FROM scratch\n"))
    assert moor(fake, tmp_path, "build", "-", stdin=buffer.getvalue()).exit_code == 0
    assert fake.calls("POST", "/build")[0].body == buffer.getvalue()  # as it came, compressed
    assert moor(fake, tmp_path, "build", "-", stdin=b"FROM scratch\nLABEL a=b\n").exit_code == 0
    request = fake.calls("POST", "/build")[1]
    assert tar_names(request.body) == {"Dockerfile": b"FROM scratch\nLABEL a=b\n"}
    assert request.arg("dockerfile") == "Dockerfile"


def test_quiet_prints_only_the_id_and_iidfile_gets_it(fake: FakeDaemon, tmp_path: Path, context: Path) -> None:
    fake.on("POST", "/build", stream_answer([{"stream": IMAGE_ID + "\n"}]))
    iidfile = tmp_path / "iid"
    result = moor(fake, tmp_path, "build", "-q", "--iidfile", str(iidfile), str(context))
    assert result.exit_code == 0 and result.output == IMAGE_ID + "\n"
    assert fake.calls("POST", "/build")[0].arg("q") == "1"
    assert iidfile.read_text() == IMAGE_ID
    fake.on("POST", "/build", stream_answer(SUCCESS))
    assert moor(fake, tmp_path, "build", "--iidfile", str(iidfile), str(context)).exit_code == 0
    assert iidfile.read_text() == IMAGE_ID  # from the aux message


def test_a_failed_run_exits_with_its_code_and_the_message(fake: FakeDaemon, tmp_path: Path, context: Path) -> None:
    fake.on("POST", "/build", stream_answer(FAILURE))
    iidfile = tmp_path / "iid"
    iidfile.write_text("stale")
    result = moor(fake, tmp_path, "build", "--iidfile", str(iidfile), str(context))
    assert result.exit_code == 3
    assert result.output.endswith(" ---> Running in 0123456789ab\n"
                                  "The command '/bin/sh -c exit 3' returned a non-zero code: 3\n")
    assert not iidfile.exists()  # a stale one is removed first
    result = moor(fake, tmp_path, "build", "-q", str(context))
    assert result.exit_code == 3 and "Step 1/1 : RUN exit 3\n" in result.output  # held back, shown on failure


def test_a_daemon_error_is_dockers_line(fake: FakeDaemon, tmp_path: Path, context: Path) -> None:
    fake.on("POST", "/build", error_answer(400, "Cannot locate specified Dockerfile: Dockerfile"))
    result = moor(fake, tmp_path, "build", str(context))
    assert result.exit_code == 1
    assert "Error response from daemon: Cannot locate specified Dockerfile: Dockerfile" in result.output


def test_secrets_and_registry_logins_travel_in_headers(fake: FakeDaemon, tmp_path: Path, context: Path) -> None:
    secret = tmp_path / "token"
    secret.write_bytes(b"s3cret")
    config = tmp_path / "dockercfg"
    config.mkdir()
    (config / "config.json").write_text(json.dumps(
        {"auths": {"127.0.0.1:5000": {"auth": base64.b64encode(b"u:p").decode()}}}))
    fake.on("POST", "/build", stream_answer(SUCCESS))
    assert moor(fake, tmp_path, "build", "--secret", "id=tok,src=" + str(secret), str(context)).exit_code == 0
    request = fake.calls("POST", "/build")[0]
    secrets = json.loads(base64.b64decode(request.headers["x-moor-build-secrets"]))
    assert {key: base64.b64decode(value) for key, value in secrets.items()} == {"tok": b"s3cret"}
    auths = json.loads(base64.urlsafe_b64decode(request.headers["x-registry-config"]))
    assert auths["127.0.0.1:5000"]["username"] == "u" and auths["127.0.0.1:5000"]["password"] == "p"


def test_image_build_and_builder_build_are_the_same_command(fake: FakeDaemon, tmp_path: Path,
                                                             context: Path) -> None:
    fake.on("POST", "/build", stream_answer(SUCCESS))
    assert moor(fake, tmp_path, "image", "build", str(context)).exit_code == 0
    assert moor(fake, tmp_path, "builder", "build", str(context)).exit_code == 0
    assert len(fake.calls("POST", "/build")) == 2


def test_the_context_is_streamed_while_it_is_made(tmp_path: Path) -> None:
    root = tmp_path / "big"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM scratch\n")
    with open(root / "large", "wb") as handle:
        handle.truncate(64 << 20)
    made = prepare_context(str(root), "", io.BytesIO())
    try:
        first = made.stream.read(65536)
        assert first and made.producer is not None
        assert made.producer.is_alive()  # the rest is not made yet: it waits for the pipe to be read
        total = len(first)
        while data := made.stream.read(1 << 20):
            total += len(data)
        assert total > 64 << 20
    finally:
        made.close()
    with pytest.raises(ContextError):
        prepare_context(str(root / "large"), "", io.BytesIO())


def test_context_entries_are_the_docker_clis(tmp_path: Path) -> None:
    """Owners 0:0 without names, whole-second times, a second name as a hard link, links, FIFOs, no socket."""
    root = tmp_path / "ctx"
    (root / "d").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / "a").write_text("hi\n")
    os.chmod(root / "a", 0o4755)
    os.utime(root / "a", (1234.5678, 1234.5678))
    os.link(root / "a", root / "d" / "hard")
    (root / "d" / "sym").symlink_to("../a")
    os.mkfifo(root / "fifo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "sock"))
        made = prepare_context(str(root), "", io.BytesIO())
        try:
            data = made.stream.read()
        finally:
            made.close()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        entries = {m.name: m for m in tar.getmembers()}
    assert sorted(entries) == ["Dockerfile", "a", "d", "d/hard", "d/sym", "fifo"]
    assert all((m.uid, m.gid, m.uname, m.gname) == (0, 0, "", "") for m in entries.values())
    assert (entries["a"].mode, entries["a"].mtime, entries["a"].size) == (0o4755, 1234, 3)
    assert entries["a"].pax_headers == {}
    assert entries["d"].isdir() and entries["fifo"].isfifo()
    assert entries["d/hard"].islnk() and entries["d/hard"].linkname == "a" and entries["d/hard"].size == 0
    assert entries["d/sym"].issym() and entries["d/sym"].linkname == "../a"


# --------------------------------------------------------------------------- builder prune


def test_builder_prune_asks_first_and_says_what_it_freed(fake: FakeDaemon, tmp_path: Path) -> None:
    fake.on("POST", "/build/prune", json_answer({"CachesDeleted": ["abc", "def"], "SpaceReclaimed": 10277}))
    result = moor(fake, tmp_path, "builder", "prune", stdin=b"n\n")
    assert result.output == ("WARNING! This will remove all dangling build cache. Are you sure you want to "
                             "continue? [y/N] Total reclaimed space: 0B\n")
    assert not fake.calls("POST", "/build/prune")
    result = moor(fake, tmp_path, "builder", "prune", "-a", stdin=b"y\n")
    assert result.output == ("WARNING! This will remove all build cache. Are you sure you want to continue? [y/N] "
                             "Deleted build cache objects:\nabc\ndef\n\nTotal reclaimed space: 10.28kB\n")
    result = moor(fake, tmp_path, "builder", "prune", "-f", "--filter", "until=24h", "--keep-storage", "1k")
    assert result.exit_code == 0
    request = fake.calls("POST", "/build/prune")[-1]
    assert json.loads(request.arg("filters") or "") == {"until": {"24h": True}}
    assert (request.arg("keep-storage"), request.arg("all")) == ("1024", None)
    result = moor(fake, tmp_path, "builder", "prune", "-f", "--filter", "bad")
    assert 'invalid argument "bad" for "--filter" flag: bad format of filter (expected name=value)' in result.output


def test_an_http_context_is_downloaded_tar_or_dockerfile(fake: FakeDaemon, tmp_path: Path) -> None:
    import http.server
    import threading

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = 13
        tar.addfile(info, io.BytesIO(b"FROM scratch\n"))
    pages = {"/ctx.tar": archive.getvalue(), "/Dockerfile": b"FROM scratch\nLABEL url=1\n"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = pages.get(self.path)
            self.send_response(200 if page is not None else 404)
            self.end_headers()
            self.wfile.write(page if page is not None else b"no such page")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    no_proxy: dict[str, str | None] = {name: None for name in ("http_proxy", "HTTP_PROXY", "https_proxy",
                                                                "HTTPS_PROXY", "all_proxy", "ALL_PROXY")}
    try:
        fake.on("POST", "/build", stream_answer(SUCCESS))
        assert moor(fake, tmp_path, "build", base + "/ctx.tar", env=no_proxy).exit_code == 0
        assert fake.calls("POST", "/build")[0].body == archive.getvalue()
        assert moor(fake, tmp_path, "build", base + "/Dockerfile", env=no_proxy).exit_code == 0
        assert tar_names(fake.calls("POST", "/build")[1].body) == {"Dockerfile": pages["/Dockerfile"]}
        missing = moor(fake, tmp_path, "build", base + "/nope", env=no_proxy)
        assert missing.exit_code == 1
        assert f"unable to prepare context: unable to download remote context {base}/nope: failed to GET " \
               f"{base}/nope with status 404" in missing.output
        git = moor(fake, tmp_path, "build", "https://127.0.0.1:1/repo.git")
        assert git.exit_code == 1 and "git contexts are not supported" in git.output
    finally:
        server.shutdown()
        server.server_close()


def test_live_progress_adds_one_erased_line_and_leaves_the_plain_output() -> None:
    import re

    from moor.cli.buildoutput import BuildOutput

    out = io.StringIO()
    output = BuildOutput(out, live=True)
    output.show(iter(SUCCESS))
    output.close()
    drawn = out.getvalue()
    assert "\x1b[2m=> Step 2/2 : RUN echo hi  " in drawn  # the running step's line
    assert re.sub(r"\x1b\[2m.*?\x1b\[0m|\r\x1b\[2K", "", drawn) == PRINTED  # erased before any output
    assert output.image_id == IMAGE_ID and output.error is None


def test_a_dockerfile_s_own_ignore_file_wins_and_is_sent(fake: FakeDaemon, tmp_path: Path, context: Path) -> None:
    (context / "Dockerfile.dockerignore").write_text("*\n!a.txt\n")
    fake.on("POST", "/build", stream_answer(SUCCESS))
    assert moor(fake, tmp_path, "build", str(context)).exit_code == 0
    files = tar_names(fake.calls("POST", "/build")[0].body)
    assert set(files) == {"Dockerfile", ".dockerignore", "Dockerfile.dockerignore", "a.txt"}
