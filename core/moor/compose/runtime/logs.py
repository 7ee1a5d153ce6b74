"""Compose's log printer and ``moor compose logs``: every container's lines behind a coloured ``web-1  | ``.

As docker compose v2 prints them: the prefix is the container's display name (``SERVICE-N``, or its
``container_name``) padded to the longest name registered plus one, then `` | ``; each name takes the next
colour of compose's cycle (cyan, yellow, green, magenta, blue, then the same five intense), and the whole
prefix is coloured. ``no_color`` drops the colours, ``no_log_prefix`` the prefix. Status lines (``web-1
exited with code 0``) are the name and the message in the name's colour.

``show_logs`` is ``compose logs``: the project's service containers (one-off ones left out) read through
``GET /containers/{id}/logs`` in parallel; with ``follow`` it also watches the project's events, prints each
exit, follows containers that start later (from their start), and returns when no watched container is
left running.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from moor.client import Client, ConnectError, DaemonError, Response
from moor.compose.model import Project
from moor.compose.runtime.observed import SERVICE, label, name_of, number_of, project_containers
from moor.compose.runtime.watch import ContainerEvent, ProjectEvents, display_name
from moor.streams import demux_frames

#: compose's colour cycle: cyan, yellow, green, magenta, blue, then the intense ones
RAINBOW = ("36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1")
#: goterm's RESET_LINE, before a status line when colours are on
RESET_LINE = "\r\x1b[K"


def ansi(code: str, text: str) -> str:
    """``text`` in the ANSI colour ``code``, reset after."""
    return f"\x1b[{code}m{text}\x1b[0m"


def local_timestamp() -> str:
    """Now as Go's RFC3339NanoFixed in local time (``up --timestamps``): nine fraction digits, ``Z`` in UTC."""
    now = datetime.now().astimezone()
    offset = now.strftime("%z")
    zone = "Z" if offset in ("+0000", "-0000", "") else f"{offset[:3]}:{offset[3:]}"
    return now.strftime("%Y-%m-%dT%H:%M:%S") + f".{now.microsecond * 1000:09d}{zone}"


class LogPrinter:
    """Compose's log consumer: prefixed lines to stdout (``log``) or stderr (``err``), status lines; safe to
    call from several threads."""

    def __init__(self, stdout: IO[str] | None = None, stderr: IO[str] | None = None, *, color: bool = True,
                 prefix: bool = True, timestamps: bool = False) -> None:
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.color = color
        self.prefix = prefix
        self.timestamps = timestamps
        self._colors: dict[str, str | None] = {}
        self._prefixes: dict[str, str] = {}
        self._next_color = 0
        self._lock = threading.RLock()

    def register(self, name: str) -> None:
        """Give ``name`` its colour (the next of the cycle) and re-pad every prefix to the longest name."""
        with self._lock:
            if name in self._colors:
                return
            code: str | None = None
            if self.color and name:
                code = RAINBOW[self._next_color % len(RAINBOW)]
                self._next_color += 1
            self._colors[name] = code
            width = max(len(known) for known in self._colors) + 1
            for known, known_code in self._colors.items():
                text = f"{known:<{width}} | "
                self._prefixes[known] = ansi(known_code, text) if known_code else text

    def _paint(self, name: str, text: str) -> str:
        code = self._colors.get(name)
        return ansi(code, text) if code else text

    def log(self, name: str, line: str) -> None:
        """A line the container wrote on stdout (or a log line)."""
        self._write(self.stdout, name, line)

    def err(self, name: str, line: str) -> None:
        """A line the container wrote on stderr (attached output)."""
        self._write(self.stderr, name, line)

    def _write(self, stream: IO[str], name: str, line: str) -> None:
        with self._lock:
            self.register(name)
            prefix = self._prefixes[name] if self.prefix else ""
            stamp = f"{local_timestamp()} " if self.timestamps else ""
            try:
                stream.write(f"{prefix}{stamp}{line}\n")
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed pipe (| head) ends nothing else

    def status(self, name: str, message: str) -> None:
        """``NAME message`` (``web-1 exited with code 0``) in the name's colour, on stdout."""
        with self._lock:
            self.register(name)
            text = f"{name} {message}"
            code = self._colors.get(name)
            try:
                self.stdout.write(ansi(code, f"{RESET_LINE}{text}\n") if code else f"{text}\n")
                self.stdout.flush()
            except (OSError, ValueError):
                pass

    def message(self, text: str) -> None:
        """A plain line of compose's own on stdout (``Attaching to web-1, db-1``)."""
        self._plain(self.stdout, text)

    def info(self, text: str) -> None:
        """A line about what compose does, on stderr as compose's ``stdinfo`` (``Aborting on container exit...``,
        ``Gracefully stopping...``)."""
        self._plain(self.stderr, text)

    def _plain(self, stream: IO[str], text: str) -> None:
        with self._lock:
            try:
                stream.write(f"{text}\n")
                stream.flush()
            except (OSError, ValueError):
                pass


