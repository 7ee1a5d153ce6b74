"""Where one operation's time goes: its phases timed, then one line in moord's debug log.

A service opens an operation on a container and times its steps; the layers under it (the process
layer, the networking) add phases to the operation under way without being handed it::

    with tracing.operation("start", container.id) as trace:
        with trace.phase("mount"):
            rootfs = storage.mount(...)
        ...
    # deeper down, in the same thread:
    with tracing.phase("runc-create"):
        ...

When the operation ends (also by an error) moord's debug log gets one line (logger ``moor.trace``)::

    trace start 0123456789ab total=41.20ms mount=3.10ms bundle=5.02ms monitor=20.31ms ... error=Conflict

Phases may nest (a nested phase's time is also inside its parent's: the line shows both); a phase
entered twice adds up. ``bench/start_trace.py`` reads these lines. Without debug logging an
operation costs two clock reads and records nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import time
from collections.abc import Iterator

log = logging.getLogger("moor.trace")

#: the operation under way in this thread (each thread starts without one)
_CURRENT: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("moor_trace", default=None)

#: a trace line: ``trace <operation> <subject> total=<ms>ms <phase>=<ms>ms ...``
LINE = re.compile(r"trace (?P<operation>\S+) (?P<subject>\S+) (?P<phases>(?:\S+=\S+ ?)*)")


class Trace:
    """The phases of one operation, in the order they began."""

    def __init__(self, operation: str, subject: str, recording: bool = True) -> None:
        self.operation = operation
        self.subject = subject
        self.recording = recording
        self.began = time.perf_counter()
        self.phases: dict[str, float] = {}
        self.notes: dict[str, str] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as the phase ``name``."""
        if not self.recording:
            yield
            return
        began = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - began)

    def add(self, name: str, seconds: float) -> None:
        """Count ``seconds`` to the phase ``name`` (measured elsewhere, e.g. by the monitor)."""
        if self.recording:
            self.phases[name] = self.phases.get(name, 0.0) + seconds

    def note(self, key: str, value: str) -> None:
        """Say something about the operation on its line (``key=value``, no spaces in the value)."""
        if self.recording:
            self.notes[key] = value.replace(" ", "_")

    def line(self, total: float) -> str:
        shown = " ".join([f"total={total * 1000:.2f}ms",
                          *(f"{name}={seconds * 1000:.2f}ms" for name, seconds in self.phases.items()),
                          *(f"{key}={value}" for key, value in self.notes.items())])
        return f"trace {self.operation} {self.subject} {shown}"


@contextlib.contextmanager
def operation(name: str, subject: str) -> Iterator[Trace]:
    """Trace the operation ``name`` on ``subject`` (a container ID: its short form is shown); the line is
    logged when the block ends, with ``error=<class>`` when it ends by an exception."""
    trace = Trace(name, subject[:12] or "-", recording=log.isEnabledFor(logging.DEBUG))
    token = _CURRENT.set(trace)
    try:
        yield trace
    except BaseException as err:
        trace.note("error", type(err).__name__)
        raise
    finally:
        _CURRENT.reset(token)
        if trace.recording:
            log.debug("%s", trace.line(time.perf_counter() - trace.began))


def current() -> Trace | None:
    """The operation under way in this thread, if any."""
    return _CURRENT.get()


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the block as a phase of the operation under way in this thread (nothing without one)."""
    trace = _CURRENT.get()
    if trace is None or not trace.recording:
        yield
        return
    with trace.phase(name):
        yield


def add(name: str, seconds: float) -> None:
    """Count ``seconds`` to the phase ``name`` of the operation under way, if any."""
    trace = _CURRENT.get()
    if trace is not None:
        trace.add(name, seconds)


def parse(line: str) -> tuple[str, str, dict[str, float]] | None:
    """A trace line (or a log line holding one) as (operation, subject, phase -> milliseconds); notes are left
    out. None when the line holds no trace."""
    found = LINE.search(line)
    if found is None:
        return None
    phases = {}
    for item in found.group("phases").split():
        key, _, value = item.partition("=")
        if value.endswith("ms"):
            try:
                phases[key] = float(value[:-2])
            except ValueError:
                continue
    return found.group("operation"), found.group("subject"), phases
