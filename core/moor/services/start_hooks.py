"""What runs when a container starts, shared by the services that start containers and those that wait for it.

The engine builds one of each and hands them to both sides, so that neither service holds the other:

- :class:`PendingAttaches`: ``attach`` to a container that does not run yet leaves a hook here
  (:class:`~moor.services.container_io.ContainerIO`); the container service takes the hooks when the
  container's monitor is ready, before its process starts, so that no output is missed.
- :class:`StartListeners`: called for every container that starts running or is re-adopted when
  moord starts again (health checks, :class:`~moor.services.health.HealthChecker`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moor.containers.record import Container


class PendingAttaches:
    """Container ID -> hooks to run once its monitor is ready (attach streams)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[Callable[[], None]]] = {}

    def add(self, container_id: str, hook: Callable[[], None]) -> None:
        with self._lock:
            self._pending.setdefault(container_id, []).append(hook)

    def take(self, container_id: str) -> list[Callable[[], None]]:
        """The hooks waiting for this container's monitor, removed from here."""
        with self._lock:
            return self._pending.pop(container_id, [])


class StartListeners:
    """Callables told of each container that starts running (or is re-adopted)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Container], None]] = []

    def add(self, listener: Callable[[Container], None]) -> None:
        self._listeners.append(listener)

    def started(self, container: Container) -> None:
        for listener in self._listeners:
            listener(container)
