"""Parallel clients against one moord: no error Docker would not give, no leak, no deadlock.

A bounded sample of ``scripts/concurrency`` (``moor.testing.concurrency``), and the races it found.
"""

from __future__ import annotations

import os
import random
import time

import pytest

from moor.testing.concurrency import ConcurrencyBench
from moor.testing.crashpoints import busybox_rootfs
from moor.testing.daemon import DaemonProcess
from moor.testing.leaks import leaks

pytestmark = pytest.mark.root


def test_parallel_clients_get_only_docker_errors_and_leave_nothing(tmp_path) -> None:
    seed = random.randrange(1 << 30)
    bench = ConcurrencyBench(clients=12, seconds=15, seed=seed, root=str(tmp_path / "cc"), stall_seconds=60,
                             request_seconds=180)
    try:
        bench.setup()
        problems = bench.run()
        log = bench.daemon.log()
    finally:
        bench.close()
    assert not problems, bench.summary(problems) + "\n--- moord's log (end) ---\n" + log[-6000:]


def test_rm_f_right_after_start_leaves_no_runc_state(tmp_path) -> None:
    """The monitor answers the waiters before `runc delete`; `rm -f` then removes its state directory, and
    runc, whose log file was relative to it, failed: its state and the cgroups stayed behind."""
    with DaemonProcess(str(tmp_path / "d")) as daemon:
        client = daemon.client()
        client.call("POST", "/images/create", {"fromSrc": "-", "repo": "busybox", "tag": "latest"},
                    body=busybox_rootfs())
        made = []
        for _ in range(6):
            container_id = client.call("POST", "/containers/create",
                                       body={"Image": "busybox", "Cmd": ["sleep", "1000"]})["Id"]
            made.append(container_id)
            client.call("POST", f"/containers/{container_id}/start")
            client.call("DELETE", f"/containers/{container_id}", {"force": "1"})
        runc_root = os.path.join(daemon.exec_root, "runc")
        deadline = time.monotonic() + 30
        while os.listdir(runc_root) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert os.listdir(runc_root) == []
        assert leaks(daemon, set(), made) == []
