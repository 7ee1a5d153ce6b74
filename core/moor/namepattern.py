"""Docker's ``name=`` filter: a user-supplied regular expression, matched in linear time.

Docker matches these with Go's ``regexp`` (RE2 syntax, linear time). Python's
``re`` backtracks, so a pattern such as ``(a+)+$`` costs exponential time on a
long name; moor uses RE2 itself (the ``google-re2`` package) so that no filter
can stall the daemon, and so that the accepted syntax is Go's.

As in Docker's ``filters.Args.Match``, a value matches when it equals the
name exactly or when it is a valid pattern found in the name; an invalid
pattern matches nothing but the exact name (Docker skips it without an error).
"""

from __future__ import annotations

import functools

import re2  # type: ignore[import-untyped]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # an invalid pattern is a user's input, not a daemon error worth stderr


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> object | None:
    """The compiled RE2 pattern, or None when ``pattern`` is not valid RE2 syntax."""
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error:
        return None


def name_matches(pattern: str, name: str) -> bool:
    """Whether the filter value ``pattern`` selects ``name`` (exactly, or as a pattern found in it)."""
    if pattern == name:
        return True
    compiled = _compiled(pattern)
    return compiled is not None and compiled.search(name) is not None  # type: ignore[attr-defined]


def is_valid(pattern: str) -> bool:
    """Whether ``pattern`` is valid RE2 (Go regexp) syntax."""
    return _compiled(pattern) is not None
