"""The ``json-file`` log driver: Docker's format, one JSON object per line.

Each line is ``{"log": "...", "stream": "stdout", "time": "<RFC 3339 nano>"}``
in ``<container dir>/<id>-json.log``; ``max-size`` and ``max-file`` rotate it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone
from typing import IO, Iterator

from moor import hookimpl
from moor.errors import InvalidParameter, NotFound
from moor.types import ContainerRef, DriverContext, LogMessage
from moor.units import parse_size

CLOSED_SUFFIX = ".closed"  # exists while no writer has the log open: `logs -f` ends there
KNOWN_OPTIONS = ("max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def format_time(timestamp: float) -> str:
    """RFC 3339 with nanoseconds, as Docker writes it."""
    seconds = int(timestamp)
    nanos = int(round((timestamp - seconds) * 1e9))
    if nanos >= 1_000_000_000:
        seconds, nanos = seconds + 1, nanos - 1_000_000_000
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


def parse_time(text: str) -> float:
    stamp, _, fraction = text.rstrip("Z").partition(".")
    base = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return base + (float("0." + fraction) if fraction else 0.0)


class JsonFileWriter:
    """Appends messages to the log file, rotating when ``max-size`` is reached."""

    def __init__(self, path: str, max_size: int, max_file: int) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max_file
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._file: IO[bytes] = open(path, "ab")
        _remove(path + CLOSED_SUFFIX)

    def write(self, message: LogMessage) -> None:
        record = {
            "log": message.line.decode("utf-8", "replace"),
            "stream": message.stream,
            "time": format_time(message.timestamp),
        }
        data = json.dumps(record, ensure_ascii=False).encode() + b"\n"
        with self._lock:
            if self.max_size > 0 and self._file.tell() + len(data) > self.max_size:
                self._rotate()
            self._file.write(data)
            self._file.flush()

    def _rotate(self) -> None:
        self._file.close()
        if self.max_file > 1:
            for index in range(self.max_file - 1, 0, -1):
                older = f"{self.path}.{index}"
                newer = self.path if index == 1 else f"{self.path}.{index - 1}"
                if os.path.exists(newer):
                    os.replace(newer, older)
        self._file = open(self.path, "wb")

    def close(self) -> None:
        """Close the file and leave a marker that tells followers the writer is gone."""
        with self._lock:
            self._file.close()
            open(self.path + CLOSED_SUFFIX, "w").close()


def read_records(path: str) -> Iterator[LogMessage]:
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            record = json.loads(raw)
            yield LogMessage(stream=record["stream"], line=record["log"].encode(),
                             timestamp=parse_time(record["time"]))


class JsonFileLogDriver:
    """Docker's default log driver."""

    def __init__(self, context: DriverContext) -> None:
        self.defaults = {str(k): str(v) for k, v in context.options.items()}
        self.moor_log_validate(options=self.defaults)

    @hookimpl
    def moor_log_validate(self, options: dict[str, str]) -> bool:
        for key, value in options.items():
            if key not in KNOWN_OPTIONS:
                raise InvalidParameter(f"unknown log opt '{key}' for json-file log driver")
            if key == "max-size" and value != "-1":
                parse_size(value, key)
            if key == "max-file":
                if not value.isdigit() or int(value) < 1:
                    raise InvalidParameter("max-file cannot be less than 1")
        if "max-file" in options and options["max-file"] != "1" and "max-size" not in options:
            raise InvalidParameter("max-file can only be used with max-size")
        return True

    def _settings(self, container: ContainerRef) -> tuple[int, int]:
        options = {**self.defaults, **container.log_options}
        size = options.get("max-size", "-1")
        return (parse_size(size, "max-size") if size != "-1" else -1, int(options.get("max-file", "1")))

    @hookimpl
    def moor_log_open(self, container: ContainerRef) -> JsonFileWriter:
        max_size, max_file = self._settings(container)
        return JsonFileWriter(container.log_path, max_size, max_file)

    @hookimpl
    def moor_log_read(
        self, container: ContainerRef, since: float, until: float, tail: int, follow: bool
    ) -> Iterator[LogMessage]:
        """Old messages from the rotated files and the current one, then (follow) new ones.

        The current file is opened first and read on from where the backlog ends,
        so no line falls between reading and following.
        """
        if not os.path.exists(container.log_path):
            raise NotFound(f"log file of container {container.id} not found")
        _, max_file = self._settings(container)
        current = open(container.log_path, "rb")
        try:
            rotated = [f"{container.log_path}.{i}" for i in range(max_file - 1, 0, -1)]
            messages = [m for p in rotated if os.path.exists(p) for m in read_records(p)]
            reader = _RecordReader(current)
            messages += list(reader.available())
            messages = [m for m in messages if m.timestamp >= since and (not until or m.timestamp < until)]
            if tail >= 0:
                messages = messages[len(messages) - tail:] if tail else []
            yield from messages
            if follow:
                yield from _follow(container.log_path, reader, until)
        finally:
            current.close()

    @hookimpl
    def moor_log_remove(self, container: ContainerRef) -> bool:
        removed = False
        _remove(container.log_path + CLOSED_SUFFIX)
        for path in [container.log_path] + [f"{container.log_path}.{i}" for i in range(1, 100)]:
            try:
                os.unlink(path)
                removed = True
            except FileNotFoundError:
                if path != container.log_path:
                    break
        return removed

def _rotated(path: str, handle: IO[bytes]) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


class _RecordReader:
    """Whole JSON records from a log file handle; a partly written last line waits for its end."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.buffer = b""

    def available(self) -> Iterator[LogMessage]:
        while True:
            chunk = self.handle.readline()
            if not chunk:
                return
            self.buffer += chunk
            if not self.buffer.endswith(b"\n"):
                continue
            record = json.loads(self.buffer)
            self.buffer = b""
            yield LogMessage(stream=record["stream"], line=record["log"].encode(), timestamp=parse_time(record["time"]))


def _next_file(path: str, handle: IO[bytes]) -> str:
    """The file written after the one ``handle`` reads, once that one was rotated away."""
    inode = os.fstat(handle.fileno()).st_ino
    index = 1
    while os.path.exists(f"{path}.{index}"):
        try:
            if os.stat(f"{path}.{index}").st_ino == inode:
                return path if index == 1 else f"{path}.{index - 1}"
        except FileNotFoundError:
            pass
        index += 1
    return path


def _follow(path: str, reader: _RecordReader, until: float) -> Iterator[LogMessage]:
    """New messages as they are written, across rotations, until the writer closes the log."""
    closing = False
    handles = [reader.handle]
    try:
        while True:
            produced = False
            for message in reader.available():
                if until and message.timestamp >= until:
                    return
                produced = True
                yield message
            if produced:
                continue
            if _rotated(path, reader.handle):
                successor = _next_file(path, reader.handle)
                handle = open(successor, "rb")
                handles.append(handle)
                reader = _RecordReader(handle)
                continue
            if closing:
                return
            if os.path.exists(path + CLOSED_SUFFIX):
                closing = True  # one more pass reads what was written before the marker
                continue
            time.sleep(0.05)
    finally:
        for handle in handles[1:]:
            handle.close()
