"""Progress of compose operations as ``docker compose`` v2 shows it (``--progress auto|tty|plain|quiet|json``).

plain: one line per event, `` Container p-web-1  Started``; tty: the live list redrawn in place under
``[+] Running 2/3`` with a spinner for what is under way, ✔ for what is done and ✘ for what failed, and the
time each took; json: one JSON object per event; quiet: nothing.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

#: what compose v2 puts before each line under ``--dry-run``
DRY_RUN_PREFIX = "DRY-RUN MODE - "
#: statuses that mean "under way" (the others are final)
_WORKING_SUFFIX = "ing"
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_GREEN = "\x1b[32m"
_RED = "\x1b[31m"
_YELLOW = "\x1b[33m"
_BLUE = "\x1b[34m"
_RESET = "\x1b[0m"


#: compose v2's status words in ``--progress json``
_JSON_STATUS = {"working": "Working", "done": "Done", "warning": "Warning", "error": "Error"}


def _state(status: str) -> str:
    """working, done, warning or error, from a status word as compose prints it."""
    if status.startswith("Error"):
        return "error"
    if status.startswith(("Skipped", "Warning")):
        return "warning"
    first = status.split(" ")[0]
    return "working" if first.endswith(_WORKING_SUFFIX) or first == "Waiting" else "done"


@dataclass
class _Task:
    ident: str
    status: str
    detail: str
    state: str
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None


class Progress:
    """Where a compose command reports what it does to each resource; thread safe."""

    def __init__(self, mode: str = "auto", stream: IO[str] | None = None, *, title: str = "Running",
                 dry_run: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        #: ``--dry-run``: every line says so, as compose v2's
        self.prefix = DRY_RUN_PREFIX if dry_run else ""
        if mode == "auto":
            isatty = getattr(self.stream, "isatty", None)
            mode = "tty" if isatty is not None and isatty() else "plain"
        self.mode = mode
        self.title = title
        self._lock = threading.Lock()
        self._tasks: dict[str, _Task] = {}
        self._lines = 0
        self._ticker: threading.Thread | None = None
        self._closed = threading.Event()
        self._frame = 0

    def event(self, kind: str, name: str, status: str, detail: str = "") -> None:
        """``kind`` (Container, Network, Volume, Image, Service) ``name`` is now ``status`` (Creating, Created,
        Starting, Started, Waiting, Healthy, Stopping, Stopped, Removing, Removed, Recreate, Recreated, Running,
        Pulling, Pulled, Building, Built, Error, ...); ``detail`` is printed after it."""
        ident = f"{kind} {name}" if kind else name
        if self.mode == "quiet":
            return
        with self._lock:
            if self.mode == "json":
                message: dict[str, Any] = {"id": ident, "status": _JSON_STATUS[_state(status)], "text": status}
                if self.prefix:
                    message = {"dry-run": True, **message}
                if detail:
                    message["details"] = detail
                self._write(json.dumps(message) + "\n")
            elif self.mode == "tty":
                self._tty_event(self.prefix + ident, status, detail)
            else:
                self._write(f" {self.prefix}{ident}  {status}" + (f" {detail}" if detail else "") + "\n")

    def message(self, text: str) -> None:
        """A line outside the list (a warning, an error's explanation): printed as is."""
        if self.mode == "quiet":
            return
        with self._lock:
            if self.mode == "json":
                self._write(json.dumps({"id": "Compose", "text": text}) + "\n")
            elif self.mode == "tty" and self._lines:
                # above the live list: written where the list began, the list drawn again below it
                self._write(f"\x1b[{self._lines}A\r" + text.replace("\n", "\x1b[K\n") + "\x1b[K\n")
                self._lines = 0
                self._draw()
            else:
                self._write(text + "\n")

    def close(self) -> None:
        """The final state drawn (tty); nothing more is printed after this."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.mode == "tty":
            with self._lock:
                if self._tasks:
                    self._draw()
                    self._write("\x1b[?25h")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    # the tty list

    def _tty_event(self, ident: str, status: str, detail: str) -> None:
        state = _state(status)
        task = self._tasks.get(ident)
        if task is None:
            task = self._tasks[ident] = _Task(ident, status, detail, state)
        else:  # as compose: the time shown runs from the task's first event
            task.status, task.detail, task.state = status, detail, state
        task.ended = None if state == "working" else time.monotonic()
        if self._ticker is None and not self._closed.is_set():
            self._ticker = threading.Thread(target=self._tick, name="compose-progress", daemon=True)
            self._ticker.start()
        self._draw()

    def _tick(self) -> None:
        while not self._closed.wait(0.1):
            with self._lock:
                self._frame += 1
                self._draw()

    def _draw(self) -> None:
        size = shutil.get_terminal_size((80, 24))
        width, height = max(size.columns, 20), max(size.lines, 3)
        tasks = list(self._tasks.values())
        done = sum(1 for task in tasks if task.state != "working")
        out = []
        if self._lines:
            out.append(f"\x1b[?25l\x1b[{self._lines}A\r")
        out.append(f"{_BLUE}[+] {self.title} {done}/{len(tasks)}{_RESET}\x1b[K\n")
        room = max(height - 2, 1)  # as compose: what does not fit is counted on a last line
        shown = tasks if len(tasks) <= room else tasks[:room - 1]
        widest = max((len(task.ident) for task in shown), default=0)
        now = time.monotonic()
        for task in shown:
            if task.state == "working":
                mark, color = _SPINNER[self._frame % len(_SPINNER)], ""
            elif task.state == "error":
                mark, color = "✘", _RED
            elif task.state == "warning":
                mark, color = "!", _YELLOW
            else:
                mark, color = "✔", _GREEN
            took = f"{((task.ended or now) - task.started):.1f}s"
            ident, status, detail = task.ident.ljust(widest), task.status, task.detail
            room_left = width - 1 - len(took) - 1  # never wider than the terminal: a wrapped line breaks the redraw
            if 3 + len(ident) + 1 + len(status) + (1 + len(detail) if detail else 0) > room_left:
                detail = detail[:max(room_left - (3 + len(ident) + 1 + len(status) + 1) - 1, 0)]
                detail = detail + "…" if detail else ""
            if 3 + len(ident) + 1 + len(status) > room_left:
                ident = ident[:max(room_left - 3 - 1 - len(status) - 1, 1)] + "…"
            visible = 3 + len(ident) + 1 + len(status) + (1 + len(detail) if detail else 0)
            text = f" {color}{mark}{_RESET} {ident} {color}{status}{_RESET}" + (f" {detail}" if detail else "")
            pad = max(width - visible - len(took) - 1, 1)
            out.append(f"{text}{' ' * pad}{_BLUE}{took}{_RESET}\x1b[K\n")
        if len(shown) < len(tasks):
            out.append(f" ... {len(tasks) - len(shown)} more\x1b[K\n")
        self._lines = len(out) - (1 if out[0].startswith("\x1b[?25l") else 0)
        self._write("".join(out))
