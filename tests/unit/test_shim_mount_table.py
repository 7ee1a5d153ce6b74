"""moor-shim finds the container's memory cgroup without reading the mount table when the hierarchy sits in its
usual place: with a thousand containers' roots mounted the table is some 600 KB that the kernel writes out and the
shim parses at every start (13 ms of the start at 1000 containers here)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from moor.containers import launch
from unit.test_monitor_shim import _run_monitor

STRACE = shutil.which("strace")

pytestmark = [pytest.mark.skipif(not os.access(launch.SHIM_PATH, os.X_OK), reason="moor-shim is not built"),
              pytest.mark.skipif(STRACE is None, reason="strace is not installed")]


def test_the_shim_finds_the_memory_cgroup_without_the_mount_table(tmp_path: Path) -> None:
    assert STRACE is not None
    trace = tmp_path / "trace"
    result = _run_monitor(tmp_path, "shim", b"out\n", b"", wrapper=(STRACE, "-f", "-qq", "-e", "trace=openat,open",
                                                                      "-o", str(trace)))
    assert result["waited"]["exit_code"] == 3, result
    opened = trace.read_text()
    assert "memory.oom_control" in opened or "memory.events" in opened  # found, and asked whether it OOMed
    assert "mountinfo" not in opened
