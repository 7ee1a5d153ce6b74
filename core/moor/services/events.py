"""The event bus behind ``/events``: every service publishes, every ``events`` client subscribes.

Events are kept in memory (the last 1024, like Docker's ring buffer) so that
``--since`` can replay them; subscribers get new ones through a queue.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Any


class EventBus:
    """Publish/subscribe of Docker-shaped event messages."""

    def __init__(self, keep: int = 1024) -> None:
        self._lock = threading.Lock()
        self._history: deque[dict[str, Any]] = deque(maxlen=keep)
        self._subscribers: list[queue.Queue[dict[str, Any]]] = []

    def publish(self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> None:
        now = time.time_ns()
        event = {
            "status": action, "id": actor_id, "from": (attributes or {}).get("image", ""),
            "Type": kind, "Action": action,
            "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
            "scope": "local", "time": now // 1_000_000_000, "timeNano": now,
        }
        if kind != "container":
            event.pop("status"), event.pop("id"), event.pop("from")
        with self._lock:
            self._history.append(event)
            for subscriber in self._subscribers:
                subscriber.put(event)

    def subscribe(self) -> tuple[list[dict[str, Any]], queue.Queue[dict[str, Any]]]:
        """The events so far and a queue of the ones to come; call :meth:`unsubscribe` when done."""
        channel: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            past = list(self._history)
            self._subscribers.append(channel)
        return past, channel

    def unsubscribe(self, channel: queue.Queue[dict[str, Any]]) -> None:
        with self._lock:
            if channel in self._subscribers:
                self._subscribers.remove(channel)

    @property
    def listeners(self) -> int:
        return len(self._subscribers)
