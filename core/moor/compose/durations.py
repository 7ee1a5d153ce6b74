"""Compose's durations (``1m30s``, ``500ms``, ``2h``, ``1d``) to nanoseconds, as compose-go reads them.

compose-go parses durations with Go's ``time.ParseDuration`` rules plus the ``d`` (24h) and ``w`` (7d)
units; a bare number other than ``0`` has no unit and is refused. The errors keep Go's wording.
"""

from __future__ import annotations

from moor.build.gotypes import GO_DURATION_UNITS, go_parse_duration
from moor.compose.errors import ComposeFileError
from moor.errors import InvalidParameter

_SECOND = 1_000_000_000
_HOUR = 3600 * _SECOND

#: the units Go knows, plus compose-go's days and weeks
UNITS: dict[str, int] = {**GO_DURATION_UNITS, "d": 24 * _HOUR, "w": 7 * 24 * _HOUR}


def parse_duration(text: str | int, where: str = "") -> int:
    """``text`` as nanoseconds (``"1m30s"`` -> 90_000_000_000); :class:`ComposeFileError` in Go's words
    (``time: invalid duration "x"``), prefixed with ``where`` (a key path such as
    ``services.web.healthcheck.interval``) when given."""
    try:
        return go_parse_duration(str(text), UNITS)
    except InvalidParameter as error:
        raise ComposeFileError(f"{where}: {error.message}" if where else error.message) from None


def to_seconds(text: str | int, where: str = "") -> int:
    """A duration as whole seconds, truncated (``stop_grace_period`` to ``StopTimeout``)."""
    nanoseconds = parse_duration(text, where)
    return int(nanoseconds / _SECOND) if nanoseconds < 0 else nanoseconds // _SECOND
