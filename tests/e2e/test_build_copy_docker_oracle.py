"""moor's COPY/ADD domain code against dockerd 20.10 itself, on a fresh random context each run.

For each COPY/ADD of one classic build (``DOCKER_BUILDKIT=0 docker build``), Docker's history text must hold
the checksum :mod:`moor.build.checksum` computes, and the layer Docker made must list the same entries
(names, types, modes, owners, link targets, sizes, file times) as the layer :func:`moor.build.copy.
write_copy_layer` writes for the same step on the same base image. No moord here: this checks the domain
modules; the builder's own e2e tests run them through moord.

It needs Debian's docker.io (``make install`` installs it) and skips without it.
"""

from __future__ import annotations

import gzip
import http.server
import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moor.build.checksum import ChecksumCache
from moor.build.copy import DirectoryView, plan_copy, write_copy_layer
from moor.build.dockerfile import parse_dockerfile
from moor.build.instructions import CopyCommand, parse_command
from moor.containers.archive import copy_in
from moor.testing.dockerd import private_dockerd

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
STEPS = [
    "COPY a.txt /a",
    "COPY d /d/",
    "COPY --chown=1:2 d /new3/new4/",
    "COPY --chown=daemon:bin a.txt /new1/new2/f",
    "COPY *.txt /star/",
    "COPY link /bin",
    "ADD arch.tar.gz /ext/",
    "COPY h /h/",
    "COPY d /tmp/",
    "COPY . /all/",
    "ADD --chown=1:2 arch.tar.gz /extc/",
    "COPY --chown=1:2 link /lc",
    "COPY d* /w/",
    "COPY e /e",
    "COPY a.txt /lnk/",
    "COPY a.txt b.txt /multi/",
    "ADD links.tar /",
    "COPY a.txt /ldir/",
    "COPY d /ldir/sub",
    "COPY a.txt /bin/sh",
]


def random_context(root: Path) -> None:
    def write(name: str, data: bytes, mode: int) -> None:
        (root / name).write_bytes(data)
        os.chmod(root / name, mode)

    for directory, mode in (("d", 0o755), ("d/sub", 0o750), ("h", 0o755), ("e", 0o700), ("e/s", 0o3775)):
        (root / directory).mkdir()
        os.chmod(root / directory, mode)
    write("a.txt", secrets.token_bytes(100), 0o644)
    write("b.txt", secrets.token_bytes(3000), 0o600)
    write("d/x", secrets.token_bytes(10), 0o4755)
    write("d/sub/y", b"", 0o644)
    write("e/s/g", secrets.token_bytes(7), 0o2755)
    write("h/h1", secrets.token_bytes(5), 0o644)
    os.link(root / "h/h1", root / "h/h2")
    (root / "d/lnk").symlink_to("x")
    (root / "d/abs").symlink_to("/etc/passwd")
    (root / "link").symlink_to("a.txt")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("inner/f")
        info.size, info.uid, info.gid, info.mtime, info.mode = 3, 7, 8, 1000, 0o640
        archive.addfile(info, io.BytesIO(b"abc"))
    write("arch.tar.gz", gzip.compress(buffer.getvalue()), 0o644)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        real = tarfile.TarInfo("real")
        real.type, real.mode, real.mtime = tarfile.DIRTYPE, 0o711, 1000
        link = tarfile.TarInfo("ldir")
        link.type, link.linkname, link.mtime = tarfile.SYMTYPE, "/real", 1000
        archive.addfile(real)
        archive.addfile(link)
    write("links.tar", buffer.getvalue(), 0o644)
    (root / "Dockerfile").write_text("FROM busybox\n" + "\n".join(STEPS) + "\n")


@pytest.fixture(scope="module")
def dockerd() -> Iterator[str]:
    with private_dockerd() as host:
        if host is None:
            pytest.skip("dockerd is not installed (make install installs Debian's docker.io)")
        yield host


