"""The ``moor`` console script: the CLI with Python's cyclic garbage collector off while it loads.

Loading click and a command's module makes many thousands of objects and next to no cycles: the collections
Python runs meanwhile find nothing and cost ~1.5 ms of a ~30 ms start. :class:`moor.cli.main.LazyGroup` turns the
collector back on once the command's module is imported, so a long command (``logs -f``, ``events``,
``compose up``) collects as usual.
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    from moor.cli.main import main as run

    run()
