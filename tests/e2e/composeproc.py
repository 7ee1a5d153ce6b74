"""A ``moor compose`` command left running (``logs -f``, attached ``up``): its output read as it comes, signals
sent to it, and it is always ended (by its process ID) when the test is done."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

from e2e.composehelpers import base_env
from e2e.containerhelpers import MOOR_CLI
from moor.testing.daemon import DaemonProcess


class Running:
    """``moor -H <daemon> compose ARGS`` in ``directory``, stdout and stderr collected by threads."""

    def __init__(self, daemon: DaemonProcess, directory: Path | str, *args: str) -> None:
        self.process = subprocess.Popen([*MOOR_CLI, "-H", daemon.host, "compose", *args], cwd=str(directory),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=base_env())
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._threads = [threading.Thread(target=self._collect, args=(self.process.stdout, self._out), daemon=True),
                         threading.Thread(target=self._collect, args=(self.process.stderr, self._err), daemon=True)]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _collect(stream: object, into: list[bytes]) -> None:
        assert stream is not None
        for line in iter(stream.readline, b""):  # type: ignore[attr-defined]
            into.append(line)

    @property
    def stdout(self) -> str:
        return b"".join(self._out).decode(errors="replace")

    @property
    def stderr(self) -> str:
        return b"".join(self._err).decode(errors="replace")

    def wait_output(self, text: str, timeout: float = 30, *, stderr: bool = False) -> None:
        """Until ``text`` is in stdout (or stderr) (AssertionError with what was printed otherwise)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (self.stderr if stderr else self.stdout):
                return
            if self.process.poll() is not None:
                time.sleep(0.2)
                if text in (self.stderr if stderr else self.stdout):
                    return
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never printed; stdout:\n{self.stdout}\nstderr:\n{self.stderr}")

    def interrupt(self) -> None:
        """Ctrl-C."""
        self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float = 60) -> int:
        """The exit code, once it ended (and its output read to the end)."""
        code = self.process.wait(timeout)
        for thread in self._threads:
            thread.join(10)
        return code

    def __enter__(self) -> Running:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
