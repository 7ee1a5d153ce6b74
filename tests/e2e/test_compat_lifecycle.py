"""Container lifecycle as Docker 20.10 does it (issue 15): restarts, resources, info, logs, commit, cp, rm -v.

Each expectation was checked against a private dockerd 20.10 doing the same.
"""

from __future__ import annotations

import pytest

from e2e.containerhelpers import inspect, moor, moord, ok, wait_for  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_restart_of_an_rm_container_keeps_it(moord: DaemonProcess) -> None:
    ok(moor(moord, "run", "-d", "--rm", "--name", "keepme", "busybox", "sleep", "300"))
    first = inspect(moord, "keepme")["State"]["Pid"]
    ok(moor(moord, "restart", "-t", "0", "keepme"))
    again = inspect(moord, "keepme")["State"]
    assert again["Running"] and again["Pid"] != first
    ok(moor(moord, "stop", "-t", "0", "keepme"))  # a later stop removes it, as Docker's
    assert wait_for(lambda: ok(moor(moord, "ps", "-aq", "--filter", "name=keepme")) == "")
