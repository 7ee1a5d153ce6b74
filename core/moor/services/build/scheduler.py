"""Stages run side by side, their messages in order.

Docker's classic builder runs one stage after the other. moor runs every stage that the target needs on a
thread of its own, as soon as the stages it depends on are done (its base, ``COPY --from``, ``RUN
--mount=from=``), so independent stages build at the same time. The client still sees the classic output:
the messages of stage 0, then those of stage 1, ... (a later stage's messages wait in a buffer until the
stages before it are done), always emitted from the thread that called :meth:`StageScheduler.run`.

When a stage fails the others are cancelled (they stop at their next step, or their running container is
killed) and, once every thread is done, the first failure in stage order is raised after the messages that
led to it. When ``emit`` raises (the client went away) the same happens and ``emit``'s exception is raised.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from moor.errors import MoorError

#: how often a quiet build asks ``emit({})`` whether its client is still there
PROBE_EVERY = 1.0

Emit = Callable[[dict[str, Any]], None]
T = TypeVar("T")

_DONE = object()


class Cancelled(MoorError):
    """The build stopped: another stage failed, or the client went away."""


class StageRun(Generic[T]):
    """What a stage's job is given: where its messages go, the cancellation flag and the other stages' results."""

    def __init__(self, index: int, messages: queue.SimpleQueue[tuple[int, object]], cancel: threading.Event,
                 results: dict[int, T]) -> None:
        self.index = index
        self._messages = messages
        self.cancel = cancel
        self._results = results

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the client (it goes out once the stages before this one are done)."""
        self.check()
        self._messages.put((self.index, message))

    def check(self) -> None:
        """Raise :class:`Cancelled` once the build was cancelled."""
        if self.cancel.is_set():
            raise Cancelled("the build was cancelled")

    def result_of(self, index: int) -> T:
        """The result of stage ``index``, one this stage depends on (so it is done)."""
        return self._results[index]


class StageScheduler(Generic[T]):
    """Runs ``jobs`` (stage index -> job) once their ``dependencies`` (stage index -> indexes) are done."""

    def __init__(self, jobs: Mapping[int, Callable[[StageRun[T]], T]], dependencies: Mapping[int, set[int]]) -> None:
        self.jobs = dict(jobs)
        self.dependencies = {index: set(dependencies.get(index, set())) & set(self.jobs) for index in self.jobs}
        self.cancel = threading.Event()

    def run(self, emit: Emit) -> dict[int, T]:
        """Run every job; the messages go to ``emit`` in stage order; the results by stage index."""
        messages: queue.SimpleQueue[tuple[int, object]] = queue.SimpleQueue()
        done = {index: threading.Event() for index in self.jobs}
        results: dict[int, T] = {}
        errors: dict[int, BaseException] = {}

        def work(index: int) -> None:
            try:
                for other in self.dependencies[index]:
                    while not done[other].wait(0.5):
                        if self.cancel.is_set():
                            break
                    if other in errors or self.cancel.is_set():
                        raise Cancelled("the build was cancelled")
                results[index] = self.jobs[index](StageRun(index, messages, self.cancel, results))
            except BaseException as err:  # noqa: BLE001 - handed to the emitting thread, raised there
                errors[index] = err
                self.cancel.set()
            finally:
                done[index].set()
                messages.put((index, _DONE))

        threads = [threading.Thread(target=work, args=(index,), name=f"moord-build-stage-{index}", daemon=True)
                   for index in sorted(self.jobs)]
        for thread in threads:
            thread.start()
        try:
            self._relay(messages, errors, emit)
        except BaseException:
            self.cancel.set()
            raise
        finally:
            for thread in threads:
                thread.join()
        return results

    def _relay(self, messages: queue.SimpleQueue[tuple[int, object]], errors: dict[int, BaseException],
               emit: Emit) -> None:
        order = sorted(self.jobs)
        buffers: dict[int, list[dict[str, Any]]] = {index: [] for index in order}
        finished: set[int] = set()
        position = 0
        cancelled: BaseException | None = None
        while position < len(order):
            try:
                index, item = messages.get(timeout=PROBE_EVERY)
            except queue.Empty:  # quiet (a long RUN): raises once the client left, which cancels the build
                emit({})
                continue
            if item is _DONE:
                finished.add(index)
            else:
                assert isinstance(item, dict)
                buffers[index].append(item)
            while position < len(order):
                current = order[position]
                pending, buffers[current] = buffers[current], []
                for message in pending:
                    emit(message)
                if current not in finished:
                    break
                error = errors.get(current)
                if error is not None and not isinstance(error, Cancelled):
                    raise error
                if error is not None and cancelled is None:
                    cancelled = error
                position += 1
        if cancelled is not None:
            raise cancelled
