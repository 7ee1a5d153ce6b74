"""Engine operations run side by side: compose's one way of doing several at once (up, down, ps, stop...)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def project_slots(parallel: int | None) -> threading.BoundedSemaphore | None:
    """``--parallel N`` (N > 0): a bound on the engine operations under way at once in the whole project, shared
    by every :func:`run_all` of one command; None when unlimited."""
    return threading.BoundedSemaphore(parallel) if parallel and parallel > 0 else None


def run_all(steps: Sequence[Callable[[], _R]], *, parallel: int | None = -1,
            slots: threading.BoundedSemaphore | None = None, name: str = "compose") -> list[_R]:
    """Run ``steps`` in threads (at most ``parallel`` at once, -1 unlimited), each inside ``slots`` when given;
    their results in the steps' order. Every step runs to its end; then the first error (in the steps' order)
    is raised."""
    def gated(step: Callable[[], _R]) -> _R:
        if slots is None:
            return step()
        with slots:
            return step()

    if len(steps) <= 1:
        return [gated(step) for step in steps]
    workers = len(steps) if parallel is None or parallel < 1 else min(parallel, len(steps))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        futures = [pool.submit(gated, step) for step in steps]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]


def concurrently(items: Iterable[_T], action: Callable[[_T], _R], parallel: int = -1) -> list[_R]:
    """:func:`run_all` of ``action`` on every item."""
    return run_all([partial(action, item) for item in items], parallel=parallel)
