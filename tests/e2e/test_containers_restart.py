"""kill -9 moord with running containers: they keep running and moord re-adopts them on start."""

from __future__ import annotations

import time

import pytest

from e2e.containerhelpers import import_busybox, inspect, moor
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_containers_survive_a_killed_daemon(tmp_path) -> None:
    daemon = DaemonProcess()
    daemon.start()
    try:
        import_busybox(daemon)
        names = [f"keep{i}" for i in range(10)]
        for name in names:
            result = moor(daemon, "run", "-d", "--name", name, "busybox", "sh", "-c",
                          f"echo hello-{name}; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done")
            assert result.returncode == 0, result.stderr
        moor(daemon, "run", "-d", "--name", "shortlived", "busybox", "sh", "-c", "sleep 1.5; exit 5")
        pids = {n: inspect(daemon, n)["State"]["Pid"] for n in names}
        daemon.kill()
        time.sleep(2.5)  # shortlived exits while moord is down
        daemon.start()
        running = set(moor(daemon, "ps", "--format", "{{.Names}}").stdout.split())
        assert running == set(names)
        for name in names:
            state = inspect(daemon, name)["State"]
            assert state["Running"] and state["Pid"] == pids[name]
        gone = inspect(daemon, "shortlived")["State"]
        assert (gone["Status"], gone["ExitCode"]) == ("exited", 5)
        assert moor(daemon, "logs", "keep0").stdout == "hello-keep0\n"
        assert moor(daemon, "exec", "keep1", "echo", "still-here").stdout == "still-here\n"
        assert moor(daemon, "stop", "-t", "5", "keep2").returncode == 0
        assert moor(daemon, "logs", "keep2").stdout == "hello-keep2\nbye\n"
        assert moor(daemon, "wait", "keep2").stdout == "0\n"
        waiter = moor(daemon, "kill", "keep3")
        assert waiter.returncode == 0
        assert moor(daemon, "wait", "keep3").stdout == "137\n"
        assert moor(daemon, "rm", "-f", *names, "shortlived").returncode == 0
        assert moor(daemon, "ps", "-aq").stdout == ""
    finally:
        moor(daemon, "rm", "-f", *moor(daemon, "ps", "-aq").stdout.split()) if daemon.process and \
            daemon.process.poll() is None else None
        daemon.cleanup()
