"""The ``moor`` console script: the CLI with Python's cyclic garbage collector off while it loads, and an exit
that skips the interpreter's teardown.

Loading click and a command's module makes many thousands of objects and next to no cycles: the collections
Python runs meanwhile find nothing and cost ~1.5 ms of a ~30 ms start. :class:`moor.cli.main.LazyGroup` turns the
collector back on once the command's module is imported, so a long command (``logs -f``, ``events``,
``compose up``) collects as usual.

Tearing the interpreter down (every module's dictionary, every object freed one by one) costs ~5 ms more, for a
process that is about to end: once the command is done, :func:`main` runs the ``atexit`` functions, flushes
stdout and stderr and ends the process at once. It exits the ordinary way when that could change anything: a
thread that is not a daemon still runs (the interpreter would wait for it), the exit status is not a number
(Python prints it), a flush fails (Python reports it as it always has).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys


def main() -> None:
    gc.disable()
    from moor.cli.main import main as run

    try:
        run()
        code: object = 0
    except SystemExit as exit_:
        code = exit_.code
    exit_now(0 if code is None else code)


def exit_now(code: object) -> None:
    """End the process with ``code`` without the interpreter's teardown (or raise SystemExit: see above)."""
    threading = sys.modules.get("threading")
    if threading is not None and any(not t.daemon and t is not threading.main_thread() and t.is_alive()
                                     for t in threading.enumerate()):
        raise SystemExit(code)
    if not isinstance(code, int):
        raise SystemExit(code)
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None
    os._exit(code)
