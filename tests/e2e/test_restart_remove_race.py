"""A restart-policy restart racing ``rm -f`` (issue 12): removal wins cleanly, every time.

A ``--restart always`` container running ``false`` restarts in a loop; ``rm -f`` lands at a
different moment of that loop each iteration (waiting for its restart, mid-start, running). After
each removal nothing of it is left: no record, no runc container, no monitor or ``runc init``
process, no mount, no cgroup; and moord still serves.
"""

from __future__ import annotations

import glob
import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import import_busybox, moor, mounts_under, ok
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

ITERATIONS = 8


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    with DaemonProcess() as started:
        started.start()
        import_busybox(started)
        yield started


def _cgroups(container_id: str) -> list[str]:
    return glob.glob(f"/sys/fs/cgroup/*/moor/{container_id}") + glob.glob(f"/sys/fs/cgroup/moor/{container_id}")


def _processes_in(paths: list[str]) -> list[str]:
    found = []
    for path in paths:
        try:
            with open(os.path.join(path, "cgroup.procs")) as handle:
                found += handle.read().split()
        except OSError:
            continue
    return found


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().decode(errors="replace")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if text in cmdline or text in cwd:
            found.append(int(entry))
    return found


def _runc_ids(daemon: DaemonProcess) -> str:
    runc_root = os.path.join(daemon.exec_root, "runc")
    if not os.path.isdir(runc_root):
        return ""
    return subprocess.run(["runc", "--root", runc_root, "list", "-q"], capture_output=True, text=True,
                          timeout=60).stdout


def test_rm_f_wins_over_the_restart_policy(daemon: DaemonProcess) -> None:
    for iteration in range(ITERATIONS):
        name = f"race{iteration}"
        container_id = ok(moor(daemon, "run", "-d", "--restart", "always", "--name", name, "busybox", "false")).strip()
        time.sleep((iteration % 4) * 0.07)  # land at a different point of the restart loop each time
        removed = moor(daemon, "rm", "-f", name, timeout=120)
        assert removed.returncode == 0, removed.stderr
        time.sleep(0.3)  # a restart timer that was pending fires now, and must find nothing
        assert ok(moor(daemon, "ps", "-aq", "--no-trunc", "--filter", f"name={name}")).strip() == ""
        assert container_id not in _runc_ids(daemon)
        leftovers = _cgroups(container_id)
        assert _processes_in(leftovers) == [], f"processes left in the cgroup of {name} ({iteration})"
        assert leftovers == [], f"cgroups left for {name}: {leftovers}"
        assert _processes_mentioning(container_id) == []
        assert [m for m in mounts_under(daemon.root) if container_id in m] == []
        assert not os.path.exists(os.path.join(daemon.data_root, "containers", container_id))
    assert ok(moor(daemon, "ps", "-a", "-q")).strip() == ""
    ok(moor(daemon, "version"))
