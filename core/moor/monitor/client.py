"""What moord uses to talk to a monitor."""

from __future__ import annotations

import json
import socket
from typing import Any

from moor.errors import MoorError
from moor.monitor.protocol import connect, encode, read_line


def request(state_dir: str, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Send one request and return the reply; OSError when the monitor is gone."""
    sock = connect(state_dir, timeout)
    try:
        sock.sendall(encode(payload))
        line = read_line(sock)
    finally:
        sock.close()
    if not line:
        raise MoorError("the container monitor went away without answering")
    return json.loads(line)


def open_stream(state_dir: str, payload: dict[str, Any]) -> socket.socket:
    """Send a streaming request (attach); return the socket positioned at the raw stream."""
    try:
        sock = connect(state_dir, 30)
    except OSError as err:
        raise MoorError(f"cannot reach the container monitor: {err.strerror or err}") from None
    try:
        sock.sendall(encode(payload))
        line = read_line(sock)
        reply = json.loads(line) if line else {"ok": False, "error": "the container monitor went away"}
    except BaseException:
        sock.close()
        raise
    if not reply.get("ok"):
        sock.close()
        raise MoorError(str(reply.get("error", "attach failed")))
    sock.settimeout(None)
    return sock
