"""moord --debug logs one trace line per operation of a container, with the duration of each phase."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import import_busybox, inspect, moor, ok, wait_for
from moor import tracing
from moor.containers.launch import MONITOR_ENV, SHIM_PATH
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def debug_moord() -> Iterator[DaemonProcess]:
    with DaemonProcess(extra_args=("--debug",)) as daemon:
        import_busybox(daemon)
        yield daemon


def traces(daemon: DaemonProcess, subject: str) -> dict[str, dict[str, float]]:
    """operation -> its phases, of the trace lines about ``subject`` in the daemon's log."""
    found = {}
    for line in daemon.log().splitlines():
        parsed = tracing.parse(line)
        if parsed is not None and parsed[1] == subject[:12]:
            found[parsed[0]] = parsed[2]
    return found


def test_run_rm_traces_create_start_exit_and_remove(debug_moord: DaemonProcess) -> None:
    result = moor(debug_moord, "run", "--rm", "--cidfile", f"{debug_moord.root}/cid", "busybox", "true")
    assert result.returncode == 0, result.stderr
    with open(f"{debug_moord.root}/cid") as handle:
        container_id = handle.read().strip()
    wait_for(lambda: "remove" in traces(debug_moord, container_id))
    found = traces(debug_moord, container_id)
    assert {"check", "image", "init-layer", "snapshot", "save", "total"} <= set(found["create"])
    assert {"mount", "bundle", "monitor", "fork", "ready", "runc-create", "network", "run", "attach",
            "runc-start", "save", "total"} <= set(found["start"])
    assert {"monitor", "unmount", "network", "remove", "total"} <= set(found["exit"])
    assert "save" not in found["exit"]  # the record removed right after is not written (and synced) first
    assert {"stop", "snapshot", "dirs", "total"} <= set(found["remove"])
    for phases in found.values():
        assert all(value >= 0 for value in phases.values())
        assert phases["total"] >= max(value for name, value in phases.items() if name != "total")
    # the libraries' own debug output stays out: pyroute2 alone wrote some 30 lines per start on a bridge
    assert not [line for line in debug_moord.log().splitlines() if " pyroute2" in line or " asyncio:" in line]


def test_a_failed_start_is_traced_with_its_error(debug_moord: DaemonProcess) -> None:
    created = ok(moor(debug_moord, "create", "busybox", "/no/such/command")).strip()
    result = moor(debug_moord, "start", created)
    assert result.returncode != 0
    lines = [line for line in debug_moord.log().splitlines() if f"trace start {created[:12]} " in line]
    assert len(lines) == 1 and "error=" in lines[0], lines
    ok(moor(debug_moord, "rm", "-f", created))


@pytest.mark.parametrize("monitor", ["shim", "python"])
def test_the_monitor_starts_a_created_container_without_runc_start(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                                   monitor: str) -> None:
    """The monitor does what `runc start` does (through runc's exec.fifo) instead of starting runc again."""
    if monitor == "python":
        monkeypatch.setenv(MONITOR_ENV, "python")
    elif not os.access(SHIM_PATH, os.X_OK):
        pytest.skip("moor-shim is not built (no compiler)")
    calls = tmp_path / "calls"
    wrapper = tmp_path / "bin" / "runc"  # named runc: the monitor knows its layout
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nfor a; do case $a in create|start|delete|kill|state) echo $a >> {calls};; esac; "
                       f"done\nexec {shutil.which('runc')} \"$@\"\n")
    wrapper.chmod(0o755)
    with DaemonProcess(config_text=f'[runtime]\nname = "runc"\npath = "{wrapper}"\n') as daemon:
        import_busybox(daemon)
        result = moor(daemon, "run", "--rm", "busybox", "sh", "-c", "echo started")
        assert (result.returncode, result.stdout) == (0, "started\n"), result.stderr
        detached = ok(moor(daemon, "run", "-d", "busybox", "sleep", "30")).strip()
        assert inspect(daemon, detached)["State"]["Running"]
        ok(moor(daemon, "rm", "-f", detached))
    made = calls.read_text().split()
    assert made.count("create") == 2 and "start" not in made
