"""Render Docker's JSON progress stream (pull, push, auto-pull of ``run``) as the docker CLI does.

On a terminal each layer keeps one line, redrawn in place with ANSI cursor moves as moby's ``jsonmessage``
draws it (a new id opens a line; an update moves the cursor up to its line, erases it, writes it, moves back
down); the bar is drawn from ``progressDetail`` at the terminal's width. Elsewhere only the lines without a
running count are printed (``abc123: Pull complete``), one after the other. An ``errorDetail`` ends the
stream with :class:`StreamError`: the command prints its message as the docker CLI does, without prefix.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from moor.units import human_size

ESC = "\x1b["
#: aec.EraseLine(EraseModes.All)
ERASE_LINE = ESC + "2K"
#: the width assumed when the terminal's cannot be read (moby's JSONProgress.width)
DEFAULT_WIDTH = 200


class StreamError(Exception):
    """The stream reported an error (its ``errorDetail``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def cursor_up(lines: int) -> str:
    return f"{ESC}{lines}A" if lines else ""


def cursor_down(lines: int) -> str:
    return f"{ESC}{lines}B" if lines else ""


def go_duration(seconds: int) -> str:
    """Go's ``time.Duration.String()`` for whole seconds: ``0s``, ``45s``, ``1m5s``, ``2h0m3s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def progress_text(detail: dict[str, Any], width: int, now: float | None = None) -> str:
    """moby's ``JSONProgress.String()``: bar (when wider than 110 columns), counts, time left."""
    current, total, start = _int(detail.get("current")), _int(detail.get("total")), _int(detail.get("start"))
    units = str(detail.get("units") or "")
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}" if not units else f"{current} {units}"
    percentage = min(int(current / total * 100) // 2, 50)
    bar = ""
    if width > 110:
        bar = "[" + "=" * percentage + ">" + " " * max(50 - percentage, 0) + "] "
    numbers = ""
    if detail.get("hidecounts"):
        numbers = ""
    elif not units:
        numbers = f"{human_size(current):>8}/{human_size(total)}" if current <= total else f"{human_size(current):>8}"
    else:
        numbers = f"{current}/{total} {units}" if current <= total else f"{current} {units}"
    left = ""
    if current > 0 and start > 0 and percentage < 50 and width > 50:
        elapsed_ns = int(((time.time() if now is None else now) - start) * 1e9)
        per_entry = int(elapsed_ns / current)
        left = " " + go_duration(max((total - current) * per_entry, 0) // 1_000_000_000)
    return bar + numbers + left


def _timestamp(message: dict[str, Any]) -> str:
    nanos = _int(message.get("timeNano"))
    seconds = _int(message.get("time"))
    if not nanos and not seconds:
        return ""
    if not nanos:
        nanos = seconds * 1_000_000_000
    whole, fraction = divmod(nanos, 1_000_000_000)
    local = time.localtime(whole)
    offset = time.strftime("%z", local)
    zone = "Z" if offset in ("+0000", "-0000") else f"{offset[:3]}:{offset[3:]}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{fraction:09d}{zone} "


def _error_of(message: dict[str, Any]) -> str | None:
    detail = message.get("errorDetail")
    if isinstance(detail, dict):
        if detail.get("code") == 401:
            return "authentication is required"
        return str(detail.get("message") or "")
    if message.get("error"):
        return str(message["error"])
    return None


def display(message: dict[str, Any], out: TextIO, terminal: bool, width: int) -> None:
    """moby's ``JSONMessage.Display`` for one message (raises :class:`StreamError` for an error)."""
    error = _error_of(message)
    if error is not None:
        raise StreamError(error)
    raw_detail = message.get("progressDetail")
    has_progress = isinstance(raw_detail, dict)
    detail: dict[str, Any] = raw_detail if isinstance(raw_detail, dict) else {}
    stream = str(message.get("stream") or "")
    status = str(message.get("status") or "")
    end = ""
    if terminal and not stream and has_progress:
        end = "\r"
        out.write(ERASE_LINE + end)
    elif has_progress and progress_text(detail, width):
        return  # no bars off a terminal
    text = _timestamp(message)
    if message.get("id"):
        text += f"{message['id']}: "
    if message.get("from"):
        text += f"(from {message['from']}) "
    if has_progress and terminal:
        text += f"{status} {progress_text(detail, width)}{end}"
    elif message.get("progress"):
        text += f"{status} {message['progress']}{end}"
    elif stream:
        text += f"{stream}{end}"
    else:
        text += f"{status}{end}\n"
    out.write(text)


def terminal_width(fd: int) -> int:
    try:
        return os.get_terminal_size(fd).columns
    except OSError:
        return DEFAULT_WIDTH


def display_stream(messages: Iterable[dict[str, Any]], out: TextIO, terminal: bool, width: int = DEFAULT_WIDTH,
                   aux: Callable[[dict[str, Any]], None] | None = None) -> None:
    """moby's ``DisplayJSONMessagesStream``: every message of a stream, one line per id on a terminal."""
    lines: dict[str, int] = {}
    try:
        for message in messages:
            if not isinstance(message, dict):
                kind = {list: "array", str: "string", bool: "bool", type(None): "null"}.get(type(message), "number")
                raise StreamError(f"json: cannot unmarshal {kind} into Go value of type jsonmessage.JSONMessage")
            if message.get("aux") is not None:
                if aux is not None:
                    aux(message)
                continue
            diff = 0
            ident = str(message.get("id") or "")
            if ident and (isinstance(message.get("progressDetail"), dict) or message.get("progress")):
                line = lines.get(ident)
                if line is None:
                    line = len(lines)
                    lines[ident] = line
                    if terminal:
                        out.write("\n")
                diff = len(lines) - line
                if terminal:
                    out.write(cursor_up(diff))
            else:
                lines = {}  # a line outside the bars: earlier bars are never redrawn again
            try:
                display(message, out, terminal, width)
            finally:
                if ident and terminal:
                    out.write(cursor_down(diff))
            if terminal:
                out.flush()
    finally:
        out.flush()


class Discard:
    """A text sink for ``-q``: the stream is read (errors still count) and nothing is shown."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
