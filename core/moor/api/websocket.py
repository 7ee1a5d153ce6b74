"""The WebSocket side of ``GET /containers/{id}/attach/ws`` (RFC 6455), as Docker 20.10 serves it.

Docker answers the handshake, then sends what the container writes as binary frames, stdout and stderr
mixed and not multiplexed (its ``MuxStreams: false``), and a close frame (1000) at the end; what the client
sends in its (masked) frames goes to the container's stdin. :func:`bridge` puts these frames around an
ordinary attach, which writes to and reads from the other end of a socket pair.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import IO

from moor.errors import InvalidParameter

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
#: a client's frame may hold at most this much (the container's stdin gets it in pieces anyway)
MAX_FRAME = 16 * 1024 * 1024


def accept_key(headers: dict[str, str]) -> str:
    """``Sec-WebSocket-Accept`` for the request's key; InvalidParameter when the request is no WebSocket
    handshake (no ``Upgrade: websocket`` or no key)."""
    key = headers.get("sec-websocket-key", "").strip()
    if headers.get("upgrade", "").lower() != "websocket" or not key:
        raise InvalidParameter("websocket: the request is not a WebSocket handshake")
    return base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()


def encode_frame(payload: bytes, opcode: int = BINARY) -> bytes:
    """One unmasked, final frame (what a server sends)."""
    size = len(payload)
    if size < 126:
        head = struct.pack(">BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack(">BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack(">BBQ", 0x80 | opcode, 127, size)
    return head + payload


def _exactly(reader: IO[bytes], size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = reader.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(reader: IO[bytes]) -> tuple[int, bytes] | None:
    """The next frame of the client (opcode, unmasked payload); None at the end of the connection or when
    the frame is too large."""
    head = _exactly(reader, 2)
    if head is None:
        return None
    opcode, size, masked = head[0] & 0x0F, head[1] & 0x7F, bool(head[1] & 0x80)
    if size >= 126:
        extra = _exactly(reader, 2 if size == 126 else 8)
        if extra is None:
            return None
        size = int.from_bytes(extra, "big")
    if size > MAX_FRAME:
        return None
    mask = _exactly(reader, 4) if masked else b"\x00" * 4
    payload = _exactly(reader, size) if size else b""
    if mask is None or payload is None:
        return None
    if masked:
        payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return opcode, payload


def demultiplexed(tty: bool) -> Callable[[bytes], Iterator[bytes]]:
    """A feeder that turns the attach output into the bytes Docker's WebSocket carries: a terminal's as they
    come, else the payloads of the 8-byte-headed stdout/stderr frames (their headers dropped)."""
    pending = bytearray()

    def feed(data: bytes) -> Iterator[bytes]:
        if tty:
            yield data
            return
        pending.extend(data)
        while len(pending) >= 8:
            size = struct.unpack(">L", pending[4:8])[0]
            if len(pending) < 8 + size:
                return
            payload = bytes(pending[8:8 + size])
            del pending[:8 + size]
            if payload:
                yield payload

    return feed


def bridge(client: socket.socket, client_in: IO[bytes], tty: bool,
           attach: Callable[[socket.socket, IO[bytes]], None], output_opcode: int = BINARY) -> None:
    """Run ``attach`` on one end of a socket pair; carry its output to ``client`` as binary frames (text frames
    with ``output_opcode`` TEXT: API < 1.28) and the client's frames to its input, until the attach ends (then
    a close frame) or the client leaves."""
    inner, outer = socket.socketpair()
    inner_in = inner.makefile("rb")

    def run_attach() -> None:
        try:
            attach(inner, inner_in)
        finally:
            inner_in.close()
            inner.close()

    def from_client() -> None:
        try:
            while (received := read_frame(client_in)) is not None:
                opcode, payload = received
                if opcode == CLOSE:
                    break
                if opcode == PING:
                    client.sendall(encode_frame(payload, PONG))
                elif opcode != PONG and payload:
                    outer.sendall(payload)
        except OSError:
            pass
        try:
            outer.shutdown(socket.SHUT_WR)  # the container's stdin ends with the client's messages
        except OSError:
            pass

    threading.Thread(target=run_attach, daemon=True, name="ws-attach").start()
    threading.Thread(target=from_client, daemon=True, name="ws-stdin").start()
    feed = demultiplexed(tty)
    try:
        while data := outer.recv(65536):
            for payload in feed(data):
                client.sendall(encode_frame(payload, output_opcode))
        client.sendall(encode_frame(struct.pack(">H", 1000), CLOSE))
    except OSError:
        pass
    finally:
        outer.close()
        try:  # the connection ends here, as Docker's: the reading thread wakes, the client sees its end
            client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
