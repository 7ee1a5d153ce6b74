"""One thread that waits for the exits of every running container.

moord learns that a container ended from its monitor: it asks ``wait`` on the monitor's control
socket and the answer comes when the process has exited. Waiting on a thread per container kept a
thousand idle threads (some 16 kB of memory each, and a task each in moord's cgroup) for a thousand
idle containers. Here the waiting sockets sit in one ``epoll`` set served by one thread; an answer
(or the monitor going away) is handed to ``on_exit`` on a thread of its own, which lives only while
the exit is recorded (the recording may unmount, leave networks, restart or remove the container).

``poll``/``epoll`` only: ``select()`` refuses descriptors above 1024, and moord holds several per
container.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from moor.monitor.protocol import connect, encode

log = logging.getLogger(__name__)

#: how long connecting to a monitor and sending it ``wait`` may take
CONNECT_TIMEOUT = 30.0
#: the longest answer read (a ``wait`` answer is a short JSON line)
MAX_ANSWER = 1 << 16

ExitCallback = Callable[["dict[str, Any] | None"], None]


class _Waiting:
    """A monitor asked ``wait``: its socket and the answer read so far."""

    def __init__(self, sock: socket.socket, on_exit: ExitCallback, name: str) -> None:
        self.sock = sock
        self.on_exit = on_exit
        self.name = name
        self.data = bytearray()


class ExitWatcher:
    """Waits for monitors' ``wait`` answers on one thread (started with the first :meth:`watch`)."""

    def __init__(self) -> None:
        self._poller = select.epoll()
        self._waiting: dict[int, _Waiting] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, state_dir: str, on_exit: ExitCallback) -> None:
        """Ask the monitor in ``state_dir`` to answer when its process exits; ``on_exit(answer)`` then runs on a
        thread of its own (``None`` when no monitor answers: it is gone, its ``exit.json`` tells the rest)."""
        name = f"exit-{os.path.basename(state_dir)[:12]}"
        try:
            sock = connect(state_dir, CONNECT_TIMEOUT)
        except OSError:
            self._dispatch(on_exit, None, name)
            return
        try:
            sock.sendall(encode({"op": "wait"}))
            sock.setblocking(False)
        except OSError:
            sock.close()
            self._dispatch(on_exit, None, name)
            return
        with self._lock:
            self._waiting[sock.fileno()] = _Waiting(sock, on_exit, name)
            self._poller.register(sock.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="exit-watcher", daemon=True)
                self._thread.start()

    def watching(self) -> int:
        """How many monitors are waited for."""
        with self._lock:
            return len(self._waiting)

    def _loop(self) -> None:
        while True:
            try:
                events = self._poller.poll()
            except InterruptedError:
                continue
            for fd, _mask in events:
                with self._lock:
                    waiting = self._waiting.get(fd)
                if waiting is not None:
                    self._read(fd, waiting)

    def _read(self, fd: int, waiting: _Waiting) -> None:
        try:
            chunk = waiting.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        waiting.data += chunk
        if chunk and b"\n" not in chunk and len(waiting.data) < MAX_ANSWER:
            return  # more of the line to come
        with self._lock:
            self._waiting.pop(fd, None)
            self._poller.unregister(fd)
        waiting.sock.close()
        line = bytes(waiting.data).split(b"\n", 1)[0]
        try:
            answer = json.loads(line) if line else None
        except ValueError:
            log.warning("%s: the monitor answered wait with %r", waiting.name, line[:200])
            answer = None
        self._dispatch(waiting.on_exit, answer if isinstance(answer, dict) else None, waiting.name)

    @staticmethod
    def _dispatch(on_exit: ExitCallback, answer: dict[str, Any] | None, name: str) -> None:
        threading.Thread(target=on_exit, args=(answer,), name=name, daemon=True).start()
