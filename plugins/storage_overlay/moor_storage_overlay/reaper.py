"""Directories renamed out of the driver's tree, deleted on a thread of their own.

Removing a layer renames its directory out of the tree (the key is gone at once), then deletes it: a dozen
``rmdir`` and a few unlinks for a container's layer and its init layer, milliseconds each on a busy disk. ``run
--rm`` waits for the removal, and ``rm`` of a thousand containers waited for all of it, one removal after the other.
The deletes of what was never synced (a container's layers) go to this reaper instead. A moord that stops before it
is done leaves ``.tmp-rm-`` directories, which its next start removes before it serves
(``OverlayDriver._clean_leftovers``).
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading

log = logging.getLogger(__name__)


class Reaper:
    """One daemon thread, started on first use, deleting the directories handed to it in order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None

    def delete(self, path: str) -> None:
        """Delete the directory ``path`` (already out of the tree, nothing mounted in it) soon."""
        with self._idle:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="overlay-reaper", daemon=True)
                self._thread.start()
        self._queue.put(path)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every directory handed so far is deleted; False when ``timeout`` ran out first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            path = self._queue.get()
            shutil.rmtree(path, onerror=_log_error)
            with self._idle:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.notify_all()


def _log_error(function: object, path: str, exc_info: object) -> None:
    log.warning("could not remove %s while removing a storage key (cleared at the next start)", path)
