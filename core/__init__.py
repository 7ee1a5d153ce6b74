"""moor: a Docker-compatible container engine built as a thin core plus driver plugins.

Plugins implement the hook specs in :mod:`moor.hookspecs` and mark their
implementations with :data:`hookimpl`::

    from moor import hookimpl

    class MyLogDriver:
        @hookimpl
        def moor_log_open(self, *, container): ...

This module must stay cheap to import: the CLI imports it.
"""

from __future__ import annotations

__version__ = "0.1.0"
API_VERSION = "1.41"
MIN_API_VERSION = "1.12"

PROJECT = "moor"


def __getattr__(name: str) -> object:
    # pluggy is only imported by code that defines or calls hooks, never by the CLI.
    if name == "hookimpl":
        import pluggy

        marker = pluggy.HookimplMarker(PROJECT)
        globals()["hookimpl"] = marker
        return marker
    raise AttributeError(name)
