"""Host-side permissions (issue 12, class of CVE-2021-41091): no other local user reaches into moor's data root.

A setuid binary or a device node that container root drops into a volume must not be usable by an
unprivileged host user who guesses its path. moor uses Docker's modes (data root 0710, ``volumes``
and each volume directory 0701) and tightens directories an older version made laxer at start.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import moor, ok
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

NOBODY = 65534


@pytest.fixture(scope="module")
def daemon_with_lax_dirs() -> Iterator[DaemonProcess]:
    """A moord whose data root and volumes directory were left 0755 by an older version; its root traversable."""
    daemon = DaemonProcess()
    os.chmod(daemon.root, 0o755)  # only the data root itself may stop other users
    os.makedirs(os.path.join(daemon.data_root, "volumes", "old"), mode=0o755)
    for path in (daemon.data_root, os.path.join(daemon.data_root, "volumes"),
                 os.path.join(daemon.data_root, "volumes", "old")):
        os.chmod(path, 0o755)
    with daemon:
        daemon.start()
        yield daemon


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _as_nobody(*paths: str) -> list[str]:
    """The paths an unprivileged user (nobody, no groups) can stat."""
    result = subprocess.run(["stat", "-c", "%n", "--", *paths], user=NOBODY, group=NOBODY, extra_groups=[],
                            capture_output=True, text=True, timeout=60, check=False)
    return result.stdout.split()


def test_modes_are_dockers_and_old_ones_are_tightened(daemon_with_lax_dirs: DaemonProcess) -> None:
    data = daemon_with_lax_dirs.data_root
    assert _mode(data) == 0o710
    assert _mode(os.path.join(data, "volumes")) == 0o701
    assert _mode(os.path.join(data, "volumes", "old")) == 0o701


def test_a_setuid_file_in_a_volume_is_out_of_reach_of_other_users(daemon_with_lax_dirs: DaemonProcess) -> None:
    daemon = daemon_with_lax_dirs
    ok(moor(daemon, "volume", "create", "loot"))
    try:
        mountpoint = ok(moor(daemon, "volume", "inspect", "-f", "{{.Mountpoint}}", "loot")).strip()
        assert _mode(os.path.join(daemon.data_root, "volumes", "loot")) == 0o701
        planted = os.path.join(mountpoint, "rootshell")
        with open(planted, "wb") as handle:  # what container root can do through the volume
            handle.write(b"#!/bin/sh\n")
        os.chmod(planted, 0o4755)
        assert _as_nobody(daemon.root) == [daemon.root]  # the test's own directory is open to nobody
        assert _as_nobody(planted, mountpoint, daemon.data_root + "/volumes") == []
    finally:
        moor(daemon, "volume", "rm", "-f", "loot")
