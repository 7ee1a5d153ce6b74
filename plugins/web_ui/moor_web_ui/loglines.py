"""moord's log stream (``/containers/{id}/logs?timestamps=1``) cut into the page's lines.

Without a TTY the stream is multiplexed (each frame: stream type, three zero bytes, a big-endian length,
the payload); with one it is the raw terminal output (all of it ``stdout``). Lines may span frames and
frames may hold several lines: :class:`LogLines` keeps the partial line of each stream until its newline.
Each line starts with the timestamp moord adds (``2026-01-02T03:04:05.123456789Z ``), split off here.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
#: a line longer than this is sent in pieces (a container writing without newlines cannot grow our memory)
MAX_LINE = 64 * 1024
STREAMS = {0: "stdout", 1: "stdout", 2: "stderr"}
_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ")
_HEADER = struct.Struct(">BxxxL")


@dataclass(frozen=True)
class LogLine:
    stream: str
    time: str
    line: str

    def message(self) -> dict[str, str]:
        return {"stream": self.stream, "time": self.time, "line": self.line}


def split_timestamp(text: str) -> tuple[str, str]:
    """``(time, rest)`` of a line moord stamped; ``("", text)`` when it has no stamp."""
    match = _TIMESTAMP.match(text)
    if match is None:
        return "", text
    return match.group(1), text[match.end():]


class LogLines:
    """Feed the stream's bytes in as they come; get the complete lines out."""

    def __init__(self, multiplexed: bool) -> None:
        self.multiplexed = multiplexed
        self._frames = bytearray()
        self._partial: dict[str, bytearray] = {}

    def feed(self, data: bytes) -> list[LogLine]:
        if not self.multiplexed:
            return self._text("stdout", data)
        self._frames += data
        lines: list[LogLine] = []
        while len(self._frames) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._frames)
            if len(self._frames) < _HEADER.size + size:
                break
            payload = bytes(self._frames[_HEADER.size:_HEADER.size + size])
            del self._frames[:_HEADER.size + size]
            lines += self._text(STREAMS.get(kind, "stdout"), payload)
        return lines

    def flush(self) -> list[LogLine]:
        """The partial lines left at the end of the stream."""
        lines = [self._line(stream, bytes(rest)) for stream, rest in self._partial.items() if rest]
        self._partial.clear()
        return lines

    def _text(self, stream: str, data: bytes) -> list[LogLine]:
        buffer = self._partial.setdefault(stream, bytearray())
        buffer += data
        lines: list[LogLine] = []
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) >= MAX_LINE:
                    lines.append(self._line(stream, bytes(buffer[:MAX_LINE])))
                    del buffer[:MAX_LINE]
                    continue
                return lines
            lines.append(self._line(stream, bytes(buffer[:end])))
            del buffer[:end + 1]

    @staticmethod
    def _line(stream: str, raw: bytes) -> LogLine:
        time, text = split_timestamp(raw.decode("utf-8", errors="replace"))
        return LogLine(stream, time, text.removesuffix("\r"))