def docker(host: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(["docker", "-H", host, *args], capture_output=True, timeout=300, **kwargs)
    assert done.returncode == 0, done.stderr.decode()
    return done


def listing(data: bytes) -> list[tuple[Any, ...]]:
    """What must agree between two layers: every entry but the times of directories (made "now")."""
    rows = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive:
            mtime = None if member.isdir() else int(member.mtime)
            rows.append((member.name.rstrip("/"), member.type, member.mode & 0o7777, member.uid, member.gid,
                         member.linkname, member.size, mtime))
    return sorted(rows)


def built(host: str, context: Path, tag: str, *args: str) -> tuple[list[str], list[bytes]]:
    """Build ``context`` classically; the history (oldest first) and the layer tars of the image."""
    docker(host, "build", "-t", tag, *args, str(context), env={**os.environ, "DOCKER_BUILDKIT": "0"})
    history = docker(host, "history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).stdout.decode()
    saved = docker(host, "save", tag).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        layers = [archive.extractfile(name).read() for name in manifest[0]["Layers"]]  # type: ignore[union-attr]
    return list(reversed(history.splitlines())), layers


def apply(data: bytes, root: Path) -> None:
    """Lay a layer tar (no whiteouts in these builds) onto ``root`` with moor's own extractor: links in the root
    resolve inside it and an entry replaces a link at its path instead of writing through it, as a layer apply
    does. (``tarfile.extractall`` would follow an absolute link such as ``bin/sh -> /bin/busybox`` to the
    host's file.)"""
    copy_in(str(root), "/", io.BytesIO(data))


def unpack(layers: list[bytes], root: Path) -> Path:
    """An image's root filesystem from its layers."""
    root.mkdir()
    for data in layers:
        apply(data, root)
    return root


def check_steps(steps: list[str], dockerfile_text: str, created: list[str], layers: list[bytes], *,
                root: Path, base: Path, flavor: Any = "context") -> None:
    """Each step against Docker's; Docker's layer is then applied to (a copy of) ``base``, so that later
    steps see what earlier ones made (links, directories), as in the image."""
    image = base.parent / f"{base.name}-{secrets.token_hex(4)}"
    shutil.copytree(base, image, symlinks=True)
    base = image
    cache = ChecksumCache(str(root), flavor)
    dockerfile = parse_dockerfile(dockerfile_text)
    commands = [parse_command(instruction) for instruction in dockerfile.instructions]
    copies = [command for command in commands if isinstance(command, CopyCommand)][-len(steps):]
    for index, (step, command) in enumerate(zip(steps, copies, strict=True)):
        with plan_copy(command, root=str(root), workdir="/", target=str(base), cache=cache, flavor=flavor) as plan:
            text = created[len(created) - len(steps) + index]
            assert text.endswith(f"{plan.checksum} in {command.dest} "), (step, text)
            out = io.BytesIO()
            write_copy_layer(plan, DirectoryView(str(base)), out)
        docker_layer = layers[len(layers) - len(steps) + index]
        assert listing(out.getvalue()) == listing(docker_layer), step
        apply(docker_layer, base)
    shutil.rmtree(base)


@pytest.fixture(scope="module")
def busybox(dockerd: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    rootfs_tar = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout
    docker(dockerd, "import", "-", "busybox", input=rootfs_tar)
    base = tmp_path_factory.mktemp("busybox") / "root"
    return unpack([rootfs_tar], base)


def test_checksums_and_layers_match_dockerd(dockerd: str, busybox: Path, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    random_context(context)
    created, layers = built(dockerd, context, "oracle")
    check_steps(STEPS, (context / "Dockerfile").read_text(), created, layers, root=context, base=busybox)


FROM_STEPS = ["COPY --from=one /cd /fromcd", "COPY --from=one /c /newp/q/fromc", "COPY --from=one /bin/busybox /bb",
              "COPY --from=one --chown=3:4 /cd /chowned/"]


def test_copy_from_a_stage_matches_dockerd(dockerd: str, busybox: Path, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    random_context(context)
    text = ("FROM busybox AS one\nCOPY --chown=1:2 a.txt /c\nCOPY --chown=1:2 d /cd/\n"
            "FROM busybox\n" + "\n".join(FROM_STEPS) + "\n")
    (context / "Dockerfile").write_text(text)
    _, stage_layers = built(dockerd, context, "stage-one", "--target", "one")
    stage = unpack(stage_layers, tmp_path / "stage")
    created, layers = built(dockerd, context, "from-oracle")
    check_steps(FROM_STEPS, text, created, layers, root=stage, base=busybox, flavor="image")


class _Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"payload " + self.path.encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.path.startswith("/dated"):
            self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
        if self.path == "/":
            self.send_header("Content-Disposition", 'attachment; filename="named.bin"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


def test_add_of_urls_matches_dockerd(dockerd: str, busybox: Path, tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        steps = [f"ADD {url}/file.txt /u1", f"ADD {url}/dated/file2.txt /u2/", f"ADD {url}/ /u3/"]
        context = tmp_path / "context"
        context.mkdir()
        text = "FROM busybox\n" + "\n".join(steps) + "\n"
        (context / "Dockerfile").write_text(text)
        created, layers = built(dockerd, context, "url-oracle")
        check_steps(steps, text, created, layers, root=context, base=busybox)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
