"""What ``moor build`` prints: the context upload line and the daemon's messages, as the docker CLI 20.10 does.

- ``Sending build context to Docker daemon  3.072kB``: off a terminal once, when the context is all sent
  (``\\r`` then ``\\r\\n`` after it, Docker's bytes); on a terminal redrawn as it goes.
- the messages: drawn by :func:`moor.cli.progress.display_stream` (the classic builder's ``stream`` text as it
  is, pull progress of a FROM as bars on a terminal); ``aux`` gives the image ID; an ``errorDetail`` ends the
  build (its ``code``, a failed RUN's exit status, is the command's exit code).
- live progress (``--progress tty``, or ``auto`` on a terminal): one more line at the bottom, redrawn
  while a step runs (``=> Step 3/7 : RUN make  12.4s``) and erased before any output, so the output itself
  stays what ``plain`` prints.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

from moor.units import human_size

SENDING = "Sending build context to Docker daemon"
#: how often the upload line and the live step line are redrawn at most
REDRAW = 0.1
#: the upload line is redrawn after this many more bytes (moby's progress reader)
UPDATE_EVERY = 512 * 1024
_ERASE = "\r\x1b[2K"


class SendingProgress:
    """The request body: ``stream`` read through, counting what went to the daemon."""

    def __init__(self, stream: IO[bytes], out: IO[str], terminal: bool) -> None:
        self._stream = stream
        self._out = out
        self._terminal = terminal
        self.sent = 0
        self._last_update = 0
        self._last_time = 0.0
        self._done = False

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.sent += len(data)
        if not data:
            self.finish()
        elif self._terminal and self.sent - self._last_update > UPDATE_EVERY \
                and time.monotonic() - self._last_time >= REDRAW:
            self._last_update, self._last_time = self.sent, time.monotonic()
            self._out.write(f"{SENDING} {human_size(self.sent):>8}\r")
            self._out.flush()
        return data

    def finish(self) -> None:
        """The last update (once, when the whole context was read)."""
        if self._done or not self.sent:
            return
        self._done = True
        self._out.write(f"{SENDING} {human_size(self.sent):>8}\r\r\n")
        self._out.flush()


class _LiveOut:
    """A text sink that keeps a status line under the output while a step runs."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._step = ""
        self._started = 0.0
        self._shown = False
        self._line_start = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="moor-build-progress", daemon=True)
        self._thread.start()

    def write(self, text: str) -> int:
        with self._lock:
            self._hide()
            self._out.write(text)
            if text:
                self._line_start = text.endswith("\n")
            self._notice(text)
            self._draw()
            self._out.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._out.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        with self._lock:
            self._hide()
            self._out.flush()

    def _notice(self, text: str) -> None:
        if text.startswith("Step "):
            self._step, self._started = text.rstrip("\n"), time.monotonic()
        elif text.startswith("Successfully built") or (text.startswith(" ---> ") and not text.startswith(
                " ---> Running in")):
            self._step = ""

    def _hide(self) -> None:
        if self._shown:
            self._out.write(_ERASE)
            self._shown = False

    def _draw(self) -> None:
        if not self._step or not self._line_start:
            return
        elapsed = time.monotonic() - self._started
        line = f"=> {self._step}"
        width = _width() - 10
        if len(line) > width > 10:
            line = line[: width - 1] + "…"
        self._out.write(f"\x1b[2m{line}  {elapsed:.1f}s\x1b[0m")
        self._shown = True

    def _tick(self) -> None:
        while not self._stop.wait(REDRAW * 2):
            with self._lock:
                if self._step and self._line_start:
                    self._hide()
                    self._draw()
                    self._out.flush()


def _width() -> int:
    import os

    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 80


class BuildOutput:
    """Shows a build's messages on ``out``; afterwards ``image_id``, ``error`` and ``error_code`` say how it went."""

    def __init__(self, out: IO[str], live: bool) -> None:
        self._live = _LiveOut(out) if live else None
        self._out: Any = self._live if self._live is not None else out
        self._terminal = live
        self.image_id = ""
        self.error: str | None = None
        self.error_code = 0
        self.started = False

    def _watch(self, messages: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for message in messages:
            self.started = True
            detail = message.get("errorDetail") if isinstance(message, dict) else None
            if isinstance(detail, dict):
                code = detail.get("code")
                self.error_code = code if isinstance(code, int) and not isinstance(code, bool) else 0
            yield message

    def _aux(self, message: dict[str, Any]) -> None:
        aux = message.get("aux")
        if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
            self.image_id = aux["ID"]

    def show(self, messages: Iterable[dict[str, Any]]) -> None:
        from moor.cli.progress import DEFAULT_WIDTH, StreamError, display_stream

        try:
            display_stream(self._watch(messages), self._out, self._terminal, _width() if self._terminal
                           else DEFAULT_WIDTH, aux=self._aux)
        except StreamError as err:
            self.error = err.message
        except ValueError as err:
            self.error = f"invalid character in the daemon's answer: {err}"

    def close(self) -> None:
        if self._live is not None:
            self._live.close()
