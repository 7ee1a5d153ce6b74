"""Reading a json-file log's backlog in bounded memory.

``logs --tail N`` needs the last N records: plain files are read backwards
in blocks from their end, gzipped rotated files (which cannot be read
backwards) forwards through a window of N records, and the files are taken
newest first only as far as needed. Without a tail, records are streamed
file by file. Either way memory holds at most the N records asked for (and
one line), however big the log.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
from collections.abc import Callable, Iterator
from typing import IO

from moor.types import LogMessage

BLOCK = 1 << 16

Keep = Callable[[LogMessage], bool]


def decode(raw: bytes, parse_time: Callable[[str], float]) -> LogMessage:
    """One JSON line of the log as a message."""
    record = json.loads(raw)
    return LogMessage(stream=record["stream"], line=record["log"].encode(), timestamp=parse_time(record["time"]),
                      attrs=tuple(sorted((record.get("attrs") or {}).items())))


def complete_end(handle: IO[bytes], size: int) -> int:
    """The offset just after the last newline in the first ``size`` bytes (0 when there is none)."""
    position = size
    while position > 0:
        start = max(0, position - BLOCK)
        handle.seek(start)
        data = handle.read(position - start)
        found = data.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        position = start
    return 0


def lines_backwards(handle: IO[bytes], end: int) -> Iterator[bytes]:
    """The non-empty lines of ``handle[0:end]`` from the last to the first (``end`` follows a newline or is 0)."""
    position = end - 1 if end > 0 else 0  # the newline that ends the last line
    pending = b""
    while position > 0:
        start = max(0, position - BLOCK)
        handle.seek(start)
        data = handle.read(position - start) + pending
        position = start
        parts = data.split(b"\n")
        pending = parts[0]
        for line in reversed(parts[1:]):
            if line:
                yield line
    if pending:
        yield pending


def _open(path: str) -> IO[bytes]:
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")  # type: ignore[return-value]


def open_all(paths: list[str]) -> list[tuple[str, IO[bytes]]]:
    """Open every rotated file now (a rotation while reading then moves no file under the reader)."""
    opened = []
    for path in paths:
        try:
            opened.append((path, _open(path)))
        except FileNotFoundError:
            continue  # rotated out of existence meanwhile
    return opened


def _complete_lines_forward(handle: IO[bytes]) -> Iterator[bytes]:
    for raw in handle:
        if not raw.endswith(b"\n"):
            return
        if raw != b"\n":
            yield raw


def stream(rotated: list[tuple[str, IO[bytes]]], current: IO[bytes], current_end: int, keep: Keep,
           parse_time: Callable[[str], float]) -> Iterator[LogMessage]:
    """Every kept record, oldest first: the rotated files, then ``current`` up to ``current_end``."""
    for _, handle in rotated:
        for raw in _complete_lines_forward(handle):
            message = decode(raw, parse_time)
            if keep(message):
                yield message
    current.seek(0)
    left = current_end
    while left > 0:
        raw = current.readline(left)
        left -= len(raw)
        if raw.strip():
            message = decode(raw, parse_time)
            if keep(message):
                yield message


def tail(rotated: list[tuple[str, IO[bytes]]], current: IO[bytes], current_end: int, count: int, keep: Keep,
         parse_time: Callable[[str], float]) -> list[LogMessage]:
    """The last ``count`` kept records, oldest first, reading the newest files first and only as far as needed."""
    newest_first: list[LogMessage] = []
    sources: list[tuple[str, IO[bytes], int | None]] = [("", current, current_end)]
    sources += [(path, handle, None) for path, handle in reversed(rotated)]
    for path, handle, end in sources:
        wanted = count - len(newest_first)
        if wanted <= 0:
            break
        if path.endswith(".gz"):
            window: collections.deque[LogMessage] = collections.deque(maxlen=wanted)
            for raw in _complete_lines_forward(handle):
                message = decode(raw, parse_time)
                if keep(message):
                    window.append(message)
            newest_first.extend(reversed(window))
            continue
        if end is None:
            end = complete_end(handle, os.fstat(handle.fileno()).st_size)
        for raw in lines_backwards(handle, end):
            message = decode(raw, parse_time)
            if keep(message):
                newest_first.append(message)
                if len(newest_first) >= count:
                    break
    newest_first.reverse()
    return newest_first
