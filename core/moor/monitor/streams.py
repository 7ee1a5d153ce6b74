"""Output pumping: the container's stdout/stderr (or pty) to the log and to attached clients."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from typing import Any

STREAM_TYPES = {"stdout": 1, "stderr": 2}


class Client:
    """One attached client: which streams it wants and whether output is framed."""

    def __init__(self, sock: socket.socket, stdout: bool, stderr: bool, framed: bool) -> None:
        self.sock = sock
        self.wants = {"stdout": stdout, "stderr": stderr}
        self.framed = framed
        self.alive = True

    def send(self, stream: str, data: bytes) -> None:
        if not self.alive or not self.wants.get(stream):
            return
        payload = struct.pack(">BxxxL", STREAM_TYPES[stream], len(data)) + data if self.framed else data
        try:
            self.sock.sendall(payload)
        except OSError:
            self.alive = False

    def close(self) -> None:
        self.alive = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class LineLogger:
    """Splits output into lines for the log driver, per stream; partial lines flushed at the end."""

    def __init__(self, writer: Any, message_type: Any) -> None:
        self.writer = writer
        self.message_type = message_type
        self.pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def feed(self, stream: str, data: bytes) -> None:
        buffer = self.pending[stream] + data
        *lines, rest = buffer.split(b"\n")
        now = time.time()
        for line in lines:
            self.writer.write(self.message_type(stream=stream, line=line + b"\n", timestamp=now))
        if len(rest) > 16 * 1024:  # Docker splits very long lines too
            self.writer.write(self.message_type(stream=stream, line=rest, timestamp=now, partial=True))
            rest = b""
        self.pending[stream] = rest

    def close(self) -> None:
        for stream, rest in self.pending.items():
            if rest:
                self.writer.write(self.message_type(stream=stream, line=rest, timestamp=time.time(), partial=True))
        self.writer.close()


class Hub:
    """Fans output out to the logger and every attached client; thread-safe."""

    def __init__(self, logger: LineLogger | None) -> None:
        self.logger = logger
        self.clients: list[Client] = []
        self.lock = threading.Lock()

    def add(self, client: Client) -> None:
        with self.lock:
            self.clients.append(client)

    def publish(self, stream: str, data: bytes) -> None:
        with self.lock:
            if self.logger is not None:
                try:
                    self.logger.feed(stream, data)
                except Exception as err:  # noqa: BLE001 -- plugin boundary: never let it stop the container's output
                    print(f"log driver failed: {err}", flush=True)
            for client in self.clients:
                client.send(stream, data)
            self.clients = [c for c in self.clients if c.alive]

    def close(self) -> None:
        with self.lock:
            if self.logger is not None:
                try:
                    self.logger.close()
                except Exception as err:  # noqa: BLE001 -- plugin boundary
                    print(f"log driver failed to close: {err}", flush=True)
            for client in self.clients:
                client.close()
            self.clients = []


def pump(fd: int, stream: str, hub: Hub) -> None:
    """Read ``fd`` until EOF (or EIO from a pty whose other side closed) and publish each chunk."""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        hub.publish(stream, data)
