"""The ``json-file`` log driver: Docker's format, one JSON object per line.

Each line is ``{"log": "...", "stream": "stdout", "time": "<RFC 3339 nano>"}``
in ``<container dir>/<id>-json.log``, with ``"attrs": {...}`` after ``stream`` when the
``labels``/``env`` options pick some (:mod:`moor.logdrivers.attrs`); ``max-size`` and
``max-file`` rotate it.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO

from moor import hookimpl
from moor.errors import InvalidParameter
from moor.logdrivers import attrs, backlog
from moor.timefmt import log_timestamp
from moor.types import ContainerRef, DriverContext, LogMessage
from moor.units import parse_size

CLOSED_SUFFIX = ".closed"  # exists while no writer has the log open: `logs -f` ends there
KNOWN_OPTIONS = ("max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def parse_time(text: str) -> float:
    stamp, _, fraction = text.rstrip("Z").partition(".")
    base = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return base + (float("0." + fraction) if fraction else 0.0)


class JsonFileWriter:
    """Appends messages to the log file, rotating when ``max-size`` is reached."""

    def __init__(self, path: str, max_size: int, max_file: int, compress: bool = False,
                 attrs: dict[str, str] | None = None) -> None:
        self.path = path
        self.attrs = dict(sorted((attrs or {}).items()))
        self.max_size = max_size
        self.max_file = max_file
        self.compress = compress
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._file: IO[bytes] = open(path, "ab")
        _remove(path + CLOSED_SUFFIX)

    def write(self, message: LogMessage) -> None:
        record: dict[str, object] = {"log": message.line.decode("utf-8", "replace"), "stream": message.stream}
        if self.attrs:
            record["attrs"] = self.attrs
        record["time"] = log_timestamp(message.timestamp)
        data = json.dumps(record, ensure_ascii=False).encode() + b"\n"
        with self._lock:
            if self.max_size > 0 and self._file.tell() + len(data) > self.max_size:
                self._rotate()
            self._file.write(data)
            self._file.flush()

    def _rotate(self) -> None:
        """Shift the rotated files; with ``compress``, every one but the newest (``.1``) is gzipped.

        Keeping ``.1`` plain lets a ``logs -f`` that was just rotated away find its successor.
        """
        self._file.close()
        if self.max_file > 1:
            for index in range(self.max_file - 1, 1, -1):
                for suffix in ("", ".gz"):
                    newer = f"{self.path}.{index - 1}{suffix}"
                    if os.path.exists(newer):
                        os.replace(newer, f"{self.path}.{index}{suffix}")
            if self.compress and self.max_file > 2 and os.path.exists(f"{self.path}.2"):
                _gzip(f"{self.path}.2")
            os.replace(self.path, f"{self.path}.1")
        self._file = open(self.path, "wb")

    def close(self) -> None:
        """Close the file and leave a marker that tells followers the writer is gone."""
        with self._lock:
            self._file.close()
            open(self.path + CLOSED_SUFFIX, "w").close()


def _gzip(path: str) -> None:
    """Replace ``path`` by ``path.gz`` (written aside, then renamed)."""
    with (open(path, "rb") as source, open(path + ".gz.tmp", "wb") as raw,
          gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as target):
        while chunk := source.read(1 << 20):  # not shutil: it costs the monitor 10 ms to import
            target.write(chunk)
    os.replace(path + ".gz.tmp", path + ".gz")
    os.unlink(path)


def rotated_files(path: str, max_file: int) -> list[str]:
    """The rotated files, oldest first, plain or gzipped."""
    found = []
    for index in range(max(max_file, 2) - 1, 0, -1):
        for candidate in (f"{path}.{index}", f"{path}.{index}.gz"):
            if os.path.exists(candidate):
                found.append(candidate)
    return found


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
            if key == "max-file" and (not value.isdigit() or int(value) < 1):
                raise InvalidParameter("max-file cannot be less than 1")
        attrs.check_options(options)
        if "compress" in options:
            if options["compress"].lower() not in ("true", "false", "1", "0", "t", "f"):
                raise InvalidParameter(f"error reading compress log option: invalid value {options['compress']!r}")
            if _true(options["compress"]) and int(options.get("max-file", "1")) < 2:
                raise InvalidParameter("compress cannot be true when max-file is less than 2")
        return True

    def _settings(self, container: ContainerRef) -> tuple[int, int]:
        options = {**self.defaults, **container.log_options}
        size = options.get("max-size", "-1")
        return (parse_size(size, "max-size") if size != "-1" else -1, int(options.get("max-file", "1")))

    def _compress(self, container: ContainerRef) -> bool:
        return _true({**self.defaults, **container.log_options}.get("compress", "false"))

    @hookimpl
    def moor_log_open(self, container: ContainerRef) -> JsonFileWriter:
        max_size, max_file = self._settings(container)
        return JsonFileWriter(container.log_path, max_size, max_file, self._compress(container), container.log_attrs)

    @hookimpl
    def moor_log_read(
        self, container: ContainerRef, since: float, until: float, tail: int, follow: bool
    ) -> Iterator[LogMessage | None]:
        """Old messages from the rotated files and the current one, then (follow) new ones.

        The current file is opened first and read on from where the backlog ends,
        so no line falls between reading and following.
        """
        if not os.path.exists(container.log_path):
            return  # a container never started has logged nothing: Docker answers an empty log
        _, max_file = self._settings(container)
        current = open(container.log_path, "rb")
        rotated = backlog.open_all(rotated_files(container.log_path, max_file))
        try:
            # the backlog ends after the last whole line now; following reads on from there
            end = backlog.complete_end(current, os.fstat(current.fileno()).st_size)

            def keep(message: LogMessage) -> bool:
                return message.timestamp >= since and (not until or message.timestamp < until)

            if tail >= 0:  # from the end backwards: memory holds the records asked for, not the log
                yield from backlog.tail(rotated, current, end, tail, keep, parse_time) if tail else []
            else:
                yield from backlog.stream(rotated, current, end, keep, parse_time)
            if follow:
                current.seek(end)
                yield from _follow(container.log_path, _RecordReader(current), until)
        finally:
            current.close()
            for _, handle in rotated:
                handle.close()

    @hookimpl
    def moor_log_remove(self, container: ContainerRef) -> bool:
        removed = False
        _remove(container.log_path + CLOSED_SUFFIX)
        _, max_file = self._settings(container)
        for path in [container.log_path] + rotated_files(container.log_path, max_file):
            try:
                os.unlink(path)
                removed = True
            except FileNotFoundError:
                pass
        return removed

def _rotated(path: str, handle: IO[bytes]) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


def _true(value: str) -> bool:
    return value.lower() in ("true", "1", "t")


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
            raw, self.buffer = self.buffer, b""
            yield backlog.decode(raw, parse_time)


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


def _follow(path: str, reader: _RecordReader, until: float) -> Iterator[LogMessage | None]:
    """New messages as they are written, across rotations, until the writer closes the log.

    ``None`` after each quiet second: the reader's moment to notice that its client left.
    """
    closing = False
    handles = [reader.handle]
    quiet_since = time.monotonic()
    try:
        while True:
            produced = False
            for message in reader.available():
                if until and message.timestamp >= until:
                    return
                produced = True
                yield message
            if produced:
                quiet_since = time.monotonic()
                continue
            if time.monotonic() - quiet_since >= 1.0:
                quiet_since = time.monotonic()
                yield None
            if _rotated(path, reader.handle):
                successor = _next_file(path, reader.handle)
                handle = open(successor, "rb")
                handles.append(handle)
                reader = _RecordReader(handle)
                continue
            if closing:
                return
            if os.path.exists(path + CLOSED_SUFFIX) or os.fstat(reader.handle.fileno()).st_nlink == 0:
                # one more pass reads what was written before the marker, or before the file was deleted with
                # its container (docker-py's run removes the container before it reads the logs it follows).
                # A rotation renames the file (its link count stays 1), and the new file may not exist yet.
                closing = True
                continue
            time.sleep(0.05)
    finally:
        for opened in handles[1:]:
            opened.close()
