"""The exec instances moord remembers, bounded as Docker bounds them.

Docker forgets an exec instance when its container is removed, and a
finished one a few minutes after it ended (its exec GC runs every five
minutes). moor does the same, and also keeps at most
:data:`MAX_FINISHED_PER_CONTAINER` finished instances per container, so a
client that runs execs in a loop cannot grow the registry without bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

#: A finished exec instance is forgotten this many seconds after it ended.
FINISHED_RETENTION = 300.0
#: At most this many finished exec instances are kept per container (the oldest go first).
MAX_FINISHED_PER_CONTAINER = 64


class ExecLike(Protocol):
    id: str
    container_id: str
    finished_at: float | None  #: on the registry's clock, set by :meth:`ExecRegistry.finished`


Record = TypeVar("Record", bound=ExecLike)


class ExecRegistry(Generic[Record]):
    """Exec records by ID; ``container_exists(id)`` tells which containers still exist."""

    def __init__(self, container_exists: Callable[[str], bool], clock: Callable[[], float] = time.monotonic) -> None:
        self._container_exists = container_exists
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, Record] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def add(self, record: Record) -> None:
        self.prune()
        with self._lock:
            self._records[record.id] = record

    def get(self, exec_id: str) -> Record | None:
        """The record, or None when unknown, expired, or its container is gone."""
        with self._lock:
            record = self._records.get(exec_id)
        if record is None:
            return None
        if not self._container_exists(record.container_id) or self._expired(record, self._clock()):
            with self._lock:
                self._records.pop(exec_id, None)
            return None
        return record

    def active_ids(self, container_id: str) -> list[str]:
        """The IDs of the container's exec instances that have not ended (Docker's ``ExecIDs``), oldest first."""
        with self._lock:
            return [r.id for r in self._records.values() if r.container_id == container_id and r.finished_at is None]

    def finished(self, record: Record) -> None:
        """Note that ``record``'s process ended (its retention starts now)."""
        record.finished_at = self._clock()

    def prune(self) -> None:
        """Drop the records of removed containers, expired ones and the oldest finished beyond the cap."""
        now = self._clock()
        with self._lock:
            records = list(self._records.values())
        gone = {c for c in {r.container_id for r in records} if not self._container_exists(c)}
        drop = {r.id for r in records if r.container_id in gone or self._expired(r, now)}
        finished: dict[str, list[Record]] = {}
        for record in records:
            if record.id not in drop and record.finished_at is not None:
                finished.setdefault(record.container_id, []).append(record)
        for kept in finished.values():
            if len(kept) > MAX_FINISHED_PER_CONTAINER:
                kept.sort(key=lambda r: r.finished_at or 0.0)
                drop.update(r.id for r in kept[: len(kept) - MAX_FINISHED_PER_CONTAINER])
        if drop:
            with self._lock:
                for exec_id in drop:
                    self._records.pop(exec_id, None)

    @staticmethod
    def _expired(record: ExecLike, now: float) -> bool:
        return record.finished_at is not None and now - record.finished_at > FINISHED_RETENTION
