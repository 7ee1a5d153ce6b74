"""The OCI runtime (runc by default) as moord uses it directly: kill, delete, state, ps.

Starting containers is the monitor's job (:mod:`moor.monitor`); moord only
signals and inspects them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from moor.errors import Conflict, MoorError, Unavailable


class Runtime:
    """``runc --root <root> ...`` with errors turned into moor errors."""

    def __init__(self, path: str, root: str) -> None:
        resolved = shutil.which(path)
        self.path = resolved or path
        self.root = root

    def check(self) -> None:
        if shutil.which(self.path) is None:
            raise Unavailable(f"OCI runtime {self.path!r} not found: install runc (make install) or set "
                              "[runtime] path in moor.toml")

    def _run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.path, "--root", self.root, *args], capture_output=True, text=True,
                              timeout=timeout)

    def kill(self, container_id: str, signal: str, all_processes: bool = False) -> None:
        args = ["kill", *(["--all"] if all_processes else []), container_id, signal]
        result = self._run(*args)
        if result.returncode != 0:
            message = runc_message(result.stderr)
            if "not running" in message or "does not exist" in message or "process already finished" in message:
                raise Conflict(f"Container {container_id} is not running")
            raise MoorError(f"runtime kill failed: {message}")

    def state(self, container_id: str) -> dict[str, Any] | None:
        result = self._run("state", container_id)
        if result.returncode != 0:
            return None
        return json.loads(result.stdout)

    def running(self, container_id: str) -> bool:
        """Whether runc knows the container and its process has not ended (running, paused, or being created)."""
        state = self.state(container_id)
        return state is not None and state.get("status") != "stopped"

    def delete(self, container_id: str) -> None:
        self._run("delete", "--force", container_id)

    def ps(self, container_id: str) -> list[int]:
        result = self._run("ps", "--format", "json", container_id)
        if result.returncode != 0:
            raise Conflict(f"Container {container_id} is not running")
        return list(json.loads(result.stdout or "[]") or [])

    def pause(self, container_id: str) -> None:
        self._checked("pause", container_id)

    def resume(self, container_id: str) -> None:
        self._checked("resume", container_id)

    def _checked(self, command: str, container_id: str) -> None:
        """Run ``runc <command> <id>``; a refusal because the container's process has ended meanwhile (whatever
        words runc chose: a missing cgroup file, no such container) is Docker's 409, not running."""
        result = self._run(command, container_id)
        if result.returncode != 0:
            if not self.running(container_id):
                raise Conflict(f"Container {container_id} is not running")
            raise MoorError(f"runtime {command} failed: {runc_message(result.stderr)}")


def runc_message(text: str) -> str:
    """The message of runc's last stderr line (its `msg="..."` when it logged one)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    line = lines[-1]
    if 'msg="' in line:
        line = line.split('msg="', 1)[1].rsplit('"', 1)[0]
    return line
