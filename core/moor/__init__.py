"""moor: a Docker-compatible container engine built as a thin core plus driver plugins.

Plugins implement the hook specs in :mod:`moor.hookspecs` and mark their
implementations with :data:`hookimpl`::

    from moor import hookimpl

    class MyLogDriver:
        @hookimpl
        def moor_log_open(self, container): ...

(Ordinary parameters, not keyword-only ones: pluggy passes an implementation
the parameters it declares, by position.)

This module must stay cheap to import: the CLI imports it.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
API_VERSION = "1.44"
MIN_API_VERSION = "1.12"

PROJECT = "moor"


def hookimpl(function: Any = None, *, hookwrapper: bool = False, optionalhook: bool = False,
             tryfirst: bool = False, trylast: bool = False, specname: str | None = None,
             wrapper: bool = False) -> Any:
    """Mark a hook implementation, exactly as ``pluggy.HookimplMarker("moor")`` does.

    pluggy finds implementations by their ``moor_impl`` attribute (a dict of
    these options); setting it here keeps pluggy out of processes that only
    use a driver (the CLI, the container monitor), which start much faster.
    A test checks that pluggy reads these marks as its own.
    """

    def mark(func: Any) -> Any:
        setattr(func, f"{PROJECT}_impl", {
            "wrapper": wrapper, "hookwrapper": hookwrapper, "optionalhook": optionalhook,
            "tryfirst": tryfirst, "trylast": trylast, "specname": specname,
        })
        return func

    return mark if function is None else mark(function)
