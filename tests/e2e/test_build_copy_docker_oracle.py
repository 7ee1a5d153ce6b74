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
import io
import json
import os
import secrets
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moor.build.checksum import ChecksumCache
from moor.build.copy import DirectoryView, plan_copy, write_copy_layer
from moor.build.dockerfile import parse_dockerfile
from moor.build.instructions import CopyCommand, parse_command
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
]


def random_context(root: Path) -> None:
    def write(name: str, data: bytes, mode: int) -> None:
        (root / name).write_bytes(data)
        os.chmod(root / name, mode)

    for directory, mode in (("d", 0o755), ("d/sub", 0o750), ("h", 0o755), ("e", 0o700)):
        (root / directory).mkdir()
        os.chmod(root / directory, mode)
    write("a.txt", secrets.token_bytes(100), 0o644)
    write("b.txt", secrets.token_bytes(3000), 0o600)
    write("d/x", secrets.token_bytes(10), 0o4755)
    write("d/sub/y", b"", 0o644)
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


def test_checksums_and_layers_match_dockerd(dockerd: str, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    random_context(context)
    rootfs_tar = subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout
    docker(dockerd, "import", "-", "busybox", input=rootfs_tar)
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    docker(dockerd, "build", "-t", "oracle", str(context), env=env)
    history = docker(dockerd, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "oracle").stdout.decode()
    created = list(reversed(history.splitlines()))[-len(STEPS):]
    saved = docker(dockerd, "save", "oracle").stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        layers = [archive.extractfile(name).read() for name in manifest[0]["Layers"]]  # type: ignore[union-attr]
    base = tmp_path / "base"
    base.mkdir()
    with tarfile.open(fileobj=io.BytesIO(rootfs_tar)) as archive:
        archive.extractall(base, filter="fully_trusted")
    cache = ChecksumCache(str(context), "context")
    dockerfile = parse_dockerfile((context / "Dockerfile").read_text())
    for index, step in enumerate(STEPS):
        command = parse_command(dockerfile.instructions[index + 1])
        assert isinstance(command, CopyCommand)
        with plan_copy(command, root=str(context), workdir="/", target=str(base), cache=cache) as plan:
            assert created[index].endswith(f"{plan.checksum} in {command.dest} "), (step, created[index])
            out = io.BytesIO()
            write_copy_layer(plan, DirectoryView(str(base)), out)
        assert listing(out.getvalue()) == listing(layers[index + 1]), step
