"""kill -9 moord in the middle of operations, start it again, and check the store, leaks and re-adoption.

A bounded sample of ``scripts/crash-points`` (``moor.testing.crashpoints``): one point per operation
(image load, import, pull, commit, build, container create, start, run, stop, remove) and two more at random. The
seed is random and printed on failure, with the command that replays the failing point.
"""

from __future__ import annotations

import random

import pytest

from moor.testing.crashpoints import OPERATIONS, CrashBench, summary

pytestmark = pytest.mark.root


def test_kill_9_at_random_points_leaves_a_whole_store_and_nothing_leaked(tmp_path) -> None:
    seed = random.randrange(1 << 30)
    chooser = random.Random(seed)
    operations = list(OPERATIONS) + [chooser.choice(OPERATIONS) for _ in range(2)]
    with CrashBench(str(tmp_path / "crash"), seed=seed) as bench:
        results = []
        for index, operation in enumerate(operations):
            results.append(bench.point(index, operation))
            if bench.dead:
                break
        final = bench.finish()
    report = summary(results, final, seed)
    assert not final and not any(r.problems for r in results), \
        report + "\n" + "\n".join(f"{r.line()}\n    " + "\n    ".join(r.problems) for r in results if r.problems)
