"""Docker's JSON progress messages, shaped exactly as dockerd's stream formatter writes them.

A pull or push streams one JSON object per line (``\\r\\n`` terminated). Three shapes exist:

* a status line (``progress.Message`` in moby): ``{"status": "Digest: sha256:...", "id": "latest"}``;
* a progress update (``progress.Update`` / a progress reader): ``{"status": "Downloading",
  "progressDetail": {"current": N, "total": M}, "progress": "[==>   ]  1.08MB/25.6MB", "id": "<12 hex>"}``
  (``progressDetail`` is ``{}`` and ``progress`` absent for a bare step such as ``Pull complete``);
* an error: ``{"errorDetail": {"message": m}, "error": m}``.

Keys come in the order of Go's ``jsonmessage.JSONMessage`` fields, and :func:`encode` writes them as Go's
``json.Marshal`` does (compact, ``<``, ``>`` and ``&`` escaped), so the docker CLI and docker-py render
moor's stream unchanged. The bar is what ``JSONProgress.String()`` draws on the daemon side (no terminal:
200 columns, so the bar is always there; no start time, so no time left).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from moor.units import human_size

#: What each JSON message ends with in Docker's streams.
NEWLINE = b"\r\n"

#: Bar width in ``=`` characters at 100 %.
BAR_WIDTH = 50

Message = dict[str, Any]


def short_id(digest: str) -> str:
    """moby's ``stringid.TruncateID``: the hex of a digest, cut to 12 characters (a layer's progress id)."""
    return digest.split(":", 1)[-1][:12]


def bar(current: int, total: int) -> str:
    """``JSONProgress.String()`` as dockerd renders it: ``[==>      ]  1.08MB/25.6MB``, or ``""``."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    filled = min(int(current / total * 100) // 2, BAR_WIDTH)
    box = "[" + "=" * filled + ">" + " " * max(BAR_WIDTH - filled, 0) + "] "
    if current > total:  # Docker drops the total when the count is wonky
        return box + f"{human_size(current):>8}"
    return box + f"{human_size(current):>8}/{human_size(total)}"


def status(text: str, id: str = "") -> Message:
    """A status line: ``{"status": text, "id": id}`` (``id`` left out when empty)."""
    message: Message = {"status": text}
    if id:
        message["id"] = id
    return message


def update(id: str, action: str) -> Message:
    """A bare progress step of ``id``: ``{"status": action, "progressDetail": {}, "id": id}``."""
    return {"status": action, "progressDetail": {}, "id": id}


def progress(id: str, action: str, current: int, total: int) -> Message:
    """A progress update with counts and Docker's bar (zero counts are left out, as Go's omitempty does)."""
    detail: dict[str, int] = {}
    if current:
        detail["current"] = current
    if total:
        detail["total"] = total
    message: Message = {"status": action, "progressDetail": detail}
    text = bar(current, total)
    if text:
        message["progress"] = text
    message["id"] = id
    return message


def aux(data: dict[str, Any]) -> Message:
    """Out-of-band data (push's ``{"Tag", "Digest", "Size"}``): ``{"progressDetail": {}, "aux": data}``."""
    return {"progressDetail": {}, "aux": data}


def error(text: str) -> Message:
    """An error line after the stream started: ``{"errorDetail": {"message": m}, "error": m}``."""
    return {"errorDetail": {"message": text}, "error": text}


def encode(message: Message) -> bytes:
    """One message as Go's ``json.Marshal`` writes it, then ``\\r\\n``."""
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode() + NEWLINE


#: Updates of one progress bar are sent at most this often (moby's progress reader: 100 ms) ...
MIN_INTERVAL = 0.1
#: ... and after at least this many new bytes, or 1 % of the total when that is less (moby: 512 kB).
MIN_STEP = 512 * 1024


class ProgressTracker:
    """Counts bytes of one transfer and sends throttled ``progress`` messages, as moby's progress reader.

    ``send`` gets each message; the last update (``current == total``) is always sent.
    """

    def __init__(self, send: Callable[[Message], None], id: str, action: str, total: int, current: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self.id = id
        self.action = action
        self.total = total
        self.current = current
        self._clock = clock
        self._last_bytes = current
        self._last_time = float("-inf")
        self._lock = threading.Lock()
        step = MIN_STEP
        if total > 0:
            step = min(step, int(total * 0.01))
        self._step = step

    def add(self, count: int) -> None:
        """``count`` more bytes went through."""
        with self._lock:
            self.current += count
            if self.current - self._last_bytes <= self._step and self.current != self.total:
                return
            now = self._clock()
            if self.current != self.total and now - self._last_time < MIN_INTERVAL:
                return
            self._last_bytes, self._last_time = self.current, now
            message = progress(self.id, self.action, self.current, self.total)
        self._send(message)
