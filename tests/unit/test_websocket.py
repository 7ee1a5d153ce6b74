"""The WebSocket framing of ``/containers/{id}/attach/ws`` (RFC 6455), as Docker 20.10 sends it."""

from __future__ import annotations

import io
import os
import struct

import pytest

from moor.api import websocket
from moor.errors import InvalidParameter


def test_the_accept_key_of_the_rfcs_example() -> None:
    headers = {"upgrade": "websocket", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert websocket.accept_key(headers) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("headers", [{}, {"upgrade": "websocket"}, {"sec-websocket-key": "x", "upgrade": "tcp"}])
def test_a_request_that_is_no_handshake_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidParameter, match="not a WebSocket handshake"):
        websocket.accept_key(headers)


def masked(payload: bytes, opcode: int = websocket.BINARY) -> bytes:
    mask = os.urandom(4)
    size = len(payload)
    head = struct.pack(">BB", 0x80 | opcode, 0x80 | size) if size < 126 else \
        struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("size", [0, 5, 125, 126, 70000])
def test_frames_both_ways(size: int) -> None:
    payload = os.urandom(size)
    sent = websocket.encode_frame(payload)
    assert sent[0] == 0x82 and websocket.read_frame(io.BytesIO(sent)) == (websocket.BINARY, payload)
    if size < 1 << 16:
        assert websocket.read_frame(io.BytesIO(masked(payload))) == (websocket.BINARY, payload)


def test_a_cut_frame_is_the_end() -> None:
    assert websocket.read_frame(io.BytesIO(masked(b"hello")[:-2])) is None
    assert websocket.read_frame(io.BytesIO(b"")) is None


def test_stdout_and_stderr_frames_lose_their_headers() -> None:
    feed = websocket.demultiplexed(tty=False)
    data = b"\x01\x00\x00\x00\x00\x00\x00\x03out" + b"\x02\x00\x00\x00\x00\x00\x00\x03err"
    assert list(feed(data[:5])) == []
    assert list(feed(data[5:13])) == [b"out"]
    assert list(feed(data[13:])) == [b"err"]
    assert list(websocket.demultiplexed(tty=True)(b"\x01raw")) == [b"\x01raw"]
