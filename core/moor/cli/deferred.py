"""Standard modules that click loads at its import but the CLI's common commands never use, loaded on first use.

click imports :mod:`inspect` (with ast, dis, tokenize, linecache: ~4.5 ms of a 35 ms budget) for one function
its options call, :func:`inspect.cleandoc`; it imports :mod:`uuid` for a parameter type, and uuid imports
:mod:`platform` (ten regular expressions compiled: ~1.5 ms) for one call, :func:`platform.system`. Before click
loads, :func:`install` puts a stand-in for each in ``sys.modules`` that answers that one function itself (the
standard library's code); any other attribute imports the real module at that moment, which then takes the
stand-in's place (and lends it its attributes), so a later user sees no difference. A module already imported
is left as it is (a test run, a process that uses it already).

:mod:`datetime` (for click's DateTime parameter type, and ``ps``'s times) is different: its Python source defines
the whole module in Python, then replaces all of it with the C module :mod:`_datetime` (~1 ms for nothing). Its
stand-in holds the C module's names from the start: the very objects the real module ends up with.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any


class Deferred(ModuleType):
    """A module imported for real on first use of an attribute it does not have itself."""

    def __getattr__(self, attribute: str) -> Any:
        # dunders the import machinery probes (__path__: is it a package) must not load it
        if attribute.startswith("__") and attribute not in ("__file__", "__all__", "__dict__", "__cached__"):
            raise AttributeError(attribute)
        return getattr(self._load(), attribute)

    def _load(self) -> ModuleType:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = __import__(self.__name__)
        self.__dict__.update(vars(real))
        return real


def cleandoc(doc: str) -> str:
    """:func:`inspect.cleandoc` (the standard library's, Python 3.11): a docstring's common indentation, leading
    and trailing blank lines removed."""
    lines = doc.expandtabs().split("\n")
    margin = sys.maxsize
    for line in lines[1:]:
        content = len(line.lstrip())
        if content:
            margin = min(margin, len(line) - content)
    if lines:
        lines[0] = lines[0].lstrip()
    if margin < sys.maxsize:
        for i in range(1, len(lines)):
            lines[i] = lines[i][margin:]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def system() -> str:
    """:func:`platform.system` on a POSIX system: the kernel's name (``Linux``)."""
    return os.uname().sysname


def _stand_in(name: str, **attributes: Any) -> None:
    if name in sys.modules:
        return
    module = Deferred(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module


def install() -> None:
    """Put the stand-ins in place (before click is imported; a module already loaded stays)."""
    _stand_in("inspect", cleandoc=cleandoc)
    _stand_in("platform", system=system)
    c_datetime = __import__("_datetime")  # (no type stubs for it)
    _stand_in("datetime", sys=sys, **{name: value for name, value in vars(c_datetime).items()
                                      if not name.startswith("__")})
