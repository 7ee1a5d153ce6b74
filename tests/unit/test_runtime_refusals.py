"""How :class:`moor.containers.runtime.Runtime` words runc's refusals: a pause or resume of a container whose
process has ended meanwhile is Docker's 409, whatever runc's message; other refusals stay server errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from moor.containers.runtime import Runtime
from moor.errors import Conflict, MoorError


def fake_runc(tmp_path: Path, *, refusal: str, status: str | None) -> Runtime:
    """A runc that refuses pause/resume with ``refusal`` and reports ``status`` (None: no such container)."""
    state = f"echo '{{\"status\": \"{status}\"}}'; exit 0" if status else "echo 'container does not exist' >&2; exit 1"
    script = tmp_path / "runc"
    script.write_text(f"""#!/bin/sh
shift 2
case "$1" in
  state) {state} ;;
  *) echo 'time="x" level=error msg="{refusal}"' >&2; exit 1 ;;
esac
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return Runtime(str(script), str(tmp_path))


@pytest.mark.parametrize("status", ["stopped", None])
@pytest.mark.parametrize("command", ["pause", "resume"])
def test_refusal_of_an_ended_container_is_not_running(tmp_path: Path, command: str, status: str | None) -> None:
    runtime = fake_runc(tmp_path, refusal="openat2 /sys/fs/cgroup/freezer/x/freezer.state: no such file or directory",
                        status=status)
    with pytest.raises(Conflict, match="^Container abc is not running$"):
        getattr(runtime, command)("abc")


def test_refusal_of_a_running_container_stays_a_server_error(tmp_path: Path) -> None:
    runtime = fake_runc(tmp_path, refusal="device or resource busy", status="running")
    with pytest.raises(MoorError, match="runtime pause failed: device or resource busy") as caught:
        runtime.pause("abc")
    assert not isinstance(caught.value, Conflict)
