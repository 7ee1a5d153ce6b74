"""Compose's durations (``1m30s``, ``500ms``, ``2h``, ``1d``) to nanoseconds, as compose-go reads them.

compose-go parses durations with Go's ``time.ParseDuration`` rules plus the ``d`` (24h) and ``w`` (7d)
units; a bare number other than ``0`` has no unit and is refused. The errors keep Go's wording.
"""

from __future__ import annotations

from moor.compose.errors import ComposeFileError

_NANOSECOND = 1
_MICROSECOND = 1000 * _NANOSECOND
_MILLISECOND = 1000 * _MICROSECOND
_SECOND = 1000 * _MILLISECOND
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE

#: the units Go knows, plus compose-go's days and weeks
UNITS: dict[str, int] = {
    "ns": _NANOSECOND,
    "us": _MICROSECOND,
    "\u00b5s": _MICROSECOND,  # micro sign
    "\u03bcs": _MICROSECOND,  # Greek mu
    "ms": _MILLISECOND,
    "s": _SECOND,
    "m": _MINUTE,
    "h": _HOUR,
    "d": 24 * _HOUR,
    "w": 7 * 24 * _HOUR,
}

#: Go's time.Duration is an int64 of nanoseconds
_MAX = (1 << 63) - 1


def _digits(text: str, start: int) -> int:
    end = start
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return end


def parse_duration(text: str | int, where: str = "") -> int:
    """``text`` as nanoseconds (``"1m30s"`` -> 90_000_000_000); :class:`ComposeFileError` in Go's words
    (``time: invalid duration "x"``), prefixed with ``where`` (a key path such as
    ``services.web.healthcheck.interval``) when given."""
    original = str(text)
    prefix = f"{where}: " if where else ""

    def invalid(message: str) -> ComposeFileError:
        return ComposeFileError(f"{prefix}{message}")

    rest = original
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid(f'time: invalid duration "{original}"')
    total = 0
    position = 0
    while position < len(rest):
        char = rest[position]
        if not (char == "." or "0" <= char <= "9"):
            raise invalid(f'time: invalid duration "{original}"')
        end = _digits(rest, position)
        whole = int(rest[position:end]) if end > position else 0
        has_whole = end > position
        fraction, scale, has_fraction = 0, 1, False
        position = end
        if position < len(rest) and rest[position] == ".":
            end = _digits(rest, position + 1)
            digits = rest[position + 1:end]
            has_fraction = bool(digits)
            if digits:
                fraction, scale = int(digits), 10 ** len(digits)
            position = end
        if not has_whole and not has_fraction:
            raise invalid(f'time: invalid duration "{original}"')
        end = position
        while end < len(rest) and rest[end] != "." and not ("0" <= rest[end] <= "9"):
            end += 1
        unit_text = rest[position:end]
        if not unit_text:
            raise invalid(f'time: missing unit in duration "{original}"')
        unit = UNITS.get(unit_text)
        if unit is None:
            raise invalid(f'time: unknown unit "{unit_text}" in duration "{original}"')
        position = end
        total += whole * unit + fraction * unit // scale
        if total > _MAX:
            raise invalid(f'time: invalid duration "{original}"')
    return -total if negative else total


def to_seconds(text: str | int, where: str = "") -> int:
    """A duration as whole seconds, truncated (``stop_grace_period`` to ``StopTimeout``)."""
    nanoseconds = parse_duration(text, where)
    return int(nanoseconds / _SECOND) if nanoseconds < 0 else nanoseconds // _SECOND
