"""Restart policies, end to end, also across a moord restart."""

from __future__ import annotations

import time

import pytest

from e2e.containerhelpers import import_busybox, moor, wait_for
from e2e.containerhelpers import inspect as state
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_restart_policies(tmp_path) -> None:
    daemon = DaemonProcess()
    daemon.start()
    try:
        import_busybox(daemon)
        moor(daemon, "run", "-d", "--name", "flaky", "--restart", "on-failure:3", "busybox", "sh", "-c", "exit 4")
        wait_for(lambda: state(daemon, "flaky")["RestartCount"] == 3
                 and not state(daemon, "flaky")["State"]["Restarting"]
                 and not state(daemon, "flaky")["State"]["Running"])
        assert state(daemon, "flaky")["State"]["ExitCode"] == 4
        moor(daemon, "run", "-d", "--name", "fine", "--restart", "on-failure", "busybox", "true")
        time.sleep(1)
        assert state(daemon, "fine")["RestartCount"] == 0
        moor(daemon, "run", "-d", "--name", "forever", "--restart", "always", "busybox", "sh", "-c", "sleep 0.3")
        wait_for(lambda: state(daemon, "forever")["RestartCount"] >= 2)
        moor(daemon, "run", "-d", "--name", "keeper", "--restart", "unless-stopped", "busybox", "sleep", "300")
        moor(daemon, "run", "-d", "--name", "stopped", "--restart", "unless-stopped", "busybox", "sleep", "300")
        assert moor(daemon, "stop", "-t", "0", "stopped").returncode == 0
        time.sleep(0.5)
        assert not state(daemon, "stopped")["State"]["Running"]  # a manual stop sticks
        assert moor(daemon, "stop", "-t", "0", "forever").returncode == 0
        time.sleep(1)
        count = state(daemon, "forever")["RestartCount"]
        assert not state(daemon, "forever")["State"]["Running"] and state(daemon, "forever")["RestartCount"] == count
        refused = moor(daemon, "run", "--rm", "--restart", "always", "busybox", "true")
        assert refused.returncode == 125 and "Conflicting options: --restart and --rm" in refused.stderr
        # across a moord restart: always comes back even after a manual stop, unless-stopped only if not stopped
        daemon.kill()
        daemon.start()
        wait_for(lambda: state(daemon, "forever")["State"]["Running"]
                 or state(daemon, "forever")["RestartCount"] > count)
        assert state(daemon, "keeper")["State"]["Running"]
        time.sleep(0.5)
        assert not state(daemon, "stopped")["State"]["Running"]
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            moor(daemon, "rm", "-f", *moor(daemon, "ps", "-aq").stdout.split())
        daemon.cleanup()
