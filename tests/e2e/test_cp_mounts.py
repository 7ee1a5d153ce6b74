"""`moor cp` and the archive API see a container's volumes and bind mounts (running or stopped), as Docker's do.

The escape test binds a host directory whose parent holds a secret; links inside the bind (``/`` and
``../..``) must be resolved inside the bind's own root, never reaching the parent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from e2e.containerhelpers import moor, moor_bytes, moord  # noqa: F401 - fixture
from e2e.test_cp import HOST_SECRET, remove, run_detached, tar_members
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def read_volume(daemon: DaemonProcess, volume: str, path: str) -> str:
    """``path`` read by a new container that uses ``volume`` at /v (independent of cp)."""
    result = moor(daemon, "run", "--rm", "-v", f"{volume}:/v", "busybox", "cat", f"/v/{path}")
    return result.stdout if result.returncode == 0 else f"exit {result.returncode}: {result.stderr}"


def test_cp_into_a_named_volume(moord: DaemonProcess, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("into the volume\n")
    (tmp_path / "g").write_text("while stopped\n")
    run_detached(moord, "cpvol", "touch /tmp/ready; sleep 300", "-v", "cpvol-data:/vol")
    try:
        copied = moor(moord, "cp", str(tmp_path / "f"), "cpvol:/vol/f")
        assert copied.returncode == 0, copied.stderr
        assert read_volume(moord, "cpvol-data", "f") == "into the volume\n"
        assert moor(moord, "exec", "cpvol", "cat", "/vol/f").stdout == "into the volume\n"
        assert moor(moord, "stop", "-t", "1", "cpvol").returncode == 0
        copied = moor(moord, "cp", str(tmp_path / "g"), "cpvol:/vol/")
        assert copied.returncode == 0, copied.stderr
        assert read_volume(moord, "cpvol-data", "g") == "while stopped\n"
        back = moor(moord, "cp", "cpvol:/vol/f", str(tmp_path / "back"))
        assert back.returncode == 0, back.stderr
        assert (tmp_path / "back").read_text() == "into the volume\n"
    finally:
        remove(moord, "cpvol")
        moor(moord, "volume", "rm", "cpvol-data")


def test_cp_out_of_a_bind_mount_and_of_a_directory_holding_it(moord: DaemonProcess, tmp_path: Path) -> None:
    source = tmp_path / "bound"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "file").write_text("from the host\n")
    run_detached(moord, "cpbind", "touch /tmp/ready; sleep 300", "-v", f"{source}:/srv/bind")
    try:
        for state in ("running", "stopped"):
            out = tmp_path / state
            out.mkdir()
            got = moor(moord, "cp", "cpbind:/srv/bind/sub/file", str(out / "file"))
            assert got.returncode == 0, got.stderr
            assert (out / "file").read_text() == "from the host\n"
            streamed = moor_bytes(moord, "cp", "cpbind:/srv", "-")
            assert streamed.returncode == 0, streamed.stderr
            assert tar_members(streamed.stdout)["srv/bind/sub/file"] == b"from the host\n"
            if state == "running":
                assert moor(moord, "stop", "-t", "1", "cpbind").returncode == 0
    finally:
        remove(moord, "cpbind")


def test_cp_into_a_read_only_volume_is_refused(moord: DaemonProcess, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("nope\n")
    run_detached(moord, "cpro-vol", "touch /tmp/ready; sleep 300", "-v", "cpro-data:/ro:ro")
    try:
        refused = moor(moord, "cp", str(tmp_path / "f"), "cpro-vol:/ro/f")
        assert refused.returncode == 1
        assert refused.stderr == "Error response from daemon: mounted volume is marked read-only\n"
        assert read_volume(moord, "cpro-data", "f").startswith("exit 1")
    finally:
        remove(moord, "cpro-vol")
        moor(moord, "volume", "rm", "cpro-data")


def test_links_in_a_bind_stay_inside_it(moord: DaemonProcess, tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    (outer / "secret").write_text(HOST_SECRET)
    (tmp_path / "f").write_text("written\n")
    run_detached(moord, "cpesc", "ln -s / /b/root && ln -s ../.. /b/up && touch /tmp/ready; sleep 300",
                 "-v", f"{inner}:/b")
    try:
        for link in ("root", "up"):
            read = moor_bytes(moord, "cp", f"cpesc:/b/{link}/secret", "-")
            assert read.returncode == 1 and HOST_SECRET.encode() not in read.stdout
            written = moor(moord, "cp", str(tmp_path / "f"), f"cpesc:/b/{link}/")
            assert written.returncode == 0, written.stderr
            assert (inner / "f").read_text() == "written\n"
            (inner / "f").unlink()
        assert sorted(os.listdir(outer)) == ["inner", "secret"]
        assert (outer / "secret").read_text() == HOST_SECRET
    finally:
        remove(moord, "cpesc")
