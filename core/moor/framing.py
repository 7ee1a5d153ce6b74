"""Docker's multiplexed stream (attach, logs and exec without a TTY) read back into its frames: an 8-byte
header (stream type, three zero bytes, big-endian payload length), then the payload. Used by the engine and
by clients alike."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

#: the stream type of stderr's frames (every other type is stdout's)
STDERR = 2


def read_frames(read: Callable[[], bytes]) -> Iterator[tuple[int, bytes]]:
    """The frames of the stream ``read`` returns chunk by chunk (``b""`` at its end) as (stream type, payload):
    2 for stderr, 1 for the rest; a frame is yielded once it is whole, a torn last one is dropped."""
    buffer = b""
    while True:
        data = read()
        if not data:
            return
        buffer += data
        while len(buffer) >= 8:
            kind, length = struct.unpack(">BxxxL", buffer[:8])
            if len(buffer) < 8 + length:
                break
            payload, buffer = buffer[8:8 + length], buffer[8 + length:]
            yield (STDERR if kind == STDERR else 1), payload
