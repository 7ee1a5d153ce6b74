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
        if not os.path.exists(container.log_path):
            raise NotFound(f"log file of container {container.id} not found")
        _, max_file = self._settings(container)
        paths = [f"{container.log_path}.{i}" for i in range(max_file - 1, 0, -1)] + [container.log_path]
        messages = [m for p in paths if os.path.exists(p) for m in read_records(p)]
        messages = [m for m in messages if m.timestamp >= since and (not until or m.timestamp < until)]
        if tail >= 0:
            messages = messages[len(messages) - tail:] if tail else []
        yield from messages
        if follow:
            yield from self._follow(container, until)

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

    def _follow(self, container: ContainerRef, until: float) -> Iterator[LogMessage]:
        """New messages as they are written, across rotations, until the writer closes the log."""
        handle = open(container.log_path, "rb")
        handle.seek(0, os.SEEK_END)
        buffer = b""
        closing = False
        try:
            while True:
                chunk = handle.readline()
                if chunk:
                    buffer += chunk
                    if not buffer.endswith(b"\n"):
                        continue
                    record = json.loads(buffer)
                    buffer = b""
                    message = LogMessage(stream=record["stream"], line=record["log"].encode(),
                                         timestamp=parse_time(record["time"]))
                    if until and message.timestamp >= until:
                        return
                    yield message
                    continue
                if _rotated(container.log_path, handle):
                    handle.close()
                    handle = open(container.log_path, "rb")  # the rotated file was read to its end
                    continue
                if closing:
                    return
                if os.path.exists(container.log_path + CLOSED_SUFFIX):
                    closing = True  # one more pass reads what was written before the marker
                    continue
                time.sleep(0.05)
        finally:
            handle.close()


def _rotated(path: str, handle: IO[bytes]) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False
