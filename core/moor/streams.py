"""Attached streams on the client side: demultiplexing, raw terminals, stdin pumping, resize, signals.

Shared by the CLI (``run``, ``start -a``, ``attach``, ``exec``, ``logs``) and ``moor compose`` (``run``,
``exec``, the log printer), so it lives outside :mod:`moor.cli`.
"""

from __future__ import annotations

import _socket  # (as moor.client: the sockets it hands over are _socket's)
import json
import os
import signal
import sys
import termios
import threading
import tty as ttymode
from collections.abc import Callable, Iterator
from typing import Any

from moor.client import Client, DaemonError, Response
from moor.detachkeys import DetachMatcher, parse_detach_keys
from moor.framing import read_frames

UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp"}


def demux_frames(response: Response, tty: bool) -> Iterator[tuple[int, bytes]]:
    """The payloads of a log or attach stream as (stream, bytes): 1 stdout, 2 stderr (a TTY's stream is raw
    bytes, all stdout); a frame is yielded once it is whole."""
    if tty:
        while True:
            data = response.read1()
            if not data:
                return
            yield 1, data
    yield from read_frames(response.read1)


def demux_to_stdout(response: Response, tty: bool) -> None:
    """Copy a log or attach stream to stdout/stderr; frames carry the stream type unless it is a TTY."""
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for kind, payload in demux_frames(response, tty):
        target = err if kind == 2 else out
        target.write(payload)
        target.flush()


def _terminal_size() -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except OSError:
        return None
    return size.lines, size.columns


def resize(client: Client, path: str) -> None:
    size = _terminal_size()
    if size is None:
        return
    try:
        client.call("POST", f"{path}/resize", {"h": size[0], "w": size[1]})
    except DaemonError:
        pass


class RawTerminal:
    """Puts stdin in raw mode for the life of the attach (restored on exit)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stdin.isatty()
        self.saved: Any = None

    def __enter__(self) -> RawTerminal:
        if self.enabled:
            self.saved = termios.tcgetattr(sys.stdin.fileno())
            ttymode.setraw(sys.stdin.fileno())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.saved is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.saved)


def pump_stdin(sock: _socket.socket, detach_keys: bytes | None, detached: threading.Event) -> None:
    """stdin -> the attach socket; half-close when stdin ends; a full close on the detach keys."""
    matcher = DetachMatcher(detach_keys) if detach_keys else None
    fd = sys.stdin.fileno()
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            try:
                sock.shutdown(_socket.SHUT_WR)
            except OSError:
                pass
            return
        if matcher is not None:
            data, detach = matcher.feed(data)
            if detach:
                detached.set()
                try:
                    sock.shutdown(_socket.SHUT_RDWR)
                except OSError:
                    pass
                return
        try:
            sock.sendall(data)
        except OSError:
            return


def copy_output(response: Response, tty: bool) -> None:
    try:
        demux_to_stdout(response, tty)
    except OSError:
        pass


def stream_attached(attached: Response, tty: bool, stdin: bool, detach_keys: str) -> bool:
    """Pump stdin in and output out until the stream ends; return whether the user detached."""
    detached = threading.Event()
    with RawTerminal(tty and stdin):
        if stdin:
            keys = parse_detach_keys(detach_keys) if tty else None
            threading.Thread(target=pump_stdin, args=(attached.sock, keys, detached), daemon=True).start()
        copy_output(attached, tty)
    attached.close()
    return detached.is_set()


def forward_signals(client: Client, path: str) -> None:
    """Send SIGINT/SIGTERM received by the CLI to the container (``--sig-proxy``)."""
    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), lambda signum, _frame: _forward(client, path, signum))


def attach_and_wait(client: Client, container_id: str, tty: bool, stdin: bool, detach_keys: str, sig_proxy: bool,
                    start: Callable[[], Any], auto_remove: bool) -> int:
    """``run`` / ``start -a``: attach, wait, start, stream until the end; return the exit code."""
    path = f"/containers/{container_id}"
    params = {"stream": "1", "stdout": "1", "stderr": "1", "stdin": "1" if stdin else None,
              "detachKeys": detach_keys or None}
    # attach and wait in one round trip (both must hold before the start, as the docker CLI's)
    attached, waiter = client.open_together(
        ("POST", f"{path}/attach", params, UPGRADE),
        ("POST", f"{path}/wait", {"condition": "removed" if auto_remove else "next-exit"}, None))
    start()
    if tty:
        resize(client, path)
        if hasattr(signal, "SIGWINCH"):
            signal.signal(signal.SIGWINCH, lambda *_: resize(client, path))
    if sig_proxy:
        forward_signals(client, path)
    if stream_attached(attached, tty, stdin, detach_keys):
        waiter.close()
        return 0  # detached with the escape keys: the container runs on
    body = waiter.read()
    waiter.close()
    try:
        return int(json.loads(body)["StatusCode"])
    except (ValueError, KeyError):
        return 0


def _forward(client: Client, path: str, signum: int) -> None:
    try:
        client.call("POST", f"{path}/kill", {"signal": str(signum)})
    except DaemonError:
        pass


def exec_attached(client: Client, exec_id: str, tty: bool, stdin: bool, detach_keys: str) -> None:
    """``exec`` without -d: start the exec on a hijacked connection and stream it."""
    body = json.dumps({"Detach": False, "Tty": tty}).encode()
    attached = client.open("POST", f"/exec/{exec_id}/start", body=body,
                           headers={**UPGRADE, "Content-Type": "application/json"})
    if tty:
        resize(client, f"/exec/{exec_id}")
        if hasattr(signal, "SIGWINCH"):
            signal.signal(signal.SIGWINCH, lambda *_: resize(client, f"/exec/{exec_id}"))
    stream_attached(attached, tty, stdin, detach_keys)
