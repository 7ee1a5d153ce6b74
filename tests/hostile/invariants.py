"""What must hold after every hostile case, whatever it sent: no 5xx, no traceback, a daemon that serves."""

from __future__ import annotations

import os

from hostile.wire import Answer, call
from moor.testing.daemon import DaemonProcess


def check_answer(answer: Answer) -> None:
    """An answer (not a dropped connection), below 500, with no Python traceback in it."""
    assert answer.status != 0, "moord closed the connection without an answer"
    assert answer.status < 500, f"{answer.status}: {answer.body[:500]!r}"
    assert b"Traceback" not in answer.body, answer.body[:2000]
    assert b'File "/' not in answer.body, answer.body[:2000]


def still_serves(daemon: DaemonProcess) -> None:
    """``/_ping`` and a real request both answer, promptly."""
    assert daemon.process is not None and daemon.process.poll() is None, "moord died"
    ping = call(daemon.socket, "GET", "/_ping", timeout=30)
    assert (ping.status, ping.body) == (200, b"OK"), ping
    listing = call(daemon.socket, "GET", "/containers/json?all=1", timeout=30)
    assert listing.status == 200 and isinstance(listing.json(), list), listing
    images = call(daemon.socket, "GET", "/images/json", timeout=30)
    assert images.status == 200 and isinstance(images.json(), list), images


class Guard:
    """Remembers where moord's log stood before a case; :meth:`after` checks the daemon and the new log lines."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.daemon = daemon
        self.offset = os.path.getsize(daemon.log_file) if os.path.exists(daemon.log_file) else 0

    def new_log(self) -> str:
        with open(self.daemon.log_file, "rb") as handle:
            handle.seek(self.offset)
            return handle.read().decode(errors="replace")

    def after(self) -> None:
        still_serves(self.daemon)
        logged = self.new_log()
        assert "Traceback" not in logged, f"moord logged a traceback during the case:\n{logged[-4000:]}"
