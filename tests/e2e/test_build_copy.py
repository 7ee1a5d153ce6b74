"""COPY and ADD through a real moord: history text with Docker's checksums, directory semantics, --from,
--chown/--chmod, archives extracted by ADD, an http(s) URL, refusals, and the cache on content."""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
from collections.abc import Iterator

import pytest

from e2e.buildhelpers import build, error, image_id, text
from e2e.containerhelpers import moor, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

FILES: dict[str, str | bytes] = {"file.txt": "content\n", "dir/": "", "dir/b": "b\n", "dir/a": "a\n"}


def history(daemon: DaemonProcess, name: str) -> list[str]:
    return moor(daemon, "history", "--no-trunc", "--format", "{{.CreatedBy}}", name).stdout.splitlines()


def run(daemon: DaemonProcess, image: str, script: str) -> str:
    result = moor(daemon, "run", "--rm", image, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_copy_writes_docker_history_and_files(moord: DaemonProcess) -> None:
    dockerfile = ("FROM busybox\nCOPY file.txt /dst/\nCOPY dir /d/\nCOPY file.txt dir/a /multi/\n"
                  "COPY --chown=1:1 file.txt /owned\nWORKDIR /w\nCOPY file.txt rel\n"
                  "COPY --from=busybox /etc/passwd /p\nCOPY --chmod=0755 file.txt /exec\n")
    messages = build(moord, {**FILES, "Dockerfile": dockerfile}, tag="copied")
    assert error(messages) is None, text(messages)
    assert "Step 2/9 : COPY file.txt /dst/\n ---> " in text(messages)
    assert " ---> Running in" not in text(messages).split("Step 6/9")[0]  # COPY needs no container
    lines = history(moord, "copied")
    # Docker 20.10's checksums for the same files (tests/unit/build/data/classic_builder.json, case copy_add)
    file_sum = "98027b5fa8678c56318538a9365c63c540a60a7068334572fb548b6ec82e4f74"
    assert lines[7] == f"/bin/sh -c #(nop) COPY file:{file_sum} in /dst/ "
    multi_sum = "12f5c5c849e967903d922faebefd4b5d4748eacc2fa1ae6aa98f7b631c017494"
    passwd_sum = "c3c998ce7af99513214f0a19ce9b139c0e99518d483ab9164ade55293a7e7359"
    assert lines[5] == f"/bin/sh -c #(nop) COPY multi:{multi_sum} in /multi/ "
    assert lines[4] == f"/bin/sh -c #(nop) COPY --chown=1:1file:{file_sum} in /owned "
    assert lines[2] == f"/bin/sh -c #(nop) COPY file:{file_sum} in rel "
    assert lines[1] == f"/bin/sh -c #(nop) COPY file:{passwd_sum} in /p "
    out = run(moord, "copied", "cat /dst/file.txt; ls /d; ls /multi; stat -c '%u:%g %a' /owned /exec; "
                               "cat /w/rel; head -1 /p")
    assert out.splitlines() == ["content", "a", "b", "a", "file.txt", "1:1 644", "0:0 755", "content",
                                "root:x:0:0:root:/root:/bin/sh"]


def test_copy_from_a_stage_and_a_target_that_skips_stages(moord: DaemonProcess) -> None:
    dockerfile = ("FROM busybox AS builder\nRUN echo built > /artifact\n"
                  "FROM busybox AS unused\nRUN exit 1\n"
                  "FROM busybox\nCOPY --from=builder /artifact /from-stage\nCOPY --from=0 /artifact /by-index\n")
    messages = build(moord, {"Dockerfile": dockerfile}, tag="staged")
    assert error(messages) is None, text(messages)
    assert "RUN exit 1" not in text(messages)  # the stage nobody needs is not built
    assert run(moord, "staged", "cat /from-stage /by-index") == "built\nbuilt\n"
    target = build(moord, {"Dockerfile": dockerfile}, tag="first", target="builder")
    assert error(target) is None and "COPY" not in text(target)
    assert run(moord, "first", "cat /artifact") == "built\n"


def test_add_extracts_local_archives_but_copy_does_not(moord: DaemonProcess) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = b"inside\n"
        info = tarfile.TarInfo("pkg/inner.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    files: dict[str, str | bytes] = {"a.tar.gz": archive.getvalue(),
             "Dockerfile": "FROM busybox\nADD a.tar.gz /x/\nCOPY a.tar.gz /y/\n"}
    messages = build(moord, files, tag="added")
    assert error(messages) is None, text(messages)
    assert run(moord, "added", "cat /x/pkg/inner.txt; ls /y") == "inside\na.tar.gz\n"


@pytest.fixture
def web() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"downloaded\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Last-Modified", "Wed, 01 Jan 2020 00:00:00 GMT")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_add_of_a_url_downloads_it(moord: DaemonProcess, web: str) -> None:
    messages = build(moord, {"Dockerfile": f"FROM busybox\nADD {web}/files/remote.txt /r/\n"}, tag="url")
    assert error(messages) is None, text(messages)
    assert run(moord, "url", "cat /r/remote.txt; stat -c %a /r/remote.txt") == "downloaded\n600\n"


def test_copy_refusals_use_docker_words(moord: DaemonProcess) -> None:
    missing = build(moord, {"Dockerfile": "FROM busybox\nCOPY nothere /x\n"})
    assert error(missing) == ("COPY failed: file not found in build context or excluded by .dockerignore: "
                              "stat nothere: file does not exist")
    outside = build(moord, {"Dockerfile": "FROM busybox\nCOPY ../etc/passwd /x\n"})
    assert "forbidden path outside the build context" in str(error(outside))
    several = build(moord, {**FILES, "Dockerfile": "FROM busybox\nCOPY file.txt dir /x\n"})
    assert error(several) == ("When using COPY with more than one source file, the destination must be a "
                              "directory and end with a /")
    assert moor(moord, "ps", "-aq").stdout.strip() == ""


def test_a_touched_but_unchanged_file_still_hits_the_cache(moord: DaemonProcess) -> None:
    files: dict[str, str | bytes] = {"data.txt": "same\n", "Dockerfile": "FROM busybox\nCOPY data.txt /data\n"}
    first = image_id(build(moord, files, tag="cachecopy"))
    again = build(moord, {**files, "other-file": "not copied\n"}, mtime=1_800_000_000, tag="cachecopy")  # touched
    assert " ---> Using cache" in text(again)
    assert image_id(again) == first
    changed = build(moord, {**files, "data.txt": "different\n"}, tag="cachecopy")
    assert " ---> Using cache" not in text(changed)
