"""The monitor's control protocol: one JSON line each way per connection.

Requests: ``start``, ``attach`` (then a raw stream), ``resize``, ``wait``,
``state``, ``close-stdin``. Replies always carry ``ok``; errors carry ``error``.

Unix socket paths are limited to 107 bytes; a long state directory is reached
through ``/proc/self/fd/<dir fd>/control.sock`` instead.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

SOCKET_NAME = "control.sock"
MAX_LINE = 1 << 20
_SUN_PATH_MAX = 107


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def read_line(sock: socket.socket) -> bytes:
    """Read one line byte by byte, so that nothing after it is consumed."""
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_LINE:
            raise ValueError("request line too long")
    return bytes(data)


def connect(state_dir: str, timeout: float | None = None) -> socket.socket:
    """Connect to the control socket in ``state_dir``, whatever the directory's path length."""
    path = os.path.join(state_dir, SOCKET_NAME)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if len(path.encode()) <= _SUN_PATH_MAX:
            sock.connect(path)
        else:
            fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY)
            try:
                sock.connect(f"/proc/self/fd/{fd}/{SOCKET_NAME}")
            finally:
                os.close(fd)
    except OSError:
        sock.close()
        raise
    return sock
