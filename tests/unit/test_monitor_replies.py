"""The monitor answers a request before it leaves: a process that ends at once (a quick exec) must not
take the reply to ``start`` with it (moord then saw "the container monitor went away without answering")."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from moor.monitor import main
from moor.monitor.protocol import encode


def test_the_start_reply_goes_out_before_the_monitor_leaves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = main.parse_args(["--id", "x", "--state-dir", str(tmp_path), "--bundle", str(tmp_path),
                            "--runtime-root", str(tmp_path), "--exec", "process.json"])
    monitor = main.Monitor(args)
    ours, theirs = socket.socketpair()
    seen_at_exit: list[bytes] = []

    def leave(code: int) -> None:  # what os._exit would end: note what moord had received by then
        ours.setblocking(False)
        try:
            seen_at_exit.append(ours.recv(65536))
        except BlockingIOError:
            seen_at_exit.append(b"")
        raise SystemExit(code)

    monkeypatch.setattr(main.os, "_exit", leave)

    def quick_process() -> int:  # the exec'd process ends (and is reaped) before `start` has answered
        threading.Thread(target=lambda: _finish_quietly(monitor), daemon=True).start()
        assert monitor.exited.wait(5)
        time.sleep(0.2)
        return 4242

    monitor.start = quick_process  # type: ignore[method-assign]
    ours.sendall(encode({"op": "start"}))
    monitor.handle(theirs)
    deadline = time.monotonic() + 5
    while not seen_at_exit and time.monotonic() < deadline:
        time.sleep(0.01)
    ours.close()
    assert seen_at_exit and json.loads(seen_at_exit[0]) == {"ok": True, "pid": 4242}


def _finish_quietly(monitor: main.Monitor) -> None:
    try:
        monitor._finish()
    except SystemExit:
        pass