class LineSplitter:
    """Bytes to whole lines (without their newline); :meth:`flush` gives what is left without one."""

    def __init__(self, consumer: Callable[[str], None]) -> None:
        self.consumer = consumer
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self.consumer(line.decode(errors="replace"))

    def flush(self) -> None:
        if self.buffer:
            line, self.buffer = self.buffer, b""
            self.consumer(line.decode(errors="replace"))


def pump_lines(response: Response, tty: bool, out: Callable[[str], None], err: Callable[[str], None]) -> None:
    """Read a log or attach stream to its end, each whole line to ``out`` or ``err`` (stderr frames)."""
    splitters = {1: LineSplitter(out), 2: LineSplitter(err)}
    try:
        for kind, payload in demux_frames(response, tty):
            splitters[kind].feed(payload)
    except (OSError, ConnectError):
        pass  # the stream was closed under us (Ctrl-C, the end of the command)
    finally:
        for splitter in splitters.values():
            splitter.flush()
        response.close()


class Streams:
    """One thread per container stream, each printing through a :class:`LogPrinter`; closable as a whole."""

    def __init__(self, printer: LogPrinter) -> None:
        self.printer = printer
        self._threads: dict[str, threading.Thread] = {}
        self._responses: list[Response] = []
        self._lock = threading.Lock()
        self._closed = False
        self._last_stamp: dict[str, int] = {}

    def add(self, container_id: str, name: str, response: Response, tty: bool, *, split_stderr: bool = False,
            stamped: bool = False, keep_stamps: bool = False) -> None:
        """Print ``response`` (a log or attach stream of the container) in a thread of its own. ``stamped``: the
        stream's lines start with the daemon's timestamp (``timestamps=1``), remembered for :meth:`resume_since`
        and printed only with ``keep_stamps``."""
        printer = self.printer
        err = printer.err if split_stderr else printer.log

        def line_of(line: str) -> str:
            if not stamped:
                return line
            stamp, _, rest = line.partition(" ")
            seen = stamp_nanoseconds(stamp)
            if seen is None:
                return line
            self._last_stamp[container_id] = seen
            return line if keep_stamps else rest

        thread = threading.Thread(target=pump_lines, name=f"compose-logs-{name}", daemon=True,
                                  args=(response, tty, lambda line: printer.log(name, line_of(line)),
                                        lambda line: err(name, line_of(line))))
        with self._lock:
            if self._closed:
                response.close()
                return
            self._responses.append(response)
            self._threads[container_id] = thread
        thread.start()

    def resume_since(self, container_id: str, inspect: dict[str, Any]) -> str | None:
        """Where a new stream of the container picks up: just after the last line printed of it, else a second
        before it started (its first lines are written before ``StartedAt`` is set)."""
        with self._lock:
            last = self._last_stamp.get(container_id)
        if last is not None:  # a microsecond on: engines read ``since`` as a float (moord, Docker's older ones)
            return seconds_text(last + 1000)
        start = started_at(inspect)
        return None if start is None else f"{float(start) - 1:.9f}"

    def active(self, container_id: str) -> bool:
        """Whether a stream of the container is still being read."""
        with self._lock:
            thread = self._threads.get(container_id)
        return thread is not None and thread.is_alive()

    def join(self, container_id: str, timeout: float | None = None) -> None:
        with self._lock:
            thread = self._threads.get(container_id)
        if thread is not None:
            thread.join(timeout)

    def join_all(self, timeout: float | None = None) -> None:
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)

    def close(self) -> None:
        """End every stream now (their threads finish soon after)."""
        with self._lock:
            self._closed = True
            responses = list(self._responses)
        for response in responses:
            try:
                response.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def open_logs(client: Client, container_id: str, *, follow: bool = False, tail: str = "all",
              since: str | None = None, until: str | None = None, timestamps: bool = False) -> Response:
    """``GET /containers/{id}/logs`` with both streams."""
    return client.open("GET", f"/containers/{container_id}/logs", {
        "stdout": "1", "stderr": "1", "follow": "1" if follow else None, "tail": tail or "all",
        "since": since or None, "until": until or None, "timestamps": "1" if timestamps else None})


