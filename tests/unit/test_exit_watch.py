"""The exit watcher: one thread waits for the exits of many containers' monitors (issue 17: moord under
80 MB with 1000 running containers; a waiting thread each cost some 16 kB and a task)."""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moor.containers.exitwatch import ExitWatcher


class FakeMonitor:
    """A control socket that answers ``wait`` when told to (or closes without a word)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir()
        self.state_dir = str(state_dir)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(os.path.join(self.state_dir, "control.sock"))
        self.server.listen(1)
        self.asked = threading.Event()
        self.client: socket.socket | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.client, _ = self.server.accept()
        line = b""
        while not line.endswith(b"\n"):
            line += self.client.recv(1)
        assert json.loads(line) == {"op": "wait"}
        self.asked.set()

    def exit(self, code: int) -> None:
        assert self.asked.wait(10) and self.client is not None
        self.client.sendall(json.dumps({"exit_code": code, "finished_at": 1.5}).encode() + b"\n")
        self.client.close()

    def vanish(self) -> None:
        assert self.asked.wait(10) and self.client is not None
        self.client.close()


@pytest.fixture()
def answers() -> Iterator[queue.Queue[tuple[str, Any, str]]]:
    yield queue.Queue()


def _recorder(found: queue.Queue[tuple[str, Any, str]], name: str) -> Any:
    return lambda answer: found.put((name, answer, threading.current_thread().name))


def test_many_monitors_are_waited_for_by_one_thread(tmp_path: Path,
                                                    answers: queue.Queue[tuple[str, Any, str]]) -> None:
    watcher = ExitWatcher()
    monitors = [FakeMonitor(tmp_path / f"{n:012x}") for n in range(40)]
    threads_before = threading.active_count()
    for number, monitor in enumerate(monitors):
        watcher.watch(monitor.state_dir, _recorder(answers, f"m{number}"))
    for monitor in monitors:
        assert monitor.asked.wait(10)
    assert watcher.watching() == 40
    waiting_threads = threading.active_count() - threads_before
    assert waiting_threads <= 1 + 40  # the watcher, and (until they end) the fake monitors' accept threads
    assert [t.name for t in threading.enumerate()].count("exit-watcher") == 1
    monitors[7].exit(3)
    name, answer, thread = answers.get(timeout=10)
    assert (name, answer) == ("m7", {"exit_code": 3, "finished_at": 1.5})
    assert thread.startswith("exit-")
    monitors[9].vanish()  # a monitor killed: no answer, the exit is read from its exit.json
    assert answers.get(timeout=10)[:2] == ("m9", None)
    assert watcher.watching() == 38
    for monitor in monitors[:7] + monitors[8:9] + monitors[10:]:
        monitor.exit(0)
    assert sorted(answers.get(timeout=10)[0] for _ in range(38)) == sorted(
        f"m{n}" for n in range(40) if n not in (7, 9))
    assert watcher.watching() == 0


def test_a_monitor_that_is_gone_is_told_at_once(tmp_path: Path, answers: queue.Queue[tuple[str, Any, str]]) -> None:
    (tmp_path / "gone").mkdir()
    ExitWatcher().watch(str(tmp_path / "gone"), _recorder(answers, "gone"))
    assert answers.get(timeout=10)[:2] == ("gone", None)