_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def stamp_nanoseconds(text: str) -> int | None:
    """An RFC 3339 time (the daemon's log stamps, ``StartedAt``) as nanoseconds since the epoch."""
    match = _STAMP.match(text)
    if match is None:
        return None
    zone = match.group(3) or "Z"
    try:
        moment = datetime.fromisoformat(match.group(1) + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return int(moment.timestamp()) * 1_000_000_000 + int((match.group(2) or "0")[:9].ljust(9, "0"))


def seconds_text(nanoseconds: int) -> str:
    """Nanoseconds as the ``seconds.nanoseconds`` the logs API's ``since`` reads exactly."""
    return f"{nanoseconds // 1_000_000_000}.{nanoseconds % 1_000_000_000:09d}"


def started_at(inspect: dict[str, Any]) -> str | None:
    """A container's ``State.StartedAt`` as the seconds the logs API's ``since`` takes (None if never started)."""
    text = str((inspect.get("State") or {}).get("StartedAt") or "")
    found = None if text.startswith("0001-") else stamp_nanoseconds(text)
    return None if found is None else seconds_text(found)


@dataclass
class LogOptions:
    """What ``compose logs`` was asked for."""

    services: Sequence[str] = ()
    follow: bool = False
    #: lines from the end of each container's logs, or "all"
    tail: str = "all"
    #: unix seconds (the CLI converts ``42m`` and RFC 3339), or None
    since: str | None = None
    until: str | None = None
    timestamps: bool = False
    #: the container of that number (with one service named), 0 = all
    index: int = 0


def select_containers(client: Client, project_name: str, options: LogOptions,
                      project: Project | None = None) -> list[dict[str, Any]]:
    """The containers ``compose logs`` reads: the services named (or the project's, or all of the project's
    service containers when no file was loaded), stopped ones too, one-off ones not; sorted by name."""
    services = list(options.services)
    if not services and project is not None:
        services = project.service_names()
    found = project_containers(client, project_name, services, oneoff=False, include_stopped=True)
    if services:
        found = [item for item in found if label(item, SERVICE) in services]
    if options.index > 0:
        found = [item for item in found if number_of(item) == options.index]
    return sorted(found, key=display_name)


def show_logs(client: Client, project_name: str, printer: LogPrinter, options: LogOptions,
              project: Project | None = None) -> None:
    """``compose logs``: print the logs of the project's containers; with ``follow``, until none is left
    running (containers starting meanwhile are followed too)."""
    events = ProjectEvents(client, project_name) if options.follow else None
    streams = Streams(printer)
    try:
        containers = select_containers(client, project_name, options, project)
        opened: list[tuple[dict[str, Any], dict[str, Any], Response]] = []
        for item in containers:
            try:
                inspect = client.get(f"/containers/{item['Id']}/json")
                response = open_logs(client, item["Id"], follow=options.follow, tail=options.tail,
                                     since=options.since, until=options.until, timestamps=True)
            except DaemonError as err:
                if err.status == 404:
                    continue  # removed meanwhile
                if err.status == 501 or "does not support reading" in err.message:
                    print(f'WARN[0000] Can\'t retrieve logs for "{name_of(item)}": {err.message}', file=sys.stderr)
                    continue
                for _, _, already in opened:
                    already.close()
                raise
            opened.append((item, inspect, response))
        for item, _, _ in opened:  # every name first: one padding and colours in name order from the first line
            printer.register(display_name(item))
        watched: set[str] = set()
        for item, inspect, response in opened:
            streams.add(item["Id"], display_name(item), response, bool((inspect.get("Config") or {}).get("Tty")),
                        stamped=True, keep_stamps=options.timestamps)
            if options.follow and _alive(inspect):
                watched.add(item["Id"])
        if events is not None:
            _follow_events(client, events, streams, printer, options, watched)
        streams.join_all()
    finally:
        if events is not None:
            events.close()
        streams.close()


def _follow_events(client: Client, events: ProjectEvents, streams: Streams, printer: LogPrinter,
                   options: LogOptions, watched: set[str]) -> None:
    wanted = set(options.services)
    while watched:
        event = events.get()
        if event is None:
            return
        if wanted and event.service not in wanted:
            continue
        if event.action == "start":
            _on_start(client, event, streams, options)
            watched.add(event.id)
        elif event.action == "die" and event.id in watched:
            if _restarting(client, event.id):
                printer.status(event.name, f"exited with code {event.exit_code} (restarting)")
                continue
            streams.join(event.id, timeout=5)
            printer.status(event.name, f"exited with code {event.exit_code}")
            watched.discard(event.id)


def _on_start(client: Client, event: ContainerEvent, streams: Streams, options: LogOptions) -> None:
    streams.join(event.id, timeout=1)  # the stream of its last run drains first
    if streams.active(event.id):
        return
    try:
        inspect = client.get(f"/containers/{event.id}/json")
        response = open_logs(client, event.id, follow=True, tail=options.tail,
                             since=streams.resume_since(event.id, inspect), until=options.until, timestamps=True)
    except DaemonError:
        return
    streams.add(event.id, event.name, response, bool((inspect.get("Config") or {}).get("Tty")), stamped=True,
                keep_stamps=options.timestamps)


def _alive(inspect: dict[str, Any]) -> bool:
    """Running, paused or restarting (inspect shape)."""
    state = inspect.get("State") or {}
    return bool(state.get("Running") or state.get("Restarting"))


def _restarting(client: Client, container_id: str) -> bool:
    """Whether the container is coming back (a restart policy, or ``restart``) rather than gone."""
    try:
        return _alive(client.get(f"/containers/{container_id}/json"))
    except DaemonError:
        return False
